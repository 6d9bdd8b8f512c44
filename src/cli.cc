// Command dispatch and output for the kuzusync CLI.

#include "src/cli.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <unistd.h>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "diff/diff.h"
#include "transfer/transfer.h"
#include "snapshot/snapshot.h"
#include "src/json_writer.h"
#include "src/sync_cli.h"

namespace kuzusync {
namespace {

constexpr int kExitSame = 0;
constexpr int kExitDifferent = 1;
constexpr int kExitTrouble = 2;

int ReportError(const Status& s) {
  std::cerr << "kuzusync: " << s.ToString() << "\n";
  return kExitTrouble;
}

const char* KindName(TableKind kind) { return kind == TableKind::kNode ? "node" : "rel"; }

// `network`: what a diff against a remote moved (none for two local paths).
std::string DiffJson(const DiffReport& report, const std::optional<TransferCounters>& network) {
  JsonWriter w;
  w.BeginObject();
  w.Key("identical").Value(report.identical);
  w.Key("tables").BeginObject();
  for (const TableDiff& t : report.tables) {
    w.Key(t.table).BeginObject();
    w.Key("kind").Value(KindName(t.kind));
    w.Key("rows_a").Value(t.rows_a);
    w.Key("rows_b").Value(t.rows_b);
    w.Key("only_in_a").Value(t.only_in_a);
    w.Key("only_in_b").Value(t.only_in_b);
    w.Key("changed").Value(t.changed);
    if (!t.skipped.empty()) w.Key("skipped").Value(t.skipped);
    w.EndObject();
  }
  w.EndObject();
  w.Key("schema").BeginObject();
  w.Key("only_in_a").StringArray(report.schema.only_in_a);
  w.Key("only_in_b").StringArray(report.schema.only_in_b);
  w.Key("changed").StringArray(report.schema.changed);
  w.EndObject();
  w.Key("stats").BeginObject();
  w.Key("comparisons").Value(report.stats.comparisons);
  w.Key("leaves_compared").Value(report.stats.leaves_compared);
  w.Key("elapsed_ms").Value(report.stats.elapsed_ms);
  if (network) {
    w.Key("bytes_sent").Value(network->bytes_sent);
    w.Key("bytes_received").Value(network->bytes_received);
    w.Key("round_trips").Value(network->round_trips);
  }
  w.EndObject();
  w.EndObject();
  return w.str();
}

void PrintDiffHuman(const DiffReport& report, bool show_rows) {
  for (const std::string& t : report.schema.only_in_a) std::cout << "schema: table " << t << " only in A\n";
  for (const std::string& t : report.schema.only_in_b) std::cout << "schema: table " << t << " only in B\n";
  for (const std::string& t : report.schema.changed) {
    std::cout << "schema: table " << t << " differs (columns, types, key or connections)\n";
  }
  size_t differing = 0;
  for (const TableDiff& t : report.tables) {
    std::cout << t.table << " (" << KindName(t.kind) << "): ";
    if (!t.skipped.empty()) {
      std::cout << t.rows_a << " rows in A, " << t.rows_b << " in B; rows not compared: "
                << t.skipped << "\n";
      ++differing;
      continue;
    }
    if (!t.differs()) {
      std::cout << "identical, " << t.rows_a << " rows\n";
      continue;
    }
    ++differing;
    std::cout << t.rows_a << " rows in A, " << t.rows_b << " in B: " << t.only_in_a
              << " only in A, " << t.only_in_b << " only in B";
    if (t.kind == TableKind::kNode) std::cout << ", " << t.changed << " changed";
    std::cout << "\n";
    if (show_rows) {
      for (const RowChange& r : t.rows) std::cout << r.sign << ' ' << t.table << ' ' << r.display << "\n";
    }
  }
  char stats[128];
  std::snprintf(stats, sizeof(stats), "%llu comparisons, %llu leaves compared, %.1f ms",
                static_cast<unsigned long long>(report.stats.comparisons),
                static_cast<unsigned long long>(report.stats.leaves_compared),
                report.stats.elapsed_ms);
  if (report.identical) {
    std::cout << "replicas are identical (" << stats << ")\n";
  } else {
    std::cout << differing << " of " << report.tables.size() << " tables differ (" << stats << ")\n";
  }
}

int RunDiff(const std::string& a, const std::string& b, const DiffOptions& options,
            const ConnectOptions& connect, bool json) {
  const auto start = std::chrono::steady_clock::now();
  // Both sides must build trees of the same shape: small leaves when rows
  // would cross a network, the cheaper local shape otherwise.
  ConnectOptions shape = connect;
  auto spec_a = ParseRemote(a);
  auto spec_b = ParseRemote(b);
  bool any_remote = (spec_a.ok() && spec_a->kind != RemoteSpec::Kind::kLocal) ||
                    (spec_b.ok() && spec_b->kind != RemoteSpec::Kind::kLocal);
  shape.tree_leaf_rows = any_remote ? merkle::kNetworkLeafRows : merkle::kTargetLeafRows;
  shape.want_elements = any_remote;  // in case the rows are reconciled (below)
  auto replica_a = OpenReplica(Env::Default(), a, shape, Access::kRead, options.tables);
  if (!replica_a.ok()) return ReportError(replica_a.status());
  auto replica_b = OpenReplica(Env::Default(), b, shape, Access::kRead, options.tables);
  if (!replica_b.ok()) return ReportError(replica_b.status());
  // One side remote: differing tables are reconciled, as push and pull do.
  DiffOptions compare = options;
  auto* remote_a = dynamic_cast<RemoteReplica*>(replica_a->get());
  auto* remote_b = dynamic_cast<RemoteReplica*>(replica_b->get());
  if ((remote_a == nullptr) != (remote_b == nullptr)) {
    compare.remote_peer = (remote_a != nullptr ? remote_a : remote_b)->sketch_peer();
    compare.remote_is_a = remote_a != nullptr;
  }
  Result<DiffReport> report = DiffReplicas(replica_a->get(), replica_b->get(), compare);
  if (!report.ok()) return ReportError(report.status());
  report->stats.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& note : report->notes) std::cerr << "kuzusync: note: " << note << "\n";
  if (json) {
    std::optional<TransferCounters> network;
    for (RemoteReplica* remote : {remote_a, remote_b}) {
      if (remote == nullptr) continue;
      if (!network) network.emplace();
      const TransferCounters c = remote->counters();
      network->bytes_sent += c.bytes_sent;
      network->bytes_received += c.bytes_received;
      network->round_trips += c.round_trips;
    }
    std::cout << DiffJson(report.value(), network) << "\n";
  } else {
    PrintDiffHuman(report.value(), options.collect_rows);
  }
  return report->identical ? kExitSame : kExitDifferent;
}

int RunHash(const std::string& dir, const std::vector<std::string>& tables, int threads, bool json,
            bool use_cache) {
  const auto start = std::chrono::steady_clock::now();
  Env* env = Env::Default();
  Result<ExportDir> export_dir = OpenExport(env, dir);
  if (!export_dir.ok()) return ReportError(export_dir.status());
  for (const std::string& t : tables) {
    if (export_dir->schema.Find(t) == nullptr) {
      return ReportError(Status::InvalidArgument("no table named " + t + " in " + dir));
    }
  }
  std::unique_ptr<TreeCache> cache = use_cache ? OpenReplicaTreeCache(dir) : nullptr;
  auto trees = HashExports(env, {&export_dir.value()}, {tables}, threads, merkle::kTargetLeafRows,
                           cache.get());
  if (!trees.ok()) return ReportError(trees.status());
  uint64_t bytes = 0;
  for (const DataFile& f : export_dir->files) bytes += f.size_bytes;
  double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("tables").BeginObject();
    for (const TableTree& t : trees.value()[0]) {
      w.Key(t.table).BeginObject();
      w.Key("kind").Value(KindName(t.kind));
      w.Key("rows").Value(t.tree.rows());
      w.Key("depth").Value(static_cast<uint64_t>(t.tree.depth()));
      w.Key("root").Value(t.tree.RootHex());
      w.EndObject();
    }
    w.EndObject();
    w.Key("stats").BeginObject().Key("bytes").Value(bytes).Key("elapsed_ms").Value(elapsed_ms).EndObject();
    w.EndObject();
    std::cout << w.str() << "\n";
  } else {
    for (const TableTree& t : trees.value()[0]) {
      std::cout << t.tree.RootHex() << "  " << t.table << " (" << KindName(t.kind) << ", "
                << t.tree.rows() << " rows)\n";
    }
  }
  return kExitSame;
}

