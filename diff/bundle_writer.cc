// WriteBundle: a comparison whose differing leaves are turned into delta
// files, packed with a manifest whose result root is computed from B's
// roots plus the delta (sums are additive), then checked against A.

#include <map>
#include <set>

#include "diff/delta_builder.h"
#include "diff/diff.h"

namespace kuzusync {
namespace {



// The delta that turns B's rows of a batch of leaves into A's.
Status AddLeafDelta(const TableSchema& table, const LeafRows& la, const LeafRows& lb, bool deletes,
                    DeltaBuilder* delta) {
  if (table.kind == TableKind::kNode) {
    for (const auto& [key, row] : la.by_key) {
      auto other = lb.by_key.find(key);
      if (other == lb.by_key.end()) {
        KS_RETURN_IF_ERROR(delta->UpsertNode(table.name, row.csv, row.digest, nullptr));
      } else if (other->second.digest != row.digest) {
        KS_RETURN_IF_ERROR(delta->UpsertNode(table.name, row.csv, row.digest, &other->second.digest));
      }
    }
    if (!deletes) return Status::Ok();
    for (const auto& [key, row] : lb.by_key) {
      if (la.by_key.count(key) == 0) KS_RETURN_IF_ERROR(delta->DeleteNode(table.name, key, row.digest));
    }
    return Status::Ok();
  }
  if (!deletes) {
    for (const auto& [digest, row] : la.by_digest) {
      uint64_t in_b = lb.CountOf(digest);
      if (row.count > in_b) {
        KS_RETURN_IF_ERROR(delta->InsertRel(table.name, row.connection, row.csv, row.digest, row.count - in_b));
      }
    }
    return Status::Ok();
  }
  // Whole (from, to) pairs are replaced: see WriteBundle.
  std::set<LeafRows::Counted::Pair> touched;
  for (const auto& [digest, row] : la.by_digest) {
    if (lb.CountOf(digest) != row.count) touched.insert(row.pair());
  }
  for (const auto& [digest, row] : lb.by_digest) {
    if (la.CountOf(digest) != row.count) touched.insert(row.pair());
  }
  for (const auto& [digest, row] : lb.by_digest) {
    if (touched.count(row.pair()) == 0) continue;
    KS_RETURN_IF_ERROR(delta->DeleteRel(table.name, row.connection, row.csv, row.digest, row.count));
  }
  for (const auto& [digest, row] : la.by_digest) {
    if (touched.count(row.pair()) == 0) continue;
    KS_RETURN_IF_ERROR(delta->InsertRel(table.name, row.connection, row.csv, row.digest, row.count));
  }
  return Status::Ok();
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

  DeltaBuilder delta(env, out_path + ".kuzusync-staging");
  KS_RETURN_IF_ERROR(delta.Open());
  DiffOptions diff_options;
  diff_options.threads = options.threads;
  diff_options.on_leaf_rows = [&](const TableSchema& table, const LeafRows& la, const LeafRows& lb) {
    return AddLeafDelta(table, la, lb, options.deletes, &delta);
  };
  KS_ASSIGN_OR_RETURN(DiffReport report, DiffReplicas(a, b, diff_options));

  std::map<std::string, merkle::NodeSummary> roots_a, roots_b, roots_result;
  for (const TableDiff& t : report.tables) {
    roots_a[t.table] = t.root_a;
    roots_b[t.table] = t.root_b;
  }
  // The result root is checked before the bundle is published: a delta
  // that does not turn B into A is a bug, never a file.
  KS_ASSIGN_OR_RETURN(Manifest manifest, delta.Finish(b->schema(), roots_b, a->schema(), out_path,
                                                      options.pack, options.deletes, &roots_result));
  if (options.deletes && manifest.result_root != ReplicaRoot(a->schema(), roots_a) &&
      b->schema().tables.size() == a->schema().tables.size()) {
    (void)env->RemoveFile(out_path);
    return Status::Corrupt("internal check failed: the bundle would not turn " + b->label() +
                           " into " + a->label());
  }
  if (diff_report != nullptr) *diff_report = std::move(report);
  return manifest;
}

}  // namespace kuzusync
