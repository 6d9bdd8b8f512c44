// Transfer: the rows a destination lacks, found by set reconciliation or by
// comparing trees over the protocol, shipped as one bundle and applied
// atomically on arrival.

#include <chrono>
#include <thread>

#include "transfer/temp_files.h"
#include "transfer/transfer.h"

namespace kuzusync {
namespace {

void AddCounters(const TransferCounters& c, TransferCounters* total) {
  total->bytes_sent += c.bytes_sent;
  total->bytes_received += c.bytes_received;
  total->round_trips += c.round_trips;
}

// How the bundle is made. Reconciliation ships about 17 bytes per
// differing row where a tree descent ships node and row prints around every
// change (bench/RESULTS.md); it needs a network peer that speaks it and a
// local replica on the other side.
enum class Method { kDescent, kPushBySketch, kPullBySketch };

}  // namespace

Result<TransferReport> Transfer(Env* env, const std::string& from, const std::string& to,
                                const TransferOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto progress = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  KS_ASSIGN_OR_RETURN(RemoteSpec from_spec, ParseRemote(from));
  KS_ASSIGN_OR_RETURN(RemoteSpec to_spec, ParseRemote(to));
  ConnectOptions connect = options.connect;
  connect.threads = options.threads;
  connect.want_elements = true;  // see Method
  // The destination is always reached through the protocol (in-process for
  // a local path), so its write lock and atomic apply are the same code.
  // It hashes its side while this one hashes the source.
  const Access access = options.dry_run ? Access::kRead : Access::kWrite;
  progress("hashing " + from + " and " + to);
  Result<std::unique_ptr<RemoteReplica>> connected = Status::IoError("not connected");
  std::thread connecting([&] { connected = RemoteReplica::Connect(env, to_spec, connect, access, {}); });
  Result<std::unique_ptr<Replica>> opened = OpenReplica(env, from, connect, Access::kRead, {});
  connecting.join();
  KS_ASSIGN_OR_RETURN(auto source, std::move(opened));
  KS_ASSIGN_OR_RETURN(auto destination, std::move(connected));
  uint64_t source_rows = 0;
  for (const Replica::Table& t : source->tables()) source_rows += t.root.count;
  progress("hashed " + std::to_string(source_rows) + " rows of " + from);
  auto* remote_source = dynamic_cast<RemoteReplica*>(source.get());

  Method method = Method::kDescent;
  if (remote_source == nullptr && destination->sketch_peer() != nullptr) {
    method = Method::kPushBySketch;
  }
  if (remote_source != nullptr && remote_source->sketch_peer() != nullptr &&
      to_spec.kind == RemoteSpec::Kind::kLocal) {
    method = Method::kPullBySketch;
  }

  RemoveStaleTempFiles(env, options.temp_dir);
  const std::string bundle_path = TempPath(options.temp_dir, "push");
  BundleOptions bundle;
  bundle.deletes = options.deletes;
  bundle.pack = options.pack;
  bundle.pack.level = PackOptions::kSmallHigh;
  bundle.pack.scratch = true;  // sent, then removed
  bundle.threads = options.threads;
  DiffReport diff;
  auto write_bundle = [&]() -> Result<Manifest> {
    switch (method) {
      case Method::kDescent:
        progress("comparing trees and collecting differing rows");
        return WriteBundle(env, source.get(), destination.get(), bundle_path, bundle, &diff);
      case Method::kPushBySketch:
        progress("reconciling rows with " + to);
        return WriteBundleBySketch(env, source.get(), destination.get(), destination->sketch_peer(),
                                   bundle_path, bundle, &diff);
      case Method::kPullBySketch: {
        progress("reconciling rows with " + from);
        std::unique_ptr<TreeCache> cache;
        if (connect.use_tree_cache) cache = OpenReplicaTreeCache(to_spec.path);
        // With elements: the server asks for symbols of all of them.
        KS_ASSIGN_OR_RETURN(auto local, LocalReplica::Open(env, to_spec.path, {}, options.threads,
                                                           connect.tree_leaf_rows, cache.get(), true));
        local->AdoptCache(std::move(cache));
        KS_ASSIGN_OR_RETURN(diff.stats.comparisons,
                            remote_source->ReconcileInto(local.get(), options.deletes, bundle_path,
                                                         options.threads));
        return ReadArchive(env, bundle_path, "");
      }
    }
    return Status::InvalidArgument("no such method");
  };
  // What reconciliation cannot see (a changed row whose old and new
  // elements agree, about 2^-24 per changed node row) makes it fail, never
  // apply a wrong result: the bundle's root is the source's. So does a
  // table too large to reconcile in memory. Then trees decide, over fresh
  // connections (a failed session has ended).
  TransferCounters spent;
  auto fall_back = [&](const Status& why) -> Status {
    progress("reconciliation failed (" + why.message() + "); comparing trees instead");
    AddCounters(destination->counters(), &spent);
    KS_ASSIGN_OR_RETURN(destination, RemoteReplica::Connect(env, to_spec, connect, access, {}));
    if (method == Method::kPullBySketch) {
      AddCounters(remote_source->counters(), &spent);
      KS_ASSIGN_OR_RETURN(auto again, RemoteReplica::Connect(env, from_spec, connect, Access::kRead, {}));
      remote_source = again.get();
      source = std::move(again);
    }
    method = Method::kDescent;
    return Status::Ok();
  };
  auto may_fall_back = [&](const Status& s) {
    return method != Method::kDescent &&
           (s.code() == Status::Code::kCorrupt || s.code() == Status::Code::kUnsupported);
  };
  Result<Manifest> manifest = write_bundle();
  if (!manifest.ok() && may_fall_back(manifest.status())) {
    KS_RETURN_IF_ERROR(fall_back(manifest.status()));
    manifest = write_bundle();
  }
  Status s = manifest.status();
  TransferReport report;
  report.changed = s.ok() && manifest->base_root != manifest->result_root;
  if (report.changed && !options.dry_run) {
    progress("sending the bundle and applying it at " + to);
    Result<ApplyResult> applied = destination->PutBundle(bundle_path);
    if (!applied.ok() && may_fall_back(applied.status())) {
      s = fall_back(applied.status());
      if (s.ok()) manifest = write_bundle();
      if (s.ok()) s = manifest.status();
      if (s.ok()) applied = destination->PutBundle(bundle_path);
    }
    if (s.ok()) s = applied.status();
  }
  FileType type;
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
  report.counters = spent;
  AddCounters(destination->counters(), &report.counters);
  if (remote_source != nullptr) AddCounters(remote_source->counters(), &report.counters);
  report.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace kuzusync
