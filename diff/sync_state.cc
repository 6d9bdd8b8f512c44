// SyncState: checkpoints, bases, version vectors, runs and conflicts in the
// sqlite state beside a replica; version vector arithmetic.

#include <algorithm>
#include <cstdlib>

#include "archive/archive.h"
#include "diff/diff.h"
#include "diff/state_db.h"

namespace kuzusync {
namespace {

constexpr size_t kBaseChunk = 8 << 20;

constexpr int kKeepRuns = 10000;  // cron every 5 minutes: about a month of history

std::optional<std::string> OptionalText(const Statement& stmt, int column) {
  if (stmt.IsNull(column)) return std::nullopt;
  return stmt.Text(column);
}

void BindOptional(Statement* stmt, int index, const std::optional<std::string>& value) {
  if (value) {
    stmt->Bind(index, *value);
  } else {
    stmt->BindNull(index);
  }
}

// Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(StateDb* db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_->Exec("ROLLBACK");
  }
  Status Begin() {
    KS_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    KS_RETURN_IF_ERROR(db_->Exec("COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  StateDb* db_;
  bool open_ = false;
};

Status Done(StateDb* db, Statement& stmt, const char* what) {
  int rc = stmt.Step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  return db->Error(what);
}

// Writes the run's final values over its "running" row, and its conflicts.
Status UpdateRun(StateDb* db, const SyncRun& run, const std::vector<SyncConflict>& conflicts) {
  Statement update(db->db(),
                   "UPDATE runs SET finished_ms = ?, mode = ?, reason = ?, rows_in = ?, rows_out = ?,"
                   " conflicts = ?, bytes_sent = ?, bytes_received = ?, outcome = ?, message = ?"
                   " WHERE id = ?");
  update.Bind(1, run.finished_ms).Bind(2, run.mode).Bind(3, run.reason);
  update.Bind(4, static_cast<int64_t>(run.rows_in)).Bind(5, static_cast<int64_t>(run.rows_out));
  update.Bind(6, static_cast<int64_t>(run.conflicts)).Bind(7, static_cast<int64_t>(run.bytes_sent));
  update.Bind(8, static_cast<int64_t>(run.bytes_received)).Bind(9, run.outcome).Bind(10, run.message);
  update.Bind(11, run.id);
  KS_RETURN_IF_ERROR(Done(db, update, "recording the run"));
  for (const SyncConflict& c : conflicts) {
    Statement add(db->db(),
                  "INSERT INTO conflicts(run_id, peer, table_name, row_key, base_known, base_row,"
                  " local_row, remote_row, resolution, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    add.Bind(1, run.id).Bind(2, run.peer).Bind(3, c.table).Bind(4, c.key);
    add.Bind(5, int64_t{c.base_known ? 1 : 0});
    BindOptional(&add, 6, c.base_row);
    BindOptional(&add, 7, c.local_row);
    BindOptional(&add, 8, c.remote_row);
    add.Bind(9, c.resolution).Bind(10, c.detail);
    KS_RETURN_IF_ERROR(Done(db, add, "recording a conflict"));
  }
  return Status::Ok();
}

}  // namespace

VectorOrder CompareVectors(const VersionVector& a, const VersionVector& b) {
  bool a_more = false, b_more = false;
  auto count = [](const VersionVector& v, const std::string& id) -> uint64_t {
    auto it = v.find(id);
    return it == v.end() ? 0 : it->second;
  };
  for (const auto& [id, n] : a) a_more = a_more || n > count(b, id);
  for (const auto& [id, n] : b) b_more = b_more || n > count(a, id);
  if (a_more && b_more) return VectorOrder::kConcurrent;
  if (a_more) return VectorOrder::kAhead;
  if (b_more) return VectorOrder::kBehind;
  return VectorOrder::kEqual;
}

std::string VectorText(const VersionVector& v) {
  std::string out;
  for (const auto& [id, n] : v) {
    if (!out.empty()) out += ',';
    out += id + ":" + std::to_string(n);
  }
  return out;
}

Result<VersionVector> ParseVector(std::string_view text) {
  VersionVector v;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view entry = text.substr(0, comma);
    size_t colon = entry.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == entry.size()) {
      return Status::Corrupt("malformed version vector entry '" + std::string(entry) + "'");
    }
    std::string number(entry.substr(colon + 1));
    char* end = nullptr;
    uint64_t n = std::strtoull(number.c_str(), &end, 10);
    if (*end != '\0') return Status::Corrupt("malformed version vector counter '" + number + "'");
    v[std::string(entry.substr(0, colon))] = n;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return v;
}

SyncState::SyncState(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}
SyncState::~SyncState() = default;

Result<std::unique_ptr<SyncState>> SyncState::Open(const std::string& replica_dir, bool create) {
  KS_ASSIGN_OR_RETURN(std::unique_ptr<StateDb> db, StateDb::Open(replica_dir, create));
  // Checkpoints, pending runs and pushes must outlive a power cut once
  // committed, whether or not a checkpoint of the WAL follows (the tree
  // cache's connection closes without one).
  KS_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  std::unique_ptr<SyncState> state(new SyncState(std::move(db)));
  Statement get(state->db_->db(), "SELECT value FROM meta WHERE key = 'replica_id'");
  if (get.Step() != SQLITE_ROW) return state->db_->Error("no replica id");
  state->replica_id_ = get.Text(0);
  return state;
}

Result<VersionVector> SyncState::Vector() {
  VersionVector v;
  Statement all(db_->db(), "SELECT replica, counter FROM version_vector");
  int rc;
  while ((rc = all.Step()) == SQLITE_ROW) v[all.Text(0)] = static_cast<uint64_t>(all.Int(1));
  if (rc != SQLITE_DONE) return db_->Error("reading the version vector");
  return v;
}

namespace {

constexpr char kCheckpointColumns[] =
    "peer, at_ms, local_root, remote_root, schema_hash, events, table_rows, remote_vector,"
    " base_checksum, base_bytes";

Checkpoint ReadCheckpoint(const Statement& row) {
  Checkpoint c;
  c.peer = row.Text(0);
  c.at_ms = row.Int(1);
  c.local_root = row.Text(2);
  c.remote_root = row.Text(3);
  c.schema_hash = row.Text(4);
  c.events = static_cast<uint64_t>(row.Int(5));
  c.table_rows = row.Text(6);
  c.remote_vector = row.Text(7);
  c.base_checksum = row.Text(8);
  c.base_bytes = static_cast<uint64_t>(row.Int(9));
  return c;
}

}  // namespace

Result<std::optional<Checkpoint>> SyncState::LoadCheckpoint(const std::string& peer) {
  Statement get(db_->db(), std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints WHERE peer = ?");
  int rc = get.Bind(1, peer).Step();
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return db_->Error("reading the checkpoint");
  return std::optional<Checkpoint>(ReadCheckpoint(get));
}

Result<std::vector<Checkpoint>> SyncState::Checkpoints() {
  std::vector<Checkpoint> out;
  Statement all(db_->db(), std::string("SELECT ") + kCheckpointColumns + " FROM checkpoints WHERE instr(peer, char(10)) = 0 ORDER BY peer");
  int rc;
  while ((rc = all.Step()) == SQLITE_ROW) out.push_back(ReadCheckpoint(all));
  if (rc != SQLITE_DONE) return db_->Error("reading checkpoints");
  return out;
}

namespace {

// Keys of what a pending sync stores beside the checkpoints: a peer name
// never holds a newline.
std::string PendingKey(const std::string& peer) { return "pending\n" + peer; }
std::string PendingBundleKey(const std::string& peer) { return "pending-bundle\n" + peer; }

Status DeleteChunks(StateDb* db, const std::string& key) {
  Statement clear(db->db(), "DELETE FROM base_chunks WHERE peer = ?");
  clear.Bind(1, key);
  return Done(db, clear, "removing stored chunks");
}

// Stores a file's bytes under `key` (replacing what was there).
Status WriteChunks(StateDb* db, Env* env, const std::string& key, const std::string& path,
                   uint64_t* bytes) {
  KS_RETURN_IF_ERROR(DeleteChunks(db, key));
  std::unique_ptr<SequentialFile> in;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(path, &in));
  std::string chunk(kBaseChunk, '\0');
  *bytes = 0;
  for (int64_t seq = 0;; ++seq) {
    size_t got = 0;
    KS_RETURN_IF_ERROR(in->Read(chunk.size(), chunk.data(), &got));
    if (got == 0) return Status::Ok();
    *bytes += got;
    Statement put(db->db(), "INSERT INTO base_chunks(peer, seq, data) VALUES (?, ?, ?)");
    put.Bind(1, key).Bind(2, seq).BindBlob(3, std::string_view(chunk.data(), got));
    KS_RETURN_IF_ERROR(Done(db, put, "storing a snapshot"));
  }
}

Status ReadChunks(StateDb* db, Env* env, const std::string& key, const std::string& path,
                  uint64_t* bytes) {
  std::unique_ptr<WritableFile> out;
  KS_RETURN_IF_ERROR(env->NewWritableFile(path, &out));
  Statement chunks(db->db(), "SELECT data FROM base_chunks WHERE peer = ? ORDER BY seq");
  chunks.Bind(1, key);
  int rc;
  *bytes = 0;
  while ((rc = chunks.Step()) == SQLITE_ROW) {
    std::string data = chunks.Text(0);
    *bytes += data.size();
    KS_RETURN_IF_ERROR(out->Append(data));
  }
  KS_RETURN_IF_ERROR(out->Close());
  if (rc != SQLITE_DONE) return db->Error("reading a stored snapshot");
  return Status::Ok();
}

Status PutCheckpoint(StateDb* db, const std::string& key, const Checkpoint& c) {
  Statement put(db->db(), std::string("INSERT OR REPLACE INTO checkpoints(") + kCheckpointColumns +
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  put.Bind(1, key).Bind(2, c.at_ms).Bind(3, c.local_root).Bind(4, c.remote_root);
  put.Bind(5, c.schema_hash).Bind(6, static_cast<int64_t>(c.events)).Bind(7, c.table_rows);
  put.Bind(8, c.remote_vector).Bind(9, c.base_checksum).Bind(10, static_cast<int64_t>(c.base_bytes));
  return Done(db, put, "storing the checkpoint");
}

Status SaveVectorIn(StateDb* db, const VersionVector& vector) {
  KS_RETURN_IF_ERROR(db->Exec("DELETE FROM version_vector"));
  for (const auto& [id, n] : vector) {
    Statement put(db->db(), "INSERT INTO version_vector(replica, counter) VALUES (?, ?)");
    put.Bind(1, id).Bind(2, static_cast<int64_t>(n));
    KS_RETURN_IF_ERROR(Done(db, put, "saving the version vector"));
  }
  return Status::Ok();
}

}  // namespace

Status SyncState::SaveVector(const VersionVector& vector) {
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  KS_RETURN_IF_ERROR(SaveVectorIn(db_.get(), vector));
  return t.Commit();
}

Status SyncState::ReadBase(Env* env, const std::string& peer, const std::string& path) {
  KS_ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint, LoadCheckpoint(peer));
  if (!checkpoint) return Status::NotFound("no checkpoint for " + peer, db_->path());
  uint64_t bytes = 0;
  KS_RETURN_IF_ERROR(ReadChunks(db_.get(), env, peer, path, &bytes));
  KS_ASSIGN_OR_RETURN(std::string checksum, Sha256File(env, path));
  if (bytes != checkpoint->base_bytes || checksum != checkpoint->base_checksum) {
    return Status::Corrupt("the stored base of " + peer + " does not match its checksum", db_->path());
  }
  return Status::Ok();
}

Status SyncState::SavePending(Env* env, const PendingSync& pending, const Checkpoint& next,
                              const std::string& base_path, const std::string& local_bundle_path) {
  Checkpoint stored = next;
  KS_ASSIGN_OR_RETURN(stored.base_checksum, Sha256File(env, base_path));
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  KS_RETURN_IF_ERROR(WriteChunks(db_.get(), env, PendingKey(next.peer), base_path, &stored.base_bytes));
  KS_RETURN_IF_ERROR(PutCheckpoint(db_.get(), PendingKey(next.peer), stored));
  KS_RETURN_IF_ERROR(DeleteChunks(db_.get(), PendingBundleKey(next.peer)));
  if (!local_bundle_path.empty()) {
    uint64_t bytes = 0;
    KS_RETURN_IF_ERROR(WriteChunks(db_.get(), env, PendingBundleKey(next.peer), local_bundle_path, &bytes));
  }
  Statement put(db_->db(),
                "INSERT OR REPLACE INTO pending(peer, run_id, merged_root, local_base_root, emitted)"
                " VALUES (?, ?, ?, ?, 0)");
  put.Bind(1, next.peer).Bind(2, pending.run_id).Bind(3, pending.merged_root).Bind(4, pending.local_base_root);
  KS_RETURN_IF_ERROR(Done(db_.get(), put, "recording the pending sync"));
  return t.Commit();
}

Result<std::optional<PendingSync>> SyncState::LoadPending(const std::string& peer) {
  Statement get(db_->db(), "SELECT run_id, merged_root, local_base_root, emitted FROM pending WHERE peer = ?");
  int rc = get.Bind(1, peer).Step();
  if (rc == SQLITE_DONE) return std::optional<PendingSync>();
  if (rc != SQLITE_ROW) return db_->Error("reading the pending sync");
  PendingSync p;
  p.run_id = get.Int(0);
  p.merged_root = get.Text(1);
  p.local_base_root = get.Text(2);
  p.emitted = get.Int(3) != 0;
  return std::optional<PendingSync>(p);
}

Status SyncState::MarkPendingEmitted(const std::string& peer) {
  Statement mark(db_->db(), "UPDATE pending SET emitted = 1 WHERE peer = ?");
  mark.Bind(1, peer);
  return Done(db_.get(), mark, "recording the Cypher batch");
}

Result<bool> SyncState::ReadPendingBundle(Env* env, const std::string& peer, const std::string& path) {
  uint64_t bytes = 0;
  KS_RETURN_IF_ERROR(ReadChunks(db_.get(), env, PendingBundleKey(peer), path, &bytes));
  return bytes > 0;
}

Status SyncState::DropPending(const std::string& peer) {
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  KS_RETURN_IF_ERROR(DeleteChunks(db_.get(), PendingKey(peer)));
  KS_RETURN_IF_ERROR(DeleteChunks(db_.get(), PendingBundleKey(peer)));
  Statement drop(db_->db(), "DELETE FROM checkpoints WHERE peer = ?");
  drop.Bind(1, PendingKey(peer));
  KS_RETURN_IF_ERROR(Done(db_.get(), drop, "dropping the pending checkpoint"));
  Statement forget(db_->db(), "DELETE FROM pending WHERE peer = ?");
  forget.Bind(1, peer);
  KS_RETURN_IF_ERROR(Done(db_.get(), forget, "dropping the pending sync"));
  return t.Commit();
}

Status SyncState::PromotePending(const std::string& peer, const VersionVector& vector,
                                 const SyncRun* run, const std::vector<SyncConflict>& conflicts) {
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  KS_RETURN_IF_ERROR(DeleteChunks(db_.get(), peer));
  KS_RETURN_IF_ERROR(DeleteChunks(db_.get(), PendingBundleKey(peer)));
  for (const char* sql : {"UPDATE base_chunks SET peer = ?2 WHERE peer = ?1",
                          "DELETE FROM checkpoints WHERE peer = ?2",
                          "UPDATE checkpoints SET peer = ?2 WHERE peer = ?1"}) {
    Statement move(db_->db(), sql);
    move.Bind(1, PendingKey(peer)).Bind(2, peer);
    KS_RETURN_IF_ERROR(Done(db_.get(), move, "making the pending checkpoint current"));
  }
  Statement forget(db_->db(), "DELETE FROM pending WHERE peer = ?");
  forget.Bind(1, peer);
  KS_RETURN_IF_ERROR(Done(db_.get(), forget, "dropping the pending sync"));
  KS_RETURN_IF_ERROR(SaveVectorIn(db_.get(), vector));
  // Every version seen so far is merged now: its time has served.
  KS_RETURN_IF_ERROR(db_->Exec("DELETE FROM first_seen"));
  if (run != nullptr) KS_RETURN_IF_ERROR(UpdateRun(db_.get(), *run, conflicts));
  return t.Commit();
}

Status SyncState::RecordPush(const std::string& replica, const std::string& root) {
  Statement put(db_->db(), "INSERT OR REPLACE INTO pushes(replica, root, at_ms) VALUES (?, ?, ?)");
  put.Bind(1, replica).Bind(2, root).Bind(3, NowUnixMillis());
  return Done(db_.get(), put, "recording a push");
}

Result<std::string> SyncState::LastPush(const std::string& replica) {
  Statement get(db_->db(), "SELECT root FROM pushes WHERE replica = ?");
  int rc = get.Bind(1, replica).Step();
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return db_->Error("reading pushes");
  return get.Text(0);
}

Status SyncState::BeginRun(SyncRun* run) {
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  Statement insert(db_->db(),
                   "INSERT INTO runs(started_ms, finished_ms, peer, mode, reason, rows_in, rows_out,"
                   " conflicts, bytes_sent, bytes_received, outcome, message)"
                   " VALUES (?, 0, ?, ?, '', 0, 0, 0, 0, 0, 'running', '')");
  insert.Bind(1, run->started_ms).Bind(2, run->peer).Bind(3, run->mode);
  KS_RETURN_IF_ERROR(Done(db_.get(), insert, "recording the run"));
  run->id = sqlite3_last_insert_rowid(db_->db());
  KS_RETURN_IF_ERROR(db_->Exec("DELETE FROM runs WHERE id <= " + std::to_string(run->id - kKeepRuns)));
  KS_RETURN_IF_ERROR(db_->Exec("DELETE FROM conflicts WHERE run_id <= " +
                               std::to_string(run->id - kKeepRuns)));
  return t.Commit();
}

Status SyncState::FinishRun(const SyncRun& run, const std::vector<SyncConflict>& conflicts) {
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  KS_RETURN_IF_ERROR(UpdateRun(db_.get(), run, conflicts));
  return t.Commit();
}

Result<int64_t> SyncState::FirstSeen(const std::string& table, const std::string& key,
                                     const std::string& version, int64_t now_ms) {
  if (now_ms != 0) {
    Statement put(db_->db(),
                  "INSERT OR IGNORE INTO first_seen(table_name, row_key, digest, at_ms) VALUES (?, ?, ?, ?)");
    put.Bind(1, table).Bind(2, key).Bind(3, version).Bind(4, now_ms);
    KS_RETURN_IF_ERROR(Done(db_.get(), put, "recording a first-seen time"));
  }
  Statement get(db_->db(), "SELECT at_ms FROM first_seen WHERE table_name = ? AND row_key = ? AND digest = ?");
  int rc = get.Bind(1, table).Bind(2, key).Bind(3, version).Step();
  if (rc == SQLITE_DONE) return int64_t{0};
  if (rc != SQLITE_ROW) return db_->Error("reading a first-seen time");
  return get.Int(0);
}

Status SyncState::RecordSeen(const std::vector<SeenVersion>& seen) {
  Transaction t(db_.get());
  KS_RETURN_IF_ERROR(t.Begin());
  for (const SeenVersion& v : seen) {
    Statement put(db_->db(),
                  "INSERT INTO first_seen(table_name, row_key, digest, at_ms) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT DO UPDATE SET at_ms = MIN(at_ms, excluded.at_ms)");
    put.Bind(1, v.table).Bind(2, v.key).Bind(3, v.version).Bind(4, v.at_ms);
    KS_RETURN_IF_ERROR(Done(db_.get(), put, "recording first-seen times"));
  }
  // Times only break ties between changes made between two syncs; after
  // 90 days they have long served.
  KS_RETURN_IF_ERROR(db_->Exec("DELETE FROM first_seen WHERE at_ms < " +
                               std::to_string(NowUnixMillis() - int64_t{90} * 24 * 3600 * 1000)));
  return t.Commit();
}

Status SyncState::MergeVector(const VersionVector& other) {
  KS_ASSIGN_OR_RETURN(VersionVector mine, Vector());
  for (const auto& [id, n] : other) mine[id] = std::max(mine[id], n);
  return SaveVector(mine);
}

Result<std::vector<SyncRun>> SyncState::Runs(size_t limit) {
  std::vector<SyncRun> out;
  Statement all(db_->db(),
                "SELECT id, started_ms, finished_ms, peer, mode, reason, rows_in, rows_out, conflicts,"
                " bytes_sent, bytes_received, outcome, message FROM runs ORDER BY id DESC LIMIT ?");
  all.Bind(1, static_cast<int64_t>(limit));
  int rc;
  while ((rc = all.Step()) == SQLITE_ROW) {
    SyncRun r;
    r.id = all.Int(0);
    r.started_ms = all.Int(1);
    r.finished_ms = all.Int(2);
    r.peer = all.Text(3);
    r.mode = all.Text(4);
    r.reason = all.Text(5);
    r.rows_in = all.Int(6);
    r.rows_out = all.Int(7);
    r.conflicts = all.Int(8);
    r.bytes_sent = all.Int(9);
    r.bytes_received = all.Int(10);
    r.outcome = all.Text(11);
    r.message = all.Text(12);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_->Error("reading runs");
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<SyncConflict>> SyncState::Conflicts(size_t limit) {
  std::vector<SyncConflict> out;
  Statement all(db_->db(),
                "SELECT id, run_id, peer, table_name, row_key, base_row, local_row, remote_row,"
                " resolution, detail, base_known FROM conflicts ORDER BY id DESC LIMIT ?");
  all.Bind(1, static_cast<int64_t>(limit));
  int rc;
  while ((rc = all.Step()) == SQLITE_ROW) {
    SyncConflict c;
    c.id = all.Int(0);
    c.run_id = all.Int(1);
    c.peer = all.Text(2);
    c.table = all.Text(3);
    c.key = all.Text(4);
    c.base_row = OptionalText(all, 5);
    c.local_row = OptionalText(all, 6);
    c.remote_row = OptionalText(all, 7);
    c.resolution = all.Text(8);
    c.detail = all.Text(9);
    c.base_known = all.Int(10) != 0;
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return db_->Error("reading conflicts");
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace kuzusync
