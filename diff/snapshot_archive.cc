// Whole-replica snapshots: pack an export with per-file checksums and
// per-table roots; unpack into a new directory that appears all at once.

#include "diff/diff.h"
#include "diff/new_directory.h"

namespace kuzusync {

Result<SnapshotStats> PackSnapshot(Env* env, const std::string& dir, const std::string& out_path,
                                   const PackOptions& options, int threads, TreeCache* cache,
                                   const std::map<std::string, merkle::NodeSummary>* known_roots) {
  KS_ASSIGN_OR_RETURN(ExportDir export_dir, OpenExport(env, dir));
  std::map<std::string, merkle::NodeSummary> roots;
  if (known_roots != nullptr) {
    roots = *known_roots;
  } else {
    KS_ASSIGN_OR_RETURN(auto trees,
                        HashExports(env, {&export_dir}, {{}}, threads, merkle::kTargetLeafRows, cache));
    for (const TableTree& t : trees[0]) roots[t.table] = t.tree.root();
  }
  Manifest manifest;
  manifest.kind = "snapshot";
  manifest.row_hash = merkle::kRowHashFormat;
  for (const TableSchema& t : export_dir.schema.tables) {
    auto root = roots.find(t.name);
    if (root == roots.end()) return Status::InvalidArgument("no root given for table " + t.name);
    manifest.tables.push_back({t.name, t.kind == TableKind::kNode ? "node" : "rel", root->second.count, 0, 0,
                               merkle::SummaryHex(root->second)});
  }
  manifest.result_root = ReplicaRoot(export_dir.schema, roots);

  SnapshotStats stats;
  std::vector<ArchiveSource> sources;
  for (const char* name : {"schema.cypher", "copy.cypher", "index.cypher"}) {
    FileType type;
    uint64_t size = 0;
    const std::string path = JoinPath(dir, name);
    if (!env->Stat(path, &type, &size).ok()) continue;  // index.cypher is optional
    sources.push_back({name, path});
    stats.raw_bytes += size;
  }
  for (const DataFile& f : export_dir.files) {
    if (f.path.find('/') != std::string::npos) {
      return Status::Unsupported("data file in a subdirectory: snapshots hold flat exports", f.path);
    }
    bool listed = false;
    for (const ArchiveSource& s : sources) listed = listed || s.member == f.path;
    if (listed) continue;  // a file named by several COPY statements
    sources.push_back({f.path, export_dir.PathOf(f)});
    stats.raw_bytes += f.size_bytes;
  }
  KS_RETURN_IF_ERROR(WriteArchive(env, out_path, &manifest, sources, options, &stats.archive_bytes));
  return stats;
}

Result<Manifest> UnpackSnapshot(Env* env, const std::string& archive_path,
                                const std::string& dest_dir) {
  KS_ASSIGN_OR_RETURN(auto dest, NewDirectory::Begin(env, dest_dir, "unpack writes a new directory"));
  KS_ASSIGN_OR_RETURN(Manifest manifest,
                      ReadArchiveOfKind(env, archive_path, dest->building(), "snapshot"));
  KS_RETURN_IF_ERROR(dest->Publish());
  return manifest;
}

}  // namespace kuzusync
