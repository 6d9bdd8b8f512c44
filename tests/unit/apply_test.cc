// Tests for bundles: write, apply (with and without deletes, refused when stale), and apply.cypher.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <random>

#include "diff/diff.h"
#include "tests/unit/test_util.h"

namespace kuzusync {
namespace {

constexpr const char kSchema[] =
    "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`age` INT64, PRIMARY KEY(`id`));\n"
    "CREATE REL TABLE `Follows` (FROM `User` TO `User`, `since` INT64,MANY_MANY);\n";
constexpr const char kCopy[] =
    "COPY `User` (`id`,`name`,`age`) FROM \"User.csv\" (parallel=true);\n"
    "COPY `Follows` (`since`) FROM \"Follows_User_User.csv\" (to='User', from='User', parallel=true);\n";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ApplyTest : public ::testing::Test {
 protected:
  void WriteExport(const std::string& dir, const std::string& users, const std::string& follows) {
    WriteTestExport(env_, dir, kSchema, kCopy, {{"User.csv", users}, {"Follows_User_User.csv", follows}});
  }

  // A: the source of truth. B: an older replica with one changed user, one
  // extra user, one missing user and different follows.
  void WriteAAndB() {
    WriteExport("/a", "1,ann,30\n2,bob,41\n3,cy,50\n4,dee,60\n", "1,2,2020\n2,3,2021\n3,1,2022\n");
    WriteExport("/b", "1,ann,30\n2,bob,40\n3,cy,50\n9,zed,99\n", "1,2,2020\n2,3,2019\n9,1,2018\n");
  }

  std::map<std::string, std::string> FilesOf(const std::string& dir) {
    std::vector<DirEntry> entries;
    EXPECT_TRUE(env_->ListDir(dir, &entries).ok()) << dir;
    std::map<std::string, std::string> files;
    for (const DirEntry& e : entries) {
      EXPECT_TRUE(ReadFileToString(env_, JoinPath(dir, e.name), &files[e.name]).ok()) << e.name;
    }
    return files;
  }

  DiffReport Diff(const std::string& a, const std::string& b) {
    auto report = DiffExports(env_, a, b, {});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report.value() : DiffReport{};
  }

  const TableDiff& Table(const DiffReport& report, const std::string& name) {
    for (const TableDiff& t : report.tables) {
      if (t.table == name) return t;
    }
    ADD_FAILURE() << "no table " << name;
    return report.tables.front();
  }

  // Nothing but the replicas and the bundle is left beside them.
  void ExpectNoLeftovers() {
    std::vector<DirEntry> top;
    ASSERT_TRUE(env_->ListDir("/", &top).ok());
    for (const DirEntry& e : top) {
      EXPECT_TRUE(e.name == "a" || e.name == "b" || e.name == "bundle.kzb") << "left behind: /" << e.name;
    }
  }

  // /bundle.kzb is refused for `why`, leaving /b as it was and nothing
  // beside it; forced, it applies: the forced result.
  ApplyResult RefusedThenForced(const std::string& why) {
    const auto before = FilesOf("/b");
    auto refused = ApplyBundle(env_, "/bundle.kzb", "/b", {});
    EXPECT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Status::Code::kRefused);
    EXPECT_TRUE(Contains(refused.status().message(), why)) << refused.status().ToString();
    EXPECT_EQ(FilesOf("/b"), before);
    ExpectNoLeftovers();
    ApplyOptions force;
    force.force = true;
    auto forced = ApplyBundle(env_, "/bundle.kzb", "/b", force);
    EXPECT_TRUE(forced.ok()) << forced.status().ToString();
    return forced.ok() ? forced.value() : ApplyResult{};
  }

  std::unique_ptr<Env> mem_ = NewMemEnv();
  Env* env_ = mem_.get();
};

TEST_F(ApplyTest, ApplyingABundleMakesBIdenticalToA) {
  WriteAAndB();
  ASSERT_FALSE(Diff("/a", "/b").identical);
  auto manifest = WriteBundle(env_, "/a", "/b", "/bundle.kzb", {});
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->kind, "bundle");
  EXPECT_EQ(manifest->Option("deletes"), "yes");
  EXPECT_EQ(manifest->FindTable("User")->upserts, 2u);  // bob changed, dee added
  EXPECT_EQ(manifest->FindTable("User")->deletes, 1u);  // zed
  EXPECT_EQ(manifest->FindTable("User")->rows, 4u);

  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_FALSE(applied->already_applied);
  EXPECT_FALSE(applied->forced);
  EXPECT_EQ(applied->root, manifest->result_root);
  EXPECT_TRUE(Diff("/a", "/b").identical);
  ExpectNoLeftovers();

