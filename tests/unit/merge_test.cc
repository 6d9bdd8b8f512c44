// Tests for MergeReplicas: the three-way rules per row, conflict policies,
// counters, rel multisets, full reconciliation, and that both bundles bring
// the two sides to the same replica.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "diff/diff.h"
#include "tests/unit/test_util.h"

namespace kuzusync {
namespace {

constexpr const char kSchema[] =
    "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`stock` INT64,`ts` INT64, PRIMARY KEY(`id`));\n"
    "CREATE REL TABLE `Follows` (FROM `User` TO `User`, `since` INT64,MANY_MANY);\n";
constexpr const char kCopy[] =
    "COPY `User` (`id`,`name`,`stock`,`ts`) FROM \"User.csv\" (parallel=true);\n"
    "COPY `Follows` (`since`) FROM \"Follows_User_User.csv\" (to='User', from='User', parallel=true);\n";

constexpr const char kBaseUsers[] = "1,ann,100,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n";
constexpr const char kBaseFollows[] = "1,2,2020\n2,3,2021\n3,4,2022\n";

class MergeTest : public ::testing::Test {
 protected:
  void WriteExport(const std::string& dir, const std::string& users, const std::string& follows) {
    WriteTestExport(env_, dir, kSchema, kCopy, {{"User.csv", users}, {"Follows_User_User.csv", follows}});
  }

