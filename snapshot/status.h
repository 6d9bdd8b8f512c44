// Status: the error value every kuzusync library returns across its boundary.
//
// A Status is either OK or carries a category, a message, and where known the
// file and line that caused it. Libraries never throw across their public
// interface; the CLI turns a Status into a message on stderr and an exit code.
// Modelled on leveldb's include/leveldb/status.h.

#ifndef KUZUSYNC_SNAPSHOT_STATUS_H_
#define KUZUSYNC_SNAPSHOT_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace kuzusync {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,      // a file or directory the caller named does not exist
    kCorrupt,       // input is malformed: bad CSV, bad schema, bad tree file
    kUnsupported,   // input is valid but of a kind we do not handle (parquet)
    kIoError,       // the OS refused a read or write
    kInvalidArgument,
    kRefused,       // the operation would be unsafe and was not started
    kBusy,          // another process holds the lock
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg, std::string file = {}, uint64_t line = 0) {
    return Status(Code::kNotFound, std::move(msg), std::move(file), line);
  }
  static Status Corrupt(std::string msg, std::string file = {}, uint64_t line = 0) {
    return Status(Code::kCorrupt, std::move(msg), std::move(file), line);
  }
  static Status Unsupported(std::string msg, std::string file = {}) {
    return Status(Code::kUnsupported, std::move(msg), std::move(file), 0);
  }
  static Status IoError(std::string msg, std::string file = {}) {
    return Status(Code::kIoError, std::move(msg), std::move(file), 0);
  }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg), {}, 0);
  }
  static Status Refused(std::string msg) { return Status(Code::kRefused, std::move(msg), {}, 0); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg), {}, 0); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }
  uint64_t line() const { return line_; }

  // "file:line: message", "file: message" or "message".
  std::string ToString() const {
    if (ok()) return "OK";
    std::string out;
    if (!file_.empty()) {
      out += file_;
      if (line_ != 0) out += ":" + std::to_string(line_);
      out += ": ";
    }
    return out + message_;
  }

 private:
  Status(Code code, std::string message, std::string file, uint64_t line)
      : code_(code), message_(std::move(message)), file_(std::move(file)), line_(line) {}

  Code code_ = Code::kOk;
  std::string message_;
  std::string file_;
  uint64_t line_ = 0;
};

// Result<T>: a value or the Status that explains its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace kuzusync

// Returns early from the enclosing function when `expr` is not OK.
#define KS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::kuzusync::Status _ks_status = (expr);  \
    if (!_ks_status.ok()) return _ks_status; \
  } while (0)

#define KS_CONCAT_INNER(a, b) a##b
#define KS_CONCAT(a, b) KS_CONCAT_INNER(a, b)
// KS_ASSIGN_OR_RETURN(auto x, MakeX()); binds the value or returns the error.
#define KS_ASSIGN_OR_RETURN(lhs, rexpr) \
  KS_ASSIGN_OR_RETURN_IMPL(KS_CONCAT(_ks_result_, __LINE__), lhs, rexpr)
#define KS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                             \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // KUZUSYNC_SNAPSHOT_STATUS_H_
