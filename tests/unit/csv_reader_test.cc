// Tests for the CSV reader: Kuzu's dialect, row by row.

#include "snapshot/csv_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "snapshot/csv_reader_internal.h"
#include "tests/chunked_text.h"

namespace kuzusync {
namespace {

struct ParsedRow {
  std::vector<std::string> fields;
  std::vector<bool> nulls;
  uint64_t line;
};

// `text` as /f.csv in an in-memory Env of its own, open for reading.
struct TextFile {
  std::unique_ptr<Env> env = NewMemEnv();
  std::unique_ptr<SequentialFile> file;
  Status Open(const std::string& text) {
    Status s = WriteFileAtomically(env.get(), "/f.csv", text);
    return s.ok() ? env->NewSequentialFile("/f.csv", &file) : s;
  }
};

// Parses `text` with a tiny buffer too, so that rows straddle refills.
Result<std::vector<ParsedRow>> ParseAll(const std::string& text, CsvOptions options = {},
                                        size_t buffer = 1 << 16) {
  TextFile input;
  Status s = input.Open(text);
  if (!s.ok()) return s;
  CsvReader reader(input.file.get(), options, "/f.csv", buffer);
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

// The CRLF after a closing quote may straddle two reads (the quoted value
// holds a line break, so the row is seen whole only by the general path).
TEST(CsvReaderCrlf, LineBreakSplitAfterClosingQuoteAtEveryOffset) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += std::to_string(i) + ",\"v\n" + std::to_string(i) + "\"\r\n";
  for (size_t buffer = 64; buffer < 128; ++buffer) {
    auto rows = ParseAll(text, {}, buffer);
    ASSERT_TRUE(rows.ok()) << "buffer " << buffer << ": " << rows.status().ToString();
    ASSERT_EQ(rows->size(), 20u);
    EXPECT_EQ(rows.value()[19].fields, (std::vector<std::string>{"19", "v\n19"}));
  }
}

// NextLeading: rows read keeping only their first fields.
struct LeadingRow {
  std::vector<std::string> kept;
  size_t field_count;
  std::string raw;
  uint64_t line;
  bool multiline;
  std::vector<std::string> whole;  // after ParseWhole
  std::vector<bool> whole_nulls;
  bool operator==(const LeadingRow&) const = default;
};

Result<std::vector<LeadingRow>> ReadLeading(const std::string& text, size_t keep,
                                            CsvOptions options = {}, size_t buffer = 1 << 16) {
  TextFile input;
  Status s = input.Open(text);
  if (!s.ok()) return s;
  CsvReader reader(input.file.get(), options, "/f.csv", buffer);
  std::vector<LeadingRow> rows;
  while (true) {
    bool has_row = false;
    s = reader.NextLeading(keep, &has_row);
    if (!s.ok()) return s;
    if (!has_row) return rows;
    LeadingRow row;
    row.kept.assign(reader.fields().begin(), reader.fields().end());
    row.field_count = reader.field_count();
    row.raw = std::string(reader.raw());
    row.line = reader.row_line();
    row.multiline = reader.multiline();
    reader.ParseWhole();
    row.whole.assign(reader.fields().begin(), reader.fields().end());
    for (uint8_t n : reader.nulls()) row.whole_nulls.push_back(n != 0);
    rows.push_back(std::move(row));
  }
}

TEST(CsvReaderLeading, QuotedKeyIsUnescaped) {
  auto rows = ReadLeading("\"a,\"\"b\"\"\",x,y\n\"\",z,w\n", 1);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].kept, (std::vector<std::string>{"a,\"b\""}));
  EXPECT_EQ(rows.value()[0].field_count, 3u);
  EXPECT_EQ(rows.value()[0].whole, (std::vector<std::string>{"a,\"b\"", "x", "y"}));
  EXPECT_EQ(rows.value()[1].kept, (std::vector<std::string>{""}));
  EXPECT_FALSE(rows.value()[1].whole_nulls[0]);  // "" is the empty string, not NULL
}

