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
  KS_ASSIGN_OR_RETURN(auto destination,
                      RemoteReplica::Connect(env, to_spec, connect,
                                             options.dry_run ? Access::kRead : Access::kWrite, {}));

  RemoveStaleTempFiles(env, options.temp_dir);
  const std::string bundle_path = TempPath(options.temp_dir, "push");
  BundleOptions bundle;
  bundle.deletes = options.deletes;
  bundle.pack = options.pack;
  bundle.pack.level = PackOptions::kSmallHigh;
  bundle.threads = options.threads;
  progress("comparing trees and collecting differing rows");
  DiffReport diff;
  // Over a network, with deletes, from a local source: reconciliation ships
  // about 17 bytes per differing row where a descent ships tree and row
  // prints around every change (bench/RESULTS.md).
  SketchPeer* peer = destination->sketch_peer();
  const bool by_sketch = peer != nullptr && options.deletes &&
                         dynamic_cast<RemoteReplica*>(source.get()) == nullptr;
  Result<Manifest> manifest =
      by_sketch ? WriteBundleBySketch(env, source.get(), destination.get(), peer, bundle_path, bundle, &diff)
                : WriteBundle(env, source.get(), destination.get(), bundle_path, bundle, &diff);
  if (!manifest.ok()) return manifest.status();

  TransferReport report;
  report.comparisons = diff.stats.comparisons;
  for (const Manifest::Table& t : manifest->tables) {
    report.rows_sent += t.upserts;
    report.rows_deleted += t.deletes;
  }
  if (!options.deletes) {
    for (const TableDiff& t : diff.tables) report.rows_kept += t.only_in_b;
  }
  report.changed = manifest->base_root != manifest->result_root;
  FileType type;
  (void)env->Stat(bundle_path, &type, &report.bundle_bytes);
  Status s;
  if (report.changed && !options.dry_run) {
    progress("sending " + std::to_string(report.rows_sent) + " rows, " +
             std::to_string(report.rows_deleted) + " deletes (" + std::to_string(report.bundle_bytes) +
             " bytes) and applying at " + to);
    Result<ApplyResult> applied = destination->PutBundle(bundle_path);
    if (!applied.ok()) s = applied.status();
  }
  (void)env->RemoveFile(bundle_path);
  KS_RETURN_IF_ERROR(s);

  report.counters = destination->counters();
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
