// Native per-stage cost of `kuzusync hash --threads 1`: scans every table of
// an export four times, adding one stage each time (parse; key hash and
// canonical encoding; row digest; Merkle leaf add), best of 5 each.
// Built and run by bench/hash_stages.sh against the release libraries (not
// part of the CMake build; bench/CMakeLists.txt is not ours). Mirrors
// ForEachEncodedRow + HashTable in diff/table_hasher.cc minus the duplicate-key
// sort, so "full hash - last stage" is that sort plus per-run overhead.
#include <chrono>
#include <cstdio>
#include <string>
#include "merkle/merkle.h"
#include "snapshot/snapshot.h"
#include "snapshot/env.h"
using namespace kuzusync;
int main(int argc, char** argv) {
  if (argc != 2) { fprintf(stderr, "usage: hash_stages EXPORT_DIR\n"); return 2; }
  Env* env = Env::Default();
  auto ex = OpenExport(env, argv[1]);
  if (!ex.ok()) { fprintf(stderr, "%s\n", ex.status().ToString().c_str()); return 2; }
  for (int mode = 0; mode < 4; ++mode) {
    double best = 1e9; uint64_t rows = 0, sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      rows = 0;
      std::string enc;
      for (const TableSchema& t : ex->schema.tables) {
        uint64_t bytes = 0;
        for (const DataFile* f : ex->FilesOf(t.name)) bytes += f->size_bytes;
        merkle::TreeBuilder builder(merkle::DepthForRows(bytes / 16));  // as HashTable sizes it
        for (const DataFile* f : ex->FilesOf(t.name)) {
          Status s = ScanDataFile(env, ex.value(), *f, t.FieldCount(), [&](const RowView& row) -> Status {
            ++rows;
            if (mode == 0) return Status::Ok();
            const auto& fields = *row.fields;
            uint64_t kh = merkle::KeyHash(fields[t.kind == TableKind::kNode ? t.primary_key : 0]);
            enc.clear();
            if (t.kind == TableKind::kRel) { merkle::AppendField(&enc, f->connection.from, false); merkle::AppendField(&enc, f->connection.to, false); }
            for (size_t i = 0; i < fields.size(); ++i) merkle::AppendField(&enc, fields[i], (*row.is_null)[i] != 0);
            if (mode == 1) { sink += kh + enc.size(); return Status::Ok(); }
            merkle::RowDigest d = merkle::DigestRow(enc);
            if (mode == 2) { sink += d[0]; return Status::Ok(); }
            builder.Add(kh, d);
            return Status::Ok();
          });
          if (!s.ok()) { fprintf(stderr, "%s\n", s.ToString().c_str()); return 2; }
        }
        sink += builder.rows();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s < best) best = s;
    }
    static const char* names[] = {"parse only (ScanDataFile)", "+ key hash + encode", "+ row digest (DigestRow)", "+ tree add (= hash minus dup-key sort)"};
    printf("%-40s %.3f s  %6.1f ns/row  rows=%llu (%llu)\n", names[mode], best, best * 1e9 / rows, (unsigned long long)rows, (unsigned long long)(sink & 1));
  }
}
