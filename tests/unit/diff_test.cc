// Tests for the comparison: exact counts, logarithmic descent, rel
// multisets, schema differences and bad input, on in-memory exports.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <random>

#include "diff/diff.h"
#include "diff/row_encoding.h"
#include "tests/unit/test_util.h"

namespace kuzusync {
namespace {

constexpr const char kSchema[] =
    "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`age` INT64, PRIMARY KEY(`id`));\n"
    "CREATE REL TABLE `Follows` (FROM `User` TO `User`, `since` INT64,MANY_MANY);\n";
constexpr const char kCopy[] =
    "COPY `User` (`id`,`name`,`age`) FROM \"User.csv\" (parallel=true);\n"
    "COPY `Follows` (`since`) FROM \"Follows_User_User.csv\" (to='User', from='User', parallel=true);\n";

class DiffTest : public ::testing::Test {
 protected:
  // Each row of the User table of the export in `dir`, read as hashing
  // reads it: its digest from its bytes (RowEncoder::Text) and from its
  // parsed fields.
  struct UserRow {
    merkle::RowDigest from_bytes, from_fields;
    bool quoted = false;           // holds a quote
    bool quoted_in_place = false;  // quoted, and its own canonical text
    uint64_t line = 0;
  };
  void ReadUserRows(const std::string& dir, std::vector<UserRow>* out) {
    auto exported = OpenExport(env_.get(), dir);
    ASSERT_TRUE(exported.ok()) << exported.status().ToString();
    const TableSchema& users = *exported->schema.Find("User");
    const DataFile& file = *exported->FilesOf("User")[0];
    RowEncoder encoder(users, file);
    DataFileReader reader;
    ASSERT_TRUE(reader.Open(env_.get(), exported.value(), file, 3, 1).ok());
    while (true) {
      bool has_row = false;
      ASSERT_TRUE(reader.Next(&has_row).ok());
      if (!has_row) return;
      UserRow row;
      row.quoted = reader.quoted();
      row.quoted_in_place = reader.quoted() && merkle::IsCanonicalText(reader.line_text());
      row.line = reader.line();
      row.from_bytes = encoder.Digest(reader);
      row.from_fields = encoder.Digest(reader.Whole());
      out->push_back(row);
    }
  }

  void WriteExport(const std::string& dir, const std::string& users, const std::string& follows,
                   const std::string& schema = kSchema) {
    ASSERT_TRUE(WriteFileAtomically(env_.get(), dir + "/schema.cypher", schema).ok());
    ASSERT_TRUE(WriteFileAtomically(env_.get(), dir + "/copy.cypher", kCopy).ok());
    ASSERT_TRUE(WriteFileAtomically(env_.get(), dir + "/User.csv", users).ok());
    ASSERT_TRUE(WriteFileAtomically(env_.get(), dir + "/Follows_User_User.csv", follows).ok());
  }

  static std::string Users(int from, int to, int skip_every = 0) {
    std::string out;
    for (int i = from; i < to; ++i) {
      if (skip_every != 0 && i % skip_every == 0) continue;
      out += std::to_string(i) + ",user" + std::to_string(i) + "," + std::to_string(20 + i % 50) + "\n";
    }
    return out;
  }

  const TableDiff& Table(const DiffReport& report, const std::string& name) {
    for (const TableDiff& t : report.tables) {
      if (t.table == name) return t;
    }
    ADD_FAILURE() << "no table " << name;
    return report.tables.front();
  }

