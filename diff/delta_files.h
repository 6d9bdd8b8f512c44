// Names of the data members of a bundle (docs/archive-format.md), shared by
// the writer, the applier and the Cypher generator. Internal to diff.

#ifndef KUZUSYNC_DIFF_DELTA_FILES_H_
#define KUZUSYNC_DIFF_DELTA_FILES_H_

#include <string>

#include "archive/archive.h"
#include "snapshot/snapshot.h"

namespace kuzusync::delta {

constexpr char kSchemaMember[] = "schema.cypher";

// EscapeName, with '.' escaped too so that the parts of a name never blur.
inline std::string Part(const std::string& name) {
  std::string out;
  for (char c : EscapeName(name)) {
    if (c == '.') {
      out += "%2E";
    } else {
      out += c;
    }
  }
  return out;
}

// A Cypher identifier, backquoted with backquotes doubled.
inline std::string Backquote(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    out += c;
    if (c == '`') out += '`';
  }
  return out + "`";
}

inline std::string NodeUpserts(const std::string& table) { return Part(table) + ".upserts.csv"; }
inline std::string NodeDeletes(const std::string& table) { return Part(table) + ".deletes.csv"; }
inline std::string RelInserts(const std::string& table, const RelConnection& c) {
  return Part(table) + "." + Part(c.from) + "." + Part(c.to) + ".inserts.csv";
}
// Elements (16 hex digits per line) of the target's rows to remove.
inline std::string Drops(const std::string& table) { return Part(table) + ".drops"; }
// Drops name rows by a hash of their content, which a live database cannot
// match: such bundles (made by a push over the network) apply only to an
// export directory.
inline Status RefuseDrops(const Manifest& manifest, const std::string& bundle_path) {
  for (const Manifest::Member& m : manifest.members) {
    if (m.name.size() > 6 && m.name.compare(m.name.size() - 6, 6, ".drops") == 0) {
      return Status::Refused(bundle_path + " names the rows it removes by their hash (a push bundle); "
                             "apply it to an export directory, not as Cypher");
    }
  }
  return Status::Ok();
}

inline std::string RelDeletes(const std::string& table, const RelConnection& c) {
  return Part(table) + "." + Part(c.from) + "." + Part(c.to) + ".deletes.csv";
}

}  // namespace kuzusync::delta

#endif  // KUZUSYNC_DIFF_DELTA_FILES_H_
