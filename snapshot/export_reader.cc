// Opening an export directory and streaming the rows of its data files.

#include <algorithm>

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

DataFileReader::DataFileReader() = default;
DataFileReader::~DataFileReader() = default;

Status DataFileReader::Open(Env* env, const ExportDir& export_dir, const DataFile& file,
                            size_t expected_fields, size_t leading) {
  path_ = export_dir.PathOf(file);
  expected_fields_ = expected_fields;
  leading_ = std::min(leading, expected_fields);
  KS_RETURN_IF_ERROR(env->NewSequentialFile(path_, &input_));
  reader_ = std::make_unique<CsvReader>(input_.get(), file.csv, path_);
  fields_ = &reader_->fields();
  nulls_ = &reader_->nulls();
  return Status::Ok();
}

Status DataFileReader::Next(bool* has_row) {
  KS_RETURN_IF_ERROR(reader_->NextLeading(leading_, has_row));
  if (!*has_row) return Status::Ok();
  if (reader_->field_count() != expected_fields_) {
    return Status::Corrupt("expected " + std::to_string(expected_fields_) + " fields, found " +
                               std::to_string(reader_->field_count()),
                           path_, reader_->row_line());
  }
  line_ = reader_->row_line();
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