TEST(CsvReaderLeading, EscapedQuotesAndDelimitersInSkippedFieldsAreCounted) {
  auto rows = ReadLeading("1,2,\"say \"\"a,b\"\"\",\"\",,3\n4,5,6,7,8,9\n", 2);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].kept, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(rows.value()[0].field_count, 6u);
  EXPECT_EQ(rows.value()[0].whole,
            (std::vector<std::string>{"1", "2", "say \"a,b\"", "", "", "3"}));
  EXPECT_EQ(rows.value()[1].field_count, 6u);
}

TEST(CsvReaderLeading, EscapeCharacterDistinctFromQuoteInSkippedField) {
  CsvOptions options;
  options.escape = '\\';
  auto rows = ReadLeading("1,\"a\\\"b,c\",d\n2,\"\\\\\",e\n", 1, options);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].field_count, 3u);
  EXPECT_EQ(rows.value()[0].whole, (std::vector<std::string>{"1", "a\"b,c", "d"}));
  EXPECT_EQ(rows.value()[1].whole, (std::vector<std::string>{"2", "\\", "e"}));
}

TEST(CsvReaderLeading, NewlinesInSkippedFieldsStayInTheRow) {
  auto rows = ReadLeading("1,\"line1\nline2\r\nline3\",x\n2,y,z\n", 1);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].raw, "1,\"line1\nline2\r\nline3\",x\n");
  EXPECT_TRUE(rows.value()[0].multiline);
  EXPECT_EQ(rows.value()[0].field_count, 3u);
  EXPECT_EQ(rows.value()[1].line, 4u);
  EXPECT_EQ(rows.value()[1].kept, (std::vector<std::string>{"2"}));
}

TEST(CsvReaderLeading, MultilineMeansALineBreakInsideTheRow) {
  auto rows = ReadLeading("1,\"a\rb\"\n2,\"c\"\r\n3,\"d\"\n4,\"e\nf\"\r\n5,\"\"\n6,\"g\nh\"", 1);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<bool> multiline;
  for (const LeadingRow& row : rows.value()) multiline.push_back(row.multiline);
  EXPECT_EQ(multiline, (std::vector<bool>{true, false, false, true, false, true}));
  EXPECT_EQ(rows.value()[5].line, 7u);  // row 4 spans two lines
}

TEST(CsvReaderLeading, CrlfAndHeaderAndPipe) {
  CsvOptions options;
  options.delimiter = '|';
  options.header = true;
  auto rows = ReadLeading("id|name\r\n0|\"x|y\"\r\n\"1\"|z\r\n", 1, options);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows.value()[0].kept, (std::vector<std::string>{"0"}));
  EXPECT_EQ(rows.value()[0].raw, "0|\"x|y\"\r\n");
  EXPECT_EQ(rows.value()[0].whole, (std::vector<std::string>{"0", "x|y"}));
  EXPECT_EQ(rows.value()[1].kept, (std::vector<std::string>{"1"}));
  EXPECT_EQ(rows.value()[1].whole, (std::vector<std::string>{"1", "z"}));
  EXPECT_FALSE(rows.value()[1].multiline);
}

TEST(CsvReaderLeading, LastRowWithoutNewline) {
  for (const std::string last : {"2,b,c", "2,\"b\",c", "2,b,\"c\""}) {
    auto rows = ReadLeading("1,a,x\n" + last, 1);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ(rows.value()[1].raw, last);
    EXPECT_EQ(rows.value()[1].field_count, 3u);
    EXPECT_EQ(rows.value()[1].whole, (std::vector<std::string>{"2", "b", "c"}));
  }
}

TEST(CsvReaderLeading, ErrorsInSkippedFieldsAreReported) {
  auto unterminated = ReadLeading("1,a\n2,\"never closed\n3,c\n", 1);
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.status().line(), 2u);
  EXPECT_NE(unterminated.status().message().find("unterminated"), std::string::npos);
  auto junk = ReadLeading("1,a\n2,b\n3,\"c\"d\n", 1);
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.status().line(), 3u);
  EXPECT_NE(junk.status().message().find("after a closing quote"), std::string::npos);
}

