// Output of the sync commands: one line per fact for people, --json for
// scripts.

#include "src/sync_cli.h"

#include <ctime>
#include <iostream>

#include "src/json_writer.h"

namespace kuzusync {
namespace {

constexpr int kExitSynced = 0;
constexpr int kExitStopped = 1;
constexpr int kExitTrouble = 2;
constexpr int kExitBusy = 3;

int Trouble(const Status& s) {
  std::cerr << "kuzusync: " << s.ToString() << "\n";
  return s.code() == Status::Code::kBusy ? kExitBusy : kExitTrouble;
}

std::string TimeText(int64_t ms) {
  if (ms == 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

void VectorJson(JsonWriter* w, const VersionVector& v) {
  w->BeginObject();
  for (const auto& [id, n] : v) w->Key(id).Value(n);
  w->EndObject();
}

void ConflictJson(JsonWriter* w, const SyncConflict& c) {
  w->BeginObject();
  if (c.id != 0) w->Key("id").Value(static_cast<uint64_t>(c.id));
  if (c.run_id != 0) w->Key("run").Value(static_cast<uint64_t>(c.run_id));
  if (!c.peer.empty()) w->Key("peer").Value(c.peer);
  w->Key("table").Value(c.table);
  w->Key("key").Value(c.key);
  if (c.base_known) {
    w->Key("base").OptionalValue(c.base_row);
  } else {
    w->Key("base").Value("unknown");
  }
  w->Key("local").OptionalValue(c.local_row);
  w->Key("remote").OptionalValue(c.remote_row);
  w->Key("resolution").Value(c.resolution);
  w->Key("detail").Value(c.detail);
  w->EndObject();
}

void PrintConflict(std::ostream& out, const SyncConflict& c) {
  auto row = [](const std::optional<std::string>& r) { return r ? *r : std::string("(absent)"); };
  out << c.table << " " << c.key << ": " << c.resolution << " (" << c.detail << ")\n";
  out << "    base:   " << (c.base_known ? row(c.base_row) : "(unknown: full sync)") << "\n"
      << "    local:  " << row(c.local_row) << "\n"
      << "    remote: " << row(c.remote_row) << "\n";
}

void RunJson(JsonWriter* w, const SyncRun& r) {
  w->BeginObject();
  w->Key("id").Value(static_cast<uint64_t>(r.id));
  w->Key("started").Value(TimeText(r.started_ms));
  w->Key("finished").Value(TimeText(r.finished_ms));
  w->Key("peer").Value(r.peer);
  w->Key("mode").Value(r.mode);
  w->Key("reason").Value(r.reason);
  w->Key("rows_in").Value(r.rows_in);
  w->Key("rows_out").Value(r.rows_out);
  w->Key("conflicts").Value(r.conflicts);
  w->Key("bytes_sent").Value(r.bytes_sent);
  w->Key("bytes_received").Value(r.bytes_received);
  w->Key("outcome").Value(r.outcome);
  w->Key("message").Value(r.message);
  w->EndObject();
}

// A run still "running" while no sync holds the lock was killed.
bool SyncRunning(const std::string& local) {
  std::unique_ptr<FileLock> lock;
  return Env::Default()->TryLockFile(SyncLockPath(local), LockMode::kExclusive, &lock).code() ==
         Status::Code::kBusy;
}

std::string Outcome(const SyncRun& r, bool running) {
  return r.outcome == "running" && !running ? "interrupted" : r.outcome;
}

}  // namespace

int RunSync(const std::string& local, const std::string& remote, const SyncOptions& options,
            bool json, bool quiet) {
  Result<SyncReport> result = Sync(Env::Default(), local, remote, options);
  if (!result.ok()) return Trouble(result.status());
  const SyncReport& r = result.value();
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("outcome").Value(r.stopped ? "stopped" : r.outcome);
    w.Key("run").Value(static_cast<uint64_t>(r.run_id));
    w.Key("peer").Value(r.peer);
    w.Key("mode").Value(r.mode);
    w.Key("reason").Value(r.reason);
    w.Key("full_resync_required").Value(r.mode == "full");
    w.Key("local_changed").Value(r.local_changed);
    w.Key("remote_changed").Value(r.remote_changed);
    w.Key("rows_in").Value(r.rows_in);
    w.Key("rows_out").Value(r.rows_out);
    w.Key("conflicts").BeginArray();
    for (const SyncConflict& c : r.conflicts) ConflictJson(&w, c);
    w.EndArray();
    w.Key("remote_vector_order").Value(r.vector_order);
    w.Key("vector");
    VectorJson(&w, r.vector);
    w.Key("root").Value(r.root);
    w.Key("events").Value(r.events);
    w.Key("cypher_batch").Value(r.cypher_batch);
    w.Key("pending_batches_replayed").Value(r.pending_batches_replayed);
    w.Key("finished_interrupted_run").Value(static_cast<uint64_t>(r.finished_run));
    w.Key("warnings").StringArray(r.warnings);
    w.Key("bytes_sent").Value(r.counters.bytes_sent);
    w.Key("bytes_received").Value(r.counters.bytes_received);
    w.Key("round_trips").Value(r.counters.round_trips);
    w.Key("elapsed_ms").Value(r.elapsed_ms);
    w.EndObject();
    std::cout << w.str() << "\n";
  } else if (!quiet) {
    for (const std::string& warning : r.warnings) std::cerr << "kuzusync: warning: " << warning << "\n";
    if (r.finished_run != 0) {
      std::cerr << "kuzusync: finished run #" << r.finished_run
                << ", interrupted after its push: its changes are now in " << local << "\n";
    }
    if (r.outcome == "in sync") {
      std::cerr << "kuzusync: " << local << " and " << r.peer << " are in sync\n";
    } else {
      std::cerr << "kuzusync: " << (options.dry_run ? "would sync " : "synced ") << local << " with "
                << r.peer << " (" << r.mode << (r.reason.empty() ? "" : ": " + r.reason) << "): "
                << r.rows_in << " row changes in, " << r.rows_out << " out, " << r.conflicts.size()
                << " conflicts, " << r.counters.bytes_sent + r.counters.bytes_received
                << " bytes on the wire\n";
      for (const SyncConflict& c : r.conflicts) PrintConflict(std::cerr, c);
      if (!r.cypher_batch.empty()) std::cerr << "kuzusync: wrote " << r.cypher_batch << "/apply.cypher\n";
    }
  }
  if (r.stopped) {
    std::cerr << "kuzusync: sync stopped: " << r.conflicts.size()
              << " conflicts and policy fail; nothing was changed (kuzusync conflicts " << local << ")\n";
    return kExitStopped;
  }
  return kExitSynced;
}

int RunStatus(const std::string& local, bool json) {
  Result<std::unique_ptr<SyncState>> opened = SyncState::Open(local, /*create=*/false);
  if (!opened.ok()) return Trouble(opened.status());
  SyncState& state = *opened.value();
  Result<VersionVector> vector = state.Vector();
  Result<std::vector<Checkpoint>> checkpoints = state.Checkpoints();
  Result<std::vector<SyncRun>> runs = state.Runs(10);
  if (!vector.ok()) return Trouble(vector.status());
  if (!checkpoints.ok()) return Trouble(checkpoints.status());
  if (!runs.ok()) return Trouble(runs.status());
  // Pending: the conflicts of a peer's last run when it stopped on them.
  std::map<std::string, int64_t> last_run;
  for (const SyncRun& r : runs.value()) last_run[r.peer] = r.id;
  std::vector<SyncConflict> pending;
  Result<std::vector<SyncConflict>> conflicts = state.Conflicts(1000);
  if (!conflicts.ok()) return Trouble(conflicts.status());
  for (const SyncConflict& c : conflicts.value()) {
    if (c.resolution == "unresolved" && last_run[c.peer] == c.run_id) pending.push_back(c);
  }
  const bool running = SyncRunning(local);
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("replica_id").Value(state.replica_id());
    w.Key("vector");
    VectorJson(&w, vector.value());
    w.Key("checkpoints").BeginArray();
    for (const Checkpoint& c : checkpoints.value()) {
      w.BeginObject();
      w.Key("peer").Value(c.peer);
      w.Key("at").Value(TimeText(c.at_ms));
      w.Key("root").Value(c.local_root);
      w.Key("events").Value(c.events);
      w.Key("tables").Value(c.table_rows);
      w.Key("remote_vector").Value(c.remote_vector);
      w.Key("base_checksum").Value(c.base_checksum);
      w.Key("base_bytes").Value(c.base_bytes);
      w.EndObject();
    }
    w.EndArray();
    w.Key("last_runs").BeginArray();
    for (size_t i = 0; i < runs->size(); ++i) {
      SyncRun r = runs.value()[i];
      r.outcome = Outcome(r, running);
      RunJson(&w, r);
    }
    w.EndArray();
    w.Key("pending_conflicts").BeginArray();
    for (const SyncConflict& c : pending) ConflictJson(&w, c);
    w.EndArray();
    w.EndObject();
    std::cout << w.str() << "\n";
    return kExitSynced;
  }
  std::cout << "replica " << state.replica_id() << "\n";
  std::cout << "version vector: " << (vector->empty() ? "(no changes yet)" : VectorText(vector.value())) << "\n";
  for (const Checkpoint& c : checkpoints.value()) {
    std::cout << "checkpoint " << c.peer << ": " << TimeText(c.at_ms) << ", root "
              << c.local_root.substr(0, 16) << ", " << c.events << " row changes merged, base "
              << c.base_bytes << " bytes\n    " << c.table_rows << "\n";
  }
  if (!runs->empty()) {
    const SyncRun& r = runs->back();
    std::cout << "last run #" << r.id << " " << TimeText(r.started_ms) << " with " << r.peer << ": "
              << Outcome(r, running) << (r.message.empty() ? "" : " (" + r.message + ")") << "\n";
  }
  std::cout << pending.size() << " pending conflicts\n";
  for (const SyncConflict& c : pending) PrintConflict(std::cout, c);
  return kExitSynced;
}

int RunLog(const std::string& local, bool json, size_t limit) {
  Result<std::unique_ptr<SyncState>> opened = SyncState::Open(local, /*create=*/false);
  if (!opened.ok()) return Trouble(opened.status());
  Result<std::vector<SyncRun>> runs = opened.value()->Runs(limit);
  if (!runs.ok()) return Trouble(runs.status());
  const bool running = SyncRunning(local);
  JsonWriter w;
  w.BeginArray();
  for (size_t i = 0; i < runs->size(); ++i) {
    SyncRun r = runs.value()[i];
    r.outcome = Outcome(r, running);
    if (json) {
      RunJson(&w, r);
      continue;
    }
    std::cout << "#" << r.id << " " << TimeText(r.started_ms) << " " << r.peer << " " << r.mode
              << (r.reason.empty() ? "" : " (" + r.reason + ")") << ": " << r.outcome << ", "
              << r.rows_in << " in, " << r.rows_out << " out, " << r.conflicts << " conflicts, "
              << r.bytes_sent + r.bytes_received << " bytes"
              << (r.message.empty() ? "" : ": " + r.message) << "\n";
  }
  w.EndArray();
  if (json) std::cout << w.str() << "\n";
  return kExitSynced;
}

int RunConflicts(const std::string& local, bool json, size_t limit) {
  Result<std::unique_ptr<SyncState>> opened = SyncState::Open(local, /*create=*/false);
  if (!opened.ok()) return Trouble(opened.status());
  Result<std::vector<SyncConflict>> conflicts = opened.value()->Conflicts(limit);
  if (!conflicts.ok()) return Trouble(conflicts.status());
  if (json) {
    JsonWriter w;
    w.BeginArray();
    for (const SyncConflict& c : conflicts.value()) ConflictJson(&w, c);
    w.EndArray();
    std::cout << w.str() << "\n";
    return kExitSynced;
  }
  for (const SyncConflict& c : conflicts.value()) {
    std::cout << "#" << c.id << " run " << c.run_id << " with " << c.peer << ": ";
    PrintConflict(std::cout, c);
  }
  return kExitSynced;
}

}  // namespace kuzusync