  std::unique_ptr<Env> env_ = NewMemEnv();
};

TEST_F(DiffTest, IdenticalWhateverTheRowOrderAndQuoting) {
  WriteExport("/a", "1,ann,30\n2,bob,40\n", "1,2,2020\n2,1,\n");
  WriteExport("/b", "2,\"bob\",40\n1,ann,\"30\"\n", "2,1,\n\"1\",2,2020\n");
  auto report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->identical);
  EXPECT_EQ(report->stats.comparisons, 2u);  // one root per table
}

TEST_F(DiffTest, SeedCaseTenThousandMinusTen) {
  // B lacks every 1000th user: 10 rows only in A, found by a descent that
  // compares fewer than 100 node pairs.
  WriteExport("/a", Users(0, 10000), "");
  WriteExport("/b", Users(0, 10000, 1000), "");
  auto report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->identical);
  const TableDiff& users = Table(report.value(), "User");
  EXPECT_EQ(users.rows_a, 10000u);
  EXPECT_EQ(users.rows_b, 9990u);
  EXPECT_EQ(users.only_in_a, 10u);
  EXPECT_EQ(users.only_in_b, 0u);
  EXPECT_EQ(users.changed, 0u);
  EXPECT_LT(report->stats.comparisons, 100u);
  EXPECT_LE(report->stats.leaves_compared, 10u);
}

TEST_F(DiffTest, ChangedRowsAndRowListing) {
  WriteExport("/a", "1,ann,30\n2,bob,40\n3,cy,50\n", "");
  WriteExport("/b", "1,ann,31\n2,bob,40\n4,dee,60\n", "");
  DiffOptions options;
  options.collect_rows = true;
  auto report = DiffExports(env_.get(), "/a", "/b", options);
  ASSERT_TRUE(report.ok());
  const TableDiff& users = Table(report.value(), "User");
  EXPECT_EQ(users.only_in_a, 1u);
  EXPECT_EQ(users.only_in_b, 1u);
  EXPECT_EQ(users.changed, 1u);
  ASSERT_EQ(users.rows.size(), 3u);
  EXPECT_EQ(users.rows[0].sign, '~');
  EXPECT_EQ(users.rows[0].display, "1");
  EXPECT_EQ(users.rows[1].sign, '+');
  EXPECT_EQ(users.rows[1].display, "3");
  EXPECT_EQ(users.rows[2].sign, '-');
  EXPECT_EQ(users.rows[2].display, "4");
}

TEST_F(DiffTest, RelsAreMultisetsOfWholeRows) {
  // A has the 1->2 edge twice, B once; B's 2->1 edge has another property.
  WriteExport("/a", Users(0, 5), "1,2,2020\n1,2,2020\n2,1,2019\n");
  WriteExport("/b", Users(0, 5), "1,2,2020\n2,1,2018\n");
  auto report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_TRUE(report.ok());
  const TableDiff& follows = Table(report.value(), "Follows");
  EXPECT_EQ(follows.kind, TableKind::kRel);
  EXPECT_EQ(follows.rows_a, 3u);
  EXPECT_EQ(follows.rows_b, 2u);
  EXPECT_EQ(follows.only_in_a, 2u);
  EXPECT_EQ(follows.only_in_b, 1u);
  EXPECT_EQ(follows.changed, 0u);
}

// Set-reconciliation elements: every copy of an identical rel row is its
// own element, and hashing finds the same elements as a scan.
TEST_F(DiffTest, CopiesOfARelRowAreDistinctElements) {
  WriteExport("/a", Users(0, 5), "1,2,2020\n1,2,2020\n1,2,2020\n2,1,2019\n");
  auto a = OpenExport(env_.get(), "/a");
  ASSERT_TRUE(a.ok());
  const TableSchema& follows = *a->schema.Find("Follows");
  ExportRowSource rows(env_.get(), &a.value());
  std::vector<uint64_t> scanned, hashed;
  ASSERT_TRUE(rows.CollectElements(follows, &scanned).ok());
  ASSERT_TRUE(HashTable(env_.get(), a.value(), follows, merkle::kTargetLeafRows, 1, &hashed).ok());
  std::sort(scanned.begin(), scanned.end());
  std::sort(hashed.begin(), hashed.end());
  EXPECT_EQ(scanned, hashed);
  EXPECT_EQ(std::set<uint64_t>(scanned.begin(), scanned.end()).size(), 4u);
  LeafRows found;
  ASSERT_TRUE(rows.CollectRowsByElement(follows, {scanned[0], scanned[1]}, false, &found).ok());
  uint64_t copies = 0;
  for (const auto& [digest, row] : found.by_digest) copies += row.count;
  EXPECT_EQ(copies, 2u);
}