std::string HumanBytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f MB", bytes / 1048576.0);
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f KB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

uint64_t FileSize(const std::string& path) {
  FileType type;
  uint64_t size = 0;
  (void)Env::Default()->Stat(path, &type, &size);
  return size;
}

std::string ManifestJson(const Manifest& m) {
  JsonWriter w;
  w.BeginObject();
  w.Key("kind").Value(m.kind);
  if (!m.base_root.empty()) w.Key("base_root").Value(m.base_root);
  w.Key(m.kind == "bundle" ? "result_root" : "root").Value(m.result_root);
  for (const auto& [k, v] : m.options) w.Key(k).Value(v);
  w.Key("tables").BeginObject();
  for (const Manifest::Table& t : m.tables) {
    w.Key(t.name).BeginObject();
    w.Key("kind").Value(t.kind);
    w.Key("rows").Value(t.rows);
    if (m.kind == "bundle") {
      w.Key("upserts").Value(t.upserts);
      w.Key("deletes").Value(t.deletes);
    }
    w.Key("root").Value(t.root);
    w.EndObject();
  }
  w.EndObject();
  uint64_t bytes = 0;
  for (const Manifest::Member& mem : m.members) bytes += mem.size;
  w.Key("members").Value(static_cast<uint64_t>(m.members.size()));
  w.Key("bytes").Value(bytes);
  w.EndObject();
  return w.str();
}