  // Applying again is a no-op that says so.
  const auto files = FilesOf("/b");
  auto again = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->already_applied);
  EXPECT_EQ(FilesOf("/b"), files);
}

TEST_F(ApplyTest, WithoutDeletesBKeepsItsOwnRows) {
  WriteAAndB();
  BundleOptions options;
  options.deletes = false;
  auto manifest = WriteBundle(env_, "/a", "/b", "/bundle.kzb", options);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->Option("deletes"), "no");
  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();

  DiffReport report = Diff("/a", "/b");
  const TableDiff& users = Table(report, "User");
  EXPECT_EQ(users.only_in_a, 0u);
  EXPECT_EQ(users.changed, 0u);
  EXPECT_EQ(users.only_in_b, 1u);  // zed stays
  const TableDiff& follows = Table(report, "Follows");
  EXPECT_EQ(follows.only_in_a, 0u);
  EXPECT_EQ(follows.only_in_b, 2u);  // 2->3 since 2019 and 9->1 stay
  std::string users_csv;
  ASSERT_TRUE(ReadFileToString(env_, "/b/User.csv", &users_csv).ok());
  EXPECT_TRUE(Contains(users_csv, "9,zed,99"));
  ExpectNoLeftovers();
}

TEST_F(ApplyTest, StaleTargetIsRefusedAndLeftUntouchedUnlessForced) {
  WriteAAndB();
  ASSERT_TRUE(WriteBundle(env_, "/a", "/b", "/bundle.kzb", {}).ok());
  // Someone edits B after the bundle was made.
  ASSERT_TRUE(WriteFileAtomically(env_, "/b/User.csv", "1,ann,30\n2,bob,40\n3,cy,50\n9,zed,99\n7,new,70\n").ok());
  EXPECT_TRUE(RefusedThenForced("has changed since the bundle was made").forced);
  DiffReport report = Diff("/a", "/b");
  const TableDiff& users = Table(report, "User");
  EXPECT_EQ(users.only_in_a, 0u);
  EXPECT_EQ(users.changed, 0u);
  EXPECT_EQ(users.only_in_b, 1u);  // the late edit, user 7, survives
  EXPECT_FALSE(Table(report, "Follows").differs());
  ExpectNoLeftovers();
}

// A served apply answers before it removes B's old version: the old
// version waits in B's state directory, out of B's neighbours' way, and
// goes with RemoveOldVersion, or with the next apply if the process died.
TEST_F(ApplyTest, DeferredRemovalLeavesTheOldVersionInTheStateDirectory) {
  WriteAAndB();
  const auto old_files = FilesOf("/b");
  ASSERT_TRUE(env_->CreateDir("/.b.kuzusync").ok());
  ASSERT_TRUE(WriteBundle(env_, "/a", "/b", "/bundle.kzb", {}).ok());
  ApplyOptions deferred;
  deferred.defer_removal = true;
  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", deferred);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_TRUE(Diff("/a", "/b").identical);
  ASSERT_EQ(applied->old_version, "/.b.kuzusync/old-version");
  EXPECT_EQ(FilesOf(applied->old_version), old_files);
  std::vector<DirEntry> top;
  ASSERT_TRUE(env_->ListDir("/", &top).ok());
  for (const DirEntry& e : top) {
    EXPECT_TRUE(e.name == "a" || e.name == "b" || e.name == "bundle.kzb" || e.name == ".b.kuzusync") << e.name;
  }
  RemoveOldVersion(env_, applied.value());
  FileType type;
  uint64_t size;
  EXPECT_EQ(env_->Stat(applied->old_version, &type, &size).code(), Status::Code::kNotFound);

  // A process that died before removing it: the next apply does.
  WriteAAndB();
  ASSERT_TRUE(env_->CreateDir("/.b.kuzusync/old-version").ok());
  ASSERT_TRUE(WriteFileAtomically(env_, "/.b.kuzusync/old-version/User.csv", "stale\n").ok());
  auto again = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->old_version.empty());
  EXPECT_EQ(env_->Stat("/.b.kuzusync/old-version", &type, &size).code(), Status::Code::kNotFound);
}