// Fields past the kept ones are counted several bytes at a time: bytes
// that differ from the delimiter by the high bit alone must not count.
TEST(CsvReaderLeading, CountsFieldsOfLongUnquotedLines) {
  const std::string alphabet = std::string("a,|\xac\xfc\x00\x7f\x2d", 8);
  std::string text;
  uint32_t seed = 7;
  for (int row = 0; row < 200; ++row) {
    text += std::to_string(row) + ",";
    for (int i = 0; i < row % 53; ++i) {
      seed = seed * 1103515245 + 12345;
      text += alphabet[(seed >> 16) % alphabet.size()];
    }
    text += row % 5 == 0 ? "\r\n" : "\n";
  }
  for (CsvOptions options : {CsvOptions{}, CsvOptions{'|', '"', '"', false}}) {
    auto full = ParseAll(text, options);
    auto leading = ReadLeading(text, 1, options);
    ASSERT_TRUE(full.ok() && leading.ok());
    ASSERT_EQ(full->size(), leading->size());
    for (size_t i = 0; i < full->size(); ++i) {
      EXPECT_EQ(leading.value()[i].field_count, full.value()[i].fields.size()) << "row " << i;
      EXPECT_EQ(leading.value()[i].whole, full.value()[i].fields) << "row " << i;
    }
  }
}

// Whatever is kept, a row reads as Next reads it, at every buffer size (rows
// straddle refills at every offset) and in every dialect.
TEST(CsvReaderLeading, AgreesWithNextEverywhere) {
  const std::vector<std::string> texts = {
      "1,Alice,35\n2,Bob,30\n3,,\n",
      "1,\"a,b\",\"say \"\"hi\"\"\"\n2,\"line1\nline2\",x\n3,y,z\n\"4\",\"\",\n",
      "1,a\r\n2,\"b\"\r\n3,\"c\nd\",e\r\n\"x\"\"y\",\"\"\"\",\r\n",
      "id|v|w\n0|\"x|y\"|\"\"\n1|z|\"p\nq\"\n\"2|3\"|a|b",
      "1,\"a\\\"b\",c\n\"2\\\\\",\"d,e\\\"\"\n3,x,\"\\\n\"\n",
      "1,a\n2,b,c\n",                 // wrong number of fields
      "1,a\n2,\"b\n",                 // unterminated
      "1,a\n2,\"b\"c\n",              // junk after a closing quote
      "1,a\n2,\"b\"\r",               // '\r' at the very end
      "\n1\n\n\"\"\n",
  };
  std::string long_rows;
  for (int i = 0; i < 30; ++i) {
    long_rows += std::to_string(i) + ",\"v" + std::to_string(i) + "\nw\"\"\"," + std::string(i, 'x') +
                 (i % 3 == 0 ? "\r\n" : "\n");
  }
  std::vector<std::string> all = texts;
  all.push_back(long_rows);
  for (int dialect = 0; dialect < 4; ++dialect) {
    CsvOptions options;
    if (dialect & 1) options.delimiter = '|';
    if (dialect & 2) options.escape = '\\';
    for (const std::string& text : all) {
      for (size_t buffer : {64, 65, 67, 71, 80, 97, 113, 1 << 16}) {
        auto full = ReadLeading(text, CsvReader::kAllFields, options, buffer);
        auto next = ParseAll(text, options, buffer);
        ASSERT_EQ(full.ok(), next.ok());
        if (!full.ok()) {
          EXPECT_EQ(full.status().ToString(), next.status().ToString());
        }
        for (size_t keep = 0; keep < 4; ++keep) {
          SCOPED_TRACE("dialect " + std::to_string(dialect) + " keep " + std::to_string(keep) +
                       " buffer " + std::to_string(buffer) + " text " + text);
          auto leading = ReadLeading(text, keep, options, buffer);
          ASSERT_EQ(leading.ok(), full.ok());
          if (!full.ok()) {
            EXPECT_EQ(leading.status().ToString(), full.status().ToString());
            continue;
          }
          ASSERT_EQ(leading->size(), full->size());
          for (size_t i = 0; i < full->size(); ++i) {
            const LeadingRow& a = leading.value()[i];
            LeadingRow b = full.value()[i];
            EXPECT_EQ(next.value()[i].fields, b.whole);
            b.kept.resize(std::min(keep, b.whole.size()));
            EXPECT_EQ(a, b) << "row " << i;
          }
        }
      }
    }
  }
}

