// Tests for the sync state beside a replica: version vectors, checkpoints
// with their bases, run history, conflicts, first-seen times, and the
// migrations of a version-1 state (tree cache only) and a version-5 one
// (row hash format 1).

#include <gtest/gtest.h>

#include <filesystem>

#include "diff/diff.h"
#include "tests/unit/test_util.h"

namespace kuzusync {
namespace {

TEST(VersionVectorTest, OrderAndText) {
  VersionVector a = {{"x", 2}, {"y", 1}};
  VersionVector b = {{"x", 2}};
  EXPECT_EQ(CompareVectors(a, b), VectorOrder::kAhead);
  EXPECT_EQ(CompareVectors(b, a), VectorOrder::kBehind);
  EXPECT_EQ(CompareVectors(a, a), VectorOrder::kEqual);
  VersionVector c = {{"x", 1}, {"z", 1}};
  EXPECT_EQ(CompareVectors(a, c), VectorOrder::kConcurrent);
  EXPECT_EQ(VectorText(a), "x:2,y:1");
  EXPECT_EQ(ParseVector("x:2,y:1").value(), a);
  EXPECT_TRUE(ParseVector("").value().empty());
  EXPECT_FALSE(ParseVector("x:").ok());
  EXPECT_FALSE(ParseVector("x:1z").ok());
}

class SyncStateTest : public TempReplicaTest {
 protected:
  std::string DbPath() const { return StateDbPath(); }
  std::unique_ptr<SyncState> Open() {
    auto state = SyncState::Open(replica_, true);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? std::move(state).value() : nullptr;
  }

  Env* env_ = Env::Default();
};

TEST_F(SyncStateTest, NothingIsCreatedWhenOnlyLooking) {
  auto state = SyncState::Open(replica_, false);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(DbPath()));
}

TEST_F(SyncStateTest, CommitKeepsCheckpointBaseVectorRunAndConflicts) {
  const std::string base = root_ + "/base.bin";
  std::string bytes(20 << 20, 'b');  // more than one chunk
  bytes[12345] = 'x';
  ASSERT_TRUE(WriteFileAtomically(env_, base, bytes).ok());
  std::string id;
  {
    auto state = Open();
    id = state->replica_id();
    EXPECT_EQ(id.size(), 32u);
    SyncRun run;
    run.peer = "hub:/x";
    run.started_ms = 1000;
    run.mode = "full";
    ASSERT_TRUE(state->BeginRun(&run).ok());
    EXPECT_GT(run.id, 0);
    Checkpoint c;
    c.peer = "hub:/x";
    c.at_ms = 2000;
    c.local_root = c.remote_root = "r00t";
    c.schema_hash = "s";
    c.events = 7;
    c.table_rows = "User=3";
    run.outcome = "synced";
    run.rows_in = 3;
    SyncConflict conflict;
    conflict.table = "User";
    conflict.key = "1";
    conflict.base_row = "1,a";
    conflict.local_row = "1,b";
    conflict.resolution = "local";
    ASSERT_TRUE(state->SavePending(env_, {run.id, "r00t", "old", false}, c, base, "").ok());
    // Pending: the old checkpoint (none) is still the current one.
    EXPECT_FALSE(state->LoadCheckpoint("hub:/x").value().has_value());
    EXPECT_TRUE(state->Checkpoints().value().empty());
    auto pending = state->LoadPending("hub:/x").value();
    ASSERT_TRUE(pending.has_value());
    EXPECT_EQ(pending->merged_root, "r00t");
    ASSERT_TRUE(state->PromotePending("hub:/x", {{id, 1}, {"other", 4}}, &run, {conflict}).ok());
    EXPECT_FALSE(state->LoadPending("hub:/x").value().has_value());
  }
  auto state = Open();  // everything survives reopening
  EXPECT_EQ(state->replica_id(), id);
  EXPECT_EQ(state->Vector().value(), (VersionVector{{id, 1}, {"other", 4}}));
  auto checkpoint = state->LoadCheckpoint("hub:/x").value();
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->events, 7u);
  EXPECT_EQ(checkpoint->base_bytes, bytes.size());
  EXPECT_FALSE(state->LoadCheckpoint("elsewhere").value().has_value());
  ASSERT_TRUE(state->ReadBase(env_, "hub:/x", root_ + "/restored.bin").ok());
  std::string restored;
  ASSERT_TRUE(ReadFileToString(env_, root_ + "/restored.bin", &restored).ok());
  EXPECT_TRUE(restored == bytes);
  auto runs = state->Runs(10).value();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, "synced");
  EXPECT_EQ(runs[0].rows_in, 3u);
  auto conflicts = state->Conflicts(10).value();
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].run_id, runs[0].id);
  EXPECT_EQ(conflicts[0].local_row.value(), "1,b");
  EXPECT_FALSE(conflicts[0].remote_row.has_value());

  // A damaged base is reported, never used.
  Sql("UPDATE base_chunks SET data = X'00' WHERE seq = 1");
  Status s = state->ReadBase(env_, "hub:/x", root_ + "/restored.bin");
  EXPECT_EQ(s.code(), Status::Code::kCorrupt) << s.ToString();
}