// A row Kuzu wrote without quotes, or quoted only where needed, is hashed
// from its own bytes; every other row from its parsed fields. The two must agree on every row, and
// a row must have one digest whatever the file's dialect, line endings or
// needless quotes: else an unchanged row would look changed.
TEST_F(DiffTest, RowDigestIsTheSameFromBytesAndFromFieldsInEveryDialect) {
  std::mt19937_64 random(11);
  const std::string alphabet = "ab ,\"\n\r|[]\\x";
  struct Row {
    std::vector<std::string> values;
    std::vector<uint8_t> nulls;
  };
  std::vector<Row> rows;
  for (int i = 0; i < 3000; ++i) {
    Row row{{std::to_string(i), "", ""}, {0, 0, 0}};
    for (int f = 1; f < 3; ++f) {
      const int kind = static_cast<int>(random() % 8);
      if (kind == 0) row.nulls[f] = 1;
      if (kind >= 2) {  // kind 1: the empty string
        for (int n = static_cast<int>(random() % 6); n >= 0; --n) {
          // Mostly plain letters and digits, as most values are.
          row.values[f].push_back(random() % 3 == 0 ? alphabet[random() % alphabet.size()]
                                                    : static_cast<char>('c' + random() % 20));
        }
      }
    }
    rows.push_back(row);
  }
  auto file_text = [&](const CsvOptions& csv, const std::string& line_end, bool quote_all) {
    std::string out = csv.header ? "id|name|age" + line_end : "";
    for (const Row& row : rows) {
      for (int f = 0; f < 3; ++f) {
        if (f > 0) out.push_back(csv.delimiter);
        if (quote_all && !row.nulls[f]) {
          out += '"';
          for (char c : row.values[f]) out += c == '"' ? std::string("\"\"") : std::string(1, c);
          out += '"';
        } else {
          AppendCsvField(&out, row.values[f], row.nulls[f] != 0, csv);
        }
      }
      out += line_end;
    }
    if (!quote_all) out.resize(out.size() - line_end.size());  // no line break at the very end
    return out;
  };
  CsvOptions pipe;
  pipe.delimiter = '|';
  pipe.header = true;
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"(parallel=false)", file_text({}, "\n", false)},
      {"(parallel=false)", file_text({}, "\r\n", false)},
      {"(parallel=false)", file_text({}, "\n", true)},
      {"(header=true, delim='|')", file_text(pipe, "\r\n", false)},
  };
  std::vector<merkle::RowDigest> first;
  for (size_t v = 0; v < variants.size(); ++v) {
    const std::string dir = "/v" + std::to_string(v);
    WriteTestExport(env_.get(), dir, kSchema,
                    "COPY `User` (`id`,`name`,`age`) FROM \"User.csv\" " + variants[v].first + ";\n",
                    {{"User.csv", variants[v].second}});
    std::vector<UserRow> read;
    ReadUserRows(dir, &read);
    std::vector<merkle::RowDigest> digests;
    size_t unquoted = 0, quoted_in_place = 0;
    for (const UserRow& row : read) {
      unquoted += row.quoted ? 0 : 1;
      quoted_in_place += row.quoted_in_place ? 1 : 0;
      ASSERT_EQ(row.from_bytes, row.from_fields) << "variant " << v << ", line " << row.line;
      digests.push_back(row.from_bytes);
    }
    ASSERT_EQ(digests.size(), rows.size()) << "variant " << v;
    if (v == 0) {
      EXPECT_GT(unquoted, rows.size() / 4);  // the fast paths were taken
      EXPECT_GT(quoted_in_place, rows.size() / 20);
      first = digests;
    } else {
      EXPECT_EQ(digests, first) << "variant " << v;
    }
  }
}