// Texts of three fields a row in their dialects: quotes, delimiters and
// line breaks inside values, CRLF, a header, no line break at the end, an
// escape character, and rows longer than a reader's window.
std::vector<std::pair<std::string, CsvOptions>> ThreeFieldTexts() {
  CsvOptions pipe_header{'|', '"', '"', true};
  CsvOptions backslash{',', '"', '\\', false};
  std::string long_rows;
  for (int i = 0; i < 3000; ++i) {
    long_rows += std::to_string(i) + ",";
    if (i % 500 == 7) {
      long_rows += "\"" + std::string(70000 + i, 'q') + "\nmore\",x";  // longer than a window
    } else if (i % 100 == 3) {
      long_rows += std::string(5000 + i, 'p') + ",";  // longer than a first guess
    } else {
      long_rows += "v" + std::to_string(i) + ",\"w\"\"" + std::to_string(i) + "\"";
    }
    long_rows += i % 7 == 0 ? "\r\n" : "\n";
  }
  return {
      {"1,Alice,35\n2,Bob,30\n3,,\n", {}},
      {"1,\"a,b\",\"say \"\"hi\"\"\"\n2,\"line1\nline2\",x\n3,y,z\n\"4\",\"\",\n", {}},
      {"1,a,b\r\n2,\"b\"\"\",c\r\n3,\"c\r\nd\",e\r\n\"x\"\"y\",\"\"\"\",\r\n", {}},
      {"id|v|w\n0|\"x|y\"|\"\"\n1|z|\"p\nq\"\n\"2|3\"|a|b", pipe_header},
      {"1,\"a\\\"b\",c\n\"2\\\\\",\"d,e\\\"\",f\n3,x,\"\\\n\"\n", backslash},
      {long_rows, {}},
  };
}

// row_offset() is where the row's bytes are in the input, the header line
// counted, whatever the buffer (refills move the bytes).
TEST(CsvReaderOffsets, RowOffsetIsWhereTheRowIs) {
  for (const auto& [text, options] : ThreeFieldTexts()) {
    for (size_t buffer : {64, 65, 97, 1 << 16}) {
      SCOPED_TRACE("buffer " + std::to_string(buffer) + " text " + text.substr(0, 80));
      TextFile input;
      ASSERT_TRUE(input.Open(text).ok());
      CsvReader reader(input.file.get(), options, "/f.csv", buffer);
      uint64_t next = options.header ? text.find('\n') + 1 : 0;
      size_t rows = 0;
      while (true) {
        bool has_row = false;
        ASSERT_TRUE(reader.Next(&has_row).ok());
        if (!has_row) break;
        ++rows;
        ASSERT_EQ(reader.row_offset(), next);
        EXPECT_EQ(text.substr(next, reader.raw().size()), reader.raw());
        next += reader.raw().size();
      }
      EXPECT_EQ(next, text.size());
      EXPECT_GE(rows, 3u);
    }
  }
}

struct ScannedRow {
  uint64_t offset;
  std::string key;  // the leading field, as read without the rest
  std::vector<std::string> fields;
  std::vector<uint8_t> nulls;
  std::string raw;
  bool multiline, quoted;
  bool operator==(const ScannedRow&) const = default;
};

ScannedRow Scanned(DataFileReader& reader) {
  ScannedRow row{reader.offset(), std::string(reader.field(0)), {}, {}, {}, reader.multiline(), reader.quoted()};
  const RowView whole = reader.Whole();
  row.fields.assign(whole.fields->begin(), whole.fields->end());
  row.nulls = *whole.is_null;
  row.raw = whole.raw;
  return row;
}

