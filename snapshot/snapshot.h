// snapshot: reads Kuzu `EXPORT DATABASE ... (format='csv')` directories.
//
// An export is schema.cypher (DDL), copy.cypher (which file holds which
// table, with its CSV options) and one CSV file per node table or per rel
// table FROM/TO pair. This library parses the two Cypher files into a
// Schema and a list of DataFiles, and streams the rows of a table as
// unquoted fields. All knowledge of the export layout lives here, so that a
// new layout (a Kuzu fork, a parquet reader) is one reader away.
// Functions are thread-compatible: distinct calls may run concurrently.

#ifndef KUZUSYNC_SNAPSHOT_SNAPSHOT_H_
#define KUZUSYNC_SNAPSHOT_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/env.h"
#include "snapshot/status.h"

namespace kuzusync {

enum class TableKind { kNode, kRel };

struct Column {
  std::string name;
  std::string type;  // as written in the DDL, whitespace collapsed: "STRUCT(a INT64, b STRING)"
  bool operator==(const Column&) const = default;
};

struct RelConnection {
  std::string from;
  std::string to;
  bool operator==(const RelConnection&) const = default;
};

struct TableSchema {
  std::string name;
  TableKind kind = TableKind::kNode;
  // Node: every column. Rel: the properties only (the CSV row is from-key,
  // to-key, then these).
  std::vector<Column> columns;
  size_t primary_key = 0;                  // node: index into columns
  std::vector<RelConnection> connections;  // rel: FROM/TO pairs
  std::string multiplicity;                // rel: MANY_MANY, ONE_ONE, ...
  std::string ddl;                         // the CREATE statement as written

  // Number of fields each CSV row of this table has.
  size_t FieldCount() const { return kind == TableKind::kRel ? columns.size() + 2 : columns.size(); }
  // True when rows of the two tables mean the same thing (name aside).
  bool SameShape(const TableSchema& other) const;
};

struct Schema {
  std::vector<TableSchema> tables;
  // Statements that are not table DDL (sequences, RETURN nextval, macros),
  // carried verbatim so that a writer can reproduce them.
  std::vector<std::string> other_statements;

  const TableSchema* Find(std::string_view name) const;
};

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  char escape = '"';
  bool header = false;
};

// One COPY statement of copy.cypher.
struct DataFile {
  std::string table;
  std::string path;  // relative to the export directory, as written
  RelConnection connection;  // rel tables: the FROM/TO pair of this file
  CsvOptions csv;
  uint64_t size_bytes = 0;  // filled by OpenExport
};

struct ExportDir {
  std::string dir;
  Schema schema;
  std::vector<DataFile> files;

  std::vector<const DataFile*> FilesOf(std::string_view table) const;
  // The size of the table's data files together.
  uint64_t BytesOf(std::string_view table) const;
  std::string PathOf(const DataFile& file) const { return JoinPath(dir, file.path); }
};

// Parses schema.cypher text. `filename` is used in error messages.
Result<Schema> ParseSchema(std::string_view text, const std::string& filename);

// Parses copy.cypher text into its COPY statements.
Result<std::vector<DataFile>> ParseCopyStatements(std::string_view text,
                                                  const std::string& filename);

// Reads dir/schema.cypher and dir/copy.cypher and checks that every data
// file exists and every table in copy.cypher is declared. A directory
// holding parquet files is kUnsupported.
Result<ExportDir> OpenExport(Env* env, const std::string& dir);

// One CSV row, fields unquoted. Views are valid only during the callback.
struct RowView {
  const std::vector<std::string_view>* fields;
  const std::vector<uint8_t>* is_null;  // 1 where the field is NULL (empty, unquoted)
  uint64_t line;                     // 1-based line where the row starts
  // The row's bytes as in the file, its line break included when it has
  // one: what a rewrite copies to keep the row exactly as it was.
  std::string_view raw = {};
  bool multiline = false;  // a quoted value holds a line break
};

class CsvReader;

// Reads the rows of one data file in order, parsing of each row only its
// first `leading` fields: a scan that decides by a row's key whether it
// wants the row parses the rest of it only when it does. Every row is still
// checked whole (quotes closed, number of fields), so a scan stops at the
// errors ScanDataFile stops at. Or reads just the rows that start at given
// byte offsets (OpenAtOffsets). Not thread-safe.
class DataFileReader {
 public:
  DataFileReader();
  ~DataFileReader();
  DataFileReader(const DataFileReader&) = delete;
  DataFileReader& operator=(const DataFileReader&) = delete;

