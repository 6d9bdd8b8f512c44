// CsvReader: a buffered, restartable row parser. A row that does not fit in
// the buffered bytes is parsed again from its start after more input is
// read, so the parser never keeps state across refills.

#include "snapshot/csv_reader.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "snapshot/csv_reader_internal.h"

namespace kuzusync {
namespace {

// Occurrences of `c` in [p, end), eight bytes at a time: std::count is a
// byte loop here (GCC -O2), and counting the fields a scan does not keep
// was the largest part of reading a row that way (perf).
size_t CountByte(const char* p, const char* end, char c) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  const uint64_t pattern = kOnes * static_cast<uint8_t>(c);
  size_t n = 0;
  for (; end - p >= 8; p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    const uint64_t x = word ^ pattern;  // zero bytes where c is
    // The high bit of each byte of x that is zero, exactly (no carry
    // crosses bytes), then their sum gathered in the top byte.
    const uint64_t zero = ~(((x & kLow7) + kLow7) | x | kLow7);
    n += ((zero >> 7) * kOnes) >> 56;
  }
  for (; p < end; ++p) n += *p == c;
  return n;
}

}  // namespace

CsvReader::CsvReader(SequentialFile* file, CsvOptions options, std::string filename,
                     size_t buffer_size)
    : file_(file),
      options_(options),
      // A '\r' delimiter would be the CR of a CRLF that the block scan has
      // already taken for a delimiter when the '\n' starts the next block.
      scan_with_avx512_(CpuScansCsvRowsWithAvx512() && options.delimiter != '\r'),
      filename_(std::move(filename)) {
  buffer_.resize(std::max<size_t>(buffer_size, 64));
}

Status CsvReader::Fill() {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    consumed_ += begin_;
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // one row larger than the buffer
  size_t got = 0;
  KS_RETURN_IF_ERROR(file_->Read(buffer_.size() - end_, buffer_.data() + end_, &got));
  if (got == 0) eof_ = true;
  end_ += got;
  return Status::Ok();
}

Status CsvReader::NextLeading(size_t keep, bool* has_row) {
  while (true) {
    if (begin_ == end_) {
      if (eof_) {
        *has_row = false;
        return Status::Ok();
      }
      KS_RETURN_IF_ERROR(Fill());
      continue;
    }
    size_t next = 0;
    Status error;
    Parse result = ParseRow(begin_, keep, &next, &error);
    if (result == Parse::kError) return error;
    if (result == Parse::kNeedMore) {
      KS_RETURN_IF_ERROR(Fill());
      continue;
    }
    KeepFields();
    row_line_ = KnownLine(line_);
    row_begin_ = begin_;
    raw_ = std::string_view(buffer_.data() + begin_, next - begin_);
    multiline_ = false;
    if (quoted_row_) {
      std::string_view body = raw_;
      if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
      if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
      const size_t newlines = CountByte(raw_.data(), raw_.data() + raw_.size(), '\n');
      multiline_ = newlines > (!raw_.empty() && raw_.back() == '\n' ? 1u : 0u) ||
                   std::memchr(body.data(), '\r', body.size()) != nullptr;
      line_ += newlines;
    } else {
      line_ += 1;  // an unquoted row is exactly one line
    }
    begin_ = next;
    if (options_.header && !header_skipped_) {
      header_skipped_ = true;
      continue;
    }
    *has_row = true;
    return Status::Ok();
  }
}

bool CsvReader::SkipTo(uint64_t offset) {
  if (offset < consumed_ + begin_ || offset >= consumed_ + end_) return false;
  begin_ = static_cast<size_t>(offset - consumed_);
  lines_known_ = false;
  return true;
}

void CsvReader::Restart(uint64_t offset) {
  consumed_ = offset;
  begin_ = end_ = 0;
  eof_ = false;
  header_skipped_ = true;
  lines_known_ = false;
}

void CsvReader::ParseWhole() {
  if (fields_.size() == field_count_) return;
  // The bytes and eof_ are as they were when the row was read, so parsing
  // it again takes the same path and cannot need more input or fail.
  size_t next = 0;
  Status error;
  const Parse result = ParseRow(row_begin_, kAllFields, &next, &error);
  assert(result == Parse::kRow);
  (void)result;
  KeepFields();
}

