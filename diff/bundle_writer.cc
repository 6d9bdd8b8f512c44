// WriteBundle: a comparison whose differing leaves are turned into delta
// files, packed with a manifest whose result root is computed from B's
// roots plus the delta (sums are additive), then checked against A.

#include <map>
#include <set>
#include <tuple>

#include "diff/delta_files.h"
#include "diff/diff.h"

namespace kuzusync {
namespace {

// Delta files being written into a staging directory.
class DeltaFiles {
 public:
  DeltaFiles(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  Status Append(const std::string& member, const std::string& data) {
    auto it = files_.find(member);
    if (it == files_.end()) {
      std::unique_ptr<WritableFile> file;
      KS_RETURN_IF_ERROR(env_->NewWritableFile(JoinPath(dir_, member), &file));
      it = files_.emplace(member, std::move(file)).first;
    }
    return it->second->Append(data);
  }

  Status Close(std::vector<ArchiveSource>* sources) {
    for (auto& [member, file] : files_) {
      KS_RETURN_IF_ERROR(file->Close());
      sources->push_back({member, JoinPath(dir_, member)});
    }
    files_.clear();
    return Status::Ok();
  }

 private:
  Env* env_;
  std::string dir_;
  std::map<std::string, std::unique_ptr<WritableFile>> files_;
};

struct TableDelta {
  merkle::NodeSummary result;  // starts as B's root
  uint64_t upserts = 0;
  uint64_t deletes = 0;
};

using PairKey = std::tuple<std::string, std::string, std::string, std::string>;

PairKey PairOf(const LeafRows::Counted& row) {
  return {row.connection.from, row.connection.to, row.from_key, row.to_key};
}

}  // namespace

Result<Manifest> WriteBundle(Env* env, const std::string& dir_a, const std::string& dir_b,
                             const std::string& out_path, const BundleOptions& options) {
  KS_ASSIGN_OR_RETURN(auto a, LocalReplica::Open(env, dir_a, {}, options.threads));
  KS_ASSIGN_OR_RETURN(auto b, LocalReplica::Open(env, dir_b, {}, options.threads));
  return WriteBundle(env, a.get(), b.get(), out_path, options);
}

Result<Manifest> WriteBundle(Env* env, Replica* a, Replica* b, const std::string& out_path,
                             const BundleOptions& options, DiffReport* diff_report) {
  for (const TableSchema& ta : a->schema().tables) {
    const TableSchema* tb = b->schema().Find(ta.name);
    if (tb == nullptr) {
      return Status::Refused("table " + ta.name + " exists only in " + a->label() +
                             ": bundles do not carry schema changes yet; create it in " +
                             b->label() + " first");
    }
    if (!ta.SameShape(*tb)) {
      return Status::Refused("table " + ta.name + " has different columns in " + a->label() +
                             " and " + b->label() + ": bundles do not carry schema changes yet");
    }
  }

  const std::string staging = out_path + ".kuzusync-staging";
  KS_RETURN_IF_ERROR(RemoveTree(env, staging));
  KS_RETURN_IF_ERROR(env->CreateDir(staging));
  DeltaFiles files(env, staging);
  std::map<std::string, TableDelta> deltas;

  auto on_leaf_rows = [&](const TableSchema& table, const LeafRows& la, const LeafRows& lb) -> Status {
    TableDelta& d = deltas[table.name];
    if (table.kind == TableKind::kNode) {
      std::string upserts, deletes;
      for (const auto& [key, row] : la.by_key) {
        auto other = lb.by_key.find(key);
        if (other != lb.by_key.end() && other->second.digest == row.digest) continue;
        upserts += row.csv;
        ++d.upserts;
        d.result.Add(row.digest);
        if (other != lb.by_key.end()) d.result.Subtract(other->second.digest);
      }
      if (options.deletes) {
        for (const auto& [key, row] : lb.by_key) {
          if (la.by_key.count(key) != 0) continue;
          AppendCsvField(&deletes, key, false, CsvOptions{});
          deletes += '\n';
          ++d.deletes;
          d.result.Subtract(row.digest);
        }
      }
      if (!upserts.empty()) KS_RETURN_IF_ERROR(files.Append(delta::NodeUpserts(table.name), upserts));
      if (!deletes.empty()) KS_RETURN_IF_ERROR(files.Append(delta::NodeDeletes(table.name), deletes));
      return Status::Ok();
    }
    auto count_in = [](const LeafRows& rows, const std::string& digest) -> uint64_t {
      auto it = rows.by_digest.find(digest);
      return it == rows.by_digest.end() ? 0 : it->second.count;
    };
    std::map<std::string, std::string> inserts, deletes;  // member -> rows
    auto insert = [&](const LeafRows::Counted& row, uint64_t times) {
      std::string& out = inserts[delta::RelInserts(table.name, row.connection)];
      for (uint64_t i = 0; i < times; ++i) {
        out += row.csv;
        d.result.Add(row.digest);
      }
      d.upserts += times;
    };
    if (!options.deletes) {
      for (const auto& [digest, row] : la.by_digest) {
        uint64_t in_b = count_in(lb, digest);
        if (row.count > in_b) insert(row, row.count - in_b);
      }
    } else {
      std::set<PairKey> touched;
      for (const auto& [digest, row] : la.by_digest) {
        if (count_in(lb, digest) != row.count) touched.insert(PairOf(row));
      }
      for (const auto& [digest, row] : lb.by_digest) {
        if (count_in(la, digest) != row.count) touched.insert(PairOf(row));
      }
      for (const auto& [digest, row] : lb.by_digest) {
        if (touched.count(PairOf(row)) == 0) continue;
        std::string& out = deletes[delta::RelDeletes(table.name, row.connection)];
        for (uint64_t i = 0; i < row.count; ++i) {
          out += row.csv;
          d.result.Subtract(row.digest);
        }
        d.deletes += row.count;
      }
      for (const auto& [digest, row] : la.by_digest) {
        if (touched.count(PairOf(row)) != 0) insert(row, row.count);
      }
    }
    for (const auto& [member, rows] : inserts) KS_RETURN_IF_ERROR(files.Append(member, rows));
    for (const auto& [member, rows] : deletes) KS_RETURN_IF_ERROR(files.Append(member, rows));
    return Status::Ok();
  };

  DiffOptions diff_options;
  diff_options.threads = options.threads;
  diff_options.on_leaf_rows = on_leaf_rows;
  Result<DiffReport> report = DiffReplicas(a, b, diff_options);
  std::vector<ArchiveSource> sources;
  Status s = report.ok() ? files.Close(&sources) : report.status();
  if (!s.ok()) {
    (void)files.Close(&sources);
    (void)RemoveTree(env, staging);
    return s;
  }

  std::map<std::string, merkle::NodeSummary> roots_a, roots_b, roots_result;
  Manifest manifest;
  manifest.kind = "bundle";
  manifest.options.emplace_back("deletes", options.deletes ? "yes" : "no");
  for (const TableDiff& t : report->tables) {
    roots_a[t.table] = t.root_a;
    roots_b[t.table] = t.root_b;
    merkle::NodeSummary result = t.root_b;
    auto it = deltas.find(t.table);
    Manifest::Table entry;
    entry.name = t.table;
    entry.kind = t.kind == TableKind::kNode ? "node" : "rel";
    if (it != deltas.end()) {
      // The delta's sums are relative to B: add B's root to them.
      result.Add(it->second.result);
      entry.upserts = it->second.upserts;
      entry.deletes = it->second.deletes;
    }
    roots_result[t.table] = result;
    entry.rows = result.count;
    entry.root = merkle::SummaryHex(result);
    manifest.tables.push_back(std::move(entry));
  }
  manifest.base_root = ReplicaRoot(b->schema(), roots_b);
  manifest.result_root = ReplicaRoot(b->schema(), roots_result);
  if (options.deletes && manifest.result_root != ReplicaRoot(a->schema(), roots_a) &&
      b->schema().tables.size() == a->schema().tables.size()) {
    (void)RemoveTree(env, staging);
    return Status::Corrupt("internal check failed: the bundle would not turn " + b->label() +
                           " into " + a->label());
  }
  if (diff_report != nullptr) *diff_report = report.value();
  const std::string schema_path = JoinPath(staging, delta::kSchemaMember);
  s = WriteFileAtomically(env, schema_path, SchemaText(a->schema()));
  sources.insert(sources.begin(), {delta::kSchemaMember, schema_path});
  if (s.ok()) s = WriteArchive(env, out_path, &manifest, sources, options.pack);
  Status cleanup = RemoveTree(env, staging);
  if (!s.ok()) return s;
  KS_RETURN_IF_ERROR(cleanup);
  return manifest;
}

}  // namespace kuzusync