// Rows read by their offsets are the rows a scan reads, however the
// offsets fall into reads: all of them, near ones, far ones, one, in
// reverse.
TEST(DataFileReaderOffsets, RowsReadByOffsetAreTheScansRows) {
  std::mt19937_64 random(5);
  for (const auto& [text, options] : ThreeFieldTexts()) {
    SCOPED_TRACE("text " + text.substr(0, 80));
    auto env = NewMemEnv();
    ASSERT_TRUE(WriteFileAtomically(env.get(), "/x/f.csv", text).ok());
    ExportDir dir;
    dir.dir = "/x";
    DataFile file;
    file.path = "f.csv";
    file.csv = options;
    DataFileReader scan;
    ASSERT_TRUE(scan.Open(env.get(), dir, file, 3, 1).ok());
    std::vector<ScannedRow> rows;
    while (true) {
      bool has_row = false;
      ASSERT_TRUE(scan.Next(&has_row).ok());
      if (!has_row) break;
      rows.push_back(Scanned(scan));
    }
    std::vector<std::vector<size_t>> choices = {{}, {rows.size() - 1}, {0, rows.size() - 1}};
    choices.emplace_back();
    for (size_t i = 0; i < rows.size(); ++i) choices.back().push_back(i);
    choices.push_back(choices.back());
    std::reverse(choices.back().begin(), choices.back().end());
    for (size_t step : {2, 3, 40, 450}) {
      choices.emplace_back();
      for (size_t i = step / 2; i < rows.size(); i += step) choices.back().push_back(i);
    }
    choices.emplace_back();
    for (size_t i = 0; i < rows.size(); ++i) {
      if (random() % 5 == 0) choices.back().push_back(i);
    }
    for (const std::vector<size_t>& chosen : choices) {
      std::vector<uint64_t> offsets;
      for (size_t i : chosen) offsets.push_back(rows[i].offset);
      DataFileReader reader;
      ASSERT_TRUE(reader.OpenAtOffsets(env.get(), dir, file, 3, 1, offsets).ok());
      for (size_t i : chosen) {
        bool has_row = false;
        ASSERT_TRUE(reader.Next(&has_row).ok());
        ASSERT_TRUE(has_row);
        EXPECT_EQ(reader.line(), 0u);  // not counted
        ASSERT_EQ(Scanned(reader), rows[i]) << "row " << i << " of " << chosen.size() << " chosen";
      }
      bool has_row = true;
      ASSERT_TRUE(reader.Next(&has_row).ok());
      EXPECT_FALSE(has_row);
    }
  }
}

// An offset where no row starts is an error or a wrong row, never a crash:
// callers check the rows they get.
TEST(DataFileReaderOffsets, NoRowAtTheEndOrPastIt) {
  auto env = NewMemEnv();
  const std::string text = "1,a,b\n2,\"c\nd\",e\n";
  ASSERT_TRUE(WriteFileAtomically(env.get(), "/x/f.csv", text).ok());
  ExportDir dir;
  dir.dir = "/x";
  DataFile file;
  file.path = "f.csv";
  for (uint64_t offset : {text.size(), text.size() + 100}) {
    DataFileReader reader;
    ASSERT_TRUE(reader.OpenAtOffsets(env.get(), dir, file, 3, 1, {offset}).ok());
    bool has_row = false;
    Status s = reader.Next(&has_row);
    EXPECT_EQ(s.code(), Status::Code::kCorrupt);
    EXPECT_EQ(s.file(), "/x/f.csv");
  }
  for (uint64_t offset = 0; offset < text.size(); ++offset) {
    DataFileReader reader;
    ASSERT_TRUE(reader.OpenAtOffsets(env.get(), dir, file, 3, 1, {offset}).ok());
    bool has_row = false;
    (void)reader.Next(&has_row);
  }
}

