// Writing rows in Kuzu's CSV dialect.

#include <cstring>

#include "snapshot/snapshot.h"

namespace kuzusync {

void AppendCsvField(std::string* out, std::string_view value, bool is_null,
                    const CsvOptions& options) {
  if (is_null) return;
  bool quote = value.empty() || value.front() == '[' || value.front() == '{';
  for (char c : value) {
    if (c == options.delimiter || c == options.quote || c == options.escape || c == '\n' ||
        c == '\r') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out->append(value);
    return;
  }
  out->push_back(options.quote);
  for (char c : value) {
    if (c == options.quote || (c == options.escape && options.escape != options.quote)) {
      out->push_back(options.escape);
    }
    out->push_back(c);
  }
  out->push_back(options.quote);
}

void AppendCsvRow(std::string* out, const RowView& row, const CsvOptions& options) {
  const auto& fields = *row.fields;
  const auto& nulls = *row.is_null;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out->push_back(options.delimiter);
    AppendCsvField(out, fields[i], nulls[i] != 0, options);
  }
  out->push_back('\n');
}

Result<std::string> ReadHeaderLine(Env* env, const std::string& path) {
  std::unique_ptr<SequentialFile> file;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(path, &file));
  std::string line;
  char buffer[4096];
  while (true) {
    size_t got = 0;
    KS_RETURN_IF_ERROR(file->Read(sizeof(buffer), buffer, &got));
    if (got == 0) return line;
    const char* nl = static_cast<const char*>(std::memchr(buffer, '\n', got));
    if (nl != nullptr) {
      line.append(buffer, static_cast<size_t>(nl - buffer));
      return line;
    }
    line.append(buffer, got);
  }
}

}  // namespace kuzusync
