// Tests for the CSV reader: Kuzu's dialect, row by row.

#include "snapshot/csv_reader.h"

#include <gtest/gtest.h>

namespace kuzusync {
namespace {

struct ParsedRow {
  std::vector<std::string> fields;
  std::vector<bool> nulls;
  uint64_t line;
};

// Parses `text` with a tiny buffer too, so that rows straddle refills.
Result<std::vector<ParsedRow>> ParseAll(const std::string& text, CsvOptions options = {},
                                        size_t buffer = 1 << 16) {
  auto env = NewMemEnv();
  Status s = WriteFileAtomically(env.get(), "/f.csv", text);
  if (!s.ok()) return s;
  std::unique_ptr<SequentialFile> file;
  s = env->NewSequentialFile("/f.csv", &file);
  if (!s.ok()) return s;
  CsvReader reader(file.get(), options, "/f.csv", buffer);
  std::vector<ParsedRow> rows;
  while (true) {
    bool has_row = false;
    s = reader.Next(&has_row);
    if (!s.ok()) return s;
    if (!has_row) return rows;
    ParsedRow row;
    for (size_t i = 0; i < reader.fields().size(); ++i) {
      row.fields.emplace_back(reader.fields()[i]);
      row.nulls.push_back(reader.nulls()[i] != 0);
    }
    row.line = reader.row_line();
    rows.push_back(std::move(row));
  }
}

class CsvReaderTest : public ::testing::TestWithParam<size_t> {};

TEST_P(CsvReaderTest, PlainRows) {
  auto rows = ParseAll("1,Alice,35\n2,Bob,30\n", {}, GetParam());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].fields, (std::vector<std::string>{"1", "Alice", "35"}));
  EXPECT_EQ(rows.value()[1].fields, (std::vector<std::string>{"2", "Bob", "30"}));
  EXPECT_EQ(rows.value()[1].line, 2u);
}

TEST_P(CsvReaderTest, QuotedFieldsWithDelimitersQuotesAndNewlines) {
  auto rows = ParseAll("1,\"a,b\",\"say \"\"hi\"\"\"\n2,\"line1\nline2\",x\n3,y,z\n", {}, GetParam());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ(rows.value()[0].fields, (std::vector<std::string>{"1", "a,b", "say \"hi\""}));
  EXPECT_EQ(rows.value()[1].fields, (std::vector<std::string>{"2", "line1\nline2", "x"}));
  EXPECT_EQ(rows.value()[1].line, 2u);
  EXPECT_EQ(rows.value()[2].line, 4u);  // the embedded newline counts
}

TEST_P(CsvReaderTest, EmptyUnquotedIsNullButQuotedEmptyIsEmptyString) {
  auto rows = ParseAll("1,,\"\"\n", {}, GetParam());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows.value()[0].fields, (std::vector<std::string>{"1", "", ""}));
  EXPECT_EQ(rows.value()[0].nulls, (std::vector<bool>{false, true, false}));
}

TEST_P(CsvReaderTest, TrailingDelimiterMeansTrailingNull) {
  auto rows = ParseAll("Y,X,\n", {}, GetParam());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows.value()[0].fields.size(), 3u);
  EXPECT_TRUE(rows.value()[0].nulls[2]);
}

TEST_P(CsvReaderTest, Utf8IsKeptByteForByte) {
  const std::string emoji = "The \xF0\x9F\x98\x82\xF0\x9F\x98\x83 movie";
  const std::string accents = "S\xC3\xB3l\xC3\xB3 c\xC3\xB3n";
  auto rows = ParseAll(emoji + "," + accents + "\n\"" + emoji + "\",x\n", {}, GetParam());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows.value()[0].fields[0], emoji);
  EXPECT_EQ(rows.value()[0].fields[1], accents);
  EXPECT_EQ(rows.value()[1].fields[0], emoji);
}

TEST_P(CsvReaderTest, CrlfLineEndingsAreNotData) {
  auto rows = ParseAll("1,a\r\n2,\"b\"\r\n3,\"c\nd\",e\r\n", {}, GetParam());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ(rows.value()[0].fields, (std::vector<std::string>{"1", "a"}));
  EXPECT_EQ(rows.value()[1].fields, (std::vector<std::string>{"2", "b"}));
  EXPECT_EQ(rows.value()[2].fields, (std::vector<std::string>{"3", "c\nd", "e"}));
}

TEST_P(CsvReaderTest, LastRowWithoutNewline) {
  auto rows = ParseAll("1,a\n2,\"b\"", {}, GetParam());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[1].fields[1], "b");
}

TEST_P(CsvReaderTest, UnterminatedQuoteNamesFileAndLine) {
  auto rows = ParseAll("1,a\n2,b\n3,\"never closed\n4,d\n", {}, GetParam());
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), Status::Code::kCorrupt);
  EXPECT_EQ(rows.status().file(), "/f.csv");
  EXPECT_EQ(rows.status().line(), 3u);
  EXPECT_NE(rows.status().message().find("unterminated"), std::string::npos);
}

TEST_P(CsvReaderTest, HeaderAndCustomDelimiter) {
  CsvOptions options;
  options.delimiter = '|';
  options.header = true;
  auto rows = ParseAll("a.id|a.name\n0|\"x|y\"\n1|z\n", options, GetParam());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].fields, (std::vector<std::string>{"0", "x|y"}));
}

TEST_P(CsvReaderTest, EscapeCharacterDistinctFromQuote) {
  CsvOptions options;
  options.escape = '\\';
  auto rows = ParseAll("1,\"a\\\"b\"\n", options, GetParam());
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows.value()[0].fields[1], "a\"b");
}

TEST_P(CsvReaderTest, ListValuesAreQuotedAndKept) {
  auto rows = ParseAll("0,\"[10,5]\",\"{a=b, c=d}\"\n", {}, GetParam());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows.value()[0].fields[1], "[10,5]");
  EXPECT_EQ(rows.value()[0].fields[2], "{a=b, c=d}");
}

// 64 bytes forces many refills and rows larger than the initial buffer.
INSTANTIATE_TEST_SUITE_P(BufferSizes, CsvReaderTest, ::testing::Values(64, 1 << 16));

TEST(CsvReaderLongRow, RowLargerThanBufferGrowsIt) {
  std::string big(10000, 'x');
  auto rows = ParseAll("1,\"" + big + "\"\n2," + big + "\n", {}, 64);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].fields[1], big);
  EXPECT_EQ(rows.value()[1].fields[1], big);
}

}  // namespace
}  // namespace kuzusync