// A bundle made by a kuzusync of row hash format 1 has roots that mean
// nothing to this one: refused, B untouched; forced, it applies as upserts.
TEST_F(ApplyTest, BundleOfAnotherRowHashFormatIsRefusedUnlessForced) {
  WriteAAndB();
  ASSERT_TRUE(WriteBundle(env_, "/a", "/b", "/new.kzb", {}).ok());
  ASSERT_TRUE(env_->CreateDir("/x").ok());
  auto manifest = ReadArchive(env_, "/new.kzb", "/x");
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  manifest->row_hash = 1;
  std::vector<ArchiveSource> sources;
  for (const Manifest::Member& m : manifest->members) sources.push_back({m.name, "/x/" + m.name});
  ASSERT_TRUE(WriteArchive(env_, "/bundle.kzb", &manifest.value(), sources, {}).ok());
  ASSERT_TRUE(RemoveTree(env_, "/x").ok());
  ASSERT_TRUE(env_->RemoveFile("/new.kzb").ok());
  RefusedThenForced("row hash format 1");
  DiffReport report = Diff("/a", "/b");
  EXPECT_EQ(Table(report, "User").only_in_a, 0u);
  EXPECT_EQ(Table(report, "User").changed, 0u);
  ExpectNoLeftovers();
}

// The rewrite keeps B's rows byte for byte, in B's dialect (header, '|',
// CRLF, a value spanning lines, no line break at the end), and adds A's
// rows in that dialect: the result reads as A's rows, and the root it
// reports is the one a fresh hash of the new files gives.
TEST_F(ApplyTest, RewriteKeepsBsBytesAndDialect) {
  WriteExport("/a", "1,ann,30\n2,\"bo\nb\",41\n3,cy,50\n4,dee,60\n", "1,2,2020\n");
  const std::string copy_b =
      "COPY `User` (`id`,`name`,`age`) FROM \"User.csv\" (header=true, delim='|');\n"
      "COPY `Follows` (`since`) FROM \"Follows_User_User.csv\" (to='User', from='User', parallel=true);\n";
  WriteTestExport(env_, "/b", kSchema, copy_b,
                  {{"User.csv", "id|name|age\r\n1|ann|30\r\n2|\"bo\nb\"|41\r\n3|cy|51\r\n9|zed|99"},
                   {"Follows_User_User.csv", "1,2,2020\n"}});
  auto manifest = WriteBundle(env_, "/a", "/b", "/bundle.kzb", {});
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->root, manifest->result_root);
  EXPECT_TRUE(Diff("/a", "/b").identical);

  std::string users;
  ASSERT_TRUE(ReadFileToString(env_, "/b/User.csv", &users).ok());
  // Kept rows as they were (CRLF, the quoted line break), then cy and dee
  // in B's dialect; zed is gone.
  EXPECT_EQ(users.substr(0, users.find("3|")), "id|name|age\r\n1|ann|30\r\n2|\"bo\nb\"|41\r\n");
  EXPECT_TRUE(Contains(users, "3|cy|50\n")) << users;
  EXPECT_TRUE(Contains(users, "4|dee|60\n")) << users;
  EXPECT_FALSE(Contains(users, "zed")) << users;
  std::string copy;
  ASSERT_TRUE(ReadFileToString(env_, "/b/copy.cypher", &copy).ok());
  EXPECT_TRUE(Contains(copy, "parallel=false")) << copy;  // a kept value spans lines

  auto rehashed = LocalReplica::Open(env_, "/b", {}, 1);
  ASSERT_TRUE(rehashed.ok()) << rehashed.status().ToString();
  EXPECT_EQ(ReplicaRoot(*rehashed.value()), applied->root);
}

// A late Cypher batch is replayed onto an export made before it was loaded:
// applying as the statements act is idempotent, and a deleted node takes
// rels along that the bundle never named.
TEST_F(ApplyTest, ApplyingAsCypherReplacesPairsAndDetachesDeletedNodes) {
  WriteAAndB();
  ASSERT_TRUE(WriteBundle(env_, "/a", "/b", "/bundle.kzb", BundleOptions{}).ok());
  ApplyOptions as_cypher;
  as_cypher.force = true;
  as_cypher.as_cypher = true;
  for (int i = 0; i < 2; ++i) {
    auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", as_cypher);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    EXPECT_TRUE(Diff("/a", "/b").identical) << "after applying " << i + 1 << " times";
  }
  // An export that gained a rel into node 9 after the bundle was made:
  // deleting 9 (DETACH DELETE) removes it too.
  WriteExport("/c", "1,ann,30\n2,bob,40\n3,cy,50\n9,zed,99\n",
              "1,2,2020\n2,3,2019\n9,1,2018\n1,9,2030\n");
  auto applied = ApplyBundle(env_, "/bundle.kzb", "/c", as_cypher);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_TRUE(Diff("/a", "/c").identical);
}

