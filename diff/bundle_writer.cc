// WriteBundle: a comparison whose differing leaves are turned into delta
// files, packed with a manifest whose result root is computed from B's
// roots plus the delta (sums are additive), then checked against A.
// WriteBundleBySketch: the rows two replicas disagree on, found by rateless
// set reconciliation of their row elements instead.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include "diff/delta_builder.h"
#include "diff/diff.h"
#include "diff/parallel.h"

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

constexpr uint64_t kFirstSymbols = 64;  // 768 bytes: enough for a few dozen differences
// What one request may ask for, so that every message stays well inside a
// protocol frame: 12 MiB of symbols, or 8 MiB of elements.
constexpr uint64_t kMaxSymbolsPerRequest = 1 << 20;
constexpr uint64_t kMaxElementsPerRequest = 1 << 20;

// How many symbols to have after a chunk that did not decode: about 1.35
// per differing element once the difference can be estimated, three times
// as many while it cannot.
uint64_t NextEnd(const merkle::SketchDecoder& decoder) {
  const uint64_t have = decoder.received();
  const double from_empty_symbols = decoder.EstimateDifference();
  if (from_empty_symbols == 0) return have * 3;
  const double estimate = std::max(
      from_empty_symbols, static_cast<double>(decoder.only_local().size() + decoder.only_remote().size()));
  const uint64_t wanted = static_cast<uint64_t>(std::ceil(1.35 * estimate)) + 8;
  return std::clamp(wanted, have + have / 16 + 8, have * 3);
}

struct Reconciliation {
  const TableSchema* table = nullptr;
  std::unique_ptr<merkle::SketchDecoder> decoder;
  uint64_t limit = 0;  // give up past this many symbols
  std::vector<uint64_t> only_a, only_b;  // the elements found
};

}  // namespace