TEST_F(SyncStateTest, ADroppedPendingSyncLeavesTheCheckpointBefore) {
  auto state = Open();
  const std::string base = root_ + "/base.bin", bundle = root_ + "/bundle.bin";
  ASSERT_TRUE(WriteFileAtomically(env_, base, "first base").ok());
  ASSERT_TRUE(WriteFileAtomically(env_, bundle, "local bundle").ok());
  Checkpoint c;
  c.peer = "p";
  c.local_root = c.remote_root = "one";
  ASSERT_TRUE(state->SavePending(env_, {1, "one", "zero", false}, c, base, "").ok());
  ASSERT_TRUE(state->PromotePending("p", {}, nullptr, {}).ok());
  ASSERT_TRUE(WriteFileAtomically(env_, base, "second base").ok());
  c.local_root = c.remote_root = "two";
  ASSERT_TRUE(state->SavePending(env_, {2, "two", "one", false}, c, base, bundle).ok());
  ASSERT_TRUE(state->MarkPendingEmitted("p").ok());
  EXPECT_TRUE(state->LoadPending("p").value()->emitted);
  ASSERT_TRUE(state->ReadPendingBundle(env_, "p", root_ + "/out.bin").value());
  std::string text;
  ASSERT_TRUE(ReadFileToString(env_, root_ + "/out.bin", &text).ok());
  EXPECT_EQ(text, "local bundle");
  ASSERT_TRUE(state->DropPending("p").ok());
  EXPECT_EQ(state->LoadCheckpoint("p").value()->local_root, "one");
  ASSERT_TRUE(state->ReadBase(env_, "p", root_ + "/out.bin").ok());
  ASSERT_TRUE(ReadFileToString(env_, root_ + "/out.bin", &text).ok());
  EXPECT_EQ(text, "first base");
  EXPECT_FALSE(state->ReadPendingBundle(env_, "p", root_ + "/out.bin").value());
}

TEST_F(SyncStateTest, PushesAreRememberedPerReplica) {
  auto state = Open();
  EXPECT_EQ(state->LastPush("site-a").value(), "");
  ASSERT_TRUE(state->RecordPush("site-a", "r1").ok());
  ASSERT_TRUE(state->RecordPush("site-a", "r2").ok());
  ASSERT_TRUE(state->RecordPush("site-b", "r9").ok());
  EXPECT_EQ(state->LastPush("site-a").value(), "r2");
}

TEST_F(SyncStateTest, ARunThatNeverFinishesStaysRunning) {
  auto state = Open();
  SyncRun run;
  run.peer = "p";
  run.started_ms = 1;
  ASSERT_TRUE(state->BeginRun(&run).ok());
  SyncRun second = run;
  ASSERT_TRUE(state->BeginRun(&second).ok());
  second.outcome = "in sync";
  ASSERT_TRUE(state->FinishRun(second, {}).ok());
  auto runs = state->Runs(10).value();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].outcome, "running");
  EXPECT_EQ(runs[1].outcome, "in sync");
}

TEST_F(SyncStateTest, FirstSeenKeepsTheEarliestTime) {
  auto state = Open();
  const int64_t now = NowUnixMillis();
  const int64_t day = int64_t{24} * 3600 * 1000;
  EXPECT_EQ(state->FirstSeen("User", "1", "d1", 0).value(), 0);  // looking records nothing
  EXPECT_EQ(state->FirstSeen("User", "1", "d1", now).value(), now);
  EXPECT_EQ(state->FirstSeen("User", "1", "d1", now + 10).value(), now);
  ASSERT_TRUE(state->RecordSeen({{"User", "1", "d1", now - 5}, {"User", "1", "d2", now + 5},
                                 {"User", "2", "d3", now - 100 * day}})
                  .ok());
  EXPECT_EQ(state->FirstSeen("User", "1", "d1", 0).value(), now - 5);
  EXPECT_EQ(state->FirstSeen("User", "1", "d2", 0).value(), now + 5);
  EXPECT_EQ(state->FirstSeen("User", "2", "d3", 0).value(), 0);  // older than 90 days: pruned
}

TEST_F(SyncStateTest, AVersionOneStateIsMigrated) {
  std::filesystem::create_directory(root_ + "/.replica.kuzusync");
  Sql("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE trees(key TEXT PRIMARY KEY, tree BLOB NOT NULL, used INTEGER NOT NULL);"
      "INSERT INTO meta VALUES ('schema_version', '1');"
      "INSERT INTO trees VALUES ('k', X'00', 1);");
  auto state = Open();
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->replica_id().size(), 32u);
  EXPECT_TRUE(state->Checkpoints().value().empty());
  EXPECT_EQ(SqlValue("SELECT value FROM meta WHERE key = 'schema_version'"), 6);
  // Its tree was of row hash format 1: dropped, and the table has every later column.
  EXPECT_EQ(SqlValue("SELECT COUNT(*) FROM trees"), 0);
  Sql("INSERT INTO trees(key, tree, used, elements) VALUES ('k2', X'00', 2, NULL)");
  EXPECT_EQ(SqlValue("SELECT COUNT(*) FROM symbols"), 0);
}

// The upgrade to row hash format 2 drops what was cached, keeps what sync
// knows: a checkpoint's roots of format 1 equal no root made now, so they
// cost one row comparison, not a wrong answer.
TEST_F(SyncStateTest, AVersionFiveStateKeepsItsCheckpointsAndDropsItsCaches) {
  { ASSERT_NE(Open(), nullptr); }
  Sql("INSERT INTO trees(key, tree, used, elements) VALUES ('k', X'00', 1, X'01');"
      "INSERT INTO symbols VALUES ('k', X'02');"
      "INSERT INTO checkpoints VALUES ('hub', 1, 'l', 'r', 's', 0, '', '', 'c', 0);"
      "UPDATE meta SET value = '5' WHERE key = 'schema_version';");
  auto state = Open();
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(SqlValue("SELECT value FROM meta WHERE key = 'schema_version'"), 6);
  EXPECT_EQ(SqlValue("SELECT COUNT(*) FROM trees"), 0);
  EXPECT_EQ(SqlValue("SELECT COUNT(*) FROM symbols"), 0);
  auto checkpoints = state->Checkpoints();
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ(checkpoints->front().local_root, "l");
}

}  // namespace
}  // namespace kuzusync