// The other side of a reconciliation, in-process, counting the requests.
class CountingSketchPeer : public SketchPeer {
 public:
  explicit CountingSketchPeer(Replica* replica) : peer_(NewLocalSketchPeer(replica, 1)) {}
  Status Symbols(const std::vector<Request>& requests,
                 std::vector<std::vector<merkle::CodedSymbol>>* out) override {
    ++round_trips;
    return peer_->Symbols(requests, out);
  }
  Status SumRows(const std::vector<Rows>& rows, std::vector<merkle::NodeSummary>* out) override {
    ++round_trips;
    return peer_->SumRows(rows, out);
  }
  int round_trips = 0;

 private:
  std::unique_ptr<SketchPeer> peer_;
};

// WriteBundleBySketch of /a over /b into /bundle.kzb, B answering in-process.
Result<Manifest> SketchBundle(Env* env, const BundleOptions& options, DiffReport* report = nullptr,
                              int* round_trips = nullptr) {
  KS_ASSIGN_OR_RETURN(auto a, LocalReplica::Open(env, "/a", {}, 1));
  KS_ASSIGN_OR_RETURN(auto b, LocalReplica::Open(env, "/b", {}, 1));
  CountingSketchPeer peer(b.get());
  Result<Manifest> manifest = WriteBundleBySketch(env, a.get(), b.get(), &peer, "/bundle.kzb", options, report);
  if (round_trips != nullptr) *round_trips = peer.round_trips;
  return manifest;
}

// A sketch bundle (what a push over a network sends) names B's surplus rows
// by element: applied, B equals A, copies of identical rels included; as
// Cypher it is refused, since a live database cannot match a hash.
TEST_F(ApplyTest, SketchBundleTurnsBIntoA) {
  std::string users_a, users_b, follows_a, follows_b;
  for (int i = 1; i <= 3000; ++i) {
    const std::string row = std::to_string(i) + ",user" + std::to_string(i) + "," + std::to_string(i % 90);
    if (i % 50 != 0) users_a += row + "\n";                                        // A lacks 60
    if (i % 40 != 0) users_b += (i % 70 == 0 ? row + "0" : row) + "\n";           // B lacks 75, 42 differ
    follows_a += std::to_string(i) + "," + std::to_string(i % 100 + 1) + ",2020\n";
    if (i % 30 != 0) follows_b += std::to_string(i) + "," + std::to_string(i % 100 + 1) + ",2020\n";
  }
  follows_a += "1,2,2020\n";                 // A: two copies of 1->2
  follows_b += "1,2,2020\n1,2,2020\n5,6,1999\n";  // B: three, and one A lacks
  // Rels to users only one side has are fine in a CSV export (kuzusync does not check them).
  WriteExport("/a", users_a, follows_a);
  WriteExport("/b", users_b, follows_b);
  DiffReport report;
  int round_trips = 0;
  auto manifest = SketchBundle(env_, {}, &report, &round_trips);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_GT(round_trips, 1);  // 64 symbols first, then as many as the estimate says
  // Users: A lacks multiples of 50, B multiples of 40, B's multiples of 70 differ.
  const TableDiff& users = Table(report, "User");
  EXPECT_EQ(users.only_in_a, 60u);  // 75 multiples of 40, less 15 of 200
  EXPECT_EQ(users.only_in_b, 45u);
  EXPECT_EQ(users.changed, 26u);    // 42 multiples of 70, less 16 one side lacks
  const TableDiff& follows = Table(report, "Follows");
  EXPECT_EQ(follows.only_in_a, 100u);
  EXPECT_EQ(follows.only_in_b, 2u);  // the third copy of 1->2, and 5->6
  // About 1.4 symbols per differing row (259 here), not per row (6,000).
  EXPECT_LT(report.stats.comparisons, 2 * 259 + 128u);

  // A table too large to reconcile in memory is refused (push then compares trees).
  BundleOptions small;
  small.max_reconcile_rows = 5000;
  ASSERT_TRUE(env_->RemoveFile("/bundle.kzb").ok());
  EXPECT_EQ(SketchBundle(env_, small).status().code(), Status::Code::kUnsupported);
  ASSERT_TRUE(SketchBundle(env_, {}).ok());

  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->root, manifest->result_root);
  EXPECT_TRUE(Diff("/a", "/b").identical);
  ExpectNoLeftovers();

  WriteExport("/c", users_b, follows_b);
  ApplyOptions as_cypher;
  as_cypher.as_cypher = true;
  auto refused = ApplyBundle(env_, "/bundle.kzb", "/c", as_cypher);
  EXPECT_EQ(refused.status().code(), Status::Code::kRefused) << refused.status().ToString();
  auto cypher = WriteCypher(env_, "/bundle.kzb", "/cypher", "");
  EXPECT_EQ(cypher.code(), Status::Code::kRefused) << cypher.ToString();
}