// The reader reads a CR in a quoted row its own way: a lone one that ends
// the file stays in the last value (the row's bytes would drop it), one
// that ends an unquoted value is dropped. Such rows are hashed from their
// fields, and their digests are the ones their fields give.
TEST_F(DiffTest, AQuotedRowHoldingACrIsHashedFromItsFields) {
  for (const char* last : {"3,\"e,f\",5\r", "3,\"e,f\",\r", "3,e,5\r", "3,\r,\"e,f\"", "3,a\r,\"e,f\"\n"}) {
    WriteExport("/cr", std::string("1,\"a,b\",30\n2,\"c\"\"d\",4\r\n") + last, "");
    std::vector<UserRow> read;
    ReadUserRows("/cr", &read);
    for (const UserRow& row : read) EXPECT_EQ(row.from_bytes, row.from_fields) << last << ", line " << row.line;
    EXPECT_EQ(read.size(), 3u) << last;
  }
}

// All (hashing's batch numbering) and Next (the row-by-row numbering of
// every later scan) must give the same set, whatever the order and however
// rows repeat: copies, prints sharing their top bits, a zero print.
TEST(RowElementsTest, AllIsTheSetNextGivesRowByRow) {
  std::mt19937_64 random(7);
  std::vector<std::pair<uint64_t, uint64_t>> rows;
  for (int i = 0; i < 200000; ++i) rows.emplace_back(random(), random());
  for (int i = 0; i < 1000; ++i) rows.push_back(rows[random() % rows.size()]);  // identical rows
  for (int i = 0; i < 50; ++i) rows.push_back(rows[7]);
  for (int i = 0; i < 1000; ++i) {  // same top bits, other print
    const auto& [key_hash, print] = rows[random() % 200000];
    rows.emplace_back(key_hash, (print & ~uint64_t{0xffff}) | (random() & 0xffff));
  }
  for (int i = 0; i < 3; ++i) rows.emplace_back(5, 0);
  std::shuffle(rows.begin(), rows.end(), random);
  for (TableKind kind : {TableKind::kNode, TableKind::kRel}) {
    RowElements numbering(kind);
    std::vector<uint64_t> one_by_one;
    for (const auto& [key_hash, print] : rows) one_by_one.push_back(numbering.Next(key_hash, print));
    std::vector<std::vector<std::pair<uint64_t, uint64_t>>> parts(3);  // as three hashing threads left them
    for (size_t i = 0; i < rows.size(); ++i) parts[i % 3].push_back(rows[i]);
    std::vector<uint64_t> all;
    std::vector<std::pair<uint64_t, uint64_t>> copies;
    RowElements::All(kind, parts, &all, &copies);
    // The copy numbers All gave, by index in its order (parts one by one):
    // each element is its row's with that copy number, 0 where none is told.
    std::vector<std::pair<uint64_t, uint64_t>> in_order;
    for (const auto& part : parts) in_order.insert(in_order.end(), part.begin(), part.end());
    ASSERT_EQ(in_order.size(), all.size());
    EXPECT_TRUE(std::is_sorted(copies.begin(), copies.end()));
    EXPECT_EQ(copies.size(), kind == TableKind::kNode ? 0u : 1000u + 50u + 2u);  // repeats, and the zero print's
    for (size_t i = 0, c = 0; i < all.size(); ++i) {
      const uint64_t copy = c < copies.size() && copies[c].first == i ? copies[c++].second : 0;
      const auto& [key_hash, print] = in_order[i];
      EXPECT_EQ(all[i], kind == TableKind::kNode ? merkle::NodeSketchElement(key_hash, print)
                                                 : merkle::RelSketchElement(key_hash, print, copy));
    }
    std::sort(one_by_one.begin(), one_by_one.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, one_by_one);
    if (kind == TableKind::kRel) {  // every copy its own element
      EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), all.size());
    }
  }
}

TEST_F(DiffTest, TreesOfDifferentDepthsStillCompareExactly) {
  // 4000 rows hash to depth 1, 600 rows to depth 0... and 40000 to depth 2.
  WriteExport("/a", Users(0, 40000), "");
  WriteExport("/b", Users(0, 600), "");
  auto report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_TRUE(report.ok());
  const TableDiff& users = Table(report.value(), "User");
  EXPECT_EQ(users.only_in_a, 39400u);
  EXPECT_EQ(users.only_in_b, 0u);
}

