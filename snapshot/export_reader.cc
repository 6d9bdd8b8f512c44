// Opening an export directory and streaming the rows of its data files.

#include <algorithm>
#include <cstring>

#include "snapshot/csv_reader.h"
#include "snapshot/snapshot.h"

namespace kuzusync {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status ParquetUnsupported(const std::string& where) {
  return Status::Unsupported(
      "parquet exports are not supported yet; export with EXPORT DATABASE '<dir>' (format='csv')",
      where);
}

}  // namespace

bool TableSchema::SameShape(const TableSchema& other) const {
  return kind == other.kind && columns == other.columns &&
         (kind == TableKind::kRel || primary_key == other.primary_key) &&
         connections == other.connections;
}

const TableSchema* Schema::Find(std::string_view name) const {
  for (const TableSchema& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<const DataFile*> ExportDir::FilesOf(std::string_view table) const {
  std::vector<const DataFile*> out;
  for (const DataFile& f : files) {
    if (f.table == table) out.push_back(&f);
  }
  return out;
}

uint64_t ExportDir::BytesOf(std::string_view table) const {
  uint64_t bytes = 0;
  for (const DataFile& f : files) {
    if (f.table == table) bytes += f.size_bytes;
  }
  return bytes;
}

Result<ExportDir> OpenExport(Env* env, const std::string& dir) {
  FileType type;
  uint64_t size = 0;
  Status s = env->Stat(dir, &type, &size);
  if (s.code() == Status::Code::kNotFound) return Status::NotFound("no such directory", dir);
  KS_RETURN_IF_ERROR(s);
  if (type != FileType::kDirectory) return Status::InvalidArgument(dir + ": not a directory");

  std::vector<DirEntry> entries;
  KS_RETURN_IF_ERROR(env->ListDir(dir, &entries));
  for (const DirEntry& e : entries) {
    if (EndsWith(e.name, ".parquet")) return ParquetUnsupported(dir);
  }

  ExportDir out;
  out.dir = dir;
  const std::string schema_path = JoinPath(dir, "schema.cypher");
  const std::string copy_path = JoinPath(dir, "copy.cypher");
  std::string text;
  s = ReadFileToString(env, schema_path, &text);
  if (s.code() == Status::Code::kNotFound) {
    return Status::NotFound("missing schema.cypher: not a Kuzu export directory", schema_path);
  }
  KS_RETURN_IF_ERROR(s);
  KS_ASSIGN_OR_RETURN(out.schema, ParseSchema(text, schema_path));

  s = ReadFileToString(env, copy_path, &text);
  if (s.code() == Status::Code::kNotFound) {
    return Status::NotFound("missing copy.cypher: not a Kuzu export directory", copy_path);
  }
  KS_RETURN_IF_ERROR(s);
  KS_ASSIGN_OR_RETURN(out.files, ParseCopyStatements(text, copy_path));

  for (DataFile& file : out.files) {
    if (EndsWith(file.path, ".parquet")) return ParquetUnsupported(copy_path);
    const TableSchema* table = out.schema.Find(file.table);
    if (table == nullptr) {
      return Status::Corrupt("COPY into table " + file.table + ", which schema.cypher does not declare",
                             copy_path);
    }
    if (table->kind == TableKind::kRel && file.connection.from.empty()) {
      if (table->connections.size() != 1) {
        return Status::Corrupt("COPY into rel table " + file.table + " does not say from= and to=",
                               copy_path);
      }
      file.connection = table->connections[0];
    }
    const std::string path = out.PathOf(file);
    s = env->Stat(path, &type, &file.size_bytes);
    if (s.code() == Status::Code::kNotFound) {
      return Status::NotFound("data file of table " + file.table + " named in copy.cypher is missing",
                              path);
    }
    KS_RETURN_IF_ERROR(s);
    if (type != FileType::kRegular) return Status::Corrupt("data file is not a regular file", path);
  }
  return out;
}

// A RandomAccessFile read front to back from where it was last moved to:
// the first read no larger than the caller expects to need, each further
// one (a row longer than expected) twice as large. Reading a few scattered
// rows then costs about their bytes, not a buffer each.
class DataFileReader::Window final : public SequentialFile {
 public:
  explicit Window(std::unique_ptr<RandomAccessFile> file) : file_(std::move(file)) {}

  void MoveTo(uint64_t offset, size_t first_read) {
    position_ = offset;
    next_read_ = first_read;
  }

  Status Read(size_t n, char* scratch, size_t* read) override {
    std::string_view got;
    KS_RETURN_IF_ERROR(file_->Read(position_, std::min(n, next_read_), scratch, &got));
    if (!got.empty() && got.data() != scratch) std::memcpy(scratch, got.data(), got.size());
    position_ += got.size();
    next_read_ *= 2;
    *read = got.size();
    return Status::Ok();
  }

 private:
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t position_ = 0;
  size_t next_read_ = 0;
};

namespace {

// Rows wanted by offset that start within kOffsetWindow of the first are
// read in one piece; kRowGuess more is read for the last of them, which
// most rows fit in (a longer one is read on).
constexpr size_t kOffsetWindow = 64 << 10;
constexpr size_t kRowGuess = 4 << 10;

}  // namespace

DataFileReader::DataFileReader() = default;
DataFileReader::~DataFileReader() = default;

Status DataFileReader::Open(Env* env, const ExportDir& export_dir, const DataFile& file,
                            size_t expected_fields, size_t leading) {
  path_ = export_dir.PathOf(file);
  expected_fields_ = expected_fields;
  leading_ = std::min(leading, expected_fields);
  window_ = nullptr;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(path_, &input_));
  reader_ = std::make_unique<CsvReader>(input_.get(), file.csv, path_);
  fields_ = &reader_->fields();
  nulls_ = &reader_->nulls();
  return Status::Ok();
}

Status DataFileReader::OpenAtOffsets(Env* env, const ExportDir& export_dir, const DataFile& file,
                                     size_t expected_fields, size_t leading, std::vector<uint64_t> offsets) {
  path_ = export_dir.PathOf(file);
  expected_fields_ = expected_fields;
  leading_ = std::min(leading, expected_fields);
  std::unique_ptr<RandomAccessFile> random;
  KS_RETURN_IF_ERROR(env->NewRandomAccessFile(path_, &random));
  auto window = std::make_unique<Window>(std::move(random));
  window_ = window.get();
  input_ = std::move(window);
  offsets_ = std::move(offsets);
  next_offset_ = 0;
  reader_ = std::make_unique<CsvReader>(input_.get(), file.csv, path_, kOffsetWindow + kRowGuess);
  fields_ = &reader_->fields();
  nulls_ = &reader_->nulls();
  return Status::Ok();
}

void DataFileReader::MoveToNextOffset() {
  const uint64_t offset = offsets_[next_offset_++];
  if (reader_->SkipTo(offset)) return;  // read with an earlier row
  uint64_t last = offset;
  for (size_t i = next_offset_; i < offsets_.size() && offsets_[i] > last && offsets_[i] - offset < kOffsetWindow;
       ++i) {
    last = offsets_[i];
  }
  window_->MoveTo(offset, static_cast<size_t>(last - offset) + kRowGuess);
  reader_->Restart(offset);
}

Status DataFileReader::Next(bool* has_row) {
  if (window_ != nullptr) {
    if (next_offset_ == offsets_.size()) {
      *has_row = false;
      return Status::Ok();
    }
    MoveToNextOffset();
    KS_RETURN_IF_ERROR(reader_->NextLeading(leading_, has_row));
    if (!*has_row) {
      return Status::Corrupt("no row starts at byte " + std::to_string(offsets_[next_offset_ - 1]), path_);
    }
  } else {
    KS_RETURN_IF_ERROR(reader_->NextLeading(leading_, has_row));
    if (!*has_row) return Status::Ok();
  }
  if (reader_->field_count() != expected_fields_) {
    return Status::Corrupt("expected " + std::to_string(expected_fields_) + " fields, found " +
                               std::to_string(reader_->field_count()),
                           path_, reader_->row_line());
  }
  line_ = reader_->row_line();
  offset_ = reader_->row_offset();
  raw_ = reader_->raw();
  multiline_ = reader_->multiline();
  quoted_ = reader_->quoted();
  return Status::Ok();
}

RowView DataFileReader::Whole() {
  reader_->ParseWhole();
  return RowView{fields_, nulls_, line_, raw_, multiline_};
}

Status ScanDataFile(Env* env, const ExportDir& export_dir, const DataFile& file,
                    size_t expected_fields, const std::function<Status(const RowView&)>& on_row) {
  DataFileReader rows;
  KS_RETURN_IF_ERROR(rows.Open(env, export_dir, file, expected_fields, expected_fields));
  while (true) {
    bool has_row = false;
    KS_RETURN_IF_ERROR(rows.Next(&has_row));
    if (!has_row) return Status::Ok();
    KS_RETURN_IF_ERROR(on_row(rows.Whole()));
  }
}

namespace {

class StringFile final : public SequentialFile {
 public:
  explicit StringFile(std::string_view text) : text_(text) {}
  Status Read(size_t n, char* scratch, size_t* read) override {
    *read = text_.copy(scratch, n);
    text_.remove_prefix(*read);
    return Status::Ok();
  }

 private:
  std::string_view text_;
};

}  // namespace

Status ScanCsvText(std::string_view text, const std::string& what,
                   const std::function<Status(const RowView&)>& on_row, const CsvOptions& csv) {
  StringFile input(text);
  CsvReader reader(&input, csv, what, 1 << 12);
  while (true) {
    bool has_row = false;
    KS_RETURN_IF_ERROR(reader.Next(&has_row));
    if (!has_row) return Status::Ok();
    KS_RETURN_IF_ERROR(on_row(RowView{&reader.fields(), &reader.nulls(), reader.row_line(), reader.raw(), reader.multiline()}));
  }
}

}  // namespace kuzusync
