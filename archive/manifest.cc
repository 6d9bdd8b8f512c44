// The MANIFEST member: a line-oriented text format that ends with the
// SHA-256 of everything before it, so a damaged manifest is never trusted.

#include <sstream>

#include "archive/archive.h"
#include "archive/sha256.h"

namespace kuzusync {
namespace {

constexpr char kHeader[] = "kuzusync-manifest";

std::string Unescape(std::string_view s, bool* ok) {
  std::string out;
  *ok = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      *ok = false;
      return out;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) {
      *ok = false;
      return out;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string EscapeName(std::string_view name) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '.' || c == '-') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

const Manifest::Member* Manifest::FindMember(std::string_view name) const {
  for (const Member& m : members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

const Manifest::Table* Manifest::FindTable(std::string_view name) const {
  for (const Table& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string Manifest::Option(std::string_view key) const {
  for (const auto& [k, v] : options) {
    if (k == key) return v;
  }
  return "";
}

std::string Manifest::Serialize() const {
  std::ostringstream out;
  out << kHeader << " " << kVersion << "\n";
  out << "kind " << kind << "\n";
  out << "row_hash " << row_hash << "\n";
  if (!base_root.empty()) out << "base_root " << base_root << "\n";
  if (!result_root.empty()) out << "result_root " << result_root << "\n";
  for (const auto& [k, v] : options) out << "option " << EscapeName(k) << " " << EscapeName(v) << "\n";
  for (const Table& t : tables) {
    out << "table " << t.kind << " " << t.rows << " " << t.upserts << " " << t.deletes << " "
        << (t.root.empty() ? "-" : t.root) << " " << EscapeName(t.name) << "\n";
  }
  for (const Member& m : members) {
    out << "member " << m.size << " " << m.sha256 << " " << EscapeName(m.name) << "\n";
  }
  std::string body = out.str();
  return body + "sha256 " + Sha256::Of(body) + "\n";
}

Result<Manifest> Manifest::Parse(std::string_view text, const std::string& origin) {
  auto corrupt = [&](uint64_t line, const std::string& why) {
    return Status::Corrupt("manifest: " + why, origin, line);
  };
  size_t check = text.rfind("sha256 ");
  if (check == std::string_view::npos || (check != 0 && text[check - 1] != '\n')) {
    return corrupt(0, "missing its checksum line");
  }
  std::string_view body = text.substr(0, check);
  std::string_view stated = text.substr(check + 7);
  while (!stated.empty() && (stated.back() == '\n' || stated.back() == '\r')) stated.remove_suffix(1);
  if (stated != Sha256::Of(body)) return corrupt(0, "checksum mismatch (the manifest is damaged)");

  Manifest m;
  std::istringstream in{std::string(body)};
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream fields(line);
    std::string tag;
    fields >> tag;
    if (line_no == 1) {
      uint32_t version = 0;
      if (tag != kHeader || !(fields >> version)) return corrupt(1, "not a kuzusync manifest");
      if (version != 1 && version != kVersion) {
        return corrupt(1, "format version " + std::to_string(version) + " is not supported");
      }
      if (version == 1) m.row_hash = 1;
      continue;
    }
    bool ok = true;
    if (tag == "kind") {
      fields >> m.kind;
    } else if (tag == "row_hash") {
      if (!(fields >> m.row_hash)) return corrupt(line_no, "bad row_hash line");
    } else if (tag == "base_root") {
      fields >> m.base_root;
    } else if (tag == "result_root") {
      fields >> m.result_root;
    } else if (tag == "option") {
      std::string k, v;
      fields >> k >> v;
      bool ok_k = true, ok_v = true;
      m.options.emplace_back(Unescape(k, &ok_k), Unescape(v, &ok_v));
      ok = ok_k && ok_v;
    } else if (tag == "table") {
      Table t;
      std::string name;
      if (!(fields >> t.kind >> t.rows >> t.upserts >> t.deletes >> t.root >> name)) {
        return corrupt(line_no, "bad table line");
      }
      if (t.root == "-") t.root.clear();
      t.name = Unescape(name, &ok);
      if (t.kind != "node" && t.kind != "rel") return corrupt(line_no, "bad table kind");
      m.tables.push_back(std::move(t));
    } else if (tag == "member") {
      Member mem;
      std::string name;
      if (!(fields >> mem.size >> mem.sha256 >> name) || !IsHex64(mem.sha256)) {
        return corrupt(line_no, "bad member line");
      }
      mem.name = Unescape(name, &ok);
      if (mem.name.empty() || mem.name == "." || mem.name == ".." ||
          mem.name.find('/') != std::string::npos || mem.name.find('\0') != std::string::npos ||
          mem.name == kManifestMember) {
        return corrupt(line_no, "member name '" + name + "' is not a plain file name");
      }
      if (m.FindMember(mem.name) != nullptr) return corrupt(line_no, "member listed twice");
      m.members.push_back(std::move(mem));
    } else {
      return corrupt(line_no, "unknown line '" + tag + "'");
    }
    if (!ok) return corrupt(line_no, "bad escape in a name");
  }
  if (m.kind != "bundle" && m.kind != "snapshot") return corrupt(2, "unknown kind '" + m.kind + "'");
  return m;
}

}  // namespace kuzusync