  std::unique_ptr<LocalReplica> Open(const std::string& dir) {
    auto r = LocalReplica::Open(env_, dir, {}, 1);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Merges /local and /remote against /base (or without a base), applies
  // both bundles, and checks that the two sides are then identical.
  MergeResult Merge(const MergeOptions& options, bool with_base = true) {
    auto local = Open("/local");
    auto remote = Open("/remote");
    auto base = with_base ? Open("/base") : nullptr;
    Result<MergeResult> merged = MergeReplicas(env_, local.get(), base.get(), remote.get(), true, true,
                                               options, "/to-local.kzb", "/to-remote.kzb");
    EXPECT_TRUE(merged.ok()) << merged.status().ToString();
    if (!merged.ok()) return {};
    if (merged->stopped) return merged.value();
    local.reset();
    remote.reset();
    if (merged->local_bundle) ExpectApplied("/to-local.kzb", "/local");
    if (merged->remote_bundle) ExpectApplied("/to-remote.kzb", "/remote");
    auto diff = DiffExports(env_, "/local", "/remote", {});
    EXPECT_TRUE(diff.ok() && diff->identical) << "the sides differ after the merge";
    Result<std::string> root = HashReplica(env_, OpenExport(env_, "/local").value(), 1);
    EXPECT_EQ(root.value(), merged->merged_root);
    return merged.value();
  }

  void ExpectApplied(const std::string& bundle, const std::string& dir) {
    auto applied = ApplyBundle(env_, bundle, dir, {});
    EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  }

  // The User rows of a replica: id -> "name,stock,ts".
  std::map<std::string, std::string> Users(const std::string& dir) {
    std::map<std::string, std::string> users;
    auto export_dir = OpenExport(env_, dir);
    EXPECT_TRUE(export_dir.ok());
    for (const DataFile* f : export_dir->FilesOf("User")) {
      EXPECT_TRUE(ScanDataFile(env_, export_dir.value(), *f, 4, [&](const RowView& row) {
        const auto& v = *row.fields;
        users[std::string(v[0])] = std::string(v[1]) + "," + std::string(v[2]) + "," + std::string(v[3]);
        return Status::Ok();
      }).ok());
    }
    return users;
  }

  // Follows rows of a replica as "from,to,since" -> copies.
  std::map<std::string, int> Follows(const std::string& dir) {
    std::map<std::string, int> rows;
    auto export_dir = OpenExport(env_, dir);
    EXPECT_TRUE(export_dir.ok());
    for (const DataFile* f : export_dir->FilesOf("Follows")) {
      EXPECT_TRUE(ScanDataFile(env_, export_dir.value(), *f, 3, [&](const RowView& row) {
        const auto& v = *row.fields;
        ++rows[std::string(v[0]) + "," + std::string(v[1]) + "," + std::string(v[2])];
        return Status::Ok();
      }).ok());
    }
    return rows;
  }

  void WriteBase() { WriteExport("/base", kBaseUsers, kBaseFollows); }

  std::unique_ptr<Env> mem_ = NewMemEnv();
  Env* env_ = mem_.get();
};

TEST_F(MergeTest, ChangesOnOneSideFlowToTheOtherIncludingDeletes) {
  WriteBase();
  // Local: updates 1, deletes 4 (and its rel), inserts 5. Remote: updates 2, inserts 6 and a rel.
  WriteExport("/local", "1,ANN,100,10\n2,bob,100,10\n3,cy,100,10\n5,eve,1,1\n", "1,2,2020\n2,3,2021\n");
  WriteExport("/remote", "1,ann,100,10\n2,BOB,100,10\n3,cy,100,10\n4,dee,100,10\n6,fay,2,2\n",
              "1,2,2020\n2,3,2021\n3,4,2022\n6,1,2024\n");
  MergeResult r = Merge({});
  EXPECT_TRUE(r.conflicts.empty());
  std::map<std::string, std::string> want = {
      {"1", "ANN,100,10"}, {"2", "BOB,100,10"}, {"3", "cy,100,10"}, {"5", "eve,1,1"}, {"6", "fay,2,2"}};
  EXPECT_EQ(Users("/local"), want);
  std::map<std::string, int> follows = {{"1,2,2020", 1}, {"2,3,2021", 1}, {"6,1,2024", 1}};
  EXPECT_EQ(Follows("/remote"), follows);
  EXPECT_EQ(r.rows_to_local, 3u);   // 2 updated, 6 inserted, rel 6->1 inserted
  EXPECT_EQ(r.rows_to_remote, 4u);  // 1 updated, 4 deleted, 5 inserted, rel 3->4 deleted
}

TEST_F(MergeTest, TheSameChangeOnBothSidesIsNotAConflict) {
  WriteBase();
  WriteExport("/local", "1,ann,100,10\n2,bob,100,10\n3,cy,100,10\n7,gus,0,0\n", "1,2,2020\n2,3,2021\n3,4,2022\n");
  WriteExport("/remote", "1,ann,100,10\n2,bob,100,10\n3,cy,100,10\n7,gus,0,0\n", "1,2,2020\n2,3,2021\n3,4,2022\n");
  MergeResult r = Merge({});
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_FALSE(r.local_bundle);
  EXPECT_FALSE(r.remote_bundle);
}

TEST_F(MergeTest, PoliciesPickTheWinnerAndKeepTheLoser) {
  const std::string local_users = "1,LOCAL,100,20\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n";
  const std::string remote_users = "1,REMOTE,100,30\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n";
  struct Case {
    ConflictPolicy policy;
    std::string lww_column;
    std::string winner;
    std::string resolution;
  };
  for (const Case& c : {Case{ConflictPolicy::kLocalWins, "", "LOCAL,100,20", "local"},
                        Case{ConflictPolicy::kRemoteWins, "", "REMOTE,100,30", "remote"},
                        Case{ConflictPolicy::kLastWriterWins, "ts", "REMOTE,100,30", "remote"}}) {
    WriteBase();
    WriteExport("/local", local_users, kBaseFollows);
    WriteExport("/remote", remote_users, kBaseFollows);
    MergeOptions options;
    options.policy = c.policy;
    options.lww_column = c.lww_column;
    MergeResult r = Merge(options);
    ASSERT_EQ(r.conflicts.size(), 1u);
    const SyncConflict& conflict = r.conflicts[0];
    EXPECT_EQ(conflict.table, "User");
    EXPECT_EQ(conflict.key, "1");
    EXPECT_EQ(conflict.resolution, c.resolution);
    EXPECT_EQ(conflict.base_row.value(), "1,ann,100,10");
    EXPECT_EQ(conflict.local_row.value(), "1,LOCAL,100,20");
    EXPECT_EQ(conflict.remote_row.value(), "1,REMOTE,100,30");
    EXPECT_EQ(Users("/local")["1"], c.winner);
  }
}

TEST_F(MergeTest, LastWriterWinsByFirstSeenTime) {
  WriteBase();
  WriteExport("/local", "1,LOCAL,100,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  WriteExport("/remote", "1,REMOTE,100,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  MergeOptions options;
  int calls = 0;
  options.first_seen = [&](const std::vector<MergeOptions::FirstSeenQuery>& queries) {
    ++calls;
    std::vector<int64_t> times;
    for (const auto& q : queries) times.push_back(q.local ? 2000 : 1000);  // the local change is later
    return times;
  };
  MergeResult r = Merge(options);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].resolution, "local");
  EXPECT_EQ(Users("/remote")["1"], "LOCAL,100,10");
  EXPECT_EQ(calls, 1);
}

TEST_F(MergeTest, PolicyFailStopsWithoutWritingBundles) {
  WriteBase();
  WriteExport("/local", "1,LOCAL,100,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  WriteExport("/remote", "1,REMOTE,100,10\n2,BOB,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  MergeOptions options;
  options.policy = ConflictPolicy::kFail;
  MergeResult r = Merge(options);
  EXPECT_TRUE(r.stopped);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].resolution, "unresolved");
  FileType type;
  uint64_t size;
  EXPECT_FALSE(env_->Stat("/to-local.kzb", &type, &size).ok());
  EXPECT_FALSE(env_->Stat("/to-remote.kzb", &type, &size).ok());
}

TEST_F(MergeTest, DeleteAgainstUpdateIsAConflict) {
  WriteBase();
  // Local deletes 4 (and the rel into it); remote updates 4.
  WriteExport("/local", "1,ann,100,10\n2,bob,100,10\n3,cy,100,10\n", "1,2,2020\n2,3,2021\n");
  WriteExport("/remote", "1,ann,100,10\n2,bob,100,10\n3,cy,100,10\n4,DEE,100,10\n", kBaseFollows);
  MergeOptions options;
  options.policy = ConflictPolicy::kRemoteWins;
  MergeResult r = Merge(options);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_FALSE(r.conflicts[0].local_row.has_value());
  EXPECT_EQ(r.conflicts[0].resolution, "remote");
  EXPECT_EQ(Users("/local")["4"], "DEE,100,10");
  // The rel's delete was one-sided: it flows.
  EXPECT_EQ(Follows("/remote").count("3,4,2022"), 0u);
}

TEST_F(MergeTest, CountersAddBothSidesChanges) {
  WriteBase();
  WriteExport("/local", "1,ann,95,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  WriteExport("/remote", "1,ann,97,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  MergeOptions options;
  options.counters["User"] = {"stock"};
  MergeResult r = Merge(options);
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(Users("/local")["1"], "ann,92,10");
  EXPECT_EQ(Users("/remote")["1"], "ann,92,10");
}

TEST_F(MergeTest, CountersMergeWhileOtherColumnsFollowThePolicy) {
  WriteBase();
  WriteExport("/local", "1,LOCAL,95,10\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  WriteExport("/remote", "1,REMOTE,97,11\n2,bob,100,10\n3,cy,100,10\n4,dee,100,10\n", kBaseFollows);
  MergeOptions options;
  options.counters["User"] = {"stock"};
  options.policy = ConflictPolicy::kLocalWins;
  MergeResult r = Merge(options);
  ASSERT_EQ(r.conflicts.size(), 1u);
  // name conflicts (local wins), stock adds up, ts changed on one side only.
  EXPECT_EQ(Users("/remote")["1"], "LOCAL,92,11");
}

TEST_F(MergeTest, RelsMergeAsMultisets) {
  WriteBase();
  // Local adds a second copy of 1->2 and a new 4->1; remote deletes 2->3 and adds 4->1 too.
  WriteExport("/local", kBaseUsers, "1,2,2020\n1,2,2020\n2,3,2021\n3,4,2022\n4,1,2023\n");
  WriteExport("/remote", kBaseUsers, "1,2,2020\n3,4,2022\n4,1,2023\n");
  MergeResult r = Merge({});
  EXPECT_TRUE(r.conflicts.empty());
  std::map<std::string, int> want = {{"1,2,2020", 2}, {"3,4,2022", 1}, {"4,1,2023", 1}};
  EXPECT_EQ(Follows("/local"), want);
  EXPECT_EQ(Follows("/remote"), want);
}

TEST_F(MergeTest, ARelToANodeTheMergeDeletedIsDroppedAndKept) {
  WriteBase();
  // Local adds a rel to 4; remote deletes 4 (and its rel 3->4).
  WriteExport("/local", kBaseUsers, "1,2,2020\n2,3,2021\n3,4,2022\n1,4,2025\n");
  WriteExport("/remote", "1,ann,100,10\n2,bob,100,10\n3,cy,100,10\n", "1,2,2020\n2,3,2021\n");
  MergeResult r = Merge({});
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].table, "Follows");
  EXPECT_EQ(r.conflicts[0].resolution, "dropped");
  EXPECT_EQ(r.conflicts[0].local_row.value(), "1,4,2025");
  EXPECT_EQ(Users("/local").count("4"), 0u);
  EXPECT_EQ(Follows("/local").count("1,4,2025"), 0u);
}

TEST_F(MergeTest, WithoutABaseOneSidedRowsAreCopiedAndDifferingOnesConflict) {
  WriteExport("/local", "1,ann,100,10\n2,bob,1,1\n5,eve,5,5\n", "1,2,2020\n");
  WriteExport("/remote", "1,ann,100,10\n2,bob,2,2\n6,fay,6,6\n", "1,2,2020\n1,2,2020\n2,1,2021\n");
  MergeOptions options;
  options.policy = ConflictPolicy::kLocalWins;
  MergeResult r = Merge(options, /*with_base=*/false);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].key, "2");
  EXPECT_FALSE(r.conflicts[0].base_known);
  std::map<std::string, std::string> want = {
      {"1", "ann,100,10"}, {"2", "bob,1,1"}, {"5", "eve,5,5"}, {"6", "fay,6,6"}};
  EXPECT_EQ(Users("/remote"), want);
  std::map<std::string, int> follows = {{"1,2,2020", 2}, {"2,1,2021", 1}};  // every copy either side has
  EXPECT_EQ(Follows("/local"), follows);
}

