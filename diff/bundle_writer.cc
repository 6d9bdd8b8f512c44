// WriteBundle: a comparison whose differing leaves are turned into delta
// files, packed with a manifest whose result root is computed from B's
// roots plus the delta (sums are additive), then checked against A.
// WriteBundleBySketch: the rows two replicas disagree on, found by rateless
// set reconciliation of their row elements instead.

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "diff/delta_builder.h"
#include "diff/diff.h"
#include "diff/parallel.h"
#include "diff/reconcile.h"

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

namespace {

// Bundles carry rows, not schema changes: every table of A must be in B
// with the same columns.
Status CheckSameTables(const Replica& a, const Replica& b) {
  for (const TableSchema& ta : a.schema().tables) {
    const TableSchema* tb = b.schema().Find(ta.name);
    if (tb == nullptr) {
      return Status::Refused("table " + ta.name + " exists only in " + a.label() +
                             ": bundles do not carry schema changes yet; create it in " +
                             b.label() + " first");
    }
    if (!ta.SameShape(*tb)) {
      return Status::Refused("table " + ta.name + " has different columns in " + a.label() +
                             " and " + b.label() + ": bundles do not carry schema changes yet");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Manifest> WriteBundle(Env* env, Replica* a, Replica* b, const std::string& out_path,
                             const BundleOptions& options, DiffReport* diff_report) {
  KS_RETURN_IF_ERROR(CheckSameTables(*a, *b));

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

namespace {

// What one request may ask for, so that every message stays well inside a
// protocol frame: 8 MiB of elements.
constexpr uint64_t kMaxElementsPerRequest = 1 << 20;

}  // namespace

Result<Manifest> WriteBundleBySketch(Env* env, Replica* a, Replica* b, SketchPeer* b_peer,
                                     const std::string& out_path, const BundleOptions& options,
                                     DiffReport* report) {
  const auto start = std::chrono::steady_clock::now();
  KS_RETURN_IF_ERROR(CheckSameTables(*a, *b));
  DiffReport diff;
  std::vector<const TableSchema*> differing;
  for (const TableSchema& table : a->schema().tables) {
    const Replica::Table* ta = a->FindTable(table.name);
    const Replica::Table* tb = b->FindTable(table.name);
    if (ta == nullptr || tb == nullptr) return Status::InvalidArgument("table " + table.name + " was not hashed");
    TableDiff t;
    t.table = table.name;
    t.kind = table.kind;
    t.root_a = ta->root;
    t.root_b = tb->root;
    t.rows_a = ta->root.count;
    t.rows_b = tb->root.count;
    diff.tables.push_back(t);
    if (ta->root != tb->root) differing.push_back(&table);
  }
  std::vector<ReconciledTable> pending;
  KS_RETURN_IF_ERROR(ReconcileTables(a, b, b_peer, differing, options.threads, options.max_reconcile_rows,
                                     &pending, &diff.stats.comparisons));

  // A's rows that B lacks, table by table side by side.
  std::vector<LeafRows> rows(pending.size());
  KS_RETURN_IF_ERROR(RunInParallel(pending.size(), options.threads, [&](size_t i) {
    return a->rows()->CollectRowsByElement(*pending[i].table, pending[i].only_local, true,
                                           &rows[i]);
  }));

  DeltaBuilder delta(env, out_path + ".kuzusync-staging");
  KS_RETURN_IF_ERROR(delta.Open());
  std::map<std::string, merkle::NodeSummary> roots_b;
  for (const Replica::Table& t : b->tables()) roots_b[t.name] = t.root;
  std::vector<SketchPeer::Rows> kept;  // without deletes: B's surplus, per table
  for (size_t i = 0; i < pending.size(); ++i) {
    const ReconciledTable& r = pending[i];
    const TableSchema& table = *r.table;
    TableDiff* t = nullptr;
    for (TableDiff& candidate : diff.tables) {
      if (candidate.table == table.name) t = &candidate;
    }
    if (rows[i].Rows() != r.only_local.size()) {
      return Status::Corrupt("set reconciliation of table " + table.name + " named rows " + a->label() +
                             " does not have");
    }
    // Rows a sketch cannot tell apart (equal elements) leave the counts or
    // the roots unexplained; the caller then compares trees.
    const uint64_t only_a = r.only_local.size(), only_b = r.only_other.size();
    if (t->rows_a + only_b != t->rows_b + only_a || only_a + only_b == 0) {
      return Status::Corrupt("set reconciliation of table " + table.name +
                             " found a difference that does not explain the tables' row counts and roots");
    }
    for (const auto& [key, row] : rows[i].by_key) {
      KS_RETURN_IF_ERROR(delta.UpsertNode(table.name, row.csv, row.digest, nullptr));
    }
    for (const auto& [digest, row] : rows[i].by_digest) {
      KS_RETURN_IF_ERROR(delta.InsertRel(table.name, row.connection, row.csv, row.digest, row.count));
    }
    // B's old version of a node row A sends is replaced by key anyway.
    std::set<uint64_t> sent_keys;
    if (table.kind == TableKind::kNode) {
      for (uint64_t e : r.only_local) sent_keys.insert(e & merkle::kNodeSketchKeyBits);
    }
    std::vector<uint64_t> surplus;  // B's rows that stay unless deleted
    uint64_t replaced = 0;
    for (uint64_t e : r.only_other) {
      if (sent_keys.count(e & merkle::kNodeSketchKeyBits) != 0) {
        ++replaced;
      } else {
        surplus.push_back(e);
      }
    }
    std::sort(surplus.begin(), surplus.end());
    t->only_in_a = r.only_local.size() - replaced;
    t->only_in_b = surplus.size();
    t->changed = replaced;
    if (t->differs()) diff.identical = false;
    // With deletes the table ends up as A's; without, as A's plus B's surplus.
    if (options.deletes) {
      KS_RETURN_IF_ERROR(delta.DropRows(table.name, surplus));
      delta.SetResultRoot(table.name, t->root_a);
    } else if (!surplus.empty()) {
      kept.push_back({table.name, std::move(surplus)});
    } else {
      delta.SetResultRoot(table.name, t->root_a);
    }
  }
  // Their sums, in requests of at most kMaxElementsPerRequest elements.
  std::map<std::string, merkle::NodeSummary> kept_sums;
  std::vector<SketchPeer::Rows> batch;
  uint64_t in_batch = 0;
  auto send_batch = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    std::vector<merkle::NodeSummary> sums;
    KS_RETURN_IF_ERROR(b_peer->SumRows(batch, &sums));
    if (sums.size() != batch.size()) return Status::Corrupt("peer answered the wrong number of row sums");
    for (size_t i = 0; i < batch.size(); ++i) {
      if (sums[i].count != batch[i].elements.size()) {
        return Status::Corrupt("set reconciliation of table " + batch[i].table + " named rows " + b->label() +
                               " does not have");
      }
      kept_sums[batch[i].table].Add(sums[i]);
    }
    batch.clear();
    in_batch = 0;
    return Status::Ok();
  };
  for (const SketchPeer::Rows& table_rows : kept) {
    for (size_t begin = 0; begin < table_rows.elements.size();) {
      if (in_batch == kMaxElementsPerRequest) KS_RETURN_IF_ERROR(send_batch());
      const size_t end = std::min(table_rows.elements.size(), begin + (kMaxElementsPerRequest - in_batch));
      batch.push_back({table_rows.table, std::vector<uint64_t>(table_rows.elements.begin() + begin,
                                                               table_rows.elements.begin() + end)});
      in_batch += end - begin;
      begin = end;
    }
  }
  KS_RETURN_IF_ERROR(send_batch());
  for (const auto& [table, sum] : kept_sums) {
    merkle::NodeSummary root = a->FindTable(table)->root;
    root.Add(sum);
    delta.SetResultRoot(table, root);
  }
  KS_ASSIGN_OR_RETURN(Manifest manifest, delta.Finish(b->schema(), roots_b, a->schema(), out_path,
                                                      options.pack, options.deletes));
  diff.stats.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (report != nullptr) *report = std::move(diff);
  return manifest;
}

}  // namespace kuzusync