  // Opens `file` of `export_dir`, whose rows must have `expected_fields`
  // fields (leading <= expected_fields).
  Status Open(Env* env, const ExportDir& export_dir, const DataFile& file,
              size_t expected_fields, size_t leading);
  // Opens `file` to read only the rows that start at `offsets` (as offset()
  // gave them), one by each Next, in that order. Rows that start within
  // 64 KB of each other are read in one piece (increasing offsets make the
  // most of that) and the bytes between them are not parsed. An offset
  // where no row starts gives a wrong row or an error, which names no line
  // (lines are not counted): callers check the rows they get.
  Status OpenAtOffsets(Env* env, const ExportDir& export_dir, const DataFile& file,
                       size_t expected_fields, size_t leading, std::vector<uint64_t> offsets);

  // Moves to the next row; *has_row is false at the end. Errors name the
  // file and line (unterminated quote, wrong number of fields).
  Status Next(bool* has_row);

  // Leading field i of the current row, unquoted; valid until Next.
  std::string_view field(size_t i) const { return (*fields_)[i]; }
  bool is_null(size_t i) const { return (*nulls_)[i] != 0; }
  uint64_t line() const { return line_; }  // where the row starts, 1-based; 0 by offset
  // Where the row starts: the byte offset of its first byte in the file,
  // the header line counted.
  uint64_t offset() const { return offset_; }
  // The row's bytes as in the file, as RowView::raw.
  std::string_view raw() const { return raw_; }
  bool multiline() const { return multiline_; }
  // True when the row holds a quote (or escape) character. Otherwise its
  // fields are exactly line_text() split on the delimiter, each NULL when
  // empty: a row Kuzu wrote without quoting anything.
  bool quoted() const { return quoted_; }
  // raw() without its line break ("\n", "\r\n", or none at the end of the file).
  std::string_view line_text() const {
    std::string_view text = raw_;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    return text;
  }
  const std::string& path() const { return path_; }

  // The current row with every field parsed; valid until Next.
  RowView Whole();

 private:
  class Window;
  // By offset: moves the reader to the next offset's row.
  void MoveToNextOffset();

  std::string path_;
  size_t expected_fields_ = 0;
  size_t leading_ = 0;
  std::unique_ptr<SequentialFile> input_;
  Window* window_ = nullptr;  // input_, when reading by offset
  std::vector<uint64_t> offsets_;
  size_t next_offset_ = 0;  // index into offsets_
  uint64_t offset_ = 0;
  std::unique_ptr<CsvReader> reader_;
  const std::vector<std::string_view>* fields_ = nullptr;  // owned by reader_
  const std::vector<uint8_t>* nulls_ = nullptr;
  uint64_t line_ = 0;
  std::string_view raw_;
  bool multiline_ = false;
  bool quoted_ = false;
};

// Streams every row of one data file. Stops at the first error, which names
// the file and line (unterminated quote, wrong number of fields).
// The callback may return a non-OK Status to stop early; it is passed on.
Status ScanDataFile(Env* env, const ExportDir& export_dir, const DataFile& file,
                    size_t expected_fields, const std::function<Status(const RowView&)>& on_row);

// Appends one field in Kuzu's CSV dialect: NULL is an empty field; a value
// is quoted when it is empty or holds the delimiter, quote, escape or a line
// break, and lists and structs ('[', '{') are always quoted, as Kuzu does.
void AppendCsvField(std::string* out, std::string_view value, bool is_null,
                    const CsvOptions& options);

// Parses text holding CSV rows in the dialect `csv` (by default, what
// AppendCsvRow writes) and calls on_row for each; `what` names the text in
// errors.
Status ScanCsvText(std::string_view text, const std::string& what,
                   const std::function<Status(const RowView&)>& on_row, const CsvOptions& csv = {});

// Appends a whole row and its newline.
void AppendCsvRow(std::string* out, const RowView& row, const CsvOptions& options);

// Returns the first line of a data file that has a header (without the
// newline), so that a rewritten file keeps it byte for byte.
Result<std::string> ReadHeaderLine(Env* env, const std::string& path);

}  // namespace kuzusync

#endif  // KUZUSYNC_SNAPSHOT_SNAPSHOT_H_