// Materialises views only after parsing: unescaped_ may grow during it.
void CsvReader::KeepFields() {
  // Nearly every row keeps as many fields as the last: resizing is a no-op.
  fields_.resize(span_count_);
  nulls_.resize(span_count_);
  for (size_t i = 0; i < span_count_; ++i) {
    const FieldSpan& span = spans_[i];
    const char* base = span.unescaped ? unescaped_.data() : buffer_.data();
    fields_[i] = std::string_view(base + span.begin, span.size);
    nulls_[i] = span.size == 0 && !span.quoted;
  }
}

CsvReader::Parse CsvReader::ParseRow(size_t begin, size_t keep, size_t* next, Status* error) {
#if defined(__x86_64__)
  if (scan_with_avx512_) return CsvReaderInternal::ParseRowAvx512(this, begin, keep, next, error);
#endif
  return ParseRowScalar(begin, keep, next, error);
}

// Fast path: a line without any quote character is split on the delimiter.
CsvReader::Parse CsvReader::ParseRowScalar(size_t begin, size_t keep, size_t* next, Status* error) {
  const char* data = buffer_.data();
  const char* start = data + begin;
  const char* limit = data + end_;
  const char* eol = static_cast<const char*>(std::memchr(start, '\n', limit - start));
  if (eol == nullptr) {
    if (!eof_) return Parse::kNeedMore;
    eol = limit;
  }
  if (std::memchr(start, options_.quote, eol - start) != nullptr ||
      (options_.escape != options_.quote &&
       std::memchr(start, options_.escape, eol - start) != nullptr)) {
    quoted_row_ = true;
    return ParseQuotedRow(begin, keep, next, error);
  }
  quoted_row_ = false;
  span_count_ = 0;
  // RFC 4180 ends lines with CRLF: a '\r' before the newline is not data.
  const char* data_end = (eol > start && eol[-1] == '\r') ? eol - 1 : eol;
  const char* field = start;
  while (true) {
    if (span_count_ == keep) {
      // The rest of the line is fields too, one more than its delimiters.
      field_count_ = keep + 1 + CountByte(field, data_end, options_.delimiter);
      break;
    }
    const char* delim =
        static_cast<const char*>(std::memchr(field, options_.delimiter, data_end - field));
    if (delim == nullptr) {
      AddSpan(static_cast<size_t>(field - data), static_cast<size_t>(data_end - field),
                        false, false);
      field_count_ = span_count_;
      break;
    }
    AddSpan(static_cast<size_t>(field - data), static_cast<size_t>(delim - field),
                      false, false);
    field = delim + 1;
  }
  *next = (eol == limit) ? end_ : static_cast<size_t>(eol - data) + 1;
  return Parse::kRow;
}

#if defined(__x86_64__)
bool CpuScansCsvRowsWithAvx512() {
  // Also asks whether the OS saves zmm registers. Valgrind's CPU has no AVX-512.
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                          __builtin_cpu_supports("popcnt");
  return has;
}

namespace {

// Which of the 64 bytes at `block` are line breaks, quotes or escapes, and
// delimiters. Only the first `left` are buffered, and only they are read:
// a masked-off byte cannot fault, and reads as NUL, which is no line break
// and which ParseRowAvx512 cuts off the other masks (NUL may be a quote or
// delimiter) with the bytes past the row.
struct BlockBits {
  __mmask64 buffered, breaks, quotes, delimiters;
};

__attribute__((target("avx512f,avx512bw,bmi,bmi2,popcnt"), always_inline)) inline BlockBits ClassifyBlock(
    const char* block, size_t left, const CsvOptions& options) {
  const __mmask64 buffered = _bzhi_u64(~0ULL, static_cast<unsigned>(std::min<size_t>(left, 64)));
  const __m512i bytes = _mm512_maskz_loadu_epi8(buffered, block);
  return {buffered, _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8('\n')),
          _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(options.quote)) |
              _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(options.escape)),
          _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(options.delimiter))};
}

}  // namespace