// Where the CPU has AVX-512BW, CsvReader scans rows with it
// (csv_reader_internal.h). The tests below read each text with both scans
// and expect everything a reader tells of every row, and how the reading
// ends, to be the same.

constexpr size_t kWholeReads = static_cast<size_t>(-1);

// Everything a reader tells of a row read by NextLeading, then by ParseWhole.
struct RowTold {
  std::vector<std::string> kept;
  std::vector<uint8_t> kept_nulls;
  size_t field_count;
  std::string raw;
  uint64_t line, offset;
  bool multiline, quoted;
  std::vector<std::string> whole;
  std::vector<uint8_t> whole_nulls;
  bool operator==(const RowTold&) const = default;
};

struct Reading {
  std::vector<RowTold> rows;
  std::string error;  // what ended the reading, empty at the end of input
};

enum class Scan { kCpusBest, kScalar };

Reading Read(const std::string& text, const CsvOptions& options, size_t buffer, size_t chunk, size_t keep,
             Scan scan) {
  ChunkedText input(text, chunk);
  CsvReader reader(&input, options, "/f.csv", buffer);
  if (scan == Scan::kScalar) CsvReaderInternal::UseScalarScan(&reader);
  Reading reading;
  while (true) {
    bool has_row = false;
    Status s = reader.NextLeading(keep, &has_row);
    if (!s.ok()) reading.error = s.ToString();
    if (!s.ok() || !has_row) return reading;
    RowTold row;
    row.kept.assign(reader.fields().begin(), reader.fields().end());
    row.kept_nulls = reader.nulls();
    row.field_count = reader.field_count();
    row.raw = reader.raw();
    row.line = reader.row_line();
    row.offset = reader.row_offset();
    row.multiline = reader.multiline();
    row.quoted = reader.quoted();
    reader.ParseWhole();
    row.whole.assign(reader.fields().begin(), reader.fields().end());
    row.whole_nulls = reader.nulls();
    reading.rows.push_back(std::move(row));
  }
}