void PrintManifest(const Manifest& m) {
  std::cout << m.kind << "\n";
  if (!m.base_root.empty()) std::cout << "base root:   " << m.base_root << "\n";
  std::cout << (m.kind == "bundle" ? "result root: " : "root:        ") << m.result_root << "\n";
  for (const auto& [k, v] : m.options) std::cout << k << ": " << v << "\n";
  for (const Manifest::Table& t : m.tables) {
    std::cout << "  " << t.name << " (" << t.kind << "): " << t.rows << " rows";
    if (m.kind == "bundle") {
      std::cout << ", " << t.upserts << (t.kind == "node" ? " upserts, " : " inserts, ") << t.deletes
                << " deletes";
    }
    std::cout << "\n";
  }
}

int RunBundle(const std::string& a, const std::string& b, const std::string& out, bool deletes,
              int level, int threads, bool use_cache) {
  BundleOptions options;
  options.deletes = deletes;
  options.pack.level = level;
  options.pack.threads = threads;
  options.threads = threads;
  std::unique_ptr<TreeCache> cache_a = use_cache ? OpenReplicaTreeCache(a) : nullptr;
  std::unique_ptr<TreeCache> cache_b = use_cache ? OpenReplicaTreeCache(b) : nullptr;
  auto replica_a = LocalReplica::Open(Env::Default(), a, {}, threads, merkle::kTargetLeafRows, cache_a.get());
  if (!replica_a.ok()) return ReportError(replica_a.status());
  auto replica_b = LocalReplica::Open(Env::Default(), b, {}, threads, merkle::kTargetLeafRows, cache_b.get());
  if (!replica_b.ok()) return ReportError(replica_b.status());
  Result<Manifest> m = WriteBundle(Env::Default(), replica_a->get(), replica_b->get(), out, options);
  if (!m.ok()) return ReportError(m.status());
  uint64_t upserts = 0, deletes_count = 0;
  for (const Manifest::Table& t : m->tables) {
    upserts += t.upserts;
    deletes_count += t.deletes;
  }
  std::cerr << "kuzusync: wrote " << out << ": " << upserts << " rows to upsert or insert, "
            << deletes_count << " to delete, " << HumanBytes(FileSize(out)) << "\n";
  return kExitSame;
}

