// Transfer: the rows a destination lacks, found by comparing trees over the
// protocol, shipped as one bundle and applied atomically on arrival.

#include <chrono>

#include "transfer/temp_files.h"
#include "transfer/transfer.h"

namespace kuzusync {

Result<TransferReport> Transfer(Env* env, const std::string& from, const std::string& to,
                                const TransferOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  KS_ASSIGN_OR_RETURN(RemoteSpec to_spec, ParseRemote(to));
  ConnectOptions connect = options.connect;
  connect.threads = options.threads;
  progress("hashing " + from);
  KS_ASSIGN_OR_RETURN(auto source, OpenReplica(env, from, connect, Access::kRead, {}));
  uint64_t source_rows = 0;
  for (const Replica::Table& t : source->tables()) source_rows += t.root.count;
  progress("hashed " + std::to_string(source_rows) + " rows of " + from + "; hashing " + to);
  // The destination is always reached through the protocol (in-process for
  // a local path), so its write lock and atomic apply are the same code.
  const Access access = options.dry_run ? Access::kRead : Access::kWrite;
  KS_ASSIGN_OR_RETURN(auto destination, RemoteReplica::Connect(env, to_spec, connect, access, {}));

  RemoveStaleTempFiles(env, options.temp_dir);
  const std::string bundle_path = TempPath(options.temp_dir, "push");
  BundleOptions bundle;
  bundle.deletes = options.deletes;
  bundle.pack = options.pack;
  bundle.pack.level = PackOptions::kSmallHigh;
  bundle.threads = options.threads;
  // Over a network, with deletes, from a local source: reconciliation ships
  // about 17 bytes per differing row where a descent ships tree and row
  // prints around every change (bench/RESULTS.md).
  bool by_sketch = destination->sketch_peer() != nullptr && options.deletes &&
                   dynamic_cast<RemoteReplica*>(source.get()) == nullptr;
  DiffReport diff;
  auto write_bundle = [&]() -> Result<Manifest> {
    if (!by_sketch) {
      progress("comparing trees and collecting differing rows");
      return WriteBundle(env, source.get(), destination.get(), bundle_path, bundle, &diff);
    }
    progress("reconciling rows with " + to);
    return WriteBundleBySketch(env, source.get(), destination.get(), destination->sketch_peer(),
                               bundle_path, bundle, &diff);
  };
  // What reconciliation cannot see (a changed row whose old and new
  // elements agree, about 2^-24 per changed node row) makes it fail, never
  // apply a wrong result: the bundle's root is A's. Then trees decide.
  TransferCounters spent;
  auto fall_back = [&](const Status& why) -> Status {
    progress("reconciliation failed (" + why.message() + "); comparing trees instead");
    by_sketch = false;
    TransferCounters c = destination->counters();
    spent.bytes_sent += c.bytes_sent;
    spent.bytes_received += c.bytes_received;
    spent.round_trips += c.round_trips;
    KS_ASSIGN_OR_RETURN(destination, RemoteReplica::Connect(env, to_spec, connect, access, {}));
    return Status::Ok();
  };
  Result<Manifest> manifest = write_bundle();
  if (!manifest.ok() && by_sketch && manifest.status().code() == Status::Code::kCorrupt) {
    KS_RETURN_IF_ERROR(fall_back(manifest.status()));
    manifest = write_bundle();
  }
  if (!manifest.ok()) return manifest.status();

  TransferReport report;
  report.changed = manifest->base_root != manifest->result_root;
  FileType type;
  Status s;
  if (report.changed && !options.dry_run) {
    (void)env->Stat(bundle_path, &type, &report.bundle_bytes);
    progress("sending " + std::to_string(report.bundle_bytes) + " bytes and applying at " + to);
    Result<ApplyResult> applied = destination->PutBundle(bundle_path);
    if (!applied.ok() && by_sketch && applied.status().code() == Status::Code::kCorrupt) {
      s = fall_back(applied.status());
      if (s.ok()) manifest = write_bundle();
      if (s.ok() && !manifest.ok()) s = manifest.status();
      if (s.ok()) applied = destination->PutBundle(bundle_path);
    }
    if (s.ok() && !applied.ok()) s = applied.status();
  }
  (void)env->Stat(bundle_path, &type, &report.bundle_bytes);
  (void)env->RemoveFile(bundle_path);
  KS_RETURN_IF_ERROR(s);

  report.comparisons = diff.stats.comparisons;
  for (const Manifest::Table& t : manifest->tables) {
    report.rows_sent += t.upserts;
    report.rows_deleted += t.deletes;
  }
  if (!options.deletes) {
    for (const TableDiff& t : diff.tables) report.rows_kept += t.only_in_b;
  }
  report.counters = destination->counters();
  report.counters.bytes_sent += spent.bytes_sent;
  report.counters.bytes_received += spent.bytes_received;
  report.counters.round_trips += spent.round_trips;
  if (auto* remote_source = dynamic_cast<RemoteReplica*>(source.get())) {
    TransferCounters c = remote_source->counters();
    report.counters.bytes_sent += c.bytes_sent;
    report.counters.bytes_received += c.bytes_received;
    report.counters.round_trips += c.round_trips;
  }
  report.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace kuzusync
