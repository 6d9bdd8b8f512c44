// Native per-stage cost of `kuzusync hash --threads 1`: scans every table of
// an export four times, adding one stage each time (read rows parsing their
// key; key hash and canonical text; row digest; Merkle leaf add), best of 5
// each. Built and run by bench/hash_stages.sh against the release libraries
// (not part of the CMake build). Mirrors HashTable in diff/table_hasher.cc
// minus the duplicate-key sort, so "full hash - last stage" is that sort
// plus per-run overhead.
#include <chrono>
#include <cstdio>
#include <string>
#include "diff/row_encoding.h"
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
      for (const TableSchema& t : ex->schema.tables) {
        uint64_t bytes = 0;
        for (const DataFile* f : ex->FilesOf(t.name)) bytes += f->size_bytes;
        merkle::TreeBuilder builder(merkle::DepthForRows(bytes / 16));  // as HashTable sizes it
        const size_t key = t.kind == TableKind::kNode ? t.primary_key : 0;
        for (const DataFile* f : ex->FilesOf(t.name)) {
          RowEncoder encoder(t, *f);
          DataFileReader row;
          Status s = row.Open(env, ex.value(), *f, t.FieldCount(), key + 1);
          while (s.ok()) {
            bool has_row = false;
            s = row.Next(&has_row);
            if (!s.ok() || !has_row) break;
            ++rows;
            if (mode == 0) continue;
            uint64_t kh = merkle::KeyHash(row.field(key));
            std::string_view text = encoder.Text(row);
            if (mode == 1) { sink += kh + text.size(); continue; }
            merkle::RowDigest d = encoder.DigestOfText(text);
            if (mode == 2) { sink += d[0]; continue; }
            builder.Add(kh, d);
          }
          if (!s.ok()) { fprintf(stderr, "%s\n", s.ToString().c_str()); return 2; }
        }
        sink += builder.rows();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s < best) best = s;
    }
    static const char* names[] = {"read rows, key field parsed", "+ key hash + canonical text", "+ row digest", "+ tree add (= hash minus dup-key sort)"};
    printf("%-40s %.3f s  %6.1f ns/row  rows=%llu (%llu)\n", names[mode], best, best * 1e9 / rows, (unsigned long long)rows, (unsigned long long)(sink & 1));
  }
}
