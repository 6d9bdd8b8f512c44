// Tests for collecting rows by element where hashing found them: the rows
// must be exactly those a scan collects, and a file changed since hashing
// must be scanned instead.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>

#include "diff/diff.h"
#include "diff/row_encoding.h"
#include "tests/unit/test_util.h"

namespace kuzusync {
namespace {

// Counts how data files are opened (a scan reads them front to back, the
// rows of a location are read at offsets), and can give every file one
// identity that never changes, as a file rewritten within one timestamp
// tick and at the same size looks.
class WatchingEnv final : public EnvWrapper {
 public:
  explicit WatchingEnv(Env* target) : EnvWrapper(target) {}

  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* result) override {
    if (IsDataFile(path)) ++scanned;
    return EnvWrapper::NewSequentialFile(path, result);
  }
  Status NewRandomAccessFile(const std::string& path, std::unique_ptr<RandomAccessFile>* result) override {
    if (IsDataFile(path)) ++read_at_offsets;
    return EnvWrapper::NewRandomAccessFile(path, result);
  }
  Status FileIdentity(const std::string& path, std::string* identity, double* age_seconds) override {
    if (!frozen_identities) return EnvWrapper::FileIdentity(path, identity, age_seconds);
    *identity = "never changes";
    *age_seconds = 1e9;
    return Status::Ok();
  }

  void ResetCounts() {
    scanned = 0;
    read_at_offsets = 0;
  }

  std::atomic<int> scanned{0};
  std::atomic<int> read_at_offsets{0};
  bool frozen_identities = false;

 private:
  static bool IsDataFile(const std::string& path) {
    return path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  }
};

// A cache in memory that keeps elements (never locations).
class MemoryCache final : public TreeCache {
 public:
  std::optional<merkle::Tree> Lookup(const std::string& key, TableElements* wanted) override {
    auto it = trees.find(key);
    auto has = elements.find(key);
    if (it == trees.end() || (wanted != nullptr && has == elements.end())) return std::nullopt;
    if (wanted != nullptr) *wanted = has->second;
    return it->second;
  }
  void Store(const std::string& key, const merkle::Tree& tree, const TableElements* kept) override {
    trees[key] = tree;
    if (kept != nullptr) elements[key] = *kept;
  }
  void StoreSymbols(const std::string&, const std::vector<merkle::CodedSymbol>&) override {}