// Without deletes (a plain push): A's new rows arrive, B's own rows stay,
// and the result root counts them (their sums come from B).
TEST_F(ApplyTest, SketchBundleWithoutDeletesKeepsBsRows) {
  WriteAAndB();
  BundleOptions options;
  options.deletes = false;
  DiffReport report;
  int round_trips = 0;
  auto manifest = SketchBundle(env_, options, &report, &round_trips);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->Option("deletes"), "no");
  EXPECT_EQ(Table(report, "User").only_in_b, 1u);     // zed stays
  EXPECT_EQ(Table(report, "User").changed, 1u);       // bob
  EXPECT_EQ(Table(report, "Follows").only_in_b, 2u);  // 2->3 since 2019 and 9->1 stay
  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->root, manifest->result_root);
  DiffReport after = Diff("/a", "/b");
  EXPECT_EQ(Table(after, "User").only_in_a + Table(after, "User").changed, 0u);
  EXPECT_EQ(Table(after, "User").only_in_b, 1u);
  EXPECT_EQ(Table(after, "Follows").only_in_a, 0u);
  EXPECT_EQ(Table(after, "Follows").only_in_b, 2u);
  // What the tree descent makes of the same replicas, applied to a copy of B
  // as it was: the same result.
  WriteAAndB();
  ASSERT_TRUE(WriteBundle(env_, "/a", "/b", "/descent.kzb", options).ok());
  auto descent = ApplyBundle(env_, "/descent.kzb", "/b", {});
  ASSERT_TRUE(descent.ok()) << descent.status().ToString();
  EXPECT_EQ(descent->root, manifest->result_root);
  ASSERT_TRUE(env_->RemoveFile("/descent.kzb").ok());
}

// Random replicas: updates, inserts, deletes, duplicate rels, NULLs.
struct RandomPair {
  std::string users_a, users_b, follows_a, follows_b;
};

RandomPair MakeRandomPair(std::mt19937_64* rng) {
  auto pick = [&](uint64_t n) { return (*rng)() % n; };
  const int users = 50 + static_cast<int>(pick(1500));
  RandomPair p;
  for (int i = 0; i < users; ++i) {
    const std::string row = std::to_string(i) + ",u" + std::to_string(pick(4)) + "," +
                            (pick(10) == 0 ? "" : std::to_string(pick(90)));
    const uint64_t fate = pick(20);
    if (fate != 0) p.users_a += row + "\n";                                // 1 in 20: B only
    if (fate == 1) continue;                                               // A only
    p.users_b += (fate == 2 ? std::to_string(i) + ",changed,1" : row) + "\n";  // changed
  }
  for (int i = 0; i < users * 2; ++i) {
    const std::string row = std::to_string(pick(users)) + "," + std::to_string(pick(users)) + "," +
                            std::to_string(pick(3));
    const uint64_t copies = 1 + (pick(8) == 0 ? pick(3) : 0);
    const uint64_t fate = pick(15);
    for (uint64_t c = 0; c < copies; ++c) {
      if (fate != 0) p.follows_a += row + "\n";
      if (fate != 1 && !(fate == 2 && c == 0)) p.follows_b += row + "\n";  // B: missing, or a copy fewer
    }
  }
  return p;
}