// ParseRowScalar in one pass: each 64 bytes of the row are compared with
// the line break, the quote, the escape and the delimiter at once, and four
// bit masks tell where the line ends, whether a quote comes before that,
// where the kept fields end and how many fields the row has. The scalar
// path makes a pass for each (memchr for the line end, the quote, the
// escape and each kept field, then CountByte), and on rows of ~40 bytes
// their calls and setup cost more than their scanning.
//
// A quote or escape before the line end sends the row to ParseQuotedRow
// even when the line end is not buffered yet (where the scalar path asks
// for more input first): ParseQuotedRow also stops at the end of the
// buffered bytes with kNeedMore, and never reports an error that more
// input could undo, so the row reads the same.
CsvReader::Parse CsvReaderInternal::ParseRowAvx512(CsvReader* reader, size_t begin, size_t keep, size_t* next,
                                                   Status* error) {
  const char* data = reader->buffer_.data();
  const char* start = data + begin;
  const char* limit = data + reader->end_;
  // The kept fields go straight into spans_, not through AddSpan, which
  // may call to grow it: registers live across a call the scan comes back
  // from would be spilled and reloaded for every row.
  CsvReader::FieldSpan* spans = reader->spans_.data();
  const size_t room = reader->spans_.size();
  size_t kept = 0;
  const char* field = start;  // where the next kept field begins
  size_t skipped = 0;         // delimiters after the kept fields
  const char* eol = limit;    // at EOF, the row ends with the input
  for (const char* block = start;; block += 64) {
    const size_t left = static_cast<size_t>(limit - block);
    const BlockBits bits = ClassifyBlock(block, left, reader->options_);
    __mmask64 in_row = bits.buffered;
    if (bits.breaks != 0) {
      in_row = _blsmsk_u64(bits.breaks) >> 1;  // the bytes before the first line break
      eol = block + _tzcnt_u64(bits.breaks);
    }
    if ((bits.quotes & in_row) != 0) {
      reader->quoted_row_ = true;
      return reader->ParseQuotedRow(begin, keep, next, error);
    }
    __mmask64 delimiters = bits.delimiters & in_row;
    for (; delimiters != 0 && kept < keep; delimiters = _blsr_u64(delimiters)) {
      if (kept == room) {  // spans_ is full: grow it and parse the row again
        reader->spans_.resize(room * 2 + 8);
        return ParseRowAvx512(reader, begin, keep, next, error);
      }
      const char* delimiter = block + _tzcnt_u64(delimiters);
      spans[kept++] = {static_cast<size_t>(field - data), static_cast<size_t>(delimiter - field), false, false};
      field = delimiter + 1;
    }
    skipped += _mm_popcnt_u64(delimiters);
    if (bits.breaks != 0) break;
    if (left <= 64) {
      if (!reader->eof_) return CsvReader::Parse::kNeedMore;
      break;
    }
  }
  reader->quoted_row_ = false;
  reader->span_count_ = kept;
  reader->field_count_ = kept + skipped + 1;
  if (kept < keep) {
    // RFC 4180 ends lines with CRLF: a '\r' before the newline is not data.
    // The delimiter is not '\r' here (see the constructor), so that CR was
    // not taken for the end of a field either.
    const char* data_end = (eol > start && eol[-1] == '\r') ? eol - 1 : eol;
    reader->AddSpan(static_cast<size_t>(field - data), static_cast<size_t>(data_end - field), false, false);
  }
  *next = (eol == limit) ? reader->end_ : static_cast<size_t>(eol - data) + 1;
  return CsvReader::Parse::kRow;
}
#else
bool CpuScansCsvRowsWithAvx512() { return false; }
#endif

CsvReader::Parse CsvReader::AfterClosingQuote(size_t begin, size_t* p, Status* error) const {
  const char* data = buffer_.data();
  if (*p >= end_ || data[*p] == options_.delimiter || data[*p] == '\n') return Parse::kRow;
  if (data[*p] == '\r') {
    if (*p + 1 < end_ && data[*p + 1] == '\n') {
      ++*p;
      return Parse::kRow;
    }
    if (*p + 1 >= end_ && !eof_) return Parse::kNeedMore;  // the '\n' may be next
  }
  uint64_t line = line_ + std::count(data + begin, data + *p, '\n');
  *error = Status::Corrupt(std::string("unexpected character '") + data[*p] +
                               "' after a closing quote",
                           filename_, KnownLine(line));
  return Parse::kError;
}