  std::map<std::string, merkle::Tree> trees;
  std::map<std::string, TableElements> elements;
};

// Two node tables and a rel table of two FROM/TO pairs; User has two files
// of different dialects, and every dialect of Kuzu's COPY is somewhere.
constexpr const char kSchema[] =
    "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`bio` STRING, PRIMARY KEY(`id`));\n"
    "CREATE NODE TABLE `Org` (`id` STRING,`about` STRING, PRIMARY KEY(`id`));\n"
    "CREATE REL TABLE `Follows` (FROM `User` TO `User`, FROM `User` TO `Org`, `since` INT64,`note` STRING,"
    "MANY_MANY);\n";
constexpr const char kCopy[] =
    "COPY `User` (`id`,`name`,`bio`) FROM \"User.csv\" (header=true);\n"
    "COPY `User` (`id`,`name`,`bio`) FROM \"User_1.csv\" (header=true, delim='|');\n"
    "COPY `Org` (`id`,`about`) FROM \"Org.csv\" (delim='|');\n"
    "COPY `Follows` (`since`,`note`) FROM \"Follows_User_User.csv\" (from='User', to='User');\n"
    "COPY `Follows` (`since`,`note`) FROM \"Follows_User_Org.csv\" (from='User', to='Org', header=true);\n";

// A value of every kind a row may hold: plain, quoted for a delimiter or a
// quote, a line break (LF or CRLF) inside quotes, NULL, empty, and values
// longer than a read's first guess (4 KB) and than its window (64 KB).
std::string Value(std::mt19937_64& random, char delimiter, int i) {
  switch (random() % 12) {
    case 0: return "";  // NULL
    case 1: return "\"\"";
    case 2: return std::string("\"has ") + delimiter + " in it\"";
    case 3: return "\"say \"\"hi\"\" " + std::to_string(i) + "\"";
    case 4: return "\"two\nlines " + std::to_string(i) + "\"";
    case 5: return "\"crlf\r\ninside " + std::to_string(i) + "\"";
    case 6:
      if (i % 9 == 0) return std::string(5000 + i % 97, 'l');
      if (i % 97 == 0) return "\"" + std::string(90000 + i, 'w') + "\nend\"";
      [[fallthrough]];
    default: return "v" + std::to_string(i);
  }
}

std::string Users(int from, int to, char delimiter, const std::string& line_end, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string out = std::string("id") + delimiter + "name" + delimiter + "bio" + line_end;
  for (int i = from; i < to; ++i) {
    out += std::to_string(i) + delimiter + Value(random, delimiter, i) + delimiter + Value(random, delimiter, i) +
           line_end;
  }
  return out;
}

// Rel rows where some rows come three times, far apart and near, with
// quoted and long notes; the last row has no line break.
std::string Follows(const std::string& to_prefix, bool header, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string out = header ? "from,to,since,note\n" : "";
  out += "0," + to_prefix + "0,1990,first\n";
  const std::string repeated = "1," + to_prefix + "2,2020,\"again\nand again\"\n";
  for (int i = 0; i < 3000; ++i) {
    if (i % 1000 == 7 || i == 8) out += repeated;
    if (i % 500 == 3) out += "3," + to_prefix + "4,,\n";  // NULLs, repeated too
    out += std::to_string(i % 400) + "," + to_prefix + std::to_string((i * 7) % 300) + "," +
           std::to_string(2000 + i % 20) + "," + Value(random, ',', i) + "\n";
  }
  out += "5," + to_prefix + "6,1999,last";
  return out;
}

std::string Orgs() {
  std::string out;
  for (int i = 0; i < 300; ++i) out += "o" + std::to_string(i) + "|\"about|" + std::to_string(i) + "\"\n";
  return out;
}

// Every field of the rows, so that two collections compare as text.
std::string Dump(const LeafRows& rows) {
  std::string out;
  for (const auto& [key, row] : rows.by_key) {
    out += "node " + key + " " + merkle::ToHex(row.digest.data(), row.digest.size()) + " [" + row.display +
           "] csv=" + row.csv + "\n";
  }
  for (const auto& [digest, row] : rows.by_digest) {
    out += "rel x" + std::to_string(row.count) + " " + merkle::ToHex(row.digest.data(), row.digest.size()) + " [" +
           row.display + "] " + row.connection.from + "->" + row.connection.to + " " + row.from_key + " " +
           row.to_key + " csv=" + row.csv + "\n";
  }
  return out;
}

// The longest line of `text` and the number of lines longer than `size`.
std::pair<size_t, size_t> LongLines(const std::string& text, size_t size) {
  size_t longest = 0, longer = 0;
  for (size_t begin = 0, end; begin < text.size(); begin = end + 1) {
    end = std::min(text.find('\n', begin), text.size());
    longest = std::max(longest, end - begin);
    longer += end - begin > size;
  }
  return {longest, longer};
}

class CollectByLocationTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    const std::map<std::string, std::string> files = {{"User.csv", Users(0, 10000, ',', "\r\n", 1)},
                                                      {"User_1.csv", Users(10000, 16000, '|', "\n", 2)},
                                                      {"Org.csv", Orgs()},
                                                      {"Follows_User_User.csv", Follows("", false, 3)},
                                                      {"Follows_User_Org.csv", Follows("o", true, 4)}};
    WriteTestExport(env_.get(), "/src", kSchema, kCopy, files);
    // Rows longer than a read's window, and than its first guess; User is
    // large enough for a hashing pipeline and the largest table.
    for (const std::string name : {"User.csv", "User_1.csv", "Follows_User_User.csv"}) {
      ASSERT_GT(LongLines(files.at(name), 68 << 10).first, 68u << 10) << name;
      ASSERT_GT(LongLines(files.at(name), 4 << 10).second, 5u) << name;
    }
    const size_t users = files.at("User.csv").size() + files.at("User_1.csv").size();
    ASSERT_GT(users, 2 * (files.at("Follows_User_User.csv").size() + files.at("Follows_User_Org.csv").size()));
    ASSERT_GT(files.at("User.csv").size(), 256u << 10);
  }

  // Opens /src as a push's source does: hashed with elements (and so with
  // their rows' locations).
  void OpenSource(TreeCache* cache = nullptr) {
    auto replica = LocalReplica::Open(&watching_, "/src", {}, threads(), merkle::kTargetLeafRows, cache,
                                      /*with_elements=*/true);
    ASSERT_TRUE(replica.ok()) << replica.status().ToString();
    source_ = std::move(replica).value();
  }

  // The table's elements in the order a scan of the files meets its rows.
  std::vector<uint64_t> ScannedElements(const std::string& table) {
    auto exported = OpenExport(env_.get(), "/src");
    EXPECT_TRUE(exported.ok());
    ExportRowSource rows(env_.get(), &exported.value());
    std::vector<uint64_t> elements;
    EXPECT_TRUE(rows.CollectElements(*exported->schema.Find(table), &elements).ok());
    return elements;
  }

  // What a scan collects for `calls` (each a list of elements, into the
  // same LeafRows) from /src as it is now.
  std::string Scan(const std::string& table, const std::vector<std::vector<uint64_t>>& calls) {
    auto exported = OpenExport(env_.get(), "/src");
    EXPECT_TRUE(exported.ok());
    ExportRowSource rows(env_.get(), &exported.value());
    LeafRows found;
    for (const auto& elements : calls) {
      Status s = rows.CollectRowsByElement(*exported->schema.Find(table), elements, true, &found);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return Dump(found);
  }

  // What the opened source collects, counting how it read the files.
  std::string Collect(const std::string& table, const std::vector<std::vector<uint64_t>>& calls) {
    watching_.ResetCounts();
    LeafRows found;
    for (const auto& elements : calls) {
      Status s = source_->rows()->CollectRowsByElement(*source_->schema().Find(table), elements, true, &found);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return Dump(found);
  }

  int threads() const { return GetParam(); }

  std::unique_ptr<Env> env_ = NewMemEnv();
  WatchingEnv watching_{env_.get()};
  std::unique_ptr<LocalReplica> source_;
};

TEST_P(CollectByLocationTest, SameRowsAsAScanWithoutScanning) {
  OpenSource();
  for (const std::string table : {"User", "Org", "Follows"}) {
    const std::vector<uint64_t> all = ScannedElements(table);
    ASSERT_GT(all.size(), 250u);
    std::vector<std::vector<uint64_t>> choices = {all, {all[0]}, {all.back()}, {}, {12345, all[3]}};
    std::vector<uint64_t> every_seventh, first_ones, near_ones;
    for (size_t i = 0; i < all.size(); i += 7) every_seventh.push_back(all[i]);
    for (size_t i = 0; i < 40; ++i) first_ones.push_back(all[i]);
    for (size_t i = 0; i + 1 < all.size(); i += 97) near_ones.insert(near_ones.end(), {all[i], all[i + 1]});
    choices.insert(choices.end(), {every_seventh, first_ones, near_ones});
    for (size_t c = 0; c < choices.size(); ++c) {
      SCOPED_TRACE(table + ", choice " + std::to_string(c));
      const std::string scanned = Scan(table, {choices[c]});
      EXPECT_EQ(Collect(table, {choices[c]}), scanned);
      EXPECT_EQ(watching_.scanned, 0);  // read where hashing found the rows
      EXPECT_EQ(watching_.read_at_offsets > 0, !choices[c].empty());
    }
    // Into rows collected already, as a merge asks in parts.
    const std::vector<uint64_t> odd(every_seventh.begin() + 1, every_seventh.end());
    EXPECT_EQ(Collect(table, {first_ones, odd, {all.back()}}), Scan(table, {first_ones, odd, {all.back()}}));
    EXPECT_EQ(watching_.scanned, 0);
  }
}

// Identical rel rows are distinct elements: asking for one copy, or for the
// copies one call at a time, collects as many rows as the scan does, though
// hashing may have numbered the copies in another order.
TEST_P(CollectByLocationTest, CopiesOfARelRowCountAsTheScanCounts) {
  OpenSource();
  auto exported = OpenExport(env_.get(), "/src");
  ASSERT_TRUE(exported.ok());
  const TableSchema& follows = *exported->schema.Find("Follows");
  const std::vector<uint64_t> all = ScannedElements("Follows");
  const std::set<uint64_t> present(all.begin(), all.end());
  // The rows Follows() repeats, in both files: 4 and 6 copies.
  const std::vector<std::pair<size_t, std::vector<std::string>>> repeated = {
      {0, {"1", "2", "2020", "again\nand again"}}, {0, {"3", "4", "", ""}},
      {1, {"1", "o2", "2020", "again\nand again"}}, {1, {"3", "o4", "", ""}}};
  for (const auto& [file, fields] : repeated) {
    SCOPED_TRACE(fields[0] + " -> " + fields[1]);
    const std::vector<std::string_view> views(fields.begin(), fields.end());
    std::vector<uint8_t> nulls;
    for (const std::string& f : fields) nulls.push_back(f.empty());
    const RowEncoder encoder(follows, *exported->FilesOf("Follows")[file]);
    const uint64_t print = merkle::RowPrint(encoder.Digest(RowView{&views, &nulls, 0}));
    std::vector<uint64_t> copies;
    for (uint64_t copy = 0; copy < 10; ++copy) {
      const uint64_t element = merkle::RelSketchElement(merkle::KeyHash(fields[0]), print, copy);
      if (present.count(element) != 0) copies.push_back(element);
    }
    ASSERT_EQ(copies.size(), fields[1].back() == '2' ? 4u : 6u);
    EXPECT_EQ(Collect("Follows", {{copies[1]}}), Scan("Follows", {{copies[1]}}));
    EXPECT_EQ(Collect("Follows", {{copies[3], copies[0]}}), Scan("Follows", {{copies[3], copies[0]}}));
    EXPECT_EQ(Collect("Follows", {{copies[0]}, {copies[2]}, {copies[1]}}),
              Scan("Follows", {{copies[0]}, {copies[2]}, {copies[1]}}));
    EXPECT_EQ(Collect("Follows", {copies}), Scan("Follows", {copies}));
    EXPECT_EQ(watching_.scanned, 0);
  }
}

// A file changed after hashing is scanned: the rows are what it holds now.
TEST_P(CollectByLocationTest, AFileChangedSinceHashingIsScanned) {
  OpenSource();
  const std::vector<uint64_t> all = ScannedElements("User");
  std::vector<uint64_t> some;
  for (size_t i = 0; i < all.size(); i += 5) some.push_back(all[i]);
  // Rows added at the end: those hashed are where they were, but the file's
  // identity changed, and that is enough.
  std::string text;
  ASSERT_TRUE(ReadFileToString(env_.get(), "/src/User.csv", &text).ok());
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/User.csv", text + "20000,new,\r\n").ok());
  EXPECT_EQ(Collect("User", {some}), Scan("User", {some}));
  EXPECT_GT(watching_.scanned, 0);

  // Rewritten shorter, with other line breaks.
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/User.csv", Users(0, 3000, ',', "\n", 1)).ok());
  const std::string scanned = Scan("User", {some});
  EXPECT_EQ(Collect("User", {some}), scanned);
  EXPECT_GT(watching_.scanned, 0);
  EXPECT_NE(scanned, "");
}

// When the identity does not tell (same size, same timestamp), the rows
// themselves do: one edited in place, or rows that moved.
TEST_P(CollectByLocationTest, ARowThatIsNotAsHashedIsFoundByAScan) {
  watching_.frozen_identities = true;
  OpenSource();
  const std::vector<uint64_t> all = ScannedElements("Follows");
  std::vector<uint64_t> some;
  for (size_t i = 0; i < all.size(); i += 3) some.push_back(all[i]);
  std::string edited;
  ASSERT_TRUE(ReadFileToString(env_.get(), "/src/Follows_User_User.csv", &edited).ok());
  const size_t at = edited.find(",2020,");  // a repeated row
  ASSERT_NE(at, std::string::npos);
  edited[at + 4] = '9';  // 2020 -> 2029 in place
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/Follows_User_User.csv", edited).ok());
  EXPECT_EQ(Collect("Follows", {all}), Scan("Follows", {all}));  // the edited row among them
  EXPECT_GT(watching_.scanned, 0);

  // The first line (one row) moved to the end: every row starts elsewhere.
  const size_t first_end = edited.find('\n') + 1;
  std::string moved = edited.substr(first_end) + "\n" + edited.substr(0, first_end - 1);
  ASSERT_EQ(moved.size(), edited.size());
  ASSERT_TRUE(WriteFileAtomically(env_.get(), "/src/Follows_User_User.csv", moved).ok());
  EXPECT_EQ(Collect("Follows", {some}), Scan("Follows", {some}));
  EXPECT_GT(watching_.scanned, 0);
}

// Elements from the cache come without locations: the rows are scanned.
TEST_P(CollectByLocationTest, ElementsFromTheCacheAreCollectedByAScan) {
  MemoryCache cache;
  OpenSource(&cache);
  OpenSource(&cache);  // every table from the cache
  const std::vector<uint64_t> all = ScannedElements("User");
  const std::vector<uint64_t> some(all.begin() + 10, all.begin() + 30);
  EXPECT_EQ(Collect("User", {some}), Scan("User", {some}));
  EXPECT_GT(watching_.scanned, 0);
  EXPECT_EQ(watching_.read_at_offsets, 0);
}

// One thread hashes inline; more hash User (the largest table) in a
// pipeline whose workers take batches in any order.
INSTANTIATE_TEST_SUITE_P(Threads, CollectByLocationTest, ::testing::Values(1, 4));

}  // namespace
}  // namespace kuzusync