// On random replicas a sketch bundle, with and without deletes, leaves B
// exactly where the tree descent's bundle leaves it.
TEST_F(ApplyTest, SketchAndDescentBundlesAgreeOnRandomReplicas) {
  std::mt19937_64 rng(20261123);
  for (int round = 0; round < 12; ++round) {
    const auto [users_a, users_b, follows_a, follows_b] = MakeRandomPair(&rng);
    for (bool deletes : {true, false}) {
      WriteExport("/a", users_a, follows_a);
      WriteExport("/b", users_b, follows_b);
      BundleOptions options;
      options.deletes = deletes;
      ASSERT_TRUE(WriteBundle(env_, "/a", "/b", "/descent.kzb", options).ok());
      auto descent = ApplyBundle(env_, "/descent.kzb", "/b", {});
      ASSERT_TRUE(descent.ok()) << descent.status().ToString();
      ASSERT_TRUE(env_->RemoveFile("/descent.kzb").ok());

      WriteExport("/b", users_b, follows_b);
      auto manifest = SketchBundle(env_, options);
      ASSERT_TRUE(manifest.ok()) << "round " << round << ": " << manifest.status().ToString();
      auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
      ASSERT_TRUE(applied.ok()) << "round " << round << ": " << applied.status().ToString();
      EXPECT_EQ(applied->root, descent->root) << "round " << round << " deletes " << deletes;
      if (deletes) {
        EXPECT_TRUE(Diff("/a", "/b").identical) << "round " << round;
      }
      ASSERT_TRUE(env_->RemoveFile("/bundle.kzb").ok());
    }
  }
}

// A diff against a remote reconciles differing tables instead of descending
// their trees: on random replicas, with either side remote, it reports what
// the descent reports, row by row.
TEST_F(ApplyTest, DiffByReconciliationAgreesWithTheDescent) {
  std::mt19937_64 rng(20261124);
  DiffOptions rows;
  rows.collect_rows = true;
  rows.threads = 1;
  for (int round = 0; round < 6; ++round) {
    const RandomPair p = MakeRandomPair(&rng);
    WriteExport("/a", p.users_a, p.follows_a);
    WriteExport("/b", p.users_b, p.follows_b);
    auto descent = DiffExports(env_, "/a", "/b", rows);
    ASSERT_TRUE(descent.ok()) << descent.status().ToString();
    auto a = LocalReplica::Open(env_, "/a", {}, 1);
    auto b = LocalReplica::Open(env_, "/b", {}, 1);
    ASSERT_TRUE(a.ok() && b.ok());
    for (bool remote_is_a : {false, true}) {
      CountingSketchPeer peer(remote_is_a ? a.value().get() : b.value().get());
      DiffOptions options = rows;
      options.remote_peer = &peer;
      options.remote_is_a = remote_is_a;
      auto reconciled = DiffReplicas(a.value().get(), b.value().get(), options);
      ASSERT_TRUE(reconciled.ok()) << reconciled.status().ToString();
      EXPECT_GT(peer.round_trips, 0);
      EXPECT_EQ(reconciled->stats.leaves_compared, 0u) << "round " << round << ": a table was descended";
      ASSERT_EQ(reconciled->tables.size(), descent->tables.size());
      for (size_t t = 0; t < descent->tables.size(); ++t) {
        const TableDiff& x = descent->tables[t];
        const TableDiff& y = reconciled->tables[t];
        EXPECT_EQ(std::tie(x.only_in_a, x.only_in_b, x.changed), std::tie(y.only_in_a, y.only_in_b, y.changed))
            << "round " << round << " " << x.table;
        ASSERT_EQ(x.rows.size(), y.rows.size()) << x.table;
        for (size_t i = 0; i < x.rows.size(); ++i) {
          EXPECT_EQ(x.rows[i].sign, y.rows[i].sign) << x.table;
          EXPECT_EQ(x.rows[i].display, y.rows[i].display) << x.table;
        }
      }
    }
  }
}

// The first push to a replica made from an empty database: no symbols at
// all for a table B has no rows of.
TEST_F(ApplyTest, SketchOfAnEmptyTableNeedsNoSymbols) {
  WriteExport("/a", "1,ann,30\n2,bob,41\n", "");
  WriteExport("/b", "", "");
  DiffReport report;
  int round_trips = 0;
  auto manifest = SketchBundle(env_, {}, &report, &round_trips);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(round_trips, 0);
  EXPECT_EQ(report.stats.comparisons, 0u);
  EXPECT_EQ(Table(report, "User").only_in_a, 2u);
  ASSERT_TRUE(ApplyBundle(env_, "/bundle.kzb", "/b", {}).ok());
  EXPECT_TRUE(Diff("/a", "/b").identical);
}