// `bytes` with the invisible ones spelled out, for failure messages.
std::string Visible(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Describe(const RowTold& row) {
  std::string out = "raw \"" + Visible(row.raw) + "\" line " + std::to_string(row.line) + " offset " +
                    std::to_string(row.offset) + " fields " + std::to_string(row.field_count) +
                    (row.quoted ? " quoted" : "") + (row.multiline ? " multiline" : "") + "; kept";
  for (size_t i = 0; i < row.kept.size(); ++i) {
    out += row.kept_nulls[i] ? " NULL" : " \"" + Visible(row.kept[i]) + "\"";
  }
  out += "; whole";
  for (size_t i = 0; i < row.whole.size(); ++i) {
    out += row.whole_nulls[i] ? " NULL" : " \"" + Visible(row.whole[i]) + "\"";
  }
  return out;
}

// Reads `text` with both scans, expects the same, and returns what the
// scalar scan read.
Reading ExpectScansAgree(const std::string& text, const CsvOptions& options, size_t buffer, size_t chunk,
                         size_t keep) {
  Reading scalar = Read(text, options, buffer, chunk, keep, Scan::kScalar);
  const Reading vector = Read(text, options, buffer, chunk, keep, Scan::kCpusBest);
  const std::string where = "text \"" + Visible(text) + "\" delimiter '" + Visible({&options.delimiter, 1}) +
                            "' quote '" + Visible({&options.quote, 1}) + "' escape '" +
                            Visible({&options.escape, 1}) + (options.header ? "' header" : "'") + " buffer " +
                            std::to_string(buffer) + " chunk " +
                            (chunk == kWholeReads ? "whole" : std::to_string(chunk)) + " keep " +
                            (keep == CsvReader::kAllFields ? "all" : std::to_string(keep));
  EXPECT_EQ(vector.error, scalar.error) << where;
  EXPECT_EQ(vector.rows.size(), scalar.rows.size()) << where;
  for (size_t i = 0; i < std::min(vector.rows.size(), scalar.rows.size()); ++i) {
    if (!(vector.rows[i] == scalar.rows[i])) {
      ADD_FAILURE() << "row " << i << " differs\n  AVX-512: " << Describe(vector.rows[i])
                    << "\n  scalar:  " << Describe(scalar.rows[i]) << "\n" << where;
      break;
    }
  }
  return scalar;
}

const std::vector<CsvOptions>& Dialects() {
  static const std::vector<CsvOptions> dialects = {
      {},  // Kuzu's: , " "
      {'|', '"', '"', false},
      {'\t', '"', '\\', false},   // an escape character apart from the quote
      {',', '"', '\\', true},      // and a header line
      {'\0', '\'', '\\', false},  // NUL is what a masked-off byte reads as
  };
  return dialects;
}

// The bytes of values besides the special ones: bytes that differ from
// the delimiter, the quote and the line break by the high bit alone, NUL,
// and CR.
std::string OrdinaryBytes(const CsvOptions& options) {
  std::string bytes = std::string("abcXYZ019 \x00\x7f\xff\r", 14);
  bytes += static_cast<char>(options.delimiter ^ 0x80);
  bytes += static_cast<char>(options.quote ^ 0x80);
  bytes += static_cast<char>('\n' ^ 0x80);
  return bytes;
}

// A well-formed quoted value: delimiters, line breaks (LF and CRLF) and
// quotes (doubled, or after the escape character) inside.
std::string QuotedValue(std::mt19937_64& random, const CsvOptions& options) {
  const std::string ordinary = OrdinaryBytes(options);
  std::string value(1, options.quote);
  for (size_t length = random() % 40; length > 0; --length) {
    switch (random() % 8) {
      case 0: value += options.delimiter; break;
      case 1: value += random() % 2 ? "\n" : "\r\n"; break;
      case 2: value += {options.escape, options.quote}; break;
      case 3: value += {options.escape, options.escape}; break;
      default: value += ordinary[random() % ordinary.size()];
    }
  }
  return value + options.quote;
}

enum class Quoting { kNone, kWellFormed, kStray };

// Up to a dozen rows of 0 to 300 bytes each (many empty), ending in LF,
// CRLF or a mix, the last without a line break half the time. With
// kWellFormed some fields are QuotedValue()s; with kStray quote and escape
// characters fall anywhere, which mostly makes rows that are errors.
std::string RandomRows(std::mt19937_64& random, const CsvOptions& options, Quoting quoting) {
  const std::string ordinary = OrdinaryBytes(options);
  const uint64_t line_breaks = random() % 3;  // LF, CRLF, either
  std::string text;
  const size_t rows = random() % 13;
  for (size_t r = 0; r < rows; ++r) {
    const size_t length = random() % 8 == 0 ? 0 : random() % 301;
    std::string row;
    while (row.size() < length) {
      const uint64_t what = random() % 16;
      const bool field_starts = row.empty() || row.back() == options.delimiter;
      if (what < 3) {
        row += options.delimiter;
      } else if (what == 3 && quoting == Quoting::kWellFormed && field_starts) {
        row += QuotedValue(random, options);
      } else if (what == 3 && quoting == Quoting::kStray && random() % 8 == 0) {
        row += random() % 2 ? options.quote : options.escape;
      } else {
        row += ordinary[random() % ordinary.size()];
      }
    }
    text += row;
    if (r + 1 < rows || random() % 2 == 0) {
      text += line_breaks == 1 || (line_breaks == 2 && random() % 2 == 0) ? "\r\n" : "\n";
    }
  }
  return text;
}

TEST(CsvReaderScan, ReadersScanWithAvx512WhereTheCpuHasIt) {
  const std::string text = "1,a\n";
  ChunkedText input(text, kWholeReads);
  CsvReader reader(&input, {}, "/f.csv");
  EXPECT_EQ(CsvReaderInternal::ScansWithAvx512(reader), CpuScansCsvRowsWithAvx512());
  CsvReaderInternal::UseScalarScan(&reader);
  EXPECT_FALSE(CsvReaderInternal::ScansWithAvx512(reader));
  // A CR delimiter could be the CR of a CRLF in the block before its LF.
  CsvReader cr(&input, {'\r', '"', '"', false}, "/f.csv");
  EXPECT_FALSE(CsvReaderInternal::ScansWithAvx512(cr));
}

// Random rows in each dialect, read whole and a few bytes at a time, keeping
// none, one, two or all of their fields.
TEST_P(CsvReaderTest, Avx512ScanReadsRandomRowsAsScalarDoes) {
  if (!CpuScansCsvRowsWithAvx512()) GTEST_SKIP() << "this CPU has no AVX-512BW";
  std::mt19937_64 random(GetParam());
  size_t quoted = 0, unquoted = 0, errors = 0;
  for (int i = 0; i < 1000 && !HasFailure(); ++i) {
    const CsvOptions& options = Dialects()[i % Dialects().size()];
    const std::string text = RandomRows(random, options, static_cast<Quoting>(i % 3));
    for (size_t chunk : {kWholeReads, size_t{37}}) {
      for (size_t keep : {size_t{0}, size_t{1}, size_t{2}, CsvReader::kAllFields}) {
        const Reading reading = ExpectScansAgree(text, options, GetParam(), chunk, keep);
        errors += !reading.error.empty();
        for (const RowTold& row : reading.rows) (row.quoted ? quoted : unquoted) += 1;
      }
    }
  }
  // The texts made what the scans must agree on.
  EXPECT_GT(unquoted, 15000u);
  EXPECT_GT(quoted, 3000u);
  EXPECT_GT(errors, 2000u);
}

// Rows whose line break, CR, delimiters, quote or escape fall just before,
// on and just after the edges of 64-byte blocks, in texts read with buffers
// and reads that end all around them.
TEST(CsvReaderScan, Avx512ScanReadsRowsAtBlockEdgesAsScalarDoes) {
  if (!CpuScansCsvRowsWithAvx512()) GTEST_SKIP() << "this CPU has no AVX-512BW";
  const CsvOptions backslash{',', '"', '\\', false};
  std::vector<std::pair<std::string, CsvOptions>> texts = {
      {"\n", {}}, {"\n\n\n", {}}, {"\r\n\r\n", {}}, {"\r", {}}, {",", {}}, {",\r\n,", {}}, {"1,a\n\n2,b\n\r\n3,c", {}},
  };
  for (size_t length : {1, 2, 62, 63, 64, 65, 66, 127, 128, 129, 130, 200}) {
    for (int at : {-1, 0, 1, 61, 62, 63, 64, 65, 126, 127, 128, 129}) {  // where the odd byte goes; -1: none
      if (at >= static_cast<int>(length)) continue;
      std::string row(length, 'x');
      for (size_t i = 7; i < length; i += 23) row[i] = ',';  // more fields around the odd byte
      for (const char odd : {',', '"', '\\', '\r'}) {
        if (at < 0 && odd != ',') continue;  // one row without is enough
        std::string changed = row;
        if (at >= 0) changed[at] = odd;
        const CsvOptions options = odd == '\\' ? backslash : CsvOptions{};
        // The row three times: ending in LF (at `length`), in CRLF (the LF
        // a byte later), and at the end of the input.
        texts.push_back({changed + "\n" + changed + "\r\n" + changed, options});
        // Closing a quote the odd byte opened: the row then ends in the
        // quoted value or after it.
        if (odd == '"') texts.push_back({changed + "\"\n" + changed + "\"\r\n" + changed + "\"", options});
      }
      row[length - 1] = ',';  // an empty last field
      texts.push_back({row + "\n" + row + "\r\n" + row, {}});
    }
  }
  for (const auto& [text, options] : texts) {
    for (size_t buffer : {64, 65, 100, 128, 1 << 16}) {
      for (size_t chunk : {kWholeReads, size_t{61}}) {
        for (size_t keep : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, CsvReader::kAllFields}) {
          ExpectScansAgree(text, options, buffer, chunk, keep);
          if (HasFailure()) return;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kuzusync