// General path: a state machine over one row that may span several lines.
// Fields past the first `keep` are only skipped over, which finds the end
// of a quoted value with memchr instead of looking at each byte.
CsvReader::Parse CsvReader::ParseQuotedRow(size_t begin, size_t keep, size_t* next,
                                           Status* error) {
  const char* data = buffer_.data();
  const char quote = options_.quote;
  const char escape = options_.escape;
  const char delimiter = options_.delimiter;
  span_count_ = 0;
  unescaped_.clear();
  size_t p = begin;
  size_t count = 0;
  while (true) {
    if (p < end_ && data[p] == quote && count >= keep) {
      size_t q = p + 1;
      while (true) {
        const char* hit;
        if (escape == quote) {
          hit = static_cast<const char*>(std::memchr(data + q, quote, end_ - q));
        } else {
          hit = std::find_if(data + q, data + end_, [&](char c) { return c == quote || c == escape; });
          if (hit == data + end_) hit = nullptr;
        }
        if (hit == nullptr || (*hit != quote && hit + 1 == data + end_)) {
          if (!eof_) return Parse::kNeedMore;
          *error = Status::Corrupt("unterminated quoted field", filename_, KnownLine(line_));
          return Parse::kError;
        }
        q = hit - data;
        if (*hit != quote) {  // the escape, which takes the next byte
          q += 2;
          continue;
        }
        if (q + 1 >= end_ && !eof_) return Parse::kNeedMore;
        if (q + 1 < end_ && data[q + 1] == quote && escape == quote) {
          q += 2;
          continue;
        }
        break;  // closing quote
      }
      p = q + 1;
      Parse after = AfterClosingQuote(begin, &p, error);
      if (after != Parse::kRow) return after;
    } else if (p < end_ && data[p] == quote) {
      // Quoted field: copy into unescaped_ only if an escape occurs.
      size_t content = p + 1;
      size_t q = content;
      bool needs_copy = false;
      std::string copy;
      while (true) {
        if (q >= end_) {
          if (!eof_) return Parse::kNeedMore;
          *error = Status::Corrupt("unterminated quoted field", filename_, KnownLine(line_));
          return Parse::kError;
        }
        char c = data[q];
        if (c == escape && escape != quote) {
          if (q + 1 >= end_) {
            if (!eof_) return Parse::kNeedMore;
            *error = Status::Corrupt("unterminated quoted field", filename_, KnownLine(line_));
            return Parse::kError;
          }
          if (!needs_copy) copy.assign(data + content, q - content);
          needs_copy = true;
          copy.push_back(data[q + 1]);
          q += 2;
          continue;
        }
        if (c == quote) {
          if (q + 1 >= end_ && !eof_) return Parse::kNeedMore;
          if (q + 1 < end_ && data[q + 1] == quote && escape == quote) {
            if (!needs_copy) copy.assign(data + content, q - content);
            needs_copy = true;
            copy.push_back(quote);
            q += 2;
            continue;
          }
          break;  // closing quote
        }
        if (needs_copy) copy.push_back(c);
        ++q;
      }
      if (needs_copy) {
        AddSpan(unescaped_.size(), copy.size(), true, true);
        unescaped_ += copy;
      } else {
        AddSpan(content, q - content, true, false);
      }
      p = q + 1;
      Parse after = AfterClosingQuote(begin, &p, error);
      if (after != Parse::kRow) return after;
    } else {
      size_t q = p;
      while (q < end_ && data[q] != delimiter && data[q] != '\n') ++q;
      if (q >= end_ && !eof_) return Parse::kNeedMore;
      if (count < keep) {
        size_t field_end = (q < end_ && q > p && data[q - 1] == '\r') ? q - 1 : q;
        AddSpan(p, field_end - p, false, false);
      }
      p = q;
    }
    ++count;
    // p is at a delimiter, a newline, or the end of input.
    if (p >= end_) {
      if (!eof_) return Parse::kNeedMore;
      *next = end_;
      field_count_ = count;
      return Parse::kRow;
    }
    if (data[p] == '\n') {
      *next = p + 1;
      field_count_ = count;
      return Parse::kRow;
    }
    ++p;  // delimiter: another field follows, possibly empty
    if (p >= end_ && !eof_) return Parse::kNeedMore;
  }
}

}  // namespace kuzusync