TEST_F(DiffTest, ManyDifferencesResolveInBoundedBatches) {
  WriteExport("/a", Users(0, 20000), "");
  WriteExport("/b", Users(10000, 30000), "");
  DiffOptions options;
  options.max_rows_in_memory = 1000;
  auto report = DiffExports(env_.get(), "/a", "/b", options);
  ASSERT_TRUE(report.ok());
  const TableDiff& users = Table(report.value(), "User");
  EXPECT_EQ(users.only_in_a, 10000u);
  EXPECT_EQ(users.only_in_b, 10000u);
}

TEST_F(DiffTest, SchemaDifferencesAreReportedNotCrashedOn) {
  WriteExport("/a", Users(0, 10), "");
  WriteExport("/b", "1,ann,30,x\n", "",
              "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`age` INT64,`email` STRING, "
              "PRIMARY KEY(`id`));\n"
              "CREATE REL TABLE `Follows` (FROM `User` TO `User`, `since` INT64,MANY_MANY);\n"
              "CREATE NODE TABLE `City` (`name` STRING, PRIMARY KEY(`name`));\n");
  auto report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->identical);
  EXPECT_EQ(report->schema.only_in_b, std::vector<std::string>{"City"});
  EXPECT_EQ(report->schema.changed, std::vector<std::string>{"User"});
  EXPECT_EQ(Table(report.value(), "User").skipped, "columns differ");
  EXPECT_EQ(report->notes.size(), 1u);
}

TEST_F(DiffTest, TableFilter) {
  WriteExport("/a", Users(0, 10), "1,2,3\n");
  WriteExport("/b", Users(0, 9), "");
  DiffOptions options;
  options.tables = {"Follows"};
  auto report = DiffExports(env_.get(), "/a", "/b", options);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->tables.size(), 1u);
  EXPECT_EQ(report->tables[0].table, "Follows");
  options.tables = {"Nope"};
  EXPECT_EQ(DiffExports(env_.get(), "/a", "/b", options).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(DiffTest, BadInputNamesFileAndLine) {
  WriteExport("/a", "1,ann,30\n2,bob\n", "");
  WriteExport("/b", Users(0, 3), "");
  auto report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().ToString(), "/a/User.csv:2: expected 3 fields, found 2");

  WriteExport("/a", "1,ann,30\n2,bob,40\n1,ann,31\n", "");
  report = DiffExports(env_.get(), "/a", "/b", {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().file(), "/a/User.csv");
  EXPECT_EQ(report.status().line(), 3u);
  EXPECT_NE(report.status().message().find("duplicate primary key '1'"), std::string::npos);
}

// A TreeView that counts round trips, standing in for a remote replica.
class CountingView final : public TreeView {
 public:
  explicit CountingView(const merkle::Tree* tree) : local_(tree) {}
  int depth() const override { return local_.depth(); }
  Status GetNodes(int level, const std::vector<uint64_t>& indexes,
                  std::vector<merkle::NodePrint>* out) override {
    ++calls;
    return local_.GetNodes(level, indexes, out);
  }
  int calls = 0;

 private:
  LocalTreeView local_;
};

TEST_F(DiffTest, DescentAsksOncePerLevel) {
  WriteExport("/a", Users(0, 10000), "");
  WriteExport("/b", Users(0, 10000, 1000), "");
  auto a = OpenExport(env_.get(), "/a");
  auto b = OpenExport(env_.get(), "/b");
  ASSERT_TRUE(a.ok() && b.ok());
  const TableSchema& users = *a->schema.Find("User");
  auto ta = HashTable(env_.get(), a.value(), users);
  auto tb = HashTable(env_.get(), b.value(), users);
  ASSERT_TRUE(ta.ok() && tb.ok());
  CountingView va(&ta.value()), vb(&tb.value());
  ExportRowSource ra(env_.get(), &a.value()), rb(env_.get(), &b.value());
  TableDiff out;
  DiffStats stats;
  ASSERT_TRUE(DiffTable(users, &va, &vb, &ra, &rb, {}, &out, &stats).ok());
  EXPECT_EQ(out.only_in_a, 10u);
  EXPECT_EQ(va.calls, ta->depth() + 1);
}

}  // namespace
}  // namespace kuzusync

