// The sqlite database beside a replica (<parent>/.<name>.kuzusync/state.db):
// opened in WAL mode and migrated to the current schema in one transaction.
// Internal to the diff library; the tree cache and the sync state share it.

#ifndef KUZUSYNC_DIFF_STATE_DB_H_
#define KUZUSYNC_DIFF_STATE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/status.h"

namespace kuzusync {

// A prepared statement, finalized when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql);
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& Bind(int index, std::string_view text);
  // Not copied (blobs are megabytes): `blob` must stay as it is until the
  // statement is stepped.
  Statement& BindBlob(int index, std::string_view blob);
  Statement& Bind(int index, int64_t value);
  Statement& BindNull(int index);
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return stmt_ == nullptr ? SQLITE_ERROR : sqlite3_step(stmt_); }
  std::string Text(int column) const;
  // The value in place: valid until the statement steps again or goes.
  std::string_view Blob(int column) const;
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class StateDb {
 public:
  // Opens (creating when `create`) and migrates the state of replica_dir.
  // kNotFound when it does not exist and !create; kRefused when a newer
  // kuzusync wrote it.
  static Result<std::unique_ptr<StateDb>> Open(const std::string& replica_dir, bool create);
  ~StateDb() { sqlite3_close(db_); }

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }
  // Runs one statement without results; a failure names the database.
  Status Exec(const std::string& sql);
  Status Error(const std::string& what) const;

 private:
  StateDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_STATE_DB_H_
