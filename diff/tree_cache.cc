// The sqlite tree cache kept beside a replica (.<name>.kuzusync/state.db).

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <mutex>

#include "diff/diff.h"

namespace kuzusync {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kKeepTrees = 1024;  // least recently used trees beyond this are dropped

class SqliteTreeCache final : public TreeCache {
 public:
  explicit SqliteTreeCache(sqlite3* db) : db_(db) {}
  ~SqliteTreeCache() override { sqlite3_close(db_); }

  std::optional<merkle::Tree> Lookup(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* stmt = nullptr;
    std::optional<merkle::Tree> found;
    if (sqlite3_prepare_v2(db_, "SELECT tree FROM trees WHERE key = ?", -1, &stmt, nullptr) != SQLITE_OK) {
      return found;
    }
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string_view blob(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                            static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
      // A damaged entry is a miss, never a wrong tree (the tree file checks itself).
      Result<merkle::Tree> tree = merkle::Tree::Deserialize(blob, "tree cache");
      if (tree.ok()) found = std::move(tree).value();
    }
    sqlite3_finalize(stmt);
    if (found) Exec("UPDATE trees SET used = (SELECT COALESCE(MAX(used), 0) + 1 FROM trees) WHERE key = ?", key);
    return found;
  }

  void Store(const std::string& key, const merkle::Tree& tree) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string blob = tree.Serialize();
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR REPLACE INTO trees(key, tree, used) VALUES "
                           "(?, ?, (SELECT COALESCE(MAX(used), 0) + 1 FROM trees))",
                           -1, &stmt, nullptr) != SQLITE_OK) {
      return;
    }
    sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    Exec("DELETE FROM trees WHERE key NOT IN (SELECT key FROM trees ORDER BY used DESC LIMIT " +
         std::to_string(kKeepTrees) + ")");
  }

  bool Exec(const std::string& sql, const std::string& arg = "") {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return false;
    if (!arg.empty()) sqlite3_bind_text(stmt, 1, arg.data(), static_cast<int>(arg.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
  }

 private:
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace

std::unique_ptr<TreeCache> OpenReplicaTreeCache(const std::string& replica_dir) {
  const std::string state_dir = BesideReplica(replica_dir, ".kuzusync");
  if (::mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST) return nullptr;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(JoinPath(state_dir, "state.db").c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  auto cache = std::make_unique<SqliteTreeCache>(db);
  sqlite3_busy_timeout(db, 5000);
  const bool ready =
      cache->Exec("PRAGMA journal_mode=WAL") && cache->Exec("PRAGMA synchronous=NORMAL") &&
      cache->Exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)") &&
      cache->Exec("CREATE TABLE IF NOT EXISTS trees(key TEXT PRIMARY KEY, tree BLOB NOT NULL, "
                  "used INTEGER NOT NULL)") &&
      cache->Exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '" +
                  std::to_string(kSchemaVersion) + "')");
  if (!ready) return nullptr;
  // A newer kuzusync may have migrated the schema: then this one keeps out.
  sqlite3_stmt* stmt = nullptr;
  int version = 0;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &stmt,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  if (version != kSchemaVersion) return nullptr;
  return cache;
}

}  // namespace kuzusync
