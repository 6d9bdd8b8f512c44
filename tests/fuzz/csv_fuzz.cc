// Fuzzes the CSV reader: never a crash, every row it reads survives a
// write-then-read round trip unchanged (fields and NULLs), reads the same
// where it starts as in a read from the front, and reads the same with the
// AVX-512 scan as with the scalar one. In Kuzu's dialect, a row that
// merkle::IsCanonicalText takes as its own canonical text is that text.

#include <algorithm>
#include <cstdlib>

#include "merkle/merkle.h"
#include "snapshot/csv_reader.h"
#include "snapshot/csv_reader_internal.h"
#include "tests/chunked_text.h"

using namespace kuzusync;

namespace {

// Reads of the fuzzed text: a few bytes at a time.
constexpr size_t kChunk = 37;

std::vector<std::pair<std::vector<std::string>, std::vector<uint8_t>>> ReadAll(
    const std::string& text, const CsvOptions& options, size_t buffer, bool* ok) {
  std::vector<std::pair<std::vector<std::string>, std::vector<uint8_t>>> rows;
  auto env = NewMemEnv();
  (void)WriteFileAtomically(env.get(), "/f.csv", text);
  std::unique_ptr<SequentialFile> file;
  (void)env->NewSequentialFile("/f.csv", &file);
  CsvReader reader(file.get(), options, "/f.csv", buffer);
  *ok = true;
  while (true) {
    bool has_row = false;
    if (!reader.Next(&has_row).ok()) {
      *ok = false;
      return rows;
    }
    if (!has_row) return rows;
    rows.emplace_back(std::vector<std::string>(reader.fields().begin(), reader.fields().end()),
                      reader.nulls());
  }
}

// Every row whose bytes (line break aside) IsCanonicalText takes for its
// canonical text is hashed from them: they must be the text its fields make.
bool CanonicalTextsAgree(const std::string& text, const CsvOptions& options, size_t buffer) {
  ChunkedText input(text, kChunk);
  CsvReader reader(&input, options, "/f.csv", buffer);
  while (true) {
    bool has_row = false;
    if (!reader.Next(&has_row).ok() || !has_row) return true;
    std::string_view line = reader.raw();
    if (line.ends_with('\n')) line.remove_suffix(1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    // As RowEncoder::QuotedRowIsItsText.
    if (reader.raw().ends_with('\r') || line.find('\r') != std::string_view::npos) continue;
    if (!merkle::IsCanonicalText(line)) continue;
    std::string canonical;
    for (size_t i = 0; i < reader.fields().size(); ++i) {
      if (i > 0) canonical.push_back(',');
      merkle::AppendCanonicalField(&canonical, reader.fields()[i], reader.nulls()[i] != 0);
    }
    if (canonical != line) return false;
  }
}

// Reads with NextLeading(keep), checking each row against what Next read.
bool LeadingAgrees(const std::string& text, const CsvOptions& options, size_t buffer, size_t keep,
                   const std::vector<std::pair<std::vector<std::string>, std::vector<uint8_t>>>& rows) {
  auto env = NewMemEnv();
  (void)WriteFileAtomically(env.get(), "/f.csv", text);
  std::unique_ptr<SequentialFile> file;
  (void)env->NewSequentialFile("/f.csv", &file);
  CsvReader reader(file.get(), options, "/f.csv", buffer);
  for (size_t i = 0;; ++i) {
    bool has_row = false;
    if (!reader.NextLeading(keep, &has_row).ok()) return false;
    if (!has_row) return i == rows.size();
    if (i >= rows.size()) return false;
    const auto& [fields, nulls] = rows[i];
    if (reader.field_count() != fields.size()) return false;
    const size_t kept = std::min(keep, fields.size());
    if (reader.fields().size() != kept) return false;
    for (size_t f = 0; f < kept; ++f) {
      if (reader.fields()[f] != fields[f] || reader.nulls()[f] != nulls[f]) return false;
    }
    reader.ParseWhole();
    if (std::vector<std::string>(reader.fields().begin(), reader.fields().end()) != fields ||
        reader.nulls() != nulls) {
      return false;
    }
  }
}

void AppendBytes(std::string* out, std::string_view bytes) {
  *out += std::to_string(bytes.size()) + ':';
  *out += bytes;
}

// Everything a reader tells of each row it reads with NextLeading(keep),
// then with ParseWhole, and the error that ends the reading, if one does.
std::string RowsTold(const std::string& text, const CsvOptions& options, size_t buffer, size_t chunk, size_t keep,
                     bool scalar) {
  ChunkedText input(text, chunk);
  CsvReader reader(&input, options, "/f.csv", buffer);
  if (scalar) CsvReaderInternal::UseScalarScan(&reader);
  std::string told;
  while (true) {
    bool has_row = false;
    const Status s = reader.NextLeading(keep, &has_row);
    if (!s.ok()) return told + "error " + s.ToString();
    if (!has_row) return told;
    told += std::to_string(reader.field_count()) + ' ' + std::to_string(reader.row_line()) + ' ' +
            std::to_string(reader.row_offset()) + (reader.multiline() ? 'm' : '-') + (reader.quoted() ? 'q' : '-');
    AppendBytes(&told, reader.raw());
    for (int whole = 0; whole < 2; ++whole) {
      if (whole) reader.ParseWhole();
      told += '|';
      for (size_t i = 0; i < reader.fields().size(); ++i) {
        AppendBytes(&told, reader.fields()[i]);
        told += reader.nulls()[i] ? 'N' : '-';
      }
    }
    told += '\n';
  }
}

// The AVX-512 scan, where the CPU has one, tells what the scalar scan does.
bool ScansAgree(const std::string& text, const CsvOptions& options, size_t buffer, size_t chunk, size_t keep) {
  if (!CpuScansCsvRowsWithAvx512()) return true;
  return RowsTold(text, options, buffer, chunk, keep, false) == RowsTold(text, options, buffer, chunk, keep, true);
}

// Reads every `step`th row again where it starts (row_offset()), front to
// back or back to front, moving within the buffer (SkipTo) or reading from
// there anew (Restart), and checks it against what the read from the front
// gave.
bool RowsAtOffsetsAgree(const std::string& text, const CsvOptions& options, size_t buffer, size_t step,
                        const std::vector<std::pair<std::vector<std::string>, std::vector<uint8_t>>>& rows) {
  std::vector<uint64_t> offsets;
  {
    ChunkedText input(text, kChunk);
    CsvReader reader(&input, options, "/f.csv", buffer);
    while (true) {
      bool has_row = false;
      if (!reader.Next(&has_row).ok()) return false;
      if (!has_row) break;
      offsets.push_back(reader.row_offset());
    }
  }
  if (offsets.size() != rows.size()) return false;
  std::vector<size_t> chosen;
  for (size_t i = 0; i < rows.size(); i += step) chosen.push_back(i);
  if (text.size() % 2 == 1) std::reverse(chosen.begin(), chosen.end());
  ChunkedText input(text, kChunk);
  CsvReader reader(&input, options, "/f.csv", buffer);
  for (size_t i : chosen) {
    if (!reader.SkipTo(offsets[i])) {
      input.MoveTo(offsets[i]);
      reader.Restart(offsets[i]);
    }
    bool has_row = false;
    if (!reader.Next(&has_row).ok() || !has_row || reader.row_offset() != offsets[i]) return false;
    if (std::vector<std::string>(reader.fields().begin(), reader.fields().end()) != rows[i].first ||
        reader.nulls() != rows[i].second) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  CsvOptions options;
  if (data[0] & 1) options.delimiter = '|';
  if (data[0] & 2) options.escape = '\\';
  options.header = (data[0] & 4) != 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Errors included; in the dialect chosen and in one where NUL (what the
  // AVX-512 scan reads past the buffered bytes) is the delimiter.
  const size_t keep = ((data[0] >> 3) & 3) == 3 ? CsvReader::kAllFields : (data[0] >> 3) & 3;
  CsvOptions nul = options;
  nul.delimiter = '\0';
  nul.quote = '\'';
  if (!ScansAgree(text, options, 64 + (data[0] >> 3), 37, keep) ||
      !ScansAgree(text, options, 1 << 16, text.size() + 1, keep) ||
      !ScansAgree(text, nul, 64 + (data[0] >> 3), 1 + (data[0] >> 2), keep)) {
    std::abort();
  }
  if (options.delimiter == ',' && options.escape == '"' && !CanonicalTextsAgree(text, options, 64 + (data[0] >> 3))) {
    std::abort();
  }
  bool ok = false;
  auto rows = ReadAll(text, options, 64 + (data[0] >> 3), &ok);
  if (!ok) return 0;
  // A large buffer must read the same rows as a tiny one.
  bool ok_big = false;
  if (ReadAll(text, options, 1 << 16, &ok_big) != rows || !ok_big) std::abort();
  // Keeping only the first fields reads the same rows, their kept fields
  // and, on demand, the others.
  if (!LeadingAgrees(text, options, 64 + (data[0] >> 3), (data[0] >> 3) & 3, rows)) std::abort();
  if (!RowsAtOffsetsAgree(text, options, 64 + (data[0] >> 3), 1 + ((data[0] >> 5) & 3), rows)) std::abort();
  // Write what was read in Kuzu's dialect and read it back.
  std::string written;
  CsvOptions plain = options;
  plain.header = false;
  for (const auto& [fields, nulls] : rows) {
    std::vector<std::string_view> views(fields.begin(), fields.end());
    AppendCsvRow(&written, RowView{&views, &nulls, 0}, plain);
  }
  bool ok_again = false;
  auto again = ReadAll(written, plain, 64, &ok_again);
  if (!ok_again) std::abort();
  // A row of one empty unquoted field is written as an empty line, which
  // reads back the same; compare everything.
  if (again != rows) std::abort();
  return 0;
}
