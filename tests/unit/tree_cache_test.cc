// Tests for the tree cache: unchanged tables are not hashed again, any
// change to a data file misses, and a damaged cache never yields a tree.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "diff/diff.h"
#include "tests/unit/test_util.h"

namespace kuzusync {
namespace {

class CountingCache final : public TreeCache {
 public:
  std::optional<merkle::Tree> Lookup(const std::string& key, TableElements* wanted) override {
    auto it = trees.find(key);
    auto has = elements.find(key);
    if (it == trees.end() || (wanted != nullptr && has == elements.end())) {
      ++misses;
      return std::nullopt;
    }
    ++hits;
    if (wanted != nullptr) *wanted = has->second;
    return it->second;
  }
  void Store(const std::string& key, const merkle::Tree& tree, const TableElements* kept) override {
    trees[key] = tree;
    if (kept != nullptr) {
      elements[key] = *kept;
    } else {
      elements.erase(key);
    }
  }
  void StoreSymbols(const std::string& key, const std::vector<merkle::CodedSymbol>& symbols) override {
    auto has = elements.find(key);
    if (has != elements.end()) has->second.symbols = symbols;
  }

  std::map<std::string, merkle::Tree> trees;
  std::map<std::string, TableElements> elements;
  int hits = 0;
  int misses = 0;
};

constexpr const char kSchema[] =
    "CREATE NODE TABLE `User` (`id` INT64,`name` STRING, PRIMARY KEY(`id`));\n"
    "CREATE NODE TABLE `City` (`name` STRING, PRIMARY KEY(`name`));\n";
constexpr const char kCopy[] =
    "COPY `User` FROM \"User.csv\";\nCOPY `City` FROM \"City.csv\";\n";

TEST(TreeCacheTest, UnchangedTablesComeFromTheCacheChangedOnesAreHashed) {
  auto env = NewMemEnv();
  WriteTestExport(env.get(), "/r", kSchema, kCopy, {{"User.csv", "1,ann\n2,bob\n"}, {"City.csv", "Paris\nRome\n"}});
  CountingCache cache;

  auto open = [&] { return OpenExport(env.get(), "/r"); };
  auto first_export = open();
  ASSERT_TRUE(first_export.ok());
  auto first = HashExports(env.get(), {&first_export.value()}, {{}}, 1, merkle::kTargetLeafRows, &cache);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(cache.misses, 2);
  EXPECT_EQ(cache.trees.size(), 2u);

  auto again = HashExports(env.get(), {&first_export.value()}, {{}}, 1, merkle::kTargetLeafRows, &cache);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(cache.hits, 2);
  EXPECT_EQ(again.value()[0][0].tree.RootHex(), first.value()[0][0].tree.RootHex());

  // Rewriting a file changes its identity: that table is hashed again and
  // its new content is seen; the other still comes from the cache.
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/r/User.csv", "1,ann\n2,bea\n").ok());
  auto changed_export = open();
  ASSERT_TRUE(changed_export.ok());
  auto changed = HashExports(env.get(), {&changed_export.value()}, {{}}, 1, merkle::kTargetLeafRows, &cache);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(cache.hits, 3);
  EXPECT_EQ(cache.misses, 3);
  EXPECT_NE(changed.value()[0][0].tree.RootHex(), first.value()[0][0].tree.RootHex());
  EXPECT_EQ(changed.value()[0][1].tree.RootHex(), first.value()[0][1].tree.RootHex());

  // Another tree shape is another key.
  auto network = HashExports(env.get(), {&changed_export.value()}, {{}}, 1, merkle::kNetworkLeafRows, &cache);
  ASSERT_TRUE(network.ok());
  EXPECT_EQ(cache.misses, 5);
}

// Elements are kept with the tree when they are asked for: a tree cached
// without them is hashed again (once), and cached elements are what a
// scan of the table lists.
TEST(TreeCacheTest, ElementsComeFromTheCacheOnceKept) {
  auto env = NewMemEnv();
  WriteTestExport(env.get(), "/r", kSchema, kCopy, {{"User.csv", "1,ann\n2,bob\n3,cy\n"}, {"City.csv", "Paris\nRome\n"}});
  CountingCache cache;
  ASSERT_TRUE(LocalReplica::Open(env.get(), "/r", {}, 1, merkle::kTargetLeafRows, &cache).ok());
  EXPECT_EQ(cache.misses, 2);
  EXPECT_TRUE(cache.elements.empty());

  auto with = LocalReplica::Open(env.get(), "/r", {}, 1, merkle::kTargetLeafRows, &cache, true);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(cache.misses, 4);  // trees without elements do not do
  ASSERT_EQ(cache.elements.size(), 2u);

  auto again = LocalReplica::Open(env.get(), "/r", {}, 1, merkle::kTargetLeafRows, &cache, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(cache.misses, 4);
  EXPECT_EQ(cache.hits, 2);
  auto plain = LocalReplica::Open(env.get(), "/r", {}, 1);  // no cache: elements found by a scan
  ASSERT_TRUE(plain.ok());
  for (const TableSchema& table : plain.value()->schema().tables) {
    std::vector<uint64_t> cached, scanned;
    ASSERT_TRUE(again.value()->rows()->CollectElements(table, &cached).ok());
    ASSERT_TRUE(plain.value()->rows()->CollectElements(table, &scanned).ok());
    std::sort(cached.begin(), cached.end());
    std::sort(scanned.begin(), scanned.end());
    EXPECT_EQ(cached, scanned) << table.name;
    EXPECT_EQ(cached.size(), table.name == "User" ? 3u : 2u);
  }
}

// After an apply, the new version's trees and elements come from the
// cache, and they are what hashing the new files gives: rows changed,
// deleted and added, and identical rel rows gained and lost.
TEST(TreeCacheTest, ApplyKeepsTheNewVersionsTreesAndElements) {
  constexpr const char kGraph[] =
      "CREATE NODE TABLE `User` (`id` INT64,`name` STRING, PRIMARY KEY(`id`));\n"
      "CREATE REL TABLE `Follows` (FROM `User` TO `User`, `since` INT64,MANY_MANY);\n";
  constexpr const char kGraphCopy[] =
      "COPY `User` FROM \"User.csv\";\n"
      "COPY `Follows` FROM \"Follows.csv\" (from='User', to='User');\n";
  auto env = NewMemEnv();
  WriteTestExport(env.get(), "/a", kGraph, kGraphCopy,
                  {{"User.csv", "1,ann\n2,bea\n4,dee\n5,eve\n"},
                   {"Follows.csv", "1,2,2020\n1,2,2020\n1,2,2020\n2,4,2021\n5,1,2024\n5,1,2024\n"}});
  WriteTestExport(env.get(), "/b", kGraph, kGraphCopy,
                  {{"User.csv", "1,ann\n2,bob\n3,cy\n5,eve\n"},
                   {"Follows.csv", "1,2,2020\n2,3,2019\n2,4,2021\n2,4,2021\n5,1,2024\n"}});
  ASSERT_TRUE(WriteBundle(env.get(), "/a", "/b", "/bundle.kzb", {}).ok());
  CountingCache cache;
  auto target = LocalReplica::Open(env.get(), "/b", {}, 1, merkle::kNetworkLeafRows, nullptr, true);
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  // The symbols a reconciliation with the old version made.
  constexpr uint64_t kKeptSymbols = 40;
  for (const TableSchema& table : target.value()->schema().tables) {
    merkle::SketchEncoder encoder(target.value()->FindElements(table.name)->elements);
    std::vector<merkle::CodedSymbol> symbols;
    encoder.Extend(kKeptSymbols, &symbols);
    target.value()->rows()->KeepSymbols(table, symbols);
    ASSERT_EQ(target.value()->rows()->KnownSymbols(table), symbols);
  }
  ApplyOptions options;
  options.target = target.value().get();
  auto applied = ApplyBundle(env.get(), "/bundle.kzb", "/b", options);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  KeepTreesOfNewVersion(env.get(), "/b", *target.value(), applied.value(), &cache);
  EXPECT_EQ(cache.trees.size(), 2u);
  EXPECT_EQ(cache.elements.size(), 2u);

  auto cached = LocalReplica::Open(env.get(), "/b", {}, 1, merkle::kNetworkLeafRows, &cache, true);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cache.hits, 2);
  auto hashed = LocalReplica::Open(env.get(), "/b", {}, 1, merkle::kNetworkLeafRows, nullptr, true);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(ReplicaRoot(*cached.value()), applied->root);
  for (const TableSchema& table : hashed.value()->schema().tables) {
    const merkle::Tree* from_cache = cached.value()->FindTree(table.name);
    const merkle::Tree* fresh = hashed.value()->FindTree(table.name);
    ASSERT_EQ(from_cache->depth(), fresh->depth()) << table.name;
    for (int level = 0; level <= fresh->depth(); ++level) {
      EXPECT_EQ(from_cache->level(level), fresh->level(level)) << table.name << " level " << level;
    }
    std::vector<uint64_t> a = cached.value()->FindElements(table.name)->elements;
    std::vector<uint64_t> b = hashed.value()->FindElements(table.name)->elements;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << table.name;
    // The symbols the old version had, changed with the rows: those of the
    // new version's elements, as many.
    merkle::SketchEncoder encoder(b);
    std::vector<merkle::CodedSymbol> expected;
    encoder.Extend(kKeptSymbols, &expected);
    EXPECT_EQ(cached.value()->rows()->KnownSymbols(table), expected) << table.name;
  }
}

class SqliteTreeCacheTest : public TempReplicaTest {};

TEST_F(SqliteTreeCacheTest, StoresBesideTheReplicaAndSurvivesReopening) {
  merkle::TreeBuilder builder(1);
  for (int i = 0; i < 1000; ++i) builder.Add(merkle::KeyHash(std::to_string(i)), merkle::DigestRow(std::to_string(i), 0));
  merkle::Tree tree = std::move(builder).Finish();
  {
    auto cache = OpenReplicaTreeCache(replica_);
    ASSERT_NE(cache, nullptr);
    cache->Store("k", tree);
  }
  EXPECT_TRUE(std::filesystem::exists(root_ + "/.replica.kuzusync/state.db"));
  auto cache = OpenReplicaTreeCache(replica_);
  ASSERT_NE(cache, nullptr);
  auto found = cache->Lookup("k");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->RootHex(), tree.RootHex());
  EXPECT_FALSE(cache->Lookup("other").has_value());
  TableElements elements;
  EXPECT_FALSE(cache->Lookup("k", &elements).has_value());  // stored without elements