// A changed node row whose old and new elements agree (same key, prints
// equal in their low 24 bits; found here by a birthday search) is invisible
// to a sketch: WriteBundleBySketch must fail (a push then compares trees),
// never write a bundle that leaves the change out.
TEST_F(ApplyTest, SketchRefusesADifferenceItCannotSee) {
  std::map<uint64_t, std::string> seen;  // low 24 print bits -> name
  std::string name_a, name_b;
  for (int i = 0; name_b.empty(); ++i) {
    const std::string name = "n" + std::to_string(i);
    const uint64_t low = merkle::RowPrint(merkle::DigestRow("1," + name + ",30", 0)) & 0xffffff;
    auto [it, inserted] = seen.emplace(low, name);
    if (!inserted) {
      name_a = it->second;
      name_b = name;
    }
  }
  WriteExport("/a", "1," + name_a + ",30\n2,bob,41\n", "1,2,2020\n");
  WriteExport("/b", "1," + name_b + ",30\n2,bob,41\n", "1,2,2020\n");
  ASSERT_FALSE(Diff("/a", "/b").identical);
  auto manifest = SketchBundle(env_, {});
  EXPECT_EQ(manifest.status().code(), Status::Code::kCorrupt) << manifest.status().ToString();
  FileType type;
  uint64_t size = 0;
  EXPECT_FALSE(env_->Stat("/bundle.kzb", &type, &size).ok());

  // A diff against a remote sees it too: the rows reconciled do not
  // explain the roots, so that table is descended.
  auto a = LocalReplica::Open(env_, "/a", {}, 1);
  auto b = LocalReplica::Open(env_, "/b", {}, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  CountingSketchPeer peer(b.value().get());
  DiffOptions options;
  options.remote_peer = &peer;
  auto report = DiffReplicas(a.value().get(), b.value().get(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->identical);
  EXPECT_EQ(Table(report.value(), "User").changed, 1u);
  EXPECT_GT(report->stats.leaves_compared, 0u);
}

TEST_F(ApplyTest, SnapshotIsNotABundle) {
  WriteAAndB();
  ASSERT_TRUE(PackSnapshot(env_, "/a", "/bundle.kzb", {}, 1).ok());
  const auto before = FilesOf("/b");
  auto applied = ApplyBundle(env_, "/bundle.kzb", "/b", {});
  ASSERT_FALSE(applied.ok());
  EXPECT_TRUE(Contains(applied.status().message(), "not a bundle")) << applied.status().ToString();
  EXPECT_EQ(FilesOf("/b"), before);
}

// ---- apply.cypher ----------------------------------------------------------

// WriteCypher publishes its directory with Env::Rename, which MemEnv does not
// do for directories; these tests use a real temporary directory.
class CypherTest : public ApplyTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kuzusync-cypher-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    env_ = Env::Default();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string root_;
};

constexpr const char kOddSchema[] =
    "CREATE NODE TABLE `my table` (`the id` INT64,`na``me` STRING, PRIMARY KEY(`the id`));\n"
    "CREATE REL TABLE `lik``es` (FROM `my table` TO `my table`, `how much` INT64,MANY_MANY);\n";
constexpr const char kOddCopy[] =
    "COPY `my table` FROM \"my table.csv\" (parallel=true);\n"
    "COPY `lik``es` FROM \"likes.csv\" (to='my table', from='my table', parallel=true);\n";

TEST_F(CypherTest, StatementsRunInSafeOrderWithQuotedNamesAndNoValues) {
  auto write = [&](const std::string& dir, const std::string& nodes, const std::string& rels) {
    ASSERT_TRUE(WriteFileAtomically(env_, dir + "/schema.cypher", kOddSchema).ok());
    ASSERT_TRUE(WriteFileAtomically(env_, dir + "/copy.cypher", kOddCopy).ok());
    ASSERT_TRUE(WriteFileAtomically(env_, dir + "/my table.csv", nodes).ok());
    ASSERT_TRUE(WriteFileAtomically(env_, dir + "/likes.csv", rels).ok());
  };
  ASSERT_TRUE(env_->CreateDir(root_ + "/a").ok());
  ASSERT_TRUE(env_->CreateDir(root_ + "/b").ok());
  // A changes 424242's name, lacks 535353, and has its own likes.
  write(root_ + "/a", "424242,qqsecretname\n616161,'); DROP TABLE x; //\n",
        "424242,616161,987654321\n");
  write(root_ + "/b", "424242,oldsecretname\n535353,gonename\n616161,'); DROP TABLE x; //\n",
        "535353,424242,123456789\n");
  const std::string bundle = root_ + "/bundle.kzb";
  ASSERT_TRUE(WriteBundle(env_, root_ + "/a", root_ + "/b", bundle, {}).ok());

  const std::string out = root_ + "/cypher";
  Status s = WriteCypher(env_, bundle, out, "/import/here");
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string cypher;
  ASSERT_TRUE(ReadFileToString(env_, out + "/apply.cypher", &cypher).ok());

  // Order: rel deletes, node deletes, node upserts, rel inserts.
  const size_t rel_delete = cypher.find("DELETE r;");
  const size_t node_delete = cypher.find("DETACH DELETE n;");
  const size_t upsert = cypher.find("MERGE (n:");
  const size_t rel_insert = cypher.find("CREATE (a)-[");
  ASSERT_NE(rel_delete, std::string::npos) << cypher;
  ASSERT_NE(node_delete, std::string::npos) << cypher;
  ASSERT_NE(upsert, std::string::npos) << cypher;
  ASSERT_NE(rel_insert, std::string::npos) << cypher;
  EXPECT_LT(rel_delete, node_delete);
  EXPECT_LT(node_delete, upsert);
  EXPECT_LT(upsert, rel_insert);

  // Every identifier is backquoted, backquotes doubled.
  EXPECT_TRUE(Contains(cypher, "MATCH (n:`my table` {`the id`: c0}) DETACH DELETE n;")) << cypher;
  EXPECT_TRUE(Contains(cypher, "MERGE (n:`my table` {`the id`: c0}) SET n.`na``me` = c1;")) << cypher;
  EXPECT_TRUE(Contains(cypher, "-[r:`lik``es`]->")) << cypher;
  EXPECT_TRUE(Contains(cypher, "CREATE (a)-[:`lik``es` {`how much`: c2}]->(b);")) << cypher;
  EXPECT_TRUE(Contains(cypher, "FROM '/import/here/")) << cypher;

  // No value from the data is in the statements; they are in the data files.
  std::string data_files;
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    if (entry.path().filename() == "apply.cypher") continue;
    std::string data;
    ASSERT_TRUE(ReadFileToString(env_, entry.path().string(), &data).ok());
    data_files += data;
  }
  for (const char* value : {"424242", "535353", "616161", "qqsecretname", "gonename",
                                   "987654321", "123456789", "DROP TABLE"}) {
    EXPECT_FALSE(Contains(cypher, value)) << value << " appears in apply.cypher:\n" << cypher;
  }
  for (const char* value : {"424242", "535353", "qqsecretname", "987654321", "123456789"}) {
    EXPECT_TRUE(Contains(data_files, value)) << value << " is in no data file";
  }

  // Nothing is left beside the published directory, and it is never overwritten.
  for (const auto& entry : std::filesystem::directory_iterator(root_)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "a" || name == "b" || name == "bundle.kzb" || name == "cypher") << name;
  }
  EXPECT_EQ(WriteCypher(env_, bundle, out, "/import/here").code(), Status::Code::kRefused);
}

TEST(CypherMemEnvTest, WriteCypherOnMemEnv) {
  // Documents the MemEnv limitation: Rename moves files only, so publishing
  // the built directory fails there.
  std::unique_ptr<Env> env = NewMemEnv();
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/a/schema.cypher", kSchema).ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/a/copy.cypher", kCopy).ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/a/User.csv", "1,ann,30\n").ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/a/Follows_User_User.csv", "").ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/b/schema.cypher", kSchema).ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/b/copy.cypher", kCopy).ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/b/User.csv", "").ok());
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/b/Follows_User_User.csv", "").ok());
  ASSERT_TRUE(WriteBundle(env.get(), "/a", "/b", "/bundle.kzb", {}).ok());
  Status s = WriteCypher(env.get(), "/bundle.kzb", "/cypher", "/cypher");
  if (!s.ok()) GTEST_SKIP() << "MemEnv cannot publish WriteCypher's directory: " << s.ToString();
  std::string cypher;
  EXPECT_TRUE(ReadFileToString(env.get(), "/cypher/apply.cypher", &cypher).ok());
}

}  // namespace
}  // namespace kuzusync