// The remote's changes found by reconciliation with it (what sync does over
// a network) merge exactly as those found by comparing trees, on random
// three-way changes: updates, inserts, deletes, rel copies added and removed.
TEST_F(MergeTest, ReconciledRemoteChangesMergeLikeComparedOnes) {
  std::mt19937_64 rng(7);
  auto pick = [&](uint64_t n) { return rng() % n; };
  for (int round = 0; round < 10; ++round) {
    std::string base_users, local_users, remote_users, base_follows, local_follows, remote_follows;
    const int n = 40 + static_cast<int>(pick(400));
    for (int i = 0; i < n; ++i) {
      const std::string id = std::to_string(i);
      const std::string row = id + ",u" + id + ",100,10";
      base_users += row + "\n";
      for (std::string* side : {&local_users, &remote_users}) {
        const uint64_t fate = pick(12);
        if (fate == 0) continue;                                                        // deleted
        *side += (fate == 1 ? id + ",v" + std::to_string(pick(3)) + ",100,20" : row) + "\n";  // changed
      }
    }
    for (int i = n; i < n + 5; ++i) {
      if (pick(2)) local_users += std::to_string(i) + ",new,1,30\n";
      if (pick(2)) remote_users += std::to_string(i + 5) + ",new,1,30\n";
    }
    for (int i = 0; i < n; ++i) {
      const std::string row = std::to_string(pick(n)) + "," + std::to_string(pick(n)) + ",2020\n";
      base_follows += row;
      for (std::string* side : {&local_follows, &remote_follows}) {
        const uint64_t fate = pick(10);
        if (fate != 0) *side += row;          // 1 in 10 removed
        if (fate == 1) *side += row;          // 1 in 10 copied once more
      }
    }
    for (bool by_sketch : {false, true}) {
      WriteExport("/base", base_users, base_follows);
      WriteExport("/local", local_users, local_follows);
      WriteExport("/remote", remote_users, remote_follows);
      auto local = Open("/local");
      auto remote = Open("/remote");
      auto base = Open("/base");
      std::unique_ptr<SketchPeer> peer = NewLocalSketchPeer(remote.get(), 1);
      MergeOptions options;
      options.policy = ConflictPolicy::kLocalWins;
      if (by_sketch) options.remote_peer = peer.get();
      Result<MergeResult> merged = MergeReplicas(env_, local.get(), base.get(), remote.get(), true, true,
                                                 options, "/to-local.kzb", "/to-remote.kzb");
      ASSERT_TRUE(merged.ok()) << merged.status().ToString();
      static std::string root_by_trees;
      static size_t conflicts_by_trees = 0;
      if (!by_sketch) {
        root_by_trees = merged->merged_root;
        conflicts_by_trees = merged->conflicts.size();
        continue;
      }
      EXPECT_EQ(merged->reconciliation_failed, "") << "round " << round;
      EXPECT_EQ(merged->merged_root, root_by_trees) << "round " << round;
      EXPECT_EQ(merged->conflicts.size(), conflicts_by_trees) << "round " << round;
      peer.reset();
      local.reset();
      remote.reset();
      if (merged->local_bundle) ExpectApplied("/to-local.kzb", "/local");
      if (merged->remote_bundle) ExpectApplied("/to-remote.kzb", "/remote");
      auto diff = DiffExports(env_, "/local", "/remote", {});
      EXPECT_TRUE(diff.ok() && diff->identical) << "round " << round;
    }
  }
}

TEST_F(MergeTest, TablesOfDifferentShapesAreRefused) {
  WriteBase();
  WriteExport("/local", kBaseUsers, kBaseFollows);
  WriteTestExport(env_, "/remote", "CREATE NODE TABLE `User` (`id` INT64,`name` STRING, PRIMARY KEY(`id`));\n",
                  "COPY `User` (`id`,`name`) FROM \"User.csv\" (parallel=true);\n", {{"User.csv", "1,ann\n"}});
  auto local = Open("/local");
  auto remote = Open("/remote");
  auto base = Open("/base");
  auto r = MergeReplicas(env_, local.get(), base.get(), remote.get(), true, true, {}, "/l.kzb", "/r.kzb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kRefused);
}

}  // namespace
}  // namespace kuzusync