Result<Manifest> WriteBundleBySketch(Env* env, Replica* a, Replica* b, SketchPeer* b_peer,
                                     const std::string& out_path, const BundleOptions& options,
                                     DiffReport* report) {
  const auto start = std::chrono::steady_clock::now();
  KS_RETURN_IF_ERROR(CheckSameTables(*a, *b));
  DiffReport diff;
  std::vector<Reconciliation> pending;
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
    if (ta->root == tb->root) continue;
    if (ta->root.count + tb->root.count > options.max_reconcile_rows) {
      return Status::Unsupported("table " + table.name + " has too many rows to reconcile in memory (" +
                                 std::to_string(ta->root.count + tb->root.count) + ")");
    }
    Reconciliation r;
    r.table = &table;
    // Twice the elements of both sides always decodes; far more never will.
    r.limit = 2 * (ta->root.count + tb->root.count) + 4 * kFirstSymbols;
    pending.push_back(std::move(r));
    differing.push_back(&table);
  }

  // A's elements are listed while B lists its own for the first request.
  // An empty table in B needs no symbols: all of A's rows are new there
  // (the first push to a replica made from an empty database).
  std::vector<Reconciliation*> open;
  std::vector<SketchPeer::Request> requests;
  for (Reconciliation& r : pending) {
    if (b->FindTable(r.table->name)->root.count == 0) continue;
    open.push_back(&r);
    requests.push_back({r.table->name, 0, kFirstSymbols});
  }
  std::vector<std::vector<uint64_t>> elements;
  Status listed;
  std::thread lister([&] { listed = CollectElementsOfTables(a->rows(), differing, options.threads, &elements); });
  std::vector<std::vector<merkle::CodedSymbol>> symbols;
  Status asked = requests.empty() ? Status::Ok() : b_peer->Symbols(requests, &symbols);
  lister.join();
  KS_RETURN_IF_ERROR(listed);
  KS_RETURN_IF_ERROR(asked);
  KS_RETURN_IF_ERROR(RunInParallel(pending.size(), options.threads, [&](size_t i) {
    if (b->FindTable(pending[i].table->name)->root.count == 0) {
      pending[i].only_a = std::move(elements[i]);
    } else {
      pending[i].decoder = std::make_unique<merkle::SketchDecoder>(elements[i]);
    }
    return Status::Ok();
  }));
  elements.clear();

  // Then one round trip per step, for every table still undecoded.
  while (!open.empty()) {
    if (symbols.size() != requests.size()) return Status::Corrupt("peer answered the wrong number of sketches");
    for (size_t i = 0; i < open.size(); ++i) {
      if (symbols[i].size() != requests[i].end - requests[i].begin) {
        return Status::Corrupt("peer answered the wrong number of symbols for " + requests[i].table);
      }
      diff.stats.comparisons += symbols[i].size();
    }
    KS_RETURN_IF_ERROR(RunInParallel(open.size(), options.threads, [&](size_t i) {
      open[i]->decoder->Add(symbols[i]);
      return Status::Ok();
    }));
    std::vector<Reconciliation*> still_open;
    for (Reconciliation* r : open) {
      if (!r->decoder->decoded()) {
        still_open.push_back(r);
        continue;
      }
      r->only_a = r->decoder->only_local();
      r->only_b = r->decoder->only_remote();
    }
    open = std::move(still_open);
    if (open.empty()) break;
    requests.clear();
    for (Reconciliation* r : open) {
      const uint64_t have = r->decoder->received();
      const uint64_t end =
          std::min({NextEnd(*r->decoder), r->limit, have + kMaxSymbolsPerRequest / open.size()});
      if (end <= have) {
        return Status::Corrupt("set reconciliation of table " + r->table->name + " with " + b->label() +
                               " did not converge after " + std::to_string(have) + " symbols");
      }
      requests.push_back({r->table->name, have, end});
    }
    KS_RETURN_IF_ERROR(b_peer->Symbols(requests, &symbols));
  }

  // A's rows that B lacks, table by table side by side.
  std::vector<LeafRows> rows(pending.size());
  KS_RETURN_IF_ERROR(RunInParallel(pending.size(), options.threads, [&](size_t i) {
    return a->rows()->CollectRowsByElement(*pending[i].table, pending[i].only_a, true,
                                           &rows[i]);
  }));

  DeltaBuilder delta(env, out_path + ".kuzusync-staging");
  KS_RETURN_IF_ERROR(delta.Open());
  std::map<std::string, merkle::NodeSummary> roots_b;
  for (const Replica::Table& t : b->tables()) roots_b[t.name] = t.root;
  std::vector<SketchPeer::Rows> kept;  // without deletes: B's surplus, per table
  for (size_t i = 0; i < pending.size(); ++i) {
    const Reconciliation& r = pending[i];
    const TableSchema& table = *r.table;
    TableDiff* t = nullptr;
    for (TableDiff& candidate : diff.tables) {
      if (candidate.table == table.name) t = &candidate;
    }
    uint64_t found = rows[i].by_key.size();
    for (const auto& [digest, row] : rows[i].by_digest) found += row.count;
    if (found != r.only_a.size()) {
      return Status::Corrupt("set reconciliation of table " + table.name + " named rows " + a->label() +
                             " does not have");
    }
    // Rows a sketch cannot tell apart (equal elements) leave the counts or
    // the roots unexplained; the caller then compares trees.
    const uint64_t only_a = r.only_a.size(), only_b = r.only_b.size();
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
      for (uint64_t e : r.only_a) sent_keys.insert(e & merkle::kNodeSketchKeyBits);
    }
    std::vector<uint64_t> surplus;  // B's rows that stay unless deleted
    uint64_t replaced = 0;
    for (uint64_t e : r.only_b) {
      if (sent_keys.count(e & merkle::kNodeSketchKeyBits) != 0) {
        ++replaced;
      } else {
        surplus.push_back(e);
      }
    }
    std::sort(surplus.begin(), surplus.end());
    t->only_in_a = r.only_a.size() - replaced;
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
