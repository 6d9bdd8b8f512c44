// The top-down comparison of two trees and the exact comparison of rows at
// the differing leaves; DiffExports puts it together for two directories.

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "diff/diff.h"
#include "diff/reconcile.h"

namespace kuzusync {
namespace {

// Compares the rows of both sides under one batch of leaves.
void CompareRows(const TableSchema& table, const LeafRows& a, const LeafRows& b, bool collect,
                 TableDiff* out) {
  if (table.kind == TableKind::kNode) {
    auto ia = a.by_key.begin();
    auto ib = b.by_key.begin();
    while (ia != a.by_key.end() || ib != b.by_key.end()) {
      if (ib == b.by_key.end() || (ia != a.by_key.end() && ia->first < ib->first)) {
        ++out->only_in_a;
        if (collect) out->rows.push_back({'+', ia->second.display});
        ++ia;
      } else if (ia == a.by_key.end() || ib->first < ia->first) {
        ++out->only_in_b;
        if (collect) out->rows.push_back({'-', ib->second.display});
        ++ib;
      } else {
        if (ia->second.digest != ib->second.digest) {
          ++out->changed;
          if (collect) out->rows.push_back({'~', ia->second.display});
        }
        ++ia;
        ++ib;
      }
    }
    return;
  }
  auto emit = [&](char sign, const LeafRows::Counted& row, uint64_t times) {
    if (sign == '+') out->only_in_a += times;
    if (sign == '-') out->only_in_b += times;
    if (collect) {
      for (uint64_t i = 0; i < times; ++i) out->rows.push_back({sign, row.display});
    }
  };
  auto ia = a.by_digest.begin();
  auto ib = b.by_digest.begin();
  while (ia != a.by_digest.end() || ib != b.by_digest.end()) {
    if (ib == b.by_digest.end() || (ia != a.by_digest.end() && ia->first < ib->first)) {
      emit('+', ia->second, ia->second.count);
      ++ia;
    } else if (ia == a.by_digest.end() || ib->first < ia->first) {
      emit('-', ib->second, ib->second.count);
      ++ib;
    } else {
      if (ia->second.count > ib->second.count) emit('+', ia->second, ia->second.count - ib->second.count);
      if (ib->second.count > ia->second.count) emit('-', ib->second, ib->second.count - ia->second.count);
      ++ia;
      ++ib;
    }
  }
}

std::vector<std::string> Sorted(std::set<std::string> names) {
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace

std::string ReplicaRoot(const Schema& schema,
                        const std::map<std::string, merkle::NodeSummary>& roots) {
  // Tables by name; each line carries the table's shape so that a schema
  // change alone changes the replica root.
  std::map<std::string, std::string> lines;
  for (const TableSchema& t : schema.tables) {
    std::string line;
    merkle::AppendField(&line, t.name, false);
    merkle::AppendField(&line, t.kind == TableKind::kNode ? "node" : "rel", false);
    merkle::AppendField(&line, std::to_string(t.primary_key), false);
    for (const Column& c : t.columns) {
      merkle::AppendField(&line, c.name, false);
      merkle::AppendField(&line, c.type, false);
    }
    for (const RelConnection& c : t.connections) {
      merkle::AppendField(&line, c.from, false);
      merkle::AppendField(&line, c.to, false);
    }
    auto it = roots.find(t.name);
    merkle::NodeSummary root = it == roots.end() ? merkle::NodeSummary{} : it->second;
    merkle::AppendField(&line, std::to_string(root.count), false);
    for (uint64_t lane : root.sum) merkle::AppendField(&line, std::to_string(lane), false);
    lines[t.name] = std::move(line);
  }
  std::string all;
  for (const auto& [name, line] : lines) merkle::AppendField(&all, line, false);
  const merkle::Sha256Digest d = merkle::Sha256(all);
  return merkle::ToHex(d.data(), d.size());
}

Result<std::string> HashReplica(Env* env, const ExportDir& export_dir, int threads,
                                TreeCache* cache) {
  KS_ASSIGN_OR_RETURN(auto trees,
                      HashExports(env, {&export_dir}, {{}}, threads, merkle::kTargetLeafRows, cache));
  std::map<std::string, merkle::NodeSummary> roots;
  for (const TableTree& t : trees[0]) roots[t.table] = t.tree.root();
  return ReplicaRoot(export_dir.schema, roots);
}

namespace {

// Collects one side's rows of a batch. When the side is remote and the
// other side's rows are at hand, only prints travel first; rows whose print
// the other side also has are the same rows (equal digests) and are filled
// in from it, and only the others travel whole.
Status CollectSide(const TableSchema& table, int level, const std::vector<uint64_t>& batch,
                   RowSource* source, bool keep_rows, const LeafRows* other, LeafRows* out) {
  if (!source->remote() || other == nullptr) {
    return source->CollectRows(table, level, batch, keep_rows, out);
  }
  std::vector<RowPrintCount> prints;
  KS_RETURN_IF_ERROR(source->CollectPrints(table, level, batch, &prints));
  // Prints the other side has exactly once can be filled in from it.
  std::map<uint64_t, int> seen;
  for (const auto& [key, row] : other->by_key) ++seen[merkle::RowPrint(row.digest)];
  for (const auto& [digest, row] : other->by_digest) ++seen[merkle::RowPrint(row.digest)];
  std::vector<uint64_t> wanted;
  for (const RowPrintCount& p : prints) {
    auto it = seen.find(p.print);
    if (it == seen.end() || it->second != 1) wanted.push_back(p.print);
  }
  if (!wanted.empty()) {
    KS_RETURN_IF_ERROR(source->CollectRows(table, level, batch, keep_rows, &wanted, out));
  }
  std::map<uint64_t, uint64_t> count_of;
  for (const RowPrintCount& p : prints) count_of[p.print] = p.count;
  for (const auto& [key, row] : other->by_key) {
    uint64_t print = merkle::RowPrint(row.digest);
    if (seen[print] == 1 && count_of.count(print) != 0) out->by_key[key] = row;
  }
  for (const auto& [digest, row] : other->by_digest) {
    uint64_t print = merkle::RowPrint(row.digest);
    auto it = count_of.find(print);
    if (seen[print] != 1 || it == count_of.end()) continue;
    LeafRows::Counted copy = row;
    copy.count = it->second;
    out->by_digest[digest] = std::move(copy);
  }
  return Status::Ok();
}

}  // namespace

Status DiffTable(const TableSchema& table, TreeView* a, TreeView* b, RowSource* rows_a,
                 RowSource* rows_b, const DiffOptions& options, TableDiff* out, DiffStats* stats) {
  // Trees of different depths cover the same key-hash ranges level by level,
  // so they are compared down to the shallower depth.
  const int depth = std::min(a->depth(), b->depth());
  std::vector<uint64_t> frontier = {0};
  std::vector<merkle::NodePrint> na, nb;
  std::vector<uint64_t> differing;
  std::vector<merkle::NodePrint> leaf_a, leaf_b;  // prints of the differing leaves
  for (int level = 0;; ++level) {
    KS_RETURN_IF_ERROR(a->GetNodes(level, frontier, &na));
    KS_RETURN_IF_ERROR(b->GetNodes(level, frontier, &nb));
    if (na.size() != frontier.size() || nb.size() != frontier.size()) {
      return Status::Corrupt("tree view answered with the wrong number of nodes");
    }
    stats->comparisons += frontier.size();
    differing.clear();
    leaf_a.clear();
    leaf_b.clear();
    for (size_t i = 0; i < frontier.size(); ++i) {
      if (na[i] == nb[i]) continue;
      differing.push_back(frontier[i]);
      leaf_a.push_back(na[i]);
      leaf_b.push_back(nb[i]);
    }
    if (differing.empty() || level == depth) break;
    frontier.clear();
    for (uint64_t parent : differing) {
      for (uint64_t c = 0; c < merkle::kFanout; ++c) frontier.push_back(parent * merkle::kFanout + c);
    }
  }
  stats->leaves_compared += differing.size();

  // A delta needs A's whole rows (they are sent) but of B's only rel rows
  // (whole pairs are replaced); node rows of B need just their digests.
  const bool keep_rows = static_cast<bool>(options.on_leaf_rows);
  const bool keep_b = keep_rows && (table.kind == TableKind::kRel || options.keep_node_rows_of_b);
  // Resolve the differing leaves in batches whose rows fit the memory bound.
  size_t begin = 0;
  while (begin < differing.size()) {
    uint64_t rows_in_batch = 0;
    size_t end = begin;
    while (end < differing.size()) {
      uint64_t rows = leaf_a[end].count + leaf_b[end].count;
      if (end > begin && rows_in_batch + rows > options.max_rows_in_memory) break;
      rows_in_batch += rows;
      ++end;
    }
    std::vector<uint64_t> batch(differing.begin() + begin, differing.begin() + end);
    LeafRows la, lb;
    if (rows_a->remote() && !rows_b->remote()) {
      KS_RETURN_IF_ERROR(CollectSide(table, depth, batch, rows_b, keep_rows, nullptr, &lb));
      KS_RETURN_IF_ERROR(CollectSide(table, depth, batch, rows_a, keep_rows, &lb, &la));
    } else {
      KS_RETURN_IF_ERROR(CollectSide(table, depth, batch, rows_a, keep_rows, nullptr, &la));
      KS_RETURN_IF_ERROR(CollectSide(table, depth, batch, rows_b, keep_b, &la, &lb));
    }
    CompareRows(table, la, lb, options.collect_rows, out);
    if (keep_rows) KS_RETURN_IF_ERROR(options.on_leaf_rows(table, la, lb));
    begin = end;
  }
  if (options.collect_rows) {
    std::stable_sort(out->rows.begin(), out->rows.end(),
                     [](const RowChange& x, const RowChange& y) { return x.display < y.display; });
  }
  return Status::Ok();
}

const Replica::Table* Replica::FindTable(std::string_view name) const {
  for (const Table& t : tables()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<std::unique_ptr<LocalReplica>> LocalReplica::Open(Env* env, const std::string& dir,
                                                         const std::vector<std::string>& tables,
                                                         int threads, uint64_t leaf_rows,
                                                         TreeCache* cache, bool with_elements) {
  KS_ASSIGN_OR_RETURN(ExportDir export_dir, OpenExport(env, dir));
  std::unique_ptr<LocalReplica> replica(new LocalReplica(env, std::move(export_dir), leaf_rows));
  std::vector<std::string> wanted;
  for (const std::string& t : tables) {
    if (replica->export_.schema.Find(t) != nullptr) wanted.push_back(t);
  }
  if (!tables.empty() && wanted.empty()) return replica;  // none of them is here
  KS_ASSIGN_OR_RETURN(auto trees, HashExports(env, {&replica->export_}, {wanted}, threads, leaf_rows,
                                               cache, with_elements));
  replica->trees_ = std::move(trees[0]);
  for (TableTree& t : replica->trees_) {
    replica->tables_.push_back({t.table, t.kind, t.tree.depth(), t.tree.root()});
    if (t.elements) {
      replica->rows_.KnowElements(t.table, std::move(*t.elements), cache, t.cache_key, std::move(t.locations));
    }
    t.elements.reset();
  }
  return replica;
}

const merkle::Tree* LocalReplica::FindTree(std::string_view table) const {
  for (const TableTree& t : trees_) {
    if (t.table == table) return &t.tree;
  }
  return nullptr;
}

TreeView* LocalReplica::tree(const std::string& table) {
  auto it = views_.find(table);
  if (it != views_.end()) return it->second.get();
  const merkle::Tree* tree = FindTree(table);
  if (tree == nullptr) return nullptr;
  return views_.emplace(table, std::make_unique<LocalTreeView>(tree)).first->second.get();
}

std::string BesideReplica(const std::string& replica_dir, const std::string& suffix) {
  std::string dir = replica_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  size_t slash = dir.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : dir.substr(0, slash == 0 ? 1 : slash);
  const std::string base = slash == std::string::npos ? dir : dir.substr(slash + 1);
  return JoinPath(parent, "." + base + suffix);
}

std::string ReplicaRoot(const Replica& replica) {
  std::map<std::string, merkle::NodeSummary> roots;
  for (const Replica::Table& t : replica.tables()) roots[t.name] = t.root;
  return ReplicaRoot(replica.schema(), roots);
}

std::string SchemaText(const Schema& schema) {
  std::string text;
  for (const TableSchema& t : schema.tables) text += t.ddl + ";\n";
  for (const std::string& other : schema.other_statements) text += other + ";\n";
  return text;
}

namespace {

// DiffTable's result for `tables` by set reconciliation with the remote
// side; the names of tables it could not settle go to *unsettled.
Status DiffTablesBySketch(Replica* a, Replica* b, const std::vector<const TableSchema*>& tables,
                          const DiffOptions& options, std::map<std::string, TableDiff>* diffs,
                          std::set<std::string>* unsettled, DiffStats* stats) {
  Replica* local = options.remote_is_a ? b : a;
  Replica* remote = options.remote_is_a ? a : b;
  std::vector<ReconciledTable> reconciled;
  Status s = ReconcileTables(local, remote, options.remote_peer, tables, options.threads,
                             options.max_reconcile_rows, &reconciled, &stats->comparisons);
  if (s.code() == Status::Code::kCorrupt || s.code() == Status::Code::kUnsupported) {
    for (const TableSchema* t : tables) unsettled->insert(t->name);
    return Status::Ok();
  }
  KS_RETURN_IF_ERROR(s);
  for (const ReconciledTable& r : reconciled) {
    // Keys, digests and display text are all a comparison needs: not whole
    // rows (which a remote then sends without their display text).
    LeafRows mine, theirs;
    KS_RETURN_IF_ERROR(local->rows()->CollectRowsByElement(*r.table, r.only_local, false, &mine));
    KS_RETURN_IF_ERROR(remote->rows()->CollectRowsByElement(*r.table, r.only_other, false, &theirs));
    const LeafRows& la = options.remote_is_a ? theirs : mine;
    const LeafRows& lb = options.remote_is_a ? mine : theirs;
    TableDiff& diff = (*diffs)[r.table->name];
    // Settled only when the rows found are every element named and explain
    // the roots exactly: root_a - root_b == sum(a's rows) - sum(b's rows).
    merkle::NodeSummary expected = diff.root_a, found = la.Sum();
    expected.Add(lb.Sum());
    found.Add(diff.root_b);
    if (mine.Rows() != r.only_local.size() || theirs.Rows() != r.only_other.size() || !(expected == found)) {
      unsettled->insert(r.table->name);
      continue;
    }
    CompareRows(*r.table, la, lb, options.collect_rows, &diff);
    if (options.collect_rows) {
      std::stable_sort(diff.rows.begin(), diff.rows.end(),
                       [](const RowChange& x, const RowChange& y) { return x.display < y.display; });
    }
  }
  return Status::Ok();
}

}  // namespace

Result<DiffReport> DiffReplicas(Replica* a, Replica* b, const DiffOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::set<std::string> names;
  for (const TableSchema& t : a->schema().tables) names.insert(t.name);
  for (const TableSchema& t : b->schema().tables) names.insert(t.name);
  for (const std::string& wanted : options.tables) {
    if (names.count(wanted) == 0) {
      return Status::InvalidArgument("no table named " + wanted + " in " + a->label() + " or " +
                                     b->label());
    }
  }
  if (!options.tables.empty()) names = std::set<std::string>(options.tables.begin(), options.tables.end());

  DiffReport report;
  std::set<std::string> only_a, only_b, changed;
  for (const std::string& name : names) {
    const TableSchema* ta = a->schema().Find(name);
    const TableSchema* tb = b->schema().Find(name);
    if (tb == nullptr) only_a.insert(name);
    if (ta == nullptr) only_b.insert(name);
    if (ta != nullptr && tb != nullptr && !ta->SameShape(*tb)) changed.insert(name);
  }
  report.schema = {Sorted(only_a), Sorted(only_b), Sorted(changed)};

  // Tables on both sides, alike in shape, whose roots differ: reconciled
  // first, together, when the remote side can.
  std::map<std::string, TableDiff> settled;
  std::set<std::string> unsettled;
  if (options.remote_peer != nullptr && !options.on_leaf_rows) {
    std::vector<const TableSchema*> differing;
    for (const std::string& name : names) {
      const Replica::Table* table_a = a->FindTable(name);
      const Replica::Table* table_b = b->FindTable(name);
      if (table_a == nullptr || table_b == nullptr || changed.count(name) != 0) continue;
      if (table_a->root == table_b->root) continue;
      differing.push_back(a->schema().Find(name));
      TableDiff& diff = settled[name];
      diff.root_a = table_a->root;
      diff.root_b = table_b->root;
    }
    if (!differing.empty()) {
      KS_RETURN_IF_ERROR(DiffTablesBySketch(a, b, differing, options, &settled, &unsettled, &report.stats));
    }
  }

  for (const std::string& name : names) {
    const Replica::Table* table_a = a->FindTable(name);
    const Replica::Table* table_b = b->FindTable(name);
    const TableSchema* schema_a = a->schema().Find(name);
    TableDiff diff;
    diff.table = name;
    diff.kind = (schema_a != nullptr ? schema_a : b->schema().Find(name))->kind;
    if (table_a != nullptr) diff.root_a = table_a->root;
    if (table_b != nullptr) diff.root_b = table_b->root;
    diff.rows_a = diff.root_a.count;
    diff.rows_b = diff.root_b.count;
    if (table_a == nullptr || table_b == nullptr) {
      // A table on one side only: all of its rows are on that side only.
      diff.only_in_a = diff.rows_a;
      diff.only_in_b = diff.rows_b;
    } else if (changed.count(name) != 0) {
      diff.skipped = "columns differ";
      report.notes.push_back("table " + name +
                             ": rows not compared because its columns differ between the replicas");
    } else if (settled.count(name) != 0 && unsettled.count(name) == 0) {
      const TableDiff& found = settled[name];
      diff.only_in_a = found.only_in_a;
      diff.only_in_b = found.only_in_b;
      diff.changed = found.changed;
      diff.rows = found.rows;
    } else {
      TreeView* view_a = a->tree(name);
      TreeView* view_b = b->tree(name);
      if (view_a == nullptr || view_b == nullptr) return Status::InvalidArgument("table " + name + " was not hashed");
      KS_RETURN_IF_ERROR(DiffTable(*schema_a, view_a, view_b, a->rows(), b->rows(), options, &diff,
                                   &report.stats));
    }
    if (diff.differs()) report.identical = false;
    report.tables.push_back(std::move(diff));
  }
  if (!report.schema.empty()) report.identical = false;
  report.stats.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<DiffReport> DiffExports(Env* env, const std::string& dir_a, const std::string& dir_b,
                               const DiffOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  KS_ASSIGN_OR_RETURN(auto a, LocalReplica::Open(env, dir_a, options.tables, options.threads));
  KS_ASSIGN_OR_RETURN(auto b, LocalReplica::Open(env, dir_b, options.tables, options.threads));
  KS_ASSIGN_OR_RETURN(DiffReport report, DiffReplicas(a.get(), b.get(), options));
  report.stats.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace kuzusync
