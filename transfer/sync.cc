// Sync: one cron run of two-way replication between a local export and a
// remote replica, incremental from the checkpoint of the last run with that
// remote (docs/sync.md).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "transfer/temp_files.h"
#include "transfer/transfer.h"

namespace kuzusync {
namespace {


// The shape of every table, without its rows: ReplicaRoot of no roots.
std::string SchemaHash(const Schema& schema) { return ReplicaRoot(schema, {}); }

// Checkpoints are per remote as the user names it; a local path is made
// absolute so that cron's working directory does not matter.
std::string PeerName(const RemoteSpec& spec) {
  if (spec.kind != RemoteSpec::Kind::kLocal) return spec.text;
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(spec.path, ec);
  if (ec) return spec.text;
  std::string path = absolute.lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

const char* OrderName(VectorOrder order) {
  switch (order) {
    case VectorOrder::kEqual: return "equal";
    case VectorOrder::kBehind: return "behind";
    case VectorOrder::kAhead: return "ahead";
    case VectorOrder::kConcurrent: return "concurrent";
  }
  return "?";
}

// The unpacked base is a new directory every run, so file identities never
// repeat: its files are known by their content (the snapshot's SHA-256)
// instead, and the tree cache finds the tables that did not change.
class ContentIdentityEnv final : public EnvWrapper {
 public:
  ContentIdentityEnv(Env* target, const std::string& dir, const Manifest& manifest) : EnvWrapper(target) {
    for (const Manifest::Member& m : manifest.members) sha256_[JoinPath(dir, m.name)] = m.sha256;
  }
  Status FileIdentity(const std::string& path, std::string* identity, double* age_seconds) override {
    auto it = sha256_.find(path);
    if (it == sha256_.end()) return EnvWrapper::FileIdentity(path, identity, age_seconds);
    *identity = "sha256:" + it->second;
    *age_seconds = 1e9;  // content does not change under a name
    return Status::Ok();
  }

 private:
  std::map<std::string, std::string> sha256_;
};

// Removes the files of a run, whatever happened.
class TempFiles {
 public:
  TempFiles(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  ~TempFiles() {
    for (const std::string& path : paths_) {
      (void)env_->RemoveFile(path);
      (void)RemoveTree(env_, path);
    }
  }
  std::string New(const std::string& what) {
    paths_.push_back(TempPath(dir_, what));
    return paths_.back();
  }

 private:
  Env* env_;
  std::string dir_;
  std::vector<std::string> paths_;
};

class SyncRunner {
 public:
  SyncRunner(Env* env, std::string local_dir, RemoteSpec spec, const SyncOptions& options,
             SyncState* state, SyncReport* report)
      : env_(env), local_dir_(std::move(local_dir)), spec_(std::move(spec)), options_(options),
        state_(state), report_(report), temp_(env, options.temp_dir) {}

  Status Run(SyncRun* run) {
    // The replica's write lock, as apply and serve take it: nothing else
    // changes the export while this run reads and then applies to it.
    KS_RETURN_IF_ERROR(env_->LockFile(BesideReplica(local_dir_, kLockSuffix), LockMode::kExclusive,
                                      &replica_lock_));
    cache_ = OpenReplicaTreeCache(local_dir_);
    // What a killed run built beside the export; a pending run is finished
    // from the state, not from this.
    KS_RETURN_IF_ERROR(RemoveTree(env_, BesideReplica(local_dir_, ".kuzusync-merged")));
    if (!options_.emit_cypher_dir.empty() && !options_.dry_run) KS_RETURN_IF_ERROR(ReplayPendingBatches());
    KS_RETURN_IF_ERROR(HashLocal());
    KS_ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint, state_->LoadCheckpoint(report_->peer));
    KS_ASSIGN_OR_RETURN(std::optional<PendingSync> pending, state_->LoadPending(report_->peer));

    KS_RETURN_IF_ERROR(Connect(checkpoint && !pending ? checkpoint->remote_root : ""));
    KS_ASSIGN_OR_RETURN(RemoteReplica::State remote_state, remote_->GetState({}));
    if (pending && !options_.dry_run) {
      KS_RETURN_IF_ERROR(FinishInterruptedRun(*pending, remote_state));
      KS_ASSIGN_OR_RETURN(checkpoint, state_->LoadCheckpoint(report_->peer));
    }
    const std::string local_root = ReplicaRoot(*local_);

    report_->mode = "incremental";
    if (!checkpoint) {
      GoFull("no checkpoint");
    } else if (checkpoint->schema_hash != SchemaHash(local_->schema()) ||
               (!remote_->unchanged() && SchemaHash(remote_->schema()) != checkpoint->schema_hash)) {
      GoFull("schema changed");
    }
    report_->local_changed = full_ || local_root != checkpoint->local_root;
    report_->remote_changed =
        full_ || (!remote_->unchanged() && ReplicaRoot(*remote_) != checkpoint->remote_root);
    // Local changes are found against the base, without the network.
    if (!full_ && report_->local_changed) {
      Status s = OpenBase();
      if (!s.ok()) {
        GoFull("checkpoint unreadable: " + s.message());
        report_->remote_changed = true;
      }
    }
    if (full_ && remote_->unchanged()) KS_RETURN_IF_ERROR(Connect(""));  // its trees are needed after all

    KS_ASSIGN_OR_RETURN(VersionVector vector, state_->Vector());
    report_->vector_order = OrderName(CompareVectors(remote_state.vector, vector));
    if (report_->local_changed) ++vector[state_->replica_id()];  // a local change set
    for (const auto& [id, n] : remote_state.vector) vector[id] = std::max(vector[id], n);
    report_->vector = vector;
    run->mode = report_->mode;
    run->reason = report_->reason;

    if (!report_->local_changed && !report_->remote_changed) {
      report_->root = local_root;
      report_->events = checkpoint->events;
      run->outcome = "in sync";
      return Status::Ok();
    }
    if (!full_ && !report_->local_changed) base_replica_ = local_.get();  // local is still the base

    KS_ASSIGN_OR_RETURN(MergeResult merged, Merge());
    if (!merged.reconciliation_failed.empty()) {
      report_->warnings.push_back("reconciliation with the remote failed (" + merged.reconciliation_failed +
                                  "); its changes were found by comparing trees");
    }
    for (const std::string& name : merged.new_local_keys) {
      const TableSchema* table = local_->schema().Find(name);
      if (table == nullptr || table->columns[table->primary_key].type != "SERIAL") continue;
      // Kuzu 0.11 cannot move a sequence: the live database's next CREATE
      // may take a key that just arrived.
      report_->warnings.push_back(
          "table " + name + " has a SERIAL key and gained rows made elsewhere: the live database's " +
          "sequence " + name + "_" + table->columns[table->primary_key].name +
          "_serial does not know their keys. Tables written at several sites need keys made " +
          "where the row is made (a STRING or UUID key), not SERIAL.");
    }
    report_->conflicts = merged.conflicts;
    report_->rows_in = merged.rows_to_local;
    report_->rows_out = merged.rows_to_remote;
    run->rows_in = merged.rows_to_local;
    run->rows_out = merged.rows_to_remote;
    run->conflicts = merged.conflicts.size();
    if (merged.stopped) {
      report_->stopped = true;
      run->outcome = "stopped: conflicts";
      return Status::Ok();
    }
    if (options_.dry_run) {
      run->outcome = "dry run";
      return Status::Ok();
    }

    // Before either side changes, the state records what this run will
    // leave: the merged version (built beside the export) as the next base,
    // and the local bundle. A run killed after its push is finished from
    // them by the next one (FinishInterruptedRun); killed before, it never
    // happened.
    const std::string merged_dir = BesideReplica(local_dir_, ".kuzusync-merged");
    std::string merged_export = local_dir_;
    if (merged.local_bundle) {
      ApplyOptions apply;
      apply.threads = options_.threads;
      apply.cache = cache_.get();
      apply.output_dir = merged_dir;
      KS_ASSIGN_OR_RETURN(ApplyResult applied, ApplyBundle(env_, local_bundle_, local_dir_, apply));
      if (applied.root != merged.merged_root) {
        return Status::Corrupt("applying the merge locally did not give the merged root");
      }
      merged_export = merged_dir;
    }
    Progress("storing the pending checkpoint");
    const int64_t now = NowUnixMillis();
    const std::string base_path = temp_.New("new-base");
    PackOptions pack;
    pack.threads = options_.threads;
    KS_RETURN_IF_ERROR(PackSnapshot(env_, merged_export, base_path, pack, options_.threads, nullptr,
                                    &merged.merged_roots)
                           .status());
    Checkpoint next;
    next.peer = report_->peer;
    next.at_ms = now;
    next.local_root = merged.merged_root;
    next.remote_root = merged.merged_root;
    next.schema_hash = SchemaHash(local_->schema());
    next.events = (checkpoint ? checkpoint->events : 0) + merged.rows_to_local + merged.rows_to_remote;
    for (const auto& [table, root] : merged.merged_roots) {
      next.table_rows += (next.table_rows.empty() ? "" : " ") + table + "=" + std::to_string(root.count);
    }
    next.remote_vector = VectorText(vector);
    KS_RETURN_IF_ERROR(state_->SavePending(env_, {run->id, merged.merged_root, local_root, false}, next,
                                           base_path, merged.local_bundle ? local_bundle_ : ""));

    // The remote, with its state: this replica's vector, when the versions
    // it sends were first seen (for the next site's lww), and the root the
    // push makes (how a rerun learns the push landed).
    RemoteReplica::StateUpdate update{vector, merged.local_versions_sent, state_->replica_id(),
                                      merged.merged_root};
    for (SeenVersion& v : update.seen) {
      KS_ASSIGN_OR_RETURN(v.at_ms, state_->FirstSeen(v.table, v.key, v.version, now));
    }
    if (merged.remote_bundle) {
      Progress("sending " + std::to_string(merged.rows_to_remote) + " row changes to " + spec_.text);
      KS_ASSIGN_OR_RETURN(ApplyResult applied, remote_->PutBundle(remote_bundle_, &update));
      if (applied.root != merged.merged_root) {
        return Status::Corrupt("the remote's root after the push is not the merged root");
      }
    } else {
      KS_RETURN_IF_ERROR(remote_->PutState(update));
    }

    // Then this side: the Cypher batch for the live database, the export.
    if (merged.local_bundle) {
      if (!options_.emit_cypher_dir.empty()) {
        KS_RETURN_IF_ERROR(EmitCypher(local_bundle_, run->id));
        KS_RETURN_IF_ERROR(state_->MarkPendingEmitted(report_->peer));
      }
      Progress("applying " + std::to_string(merged.rows_to_local) + " row changes to " + local_dir_);
      KS_RETURN_IF_ERROR(env_->ExchangePaths(merged_dir, local_dir_));
      KS_RETURN_IF_ERROR(env_->SyncDir(ParentOf(local_dir_)));
      KS_RETURN_IF_ERROR(RemoveTree(env_, merged_dir));  // now the old version
    }
    report_->root = merged.merged_root;
    report_->events = next.events;
    run->outcome = "synced";
    Finish(run);
    return state_->PromotePending(report_->peer, vector, run, report_->conflicts);
  }

  void Finish(SyncRun* run) {
    run->finished_ms = NowUnixMillis();
    if (remote_) report_->counters = remote_->counters();
    run->bytes_sent = report_->counters.bytes_sent;
    run->bytes_received = report_->counters.bytes_received;
  }

 private:
  void Progress(const std::string& line) {
    if (options_.progress) options_.progress(line);
  }

  // Connects for writing (reading in a dry run). With expected_root, a
  // remote that still has it sends no trees (RemoteReplica::unchanged()).
  Status Connect(const std::string& expected_root) {
    Progress("connecting to " + spec_.text);
    remote_.reset();
    ConnectOptions connect = options_.connect;
    connect.threads = options_.threads;
    connect.tree_leaf_rows = merkle::kNetworkLeafRows;
    connect.expected_root = expected_root;
    connect.want_state = true;
    connect.replica_id = state_->replica_id();
    KS_ASSIGN_OR_RETURN(remote_, RemoteReplica::Connect(env_, spec_, connect,
                                                        options_.dry_run ? Access::kRead : Access::kWrite, {}));
    return Status::Ok();
  }

  Status HashLocal() {
    Progress("hashing " + local_dir_);
    KS_ASSIGN_OR_RETURN(local_, LocalReplica::Open(env_, local_dir_, {}, options_.threads,
                                                   merkle::kNetworkLeafRows, cache_.get()));
    return Status::Ok();
  }

  // A run killed between storing its pending checkpoint and making it
  // current. If its push landed (the remote remembers the root it made),
  // the local half is finished: its Cypher batch if never written, its
  // bundle applied (as the batch would act, when the export changed since),
  // and the pending checkpoint made current. Otherwise it never happened.
  Status FinishInterruptedRun(const PendingSync& pending, const RemoteReplica::State& remote_state) {
    // The remote's own record, written right after it applied the push, or
    // its root (a local path's server died with the client before writing).
    const bool landed = remote_state.last_push_root == pending.merged_root ||
                        (!remote_->unchanged() && ReplicaRoot(*remote_) == pending.merged_root);
    if (!landed) return state_->DropPending(report_->peer);
    Progress("finishing the interrupted run #" + std::to_string(pending.run_id));
    report_->finished_run = pending.run_id;
    const std::string bundle = temp_.New("pending-local");
    KS_ASSIGN_OR_RETURN(bool has_bundle, state_->ReadPendingBundle(env_, report_->peer, bundle));
    if (has_bundle) {
      if (!options_.emit_cypher_dir.empty() && !pending.emitted) {
        KS_RETURN_IF_ERROR(EmitCypher(bundle, pending.run_id));
      }
      ApplyOptions apply;
      apply.threads = options_.threads;
      apply.cache = cache_.get();
      apply.force = apply.as_cypher = ReplicaRoot(*local_) != pending.local_base_root;
      KS_RETURN_IF_ERROR(ApplyBundle(env_, bundle, local_dir_, apply).status());
      KS_RETURN_IF_ERROR(HashLocal());
    }
    KS_ASSIGN_OR_RETURN(VersionVector vector, state_->Vector());
    for (const auto& [id, n] : remote_state.vector) vector[id] = std::max(vector[id], n);
    return state_->PromotePending(report_->peer, vector, nullptr, {});
  }

  static std::string ParentOf(const std::string& dir) {
    std::string parent = std::filesystem::path(dir).lexically_normal().parent_path().string();
    return parent.empty() ? "." : parent;
  }

  void GoFull(const std::string& reason) {
    full_ = true;
    report_->mode = "full";
    report_->reason = reason;
  }

  Status OpenBase() {
    const std::string snapshot = temp_.New("base");
    const std::string dir = temp_.New("base-dir");
    KS_RETURN_IF_ERROR(state_->ReadBase(env_, report_->peer, snapshot));
    KS_ASSIGN_OR_RETURN(Manifest manifest, UnpackSnapshot(env_, snapshot, dir));
    base_env_ = std::make_unique<ContentIdentityEnv>(env_, dir, manifest);
    KS_ASSIGN_OR_RETURN(base_, LocalReplica::Open(base_env_.get(), dir, {}, options_.threads,
                                                  merkle::kNetworkLeafRows, cache_.get()));
    base_replica_ = base_.get();
    return Status::Ok();
  }

  Result<MergeResult> Merge() {
    MergeOptions merge = options_.merge;
    merge.threads = options_.threads;
    const int64_t now = NowUnixMillis();
    // When each side's version was first seen: here, from this state (a
    // change this run finds is first seen now); there, from the times the
    // clients that brought it reported, else now. In a full sync nothing
    // is a change, so unknown versions count as older than any known.
    merge.first_seen = [this, now](const std::vector<MergeOptions::FirstSeenQuery>& queries) {
      std::vector<int64_t> times(queries.size(), 0);
      std::vector<SeenVersion> remote_queries;
      std::vector<size_t> remote_index;
      for (size_t i = 0; i < queries.size(); ++i) {
        const auto& q = queries[i];
        if (q.local) {
          Result<int64_t> at = state_->FirstSeen(q.table, q.key, q.version, full_ ? 0 : now);
          times[i] = at.ok() ? at.value() : 0;
        } else {
          remote_queries.push_back({q.table, q.key, q.version, 0});
          remote_index.push_back(i);
        }
      }
      Result<RemoteReplica::State> remote = remote_->GetState(remote_queries);
      for (size_t j = 0; j < remote_index.size(); ++j) {
        int64_t at = remote.ok() && j < remote->first_seen.size() ? remote->first_seen[j] : 0;
        times[remote_index[j]] = at != 0 ? at : full_ ? 0 : now;
      }
      return times;
    };
    local_bundle_ = temp_.New("to-local");
    remote_bundle_ = temp_.New("to-remote");
    Replica* remote = report_->remote_changed ? static_cast<Replica*>(remote_.get()) : base_replica_;
    // The remote's changes since the base, by reconciliation with it (over a
    // network: the base is here).
    if (!full_ && report_->remote_changed) merge.remote_peer = remote_->sketch_peer();
    Progress(full_ ? "comparing both replicas in full (" + report_->reason + ")"
                   : "comparing changes since the checkpoint");
    return MergeReplicas(env_, local_.get(), full_ ? nullptr : base_replica_, remote,
                         report_->local_changed, report_->remote_changed, merge, local_bundle_,
                         remote_bundle_);
  }

  // <dir>/<run id>/: apply.cypher and its data, and the bundle itself so
  // that a later run can tell what the live database will hold once the
  // batch is loaded (ReplayPendingBatches).
  Status EmitCypher(const std::string& bundle, int64_t run_id) {
    char name[32];
    std::snprintf(name, sizeof(name), "%08lld", static_cast<long long>(run_id));
    const std::string dir = options_.emit_cypher_dir;
    KS_RETURN_IF_ERROR(env_->CreateDir(dir));
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(JoinPath(dir, name), ec);
    if (ec) return Status::IoError(ec.message(), dir);
    const std::string batch = JoinPath(dir, name);
    FileType type;
    uint64_t size = 0;
    if (env_->Stat(batch, &type, &size).ok()) KS_RETURN_IF_ERROR(RemoveTree(env_, batch));  // half-written
    KS_RETURN_IF_ERROR(WriteCypher(env_, bundle, batch, absolute.lexically_normal().string()));
    KS_RETURN_IF_ERROR(CopyFile(env_, bundle, JoinPath(batch, "bundle.kzb.tmp")));
    KS_RETURN_IF_ERROR(env_->Rename(JoinPath(batch, "bundle.kzb.tmp"), JoinPath(batch, "bundle.kzb")));
    KS_RETURN_IF_ERROR(env_->SyncDir(batch));
    report_->cypher_batch = batch;
    return Status::Ok();
  }

  // Batches still in the Cypher directory are not loaded into the live
  // database yet, so an export made since lacks them. They are applied to
  // the export again (in order; already applied ones are recognised by
  // root), or the next comparison would take their absence for local
  // deletes and send those everywhere.
  Status ReplayPendingBatches() {
    std::vector<DirEntry> entries;
    if (!env_->ListDir(options_.emit_cypher_dir, &entries).ok()) return Status::Ok();
    std::vector<std::string> batches;
    for (const DirEntry& e : entries) {
      if (e.type == FileType::kDirectory && !e.name.empty() &&
          e.name.find_first_not_of("0123456789") == std::string::npos) {
        batches.push_back(e.name);
      }
    }
    std::sort(batches.begin(), batches.end());
    for (const std::string& name : batches) {
      const std::string bundle = JoinPath(JoinPath(options_.emit_cypher_dir, name), "bundle.kzb");
      FileType type;
      uint64_t size = 0;
      if (!env_->Stat(bundle, &type, &size).ok()) continue;  // made by a run killed before it applied
      ApplyOptions apply;
      apply.force = true;
      apply.as_cypher = true;
      apply.threads = options_.threads;
      apply.cache = cache_.get();
      KS_ASSIGN_OR_RETURN(ApplyResult applied, ApplyBundle(env_, bundle, local_dir_, apply));
      if (!applied.already_applied) ++report_->pending_batches_replayed;
    }
    return Status::Ok();
  }

  Env* env_;
  std::string local_dir_;
  RemoteSpec spec_;
  const SyncOptions& options_;
  SyncState* state_;
  SyncReport* report_;
  TempFiles temp_;
  std::unique_ptr<FileLock> replica_lock_;
  std::unique_ptr<TreeCache> cache_;
  std::unique_ptr<ContentIdentityEnv> base_env_;
  std::unique_ptr<LocalReplica> local_, base_;
  Replica* base_replica_ = nullptr;
  std::unique_ptr<RemoteReplica> remote_;
  bool full_ = false;
  std::string local_bundle_, remote_bundle_;
};

}  // namespace

std::string SyncLockPath(const std::string& local) {
  return JoinPath(BesideReplica(local, ".kuzusync"), "sync.lock");
}

Result<SyncReport> Sync(Env* env, const std::string& local, const std::string& remote,
                        const SyncOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  KS_ASSIGN_OR_RETURN(RemoteSpec spec, ParseRemote(remote));
  FileType type;
  uint64_t size = 0;
  if (!env->Stat(local, &type, &size).ok() || type != FileType::kDirectory) {
    return Status::NotFound("not an export directory", local);
  }
  if (spec.kind == RemoteSpec::Kind::kLocal) {
    std::error_code ec;
    if (std::filesystem::equivalent(local, spec.path, ec)) {
      return Status::InvalidArgument("LOCAL and REMOTE are the same replica: " + local);
    }
  }
  KS_ASSIGN_OR_RETURN(std::unique_ptr<SyncState> state, SyncState::Open(local, /*create=*/true));
  std::unique_ptr<FileLock> lock;
  Status locked = env->TryLockFile(SyncLockPath(local), LockMode::kExclusive, &lock);
  if (locked.code() == Status::Code::kBusy) {
    return Status::Busy("busy: another sync of " + local + " is running");
  }
  KS_RETURN_IF_ERROR(locked);
  RemoveStaleTempFiles(env, options.temp_dir);

  SyncReport report;
  report.peer = PeerName(spec);
  SyncRun run;
  run.peer = report.peer;
  run.started_ms = NowUnixMillis();
  run.mode = "incremental";
  KS_RETURN_IF_ERROR(state->BeginRun(&run));
  report.run_id = run.id;

  SyncRunner runner(env, local, spec, options, state.get(), &report);
  Status s = runner.Run(&run);
  if (!s.ok() || run.outcome != "synced") {  // "synced" was recorded by the commit
    runner.Finish(&run);
    if (!s.ok()) {
      run.outcome = "error";
      run.message = s.ToString();
    }
    Status recorded = state->FinishRun(run, report.conflicts);
    KS_RETURN_IF_ERROR(s);
    KS_RETURN_IF_ERROR(recorded);
  }
  report.outcome = run.outcome;
  report.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace kuzusync
