// JsonWriter: just enough JSON output for the CLI's --json reports.

#ifndef KUZUSYNC_SRC_JSON_WRITER_H_
#define KUZUSYNC_SRC_JSON_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kuzusync {

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }

  JsonWriter& Key(std::string_view key) {
    Separate();
    String(key);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }
  JsonWriter& Value(std::string_view s) {
    Separate();
    String(s);
    return *this;
  }
  JsonWriter& Value(const char* s) { return Value(std::string_view(s)); }
  JsonWriter& Value(uint64_t n) {
    Separate();
    out_ += std::to_string(n);
    return *this;
  }
  JsonWriter& Value(double d) {
    Separate();
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3f", d);
    out_ += buf;
    return *this;
  }
  JsonWriter& Null() {
    Separate();
    out_ += "null";
    return *this;
  }
  JsonWriter& Value(const std::string& s) { return Value(std::string_view(s)); }
  JsonWriter& OptionalValue(const std::optional<std::string>& s) { return s ? Value(*s) : Null(); }
  JsonWriter& Value(bool b) {
    Separate();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& StringArray(const std::vector<std::string>& items) {
    BeginArray();
    for (const std::string& s : items) Value(s);
    return EndArray();
  }

  const std::string& str() const { return out_; }

 private:
  JsonWriter& Open(char c) {
    Separate();
    out_ += c;
    first_ = true;
    return *this;
  }
  JsonWriter& Close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_ && !out_.empty()) out_ += ", ";
    first_ = false;
  }
  void String(std::string_view s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_SRC_JSON_WRITER_H_