  const TableElements kept = {{7, 0, ~uint64_t{0}, 42}, {}};
  cache->Store("k", tree, &kept);
  ASSERT_TRUE(cache->Lookup("k", &elements).has_value());  // the same cache waits for its writes
  EXPECT_EQ(elements.elements, kept.elements);
  EXPECT_TRUE(elements.symbols.empty());
  const std::vector<merkle::CodedSymbol> symbols = {{1, 2}, {~uint64_t{0}, 0xffffffff}, {0, 0}};
  cache->StoreSymbols("k", symbols);
  cache->StoreSymbols("other", symbols);  // no elements there: nothing
  cache.reset();  // and finishes them before it goes
  elements = {};
  cache = OpenReplicaTreeCache(replica_);
  ASSERT_TRUE(cache->Lookup("k", &elements).has_value());
  EXPECT_EQ(elements.elements, kept.elements);
  EXPECT_EQ(elements.symbols, symbols);
  EXPECT_FALSE(cache->Lookup("other").has_value());
  // A new store replaces the symbols with its own (none).
  cache->Store("k", tree, &kept);
  ASSERT_TRUE(cache->Lookup("k", &elements).has_value());
  EXPECT_TRUE(elements.symbols.empty());
}

TEST_F(SqliteTreeCacheTest, DamagedEntriesAndNewerSchemasAreNotUsed) {
  merkle::TreeBuilder builder(0);
  merkle::Tree tree = std::move(builder).Finish();
  ASSERT_NE(OpenReplicaTreeCache(replica_), nullptr);
  OpenReplicaTreeCache(replica_)->Store("k", tree);
  Sql("UPDATE trees SET tree = X'00112233' WHERE key = 'k'");
  EXPECT_FALSE(OpenReplicaTreeCache(replica_)->Lookup("k").has_value());
  const TableElements kept = {{1, 2, 3}, {{4, 5}, {6, 7}}};
  OpenReplicaTreeCache(replica_)->Store("e", tree, &kept);
  TableElements elements;
  ASSERT_TRUE(OpenReplicaTreeCache(replica_)->Lookup("e", &elements).has_value());
  EXPECT_EQ(elements.symbols, kept.symbols);
  // One flipped byte among the symbols: they are made again, the elements stand.
  Sql("UPDATE symbols SET symbols = substr(symbols, 1, 20) || X'ff' || substr(symbols, 22) WHERE key = 'e'");
  ASSERT_TRUE(OpenReplicaTreeCache(replica_)->Lookup("e", &elements).has_value());
  EXPECT_EQ(elements.elements, kept.elements);
  EXPECT_TRUE(elements.symbols.empty());
  // One flipped byte among the elements: a miss, not other elements.
  Sql("UPDATE trees SET elements = substr(elements, 1, 20) || X'ff' || substr(elements, 22) WHERE key = 'e'");
  EXPECT_FALSE(OpenReplicaTreeCache(replica_)->Lookup("e", &elements).has_value());
  EXPECT_TRUE(OpenReplicaTreeCache(replica_)->Lookup("e").has_value());  // the tree alone is intact
  Sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  EXPECT_EQ(OpenReplicaTreeCache(replica_), nullptr);
}

}  // namespace
}  // namespace kuzusync

namespace kuzusync {
namespace {

TEST_F(SqliteTreeCacheTest, KeepsTheMostRecentlyUsedThousandTrees) {
  merkle::TreeBuilder builder(0);
  merkle::Tree tree = std::move(builder).Finish();
  auto cache = OpenReplicaTreeCache(replica_);
  ASSERT_NE(cache, nullptr);
  for (int i = 0; i < 1030; ++i) {
    cache->Store("k" + std::to_string(i), tree);
    if (i == 1000) {
      ASSERT_TRUE(cache->Lookup("k0").has_value());  // used again: now recent
    }
  }
  EXPECT_TRUE(cache->Lookup("k0").has_value());
  EXPECT_FALSE(cache->Lookup("k1").has_value());
  EXPECT_FALSE(cache->Lookup("k6").has_value());
  EXPECT_TRUE(cache->Lookup("k7").has_value());
  EXPECT_TRUE(cache->Lookup("k1029").has_value());
}

}  // namespace
}  // namespace kuzusync
