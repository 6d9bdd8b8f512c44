// Fixtures shared by the unit tests: a replica directory in a fresh temp
// dir (for what needs the real file system, such as sqlite), and small
// exports written through an Env.

#ifndef KUZUSYNC_TESTS_UNIT_TEST_UTIL_H_
#define KUZUSYNC_TESTS_UNIT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>

#include "snapshot/env.h"

namespace kuzusync {

// root_/replica exists; the state beside it is root_/.replica.kuzusync.
class TempReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kuzusync-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    replica_ = root_ + "/replica";
    std::filesystem::create_directory(replica_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string StateDbPath() const { return root_ + "/.replica.kuzusync/state.db"; }
  // Runs SQL on the replica's state database, as a damaged or old state would be.
  void Sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(StateDbPath().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << statement;
    sqlite3_close(db);
  }
  // The first column of the first row of `query` on that database, as an integer.
  int64_t SqlValue(const std::string& query) {
    sqlite3* db = nullptr;
    sqlite3_stmt* stmt = nullptr;
    int64_t value = -1;
    if (sqlite3_open(StateDbPath().c_str(), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, query.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }

  std::string root_, replica_;
};

// Writes schema.cypher, copy.cypher and the data files (name -> content) of an export.
inline void WriteTestExport(Env* env, const std::string& dir, const std::string& schema,
                            const std::string& copy, const std::map<std::string, std::string>& files) {
  ASSERT_TRUE(WriteFileAtomically(env, dir + "/schema.cypher", schema).ok());
  ASSERT_TRUE(WriteFileAtomically(env, dir + "/copy.cypher", copy).ok());
  for (const auto& [name, content] : files) {
    ASSERT_TRUE(WriteFileAtomically(env, dir + "/" + name, content).ok()) << name;
  }
}

}  // namespace kuzusync

#endif  // KUZUSYNC_TESTS_UNIT_TEST_UTIL_H_