int RunApply(const std::string& bundle, const std::string& target, const std::string& cypher_dir,
             bool force, int threads, bool use_cache) {
  if (!cypher_dir.empty()) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(cypher_dir, ec);
    if (ec) return ReportError(Status::IoError(ec.message(), cypher_dir));
    Status s = WriteCypher(Env::Default(), bundle, cypher_dir, absolute.lexically_normal().string());
    if (!s.ok()) return ReportError(s);
    std::cerr << "kuzusync: wrote " << JoinPath(cypher_dir, "apply.cypher") << "\n";
    return kExitSame;
  }
  if (target.empty()) {
    return ReportError(Status::InvalidArgument("apply needs a target export directory or --cypher DIR"));
  }
  // The replica's write lock, as a daemon or ssh session takes it; nothing is
  // created beside a target that is not a directory (apply reports that).
  std::unique_ptr<FileLock> lock;
  FileType type;
  uint64_t size = 0;
  if (Env::Default()->Stat(target, &type, &size).ok() && type == FileType::kDirectory) {
    Status locked =
        Env::Default()->LockFile(BesideReplica(target, kLockSuffix), LockMode::kExclusive, &lock);
    if (!locked.ok()) return ReportError(locked);
  }
  ApplyOptions options;
  options.force = force;
  options.threads = threads;
  std::unique_ptr<TreeCache> cache = use_cache ? OpenReplicaTreeCache(target) : nullptr;
  options.cache = cache.get();
  Result<ApplyResult> r = ApplyBundle(Env::Default(), bundle, target, options);
  if (!r.ok()) return ReportError(r.status());
  if (r->already_applied) {
    std::cerr << "kuzusync: " << target << " already holds the bundle's result; nothing to do\n";
  } else {
    std::cerr << "kuzusync: applied " << bundle << " to " << target
              << (r->forced ? " (forced: the target had changed since the bundle was made)" : "")
              << "\n";
  }
  return kExitSame;
}

int RunSnapshotPack(const std::string& dir, const std::string& out, int level, int threads,
                    bool use_cache) {
  const auto start = std::chrono::steady_clock::now();
  PackOptions options;
  options.level = level;
  options.threads = threads;
  std::unique_ptr<TreeCache> cache = use_cache ? OpenReplicaTreeCache(dir) : nullptr;
  Result<SnapshotStats> stats = PackSnapshot(Env::Default(), dir, out, options, threads, cache.get());
  if (!stats.ok()) return ReportError(stats.status());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char ratio[64];
  std::snprintf(ratio, sizeof(ratio), "%.2fx, %.0f%% smaller",
                stats->archive_bytes ? double(stats->raw_bytes) / stats->archive_bytes : 0.0,
                stats->raw_bytes ? 100.0 * (1.0 - double(stats->archive_bytes) / stats->raw_bytes) : 0.0);
  std::cerr << "kuzusync: packed " << HumanBytes(stats->raw_bytes) << " into "
            << HumanBytes(stats->archive_bytes) << " (" << ratio << ") in " << seconds << " s\n";
  return kExitSame;
}

int RunSnapshotVerify(const std::string& archive, bool json) {
  Result<Manifest> m = ReadArchive(Env::Default(), archive, "");
  if (!m.ok()) {
    const Status& s = m.status();
    bool damaged = s.code() == Status::Code::kCorrupt || s.code() == Status::Code::kRefused;
    std::cerr << "kuzusync: " << (damaged ? "damaged: " : "") << s.ToString() << "\n";
    return damaged ? kExitDifferent : kExitTrouble;
  }
  if (json) {
    std::cout << ManifestJson(m.value()) << "\n";
  } else {
    std::cout << archive << ": intact, " << m->members.size() << " members\n";
  }
  return kExitSame;
}

