// Opening and migrating the sqlite state beside a replica.

#include "diff/state_db.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "diff/diff.h"

namespace kuzusync {
namespace {

constexpr int kSchemaVersion = 6;

// Each step takes the schema from version i to i + 1.
const char* const kMigrations[] = {
    // 0 -> 1: the tree cache.
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE trees(key TEXT PRIMARY KEY, tree BLOB NOT NULL, used INTEGER NOT NULL);",
    // 1 -> 2: sync. The base of a peer is the snapshot (PackSnapshot bytes)
    // of the merged state after the last sync with it, in chunks so that no
    // single value nears sqlite's 1 GB limit.
    "CREATE TABLE version_vector(replica TEXT PRIMARY KEY, counter INTEGER NOT NULL);"
    "CREATE TABLE checkpoints(peer TEXT PRIMARY KEY, at_ms INTEGER NOT NULL,"
    " local_root TEXT NOT NULL, remote_root TEXT NOT NULL, schema_hash TEXT NOT NULL,"
    " events INTEGER NOT NULL, table_rows TEXT NOT NULL, remote_vector TEXT NOT NULL,"
    " base_checksum TEXT NOT NULL, base_bytes INTEGER NOT NULL);"
    "CREATE TABLE base_chunks(peer TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(peer, seq));"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY AUTOINCREMENT, started_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL, peer TEXT NOT NULL, mode TEXT NOT NULL, reason TEXT NOT NULL,"
    " rows_in INTEGER NOT NULL, rows_out INTEGER NOT NULL, conflicts INTEGER NOT NULL,"
    " bytes_sent INTEGER NOT NULL, bytes_received INTEGER NOT NULL, outcome TEXT NOT NULL,"
    " message TEXT NOT NULL);"
    "CREATE TABLE conflicts(id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL,"
    " peer TEXT NOT NULL, table_name TEXT NOT NULL, row_key TEXT NOT NULL,"
    " base_known INTEGER NOT NULL, base_row TEXT,"
    " local_row TEXT, remote_row TEXT, resolution TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE TABLE first_seen(table_name TEXT NOT NULL, row_key TEXT NOT NULL,"
    " digest TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(table_name, row_key, digest));"
    // A sync between its push and its checkpoint: enough to finish it.
    "CREATE TABLE pending(peer TEXT PRIMARY KEY, run_id INTEGER NOT NULL, merged_root TEXT NOT NULL,"
    " local_base_root TEXT NOT NULL, emitted INTEGER NOT NULL);"
    // On a replica others push to: the root each one's last push made.
    "CREATE TABLE pushes(replica TEXT PRIMARY KEY, root TEXT NOT NULL, at_ms INTEGER NOT NULL);",
    // 2 -> 3: the tree cache's recency without reading every tree (`used`
    // is stored after the tree blob: without an index MAX(used) read them all).
    "CREATE INDEX trees_by_use ON trees(used);",
    // 3 -> 4: a table's set-reconciliation elements beside its tree (NULL
    // until a push or pull needed them).
    "ALTER TABLE trees ADD COLUMN elements BLOB;",
    // 4 -> 5: the first coded symbols of those elements, once a
    // reconciliation made them. A table of their own: sqlite rewrites a
    // whole row to update one column, and a row of trees holds megabytes.
    "CREATE TABLE symbols(key TEXT PRIMARY KEY, symbols BLOB NOT NULL);",
    // 5 -> 6: row hash format 2. Cached trees, elements and symbols of
    // format 1 would never be looked up again (their keys name the format).
    // Roots kept by sync (checkpoints, pending runs, pushes) stay: they are
    // compared only for equality, and one of format 1 equals no root made
    // now, so the first sync after the upgrade compares rows instead.
    "DELETE FROM symbols; DELETE FROM trees;",
};

std::string NewReplicaId() {
  std::random_device random;
  char hex[33];
  for (int i = 0; i < 4; ++i) std::snprintf(hex + 8 * i, 9, "%08x", random());
  return std::string(hex, 32);
}

}  // namespace

Statement::Statement(sqlite3* db, const std::string& sql) {
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view blob) {
  sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

std::string Statement::Text(int column) const { return std::string(Blob(column)); }

std::string_view Statement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), n);
}

Status StateDb::Exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return Status::Ok();
  std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
  sqlite3_free(message);
  return Status::IoError("state database: " + text, path_);
}

Status StateDb::Error(const std::string& what) const {
  return Status::IoError("state database: " + what + ": " + sqlite3_errmsg(db_), path_);
}

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::string& replica_dir, bool create) {
  const std::string state_dir = BesideReplica(replica_dir, ".kuzusync");
  const std::string path = JoinPath(state_dir, "state.db");
  if (create) {
    struct stat replica;
    if (::stat(replica_dir.c_str(), &replica) != 0 || !S_ISDIR(replica.st_mode)) {
      return Status::NotFound("no such replica directory", replica_dir);  // nothing is created beside it
    }
    if (::mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IoError(std::string("cannot create the state directory: ") + strerror(errno),
                             state_dir);
    }
  } else {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return Status::NotFound("no kuzusync state beside " + replica_dir + " (never synced)", path);
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IoError("cannot open the state database: " + message, path);
  }
  std::unique_ptr<StateDb> state(new StateDb(db, path));
  sqlite3_busy_timeout(db, 10000);
  KS_RETURN_IF_ERROR(state->Exec("PRAGMA journal_mode=WAL"));
  KS_RETURN_IF_ERROR(state->Exec("PRAGMA synchronous=NORMAL"));

  KS_RETURN_IF_ERROR(state->Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Status s) {
    (void)state->Exec("ROLLBACK");
    return s;
  };
  int version = 0;
  {
    Statement has_meta(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
    if (has_meta.Step() == SQLITE_ROW) {
      Statement get(db, "SELECT value FROM meta WHERE key = 'schema_version'");
      if (get.Step() == SQLITE_ROW) version = static_cast<int>(get.Int(0));
    }
  }
  if (version > kSchemaVersion) {
    return fail(Status::Refused(path + " was written by a newer kuzusync (schema version " +
                                std::to_string(version) + ", this one knows " +
                                std::to_string(kSchemaVersion) + ")"));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    Status s = state->Exec(kMigrations[v]);
    if (!s.ok()) return fail(s);
  }
  if (version < kSchemaVersion) {
    Status s = state->Exec("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '" +
                           std::to_string(kSchemaVersion) + "')");
    if (s.ok()) s = state->Exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('replica_id', '" +
                                NewReplicaId() + "')");
    if (!s.ok()) return fail(s);
  }
  KS_RETURN_IF_ERROR(state->Exec("COMMIT"));
  return state;
}

}  // namespace kuzusync
