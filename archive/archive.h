// archive: kuzusync's payloads on disk and on the wire: standard tar + zstd
// files (`tar --zstd -tf` lists them) whose first member, MANIFEST, lists
// every other member with its size and SHA-256.
//
// Reading is safe by construction: only regular files with flat names that
// the manifest lists, once each, no larger than it says, with matching
// checksums. Names are checked before any byte is written, and only into
// the caller's fresh staging directory; a size or checksum failure is found
// while streaming, so callers extract to staging and publish only on success.
// Format: docs/archive-format.md. Functions are reentrant.

#ifndef KUZUSYNC_ARCHIVE_ARCHIVE_H_
#define KUZUSYNC_ARCHIVE_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/env.h"
#include "snapshot/status.h"

namespace kuzusync {

constexpr char kManifestMember[] = "MANIFEST";

struct Manifest {
  // 2 added row_hash; version 1 manifests are read as row_hash 1.
  static constexpr uint32_t kVersion = 2;

  struct Table {
    std::string name;
    std::string kind;  // "node" or "rel"
    uint64_t rows = 0;      // snapshot: rows in the replica; bundle: rows in the result
    uint64_t upserts = 0;   // bundle: node rows upserted / rel rows inserted
    uint64_t deletes = 0;   // bundle: node keys / rel rows deleted
    std::string root;       // hex root hash (snapshot: of the replica; bundle: of the result)
  };
  struct Member {
    std::string name;  // flat: no '/', never "." or ".."
    uint64_t size = 0;
    std::string sha256;  // hex
  };

  std::string kind;         // "bundle" or "snapshot"
  // The row hash format (merkle::kRowHashFormat) its roots were made with:
  // roots of another format say nothing about a replica hashed now.
  uint32_t row_hash = 0;
  std::string base_root;    // bundle: the replica root it applies to
  std::string result_root;  // bundle: the root after applying; snapshot: the replica root
  std::vector<std::pair<std::string, std::string>> options;  // e.g. {"deletes", "yes"}
  std::vector<Table> tables;
  std::vector<Member> members;

  const Member* FindMember(std::string_view name) const;
  const Table* FindTable(std::string_view name) const;
  std::string Option(std::string_view key) const;

  std::string Serialize() const;
  static Result<Manifest> Parse(std::string_view text, const std::string& origin);
};

struct PackOptions {
  // zstd level, 1..19; kSmallHigh: 17 when the members are small (under
  // 16 MiB), else 3: for what crosses a network, bytes cost more than CPU
  // (on 317 KB of LDBC rows, 17 takes 0.07 s for 79.3 KB, 19 0.11-0.18 s
  // for 78.5 KB, 3 0.01 s for 94.8 KB).
  static constexpr int kSmallHigh = 0;
  int level = 3;
  // zstd worker threads; 0: all cores. Below 8 MiB, where zstd's workers
  // would not share the work, levels 16 and up compress in one frame a
  // thread instead (one stream to any reader, about 3% larger, twice as fast).
  int threads = 0;
  // A file that lives only until it is sent (a push's bundle): published
  // by rename, but not synced, since no crash can leave anyone reading it.
  bool scratch = false;
};

struct ArchiveSource {
  std::string member;  // flat member name
  std::string path;    // file to read
};

// Hashes every source, fills manifest->members, and writes MANIFEST then
// the sources as tar + zstd to archive_path, published atomically.
// Returns the compressed size in *archive_bytes when non-null.
Status WriteArchive(Env* env, const std::string& archive_path, Manifest* manifest,
                    const std::vector<ArchiveSource>& sources, const PackOptions& options,
                    uint64_t* archive_bytes = nullptr);

// Reads archive_path and checks it completely. When dest_dir is non-empty
// (an existing, empty directory), each member is also written there under
// its name, and synced unless `scratch` (a directory no crash can leave
// anyone reading: an apply's, rebuilt from the bundle by every run); on any
// error the caller must discard dest_dir.
Result<Manifest> ReadArchive(Env* env, const std::string& archive_path,
                             const std::string& dest_dir, bool scratch = false);

// Hex SHA-256 of a whole file, read through env.
Result<std::string> Sha256File(Env* env, const std::string& path);

// Percent-escapes bytes outside [A-Za-z0-9_.-] so any table name can be part
// of a flat member name.
std::string EscapeName(std::string_view name);

}  // namespace kuzusync

#endif  // KUZUSYNC_ARCHIVE_ARCHIVE_H_