int RunTransfer(const std::string& from, const std::string& to, const TransferOptions& options,
                bool json, bool quiet) {
  Result<TransferReport> report = Transfer(Env::Default(), from, to, options);
  if (!report.ok()) return ReportError(report.status());
  const TransferReport& r = report.value();
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("changed").Value(r.changed);
    w.Key("dry_run").Value(options.dry_run);
    w.Key("bytes_sent").Value(r.counters.bytes_sent);
    w.Key("bytes_received").Value(r.counters.bytes_received);
    w.Key("round_trips").Value(r.counters.round_trips);
    w.Key("comparisons").Value(r.comparisons);
    w.Key("rows_sent").Value(r.rows_sent);
    w.Key("rows_deleted").Value(r.rows_deleted);
    w.Key("rows_kept").Value(r.rows_kept);
    w.Key("bundle_bytes").Value(r.bundle_bytes);
    w.Key("elapsed_ms").Value(r.elapsed_ms);
    w.EndObject();
    std::cout << w.str() << "\n";
  } else if (!quiet) {
    if (!r.changed) {
      std::cerr << "kuzusync: " << to << " already has every row of " << from << "\n";
    } else {
      std::cerr << "kuzusync: " << (options.dry_run ? "would send " : "sent ") << r.rows_sent
                << " rows, " << (options.dry_run ? "would delete " : "deleted ") << r.rows_deleted
                << " (" << HumanBytes(r.bundle_bytes) << " bundle, "
                << HumanBytes(r.counters.bytes_sent + r.counters.bytes_received) << " on the wire, "
                << r.counters.round_trips << " round trips)\n";
    }
    if (r.rows_kept > 0) {
      std::cerr << "kuzusync: kept " << r.rows_kept << " rows that only " << to
                << " has; --delete removes them\n";
    }
  }
  return kExitSame;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"kuzusync: replicate Kuzu graph databases by their EXPORT DATABASE directories"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kuzusync 0.1.0");

  std::string dir_a, dir_b;
  std::vector<std::string> tables;
  bool json = false;
  bool rows = false;
  int threads = 0;

  CLI::App* diff = app.add_subcommand(
      "diff", "Compare two replicas. Exit 0 identical, 1 different, 2 trouble.");
  diff->add_option("A", dir_a, "first replica (export directory)")->required();
  diff->add_option("B", dir_b, "second replica (export directory)")->required();
  diff->add_flag("--rows", rows, "also list differing rows: + only in A, - only in B, ~ changed");
  diff->add_flag("--json", json, "print one JSON object");
  diff->add_option("--table", tables, "limit to this table (repeatable)");
  diff->add_option("--threads", threads, "hashing threads (default: all cores)");
  ConnectOptions connect;
  auto add_connect = [&](CLI::App* cmd) {
    cmd->add_option("--token-file", connect.token_file, "daemon: file holding the bearer token");
    cmd->add_option("--ca-file", connect.ca_file, "daemon: CA certificate(s) that sign the server's");
    cmd->add_flag("--insecure", connect.insecure, "daemon: plain TCP (loopback only)");
    cmd->add_option("-e,--rsh", connect.rsh, "ssh command (default: ssh)");
    cmd->add_option("--remote-kuzusync", connect.remote_command, "kuzusync on the ssh host");
  };
  add_connect(diff);

  CLI::App* hash = app.add_subcommand("hash", "Print per-table row counts and root hashes.");
  hash->add_option("A", dir_a, "replica (export directory)")->required();
  hash->add_flag("--json", json, "print one JSON object");
  hash->add_option("--table", tables, "limit to this table (repeatable)");
  hash->add_option("--threads", threads, "hashing threads (default: all cores)");

  std::string out, target, cypher_dir;
  bool no_delete = false, force = false;
  int level = 3;

  CLI::App* bundle = app.add_subcommand(
      "bundle", "Write the rows that turn B into A (A's version wins) as a tar+zstd bundle.");
  bundle->add_option("A", dir_a, "source replica")->required();
  bundle->add_option("B", dir_b, "replica the bundle will be applied to")->required();
  bundle->add_option("-o,--output", out, "bundle file to write")->required();
  bundle->add_flag("--no-delete", no_delete, "additive only: never delete rows from B");
  bundle->add_option("--level", level, "zstd level (default 3)");
  bundle->add_option("--threads", threads, "threads (default: all cores)");

  CLI::App* inspect = app.add_subcommand("inspect", "Show a bundle's or snapshot's manifest.");
  inspect->add_option("FILE", out, "bundle or snapshot")->required();
  inspect->add_flag("--json", json, "print one JSON object");

  CLI::App* apply = app.add_subcommand(
      "apply", "Apply a bundle to an export directory, or write it as Cypher with --cypher.");
  apply->add_option("BUNDLE", out, "bundle file")->required();
  apply->add_option("B", target, "export directory to patch in place");
  apply->add_option("--cypher", cypher_dir, "write DIR/apply.cypher and data files instead");
  apply->add_flag("--force", force, "apply even if B changed since the bundle was made (upserts)");
  apply->add_option("--threads", threads, "hashing threads (default: all cores)");

  CLI::App* snapshot = app.add_subcommand("snapshot", "Pack, unpack or verify whole replicas.");
  snapshot->require_subcommand(1);
  CLI::App* pack = snapshot->add_subcommand("pack", "Pack an export into a .tar.zst snapshot.");
  pack->add_option("A", dir_a, "replica")->required();
  pack->add_option("-o,--output", out, "snapshot file")->required();
  pack->add_option("--level", level, "zstd level (default 3)");
  pack->add_option("--threads", threads, "threads (default: all cores)");
  CLI::App* unpack = snapshot->add_subcommand("unpack", "Extract a snapshot into a new directory.");
  unpack->add_option("FILE", out, "snapshot file")->required();
  unpack->add_option("-C", target, "directory to create")->required();
  CLI::App* verify = snapshot->add_subcommand(
      "verify", "Check a snapshot or bundle: exit 0 intact, 1 damaged, 2 trouble.");
  verify->add_option("FILE", out, "snapshot or bundle")->required();
  verify->add_flag("--json", json, "print the manifest as JSON when intact");

  TransferOptions transfer;
  bool quiet = false;
  CLI::App* push = app.add_subcommand("push", "Send the rows the destination lacks (SRC -> DST).");
  CLI::App* pull = app.add_subcommand("pull", "Fetch the rows this replica lacks (SRC -> DST).");
  for (CLI::App* cmd : {push, pull}) {
    cmd->add_option("SRC", dir_a, "source replica: path, host:path, ssh://..., kuzusync://...")->required();
    cmd->add_option("DST", dir_b, "destination replica")->required();
    cmd->add_flag("--delete", transfer.deletes, "also delete rows DST has and SRC lacks");
    cmd->add_flag("--dry-run", transfer.dry_run, "report what would move; move nothing");
    cmd->add_flag("--json", json, "print transfer statistics as JSON");
    cmd->add_flag("-q,--quiet", quiet, "print only errors");
    cmd->add_option("--threads", threads, "threads (default: all cores)");
    add_connect(cmd);
  }

  ServeOptions serve;
  DaemonOptions daemon;
  std::string server_token_file;
  bool stdio = false;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Serve replicas: --stdio (for ssh) or --listen (daemon).");
  serve_cmd->add_flag("--stdio", stdio, "serve one session on stdin/stdout");
  serve_cmd->add_option("--listen", daemon.listen, "HOST:PORT to listen on (default 127.0.0.1:7420)");
  serve_cmd->add_option("--root", serve.root, "directory whose subdirectories are the replicas");
  serve_cmd->add_option("--tls-cert", daemon.tls_cert, "PEM certificate chain");
  serve_cmd->add_option("--tls-key", daemon.tls_key, "PEM private key");
  serve_cmd->add_option("--token-file", server_token_file, "lines: <token> rw|ro [replica ...]");
  serve_cmd->add_flag("--insecure", daemon.insecure, "plain TCP, loopback only");
  serve_cmd->add_option("--max-sessions", daemon.max_sessions, "exit after this many sessions");
  serve_cmd->add_option("--lock-wait", serve.lock_wait_seconds,
                        "seconds a session waits for a busy replica before it answers busy (default 300)");
  serve_cmd->add_option("--threads", threads, "hashing threads per session");

  SyncOptions sync_options;
  std::string policy = "lww";
  std::vector<std::string> counters;
  size_t limit = 100;
  CLI::App* sync = app.add_subcommand(
      "sync", "Two-way sync of LOCAL with REMOTE, three-way merged against the last checkpoint. "
              "Exit 0 in sync, 1 stopped by conflicts, 2 trouble, 3 busy.");
  sync->add_option("LOCAL", dir_a, "this site's export directory")->required();
  sync->add_option("REMOTE", dir_b, "the peer: path, host:path, ssh://..., kuzusync://...")->required();
  sync->add_option("--policy", policy, "conflicts: lww (default), local-wins, remote-wins, fail")
      ->check(CLI::IsMember({"lww", "local-wins", "remote-wins", "fail"}));
  sync->add_option("--lww-column", sync_options.merge.lww_column,
                   "lww: the greater value of this column wins (else the later first-seen change)");
  sync->add_option("--merge-counters", counters,
                   "TABLE.COLUMN merged as base + local change + remote change (repeatable)");
  sync->add_option("--emit-cypher", sync_options.emit_cypher_dir,
                   "also write incoming changes as Cypher: DIR/<run>/apply.cypher, one batch per run");
  sync->add_flag("--dry-run", sync_options.dry_run, "report what would change; change nothing");
  sync->add_flag("--json", json, "print the run's report as JSON");
  sync->add_flag("-q,--quiet", quiet, "print only errors");
  sync->add_option("--threads", threads, "threads (default: all cores)");
  add_connect(sync);
  CLI::App* status = app.add_subcommand(
      "status", "Replica id, version vector, checkpoints per peer, last runs, pending conflicts.");
  CLI::App* log = app.add_subcommand("log", "History of sync runs, oldest first.");
  CLI::App* conflicts_cmd = app.add_subcommand("conflicts", "Conflicts met by sync, with both sides and the base.");
  for (CLI::App* cmd : {status, log, conflicts_cmd}) {
    cmd->add_option("LOCAL", dir_a, "export directory")->required();
    cmd->add_flag("--json", json, "print JSON");
  }
  for (CLI::App* cmd : {log, conflicts_cmd}) {
    cmd->add_option("-n,--limit", limit, "at most this many, the latest (default 100)");
  }

  // Every command that hashes a local replica may keep its trees beside it.
  bool no_cache = false;
  for (CLI::App* cmd : {diff, hash, bundle, apply, pack, push, pull, serve_cmd, sync}) {
    cmd->add_flag("--no-cache", no_cache,
                  "do not read or write the tree cache beside local replicas (.<name>.kuzusync/)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitTrouble;
  }

  if (diff->parsed()) {
    DiffOptions options;
    options.tables = tables;
    options.collect_rows = rows;
    options.threads = threads;
    connect.threads = threads;
    connect.use_tree_cache = !no_cache;
    return RunDiff(dir_a, dir_b, options, connect, json);
  }
  if (hash->parsed()) return RunHash(dir_a, tables, threads, json, !no_cache);
  if (bundle->parsed()) return RunBundle(dir_a, dir_b, out, !no_delete, level, threads, !no_cache);
  if (inspect->parsed()) {
    Result<Manifest> m = ReadArchive(Env::Default(), out, "");
    if (!m.ok()) return ReportError(m.status());
    if (json) {
      std::cout << ManifestJson(m.value()) << "\n";
    } else {
      PrintManifest(m.value());
    }
    return kExitSame;
  }
  if (apply->parsed()) return RunApply(out, target, cypher_dir, force, threads, !no_cache);
  if (pack->parsed()) return RunSnapshotPack(dir_a, out, level, threads, !no_cache);
  if (unpack->parsed()) {
    Result<Manifest> m = UnpackSnapshot(Env::Default(), out, target);
    if (!m.ok()) return ReportError(m.status());
    std::cerr << "kuzusync: unpacked " << m->members.size() << " files into " << target << "\n";
    return kExitSame;
  }
  if (verify->parsed()) return RunSnapshotVerify(out, json);
  if (push->parsed() || pull->parsed()) {
    transfer.threads = threads;
    transfer.connect = connect;
    transfer.connect.use_tree_cache = !no_cache;
    const char* tmp = std::getenv("TMPDIR");
    transfer.temp_dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    if (!quiet && ::isatty(2)) {
      transfer.progress = [](const std::string& line) { std::cerr << "kuzusync: " << line << "\n"; };
    }
    return RunTransfer(dir_a, dir_b, transfer, json, quiet);
  }
  if (sync->parsed()) {
    auto& merge = sync_options.merge;
    merge.policy = policy == "local-wins"    ? ConflictPolicy::kLocalWins
                   : policy == "remote-wins" ? ConflictPolicy::kRemoteWins
                   : policy == "fail"        ? ConflictPolicy::kFail
                                             : ConflictPolicy::kLastWriterWins;
    for (const std::string& c : counters) {
      size_t dot = c.rfind('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == c.size()) {
        return ReportError(Status::InvalidArgument("--merge-counters wants TABLE.COLUMN, not '" + c + "'"));
      }
      merge.counters[c.substr(0, dot)].push_back(c.substr(dot + 1));
    }
    sync_options.threads = threads;
    sync_options.connect = connect;
    sync_options.connect.use_tree_cache = !no_cache;
    const char* tmp = std::getenv("TMPDIR");
    sync_options.temp_dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    if (!quiet && !json && ::isatty(2)) {
      sync_options.progress = [](const std::string& line) { std::cerr << "kuzusync: " << line << "\n"; };
    }
    return RunSync(dir_a, dir_b, sync_options, json, quiet);
  }
  if (status->parsed()) return RunStatus(dir_a, json);
  if (log->parsed()) return RunLog(dir_a, json, limit);
  if (conflicts_cmd->parsed()) return RunConflicts(dir_a, json, limit);
  if (serve_cmd->parsed()) {
    serve.env = Env::Default();
    serve.threads = threads;
    serve.use_tree_cache = !no_cache;
    if (stdio) {
      Status s = ServeStdio(serve);
      return s.ok() ? kExitSame : ReportError(s);
    }
    if (serve.root.empty()) return ReportError(Status::InvalidArgument("serve --listen needs --root"));
    if (server_token_file.empty()) {
      return ReportError(Status::InvalidArgument("serve --listen needs --token-file"));
    }
    if (!daemon.insecure && (daemon.tls_cert.empty() || daemon.tls_key.empty())) {
      return ReportError(Status::InvalidArgument(
          "serve --listen needs --tls-cert and --tls-key (or --insecure on loopback)"));
    }
    auto tokens = ReadTokenFile(Env::Default(), server_token_file);
    if (!tokens.ok()) return ReportError(tokens.status());
    serve.tokens = std::move(tokens).value();
    serve.require_token = true;
    daemon.log = [](const std::string& line) { std::cerr << "kuzusync serve: " << line << std::endl; };
    Status s = RunDaemon(daemon, serve);
    return s.ok() ? kExitSame : ReportError(s);
  }
  return kExitTrouble;
}

}  // namespace kuzusync
