// CsvReader: streams rows of a CSV file written by Kuzu's EXPORT DATABASE.
//
// RFC 4180 with Kuzu's conventions: fields are quoted only when needed,
// quotes inside quoted fields are doubled (or preceded by the escape
// character when it differs from the quote), quoted fields may hold
// delimiters and newlines, and an empty unquoted field is NULL while ""
// is the empty string. Bytes are passed through unchanged (UTF-8 kept).
// Where the CPU has AVX-512BW, rows are scanned with it; the rows read are
// the same (csv_reader_internal.h). Internal to the snapshot library; not
// thread-safe.

#ifndef KUZUSYNC_SNAPSHOT_CSV_READER_H_
#define KUZUSYNC_SNAPSHOT_CSV_READER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/env.h"
#include "snapshot/snapshot.h"

namespace kuzusync {

class CsvReader {
 public:
  // `file` must outlive the reader. `filename` names the file in errors.
  CsvReader(SequentialFile* file, CsvOptions options, std::string filename,
            size_t buffer_size = 1 << 20);

  static constexpr size_t kAllFields = static_cast<size_t>(-1);

  // Parses the next row. Sets *has_row to false at end of input. On error
  // (unterminated quote, junk after a closing quote) the Status names the
  // file and the line where the row starts.
  Status Next(bool* has_row) { return NextLeading(kAllFields, has_row); }

  // Like Next, but keeps only the row's first `keep` fields. The others are
  // checked as Next checks them and counted, but neither unescaped nor
  // stored: a scan that decides by a row's key whether it wants the row
  // pays for the rest of the row only when it does (see ParseWhole).
  Status NextLeading(size_t keep, bool* has_row);

  // Moves on to the row that starts at byte `offset` of the input when that
  // byte is buffered and not behind where the next row starts: the bytes in
  // between are skipped unparsed. False, unmoved, otherwise.
  bool SkipTo(uint64_t offset);
  // Forgets what was read: the next row starts at byte `offset`, from which
  // the caller has made the input read on. A header is not looked for in
  // the middle of a file.
  void Restart(uint64_t offset);

  // Parses every field of the last row into fields(). The row was checked
  // whole when it was read, so this cannot fail.
  void ParseWhole();

  // The kept fields of the last row; views stay valid until the next call.
  const std::vector<std::string_view>& fields() const { return fields_; }
  const std::vector<uint8_t>& nulls() const { return nulls_; }
  // The number of fields the last row has, kept or not.
  size_t field_count() const { return field_count_; }
  // 0 once the reader moved by SkipTo or Restart: lines are not counted
  // across bytes that are not read.
  uint64_t row_line() const { return row_line_; }
  // The byte offset in the input of the last row's first byte (a header
  // line counts).
  uint64_t row_offset() const { return consumed_ + row_begin_; }
  // The last row's bytes, line break included when it has one.
  std::string_view raw() const { return raw_; }
  // True when a quoted value of the last row holds a line break.
  bool multiline() const { return multiline_; }
  // True when the last row holds a quote (or escape) character; otherwise
  // its fields are its bytes, line break aside, split on the delimiter.
  bool quoted() const { return quoted_row_; }

 private:
  friend class CsvReaderInternal;  // the AVX-512 scan, and the tests that compare it with the scalar one

  enum class Parse { kRow, kNeedMore, kError };
  struct FieldSpan {
    size_t begin;  // offset into buffer_, or into unescaped_ when `unescaped`
    size_t size;
    bool quoted;
    bool unescaped;
  };

  // Parses the row that starts at buffer_[begin] into spans_ (its first
  // `keep` fields) and field_count_; on kRow, *next is where the next row
  // starts.
  Parse ParseRow(size_t begin, size_t keep, size_t* next, Status* error);
  Parse ParseRowScalar(size_t begin, size_t keep, size_t* next, Status* error);
  Parse ParseQuotedRow(size_t begin, size_t keep, size_t* next, Status* error);
  // After a closing quote at buffer_[p - 1]: moves *p to the delimiter or
  // line break that must follow.
  Parse AfterClosingQuote(size_t begin, size_t* p, Status* error) const;
  void KeepFields();
  // spans_ grows but never shrinks: a row costs no call into std::vector.
  void AddSpan(size_t begin, size_t size, bool quoted, bool unescaped) {
    if (span_count_ == spans_.size()) spans_.resize(spans_.size() * 2 + 8);
    spans_[span_count_++] = {begin, size, quoted, unescaped};
  }
  Status Fill();
  // What errors and row_line() name: 0 (none) when lines are not known.
  uint64_t KnownLine(uint64_t line) const { return lines_known_ ? line : 0; }

  SequentialFile* file_;
  CsvOptions options_;
  bool scan_with_avx512_;  // ParseRow's fast path is CsvReaderInternal::ParseRowAvx512
  std::string filename_;
  std::string buffer_;
  size_t begin_ = 0;  // start of unparsed data in buffer_
  size_t end_ = 0;    // end of valid data in buffer_
  uint64_t consumed_ = 0;  // input offset of buffer_[0]
  bool eof_ = false;
  bool header_skipped_ = false;
  uint64_t line_ = 1;  // line of buffer_[begin_], when lines_known_
  bool lines_known_ = true;
  uint64_t row_line_ = 0;
  size_t row_begin_ = 0;  // the last row's offset in buffer_
  size_t field_count_ = 0;
  bool quoted_row_ = false;  // the last row took the general path
  std::string_view raw_;
  bool multiline_ = false;

  std::vector<FieldSpan> spans_;
  size_t span_count_ = 0;  // spans_ of the last row
  std::string unescaped_;
  std::vector<std::string_view> fields_;
  std::vector<uint8_t> nulls_;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_SNAPSHOT_CSV_READER_H_