namespace kuzusync {
namespace {

// Tables of 4 MB and more are hashed by a reader and several hashing
// threads; the tree must not depend on that.
TEST(HashTableTest, PipelinedHashingMatchesInlineHashing) {
  auto env = NewMemEnv();
  std::string first, second;
  for (int i = 0; i < 80000; ++i) {
    std::string row = std::to_string(i) + ",\"name, with a comma " + std::to_string(i) +
                      "\",some longer text to make the rows wide enough " + std::to_string(i * 7) + "\n";
    (i < 40000 ? first : second) += row;
  }
  ASSERT_GT(first.size() + second.size(), 4u << 20);
  ASSERT_LT(first.size(), 4u << 20);
  ASSERT_LT(second.size(), 4u << 20);
  const std::string schema =
      "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`note` STRING, PRIMARY KEY(`id`));";
  auto write_export = [&](const std::string& dir, const std::string& rows) {
    ASSERT_TRUE(WriteFileAtomically(env.get(), dir + "/schema.cypher", schema).ok());
    ASSERT_TRUE(WriteFileAtomically(env.get(), dir + "/copy.cypher", "COPY `User` FROM \"User.csv\";").ok());
    ASSERT_TRUE(WriteFileAtomically(env.get(), dir + "/User.csv", rows).ok());
  };
  write_export("/one", first + second);  // pipelined
  write_export("/half1", first);         // each half hashed inline
  write_export("/half2", second);
  auto one = OpenExport(env.get(), "/one");
  auto half1 = OpenExport(env.get(), "/half1");
  auto half2 = OpenExport(env.get(), "/half2");
  ASSERT_TRUE(one.ok() && half1.ok() && half2.ok());
  const TableSchema& users = *one->schema.Find("User");
  auto tree1 = HashTable(env.get(), half1.value(), users);
  auto tree2 = HashTable(env.get(), half2.value(), users);
  ASSERT_TRUE(tree1.ok() && tree2.ok());
  const int depth = std::min(tree1->depth(), tree2->depth());
  ExportRowSource rows(env.get(), &one.value());
  std::vector<uint64_t> scanned;
  ASSERT_TRUE(rows.CollectElements(users, &scanned).ok());
  std::sort(scanned.begin(), scanned.end());
  for (int threads : {1, 3}) {
    std::vector<uint64_t> elements;
    auto piped = HashTable(env.get(), one.value(), users, merkle::kTargetLeafRows, threads, &elements);
    ASSERT_TRUE(piped.ok()) << piped.status().ToString();
    EXPECT_EQ(piped->rows(), 80000u);
    // The elements found while hashing are those a scan lists.
    std::sort(elements.begin(), elements.end());
    EXPECT_EQ(elements, scanned) << "threads " << threads;
    // Node values are sums: the whole is the sum of its halves, leaf by leaf.
    merkle::Tree cut = piped->Truncated(depth);
    for (uint64_t i = 0; i < cut.level(depth).size(); ++i) {
      merkle::NodeSummary sum = tree1->Truncated(depth).node(depth, i);
      sum.Add(tree2->Truncated(depth).node(depth, i));
      ASSERT_EQ(cut.node(depth, i), sum) << "threads " << threads << " leaf " << i;
    }
  }

  // A duplicate key deep in a large table is found by the compact finder.
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/one/User.csv",
                                  first + second + "70000,again,dup\n").ok());
  auto reopened = OpenExport(env.get(), "/one");
  ASSERT_TRUE(reopened.ok());
  auto dup = HashTable(env.get(), reopened.value(), *reopened->schema.Find("User"),
                       merkle::kTargetLeafRows, 2);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().line(), 80001u);
  EXPECT_NE(dup.status().message().find("duplicate primary key '70000'"), std::string::npos);
}

}  // namespace
}  // namespace kuzusync
