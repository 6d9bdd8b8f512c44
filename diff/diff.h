// diff: compares two replicas (Kuzu export directories) table by table.
//
// Each table is hashed into a merkle::Tree; the trees are compared top-down,
// descending only into differing subtrees, one level per batch so that the
// comparison can run as a dialogue between two processes (TreeView); at the
// differing leaves the rows of both sides are collected (RowSource) and
// compared exactly: node rows by primary key, rel rows as a multiset of
// whole rows. Schema differences are reported, never crashed on.
// Thread-safety: functions are reentrant; a TreeView or RowSource is used by
// one comparison at a time.

#ifndef KUZUSYNC_DIFF_DIFF_H_
#define KUZUSYNC_DIFF_DIFF_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "archive/archive.h"
#include "merkle/merkle.h"
#include "snapshot/snapshot.h"

namespace kuzusync {

// ---- Hashing a replica -------------------------------------------------

// What set reconciliation needs of a table, kept beside its tree: its rows'
// elements and, once a session has made them, the first coded symbols of
// their set (a function of the elements, kept because making them costs a
// pass over every element, and sessions of similar changes need as many).
struct TableElements {
  std::vector<uint64_t> elements;
  std::vector<merkle::CodedSymbol> symbols;  // symbols [0, symbols.size()) of `elements`
};

// Where each row of a table was when this process hashed it, in the order
// of its elements (HashTable): what lets the rows of a few elements be read
// without a scan. Not in TableElements: the tree cache keeps elements, and
// locations would be copied there for nothing (they hold only while the
// files are as hashed, which the identities tell).
struct RowLocations {
  static constexpr int kOffsetBits = 48;
  // Where each row starts: the file (its index in ExportDir::FilesOf) <<
  // kOffsetBits | the byte offset of the row's first byte in it, the header
  // line counted. In parts, one a hashing thread, back to back in the order
  // of the elements (joining them would copy megabytes).
  std::vector<std::vector<uint64_t>> starts;
  // Each file's Env::FileIdentity from before it was read.
  std::vector<std::string> identities;
  // Rel tables: (row index, copy) of each row numbered as a further copy of
  // an identical row (copy > 0, merkle::RelSketchElement), by index.
  std::vector<std::pair<uint64_t, uint64_t>> copies;

  bool empty() const { return identities.empty(); }
};

// Trees already built, keyed by everything they were built from (the table's
// shape, the tree shape, and each data file's identity): an unchanged table
// is not hashed again. With a tree, the table's set-reconciliation elements
// may be kept too. Implementations are safe for concurrent use. A store may
// be written after Store returns: lookups through the same cache wait for
// it, other caches of the replica see it at the latest once this one is
// destroyed.
class TreeCache {
 public:
  virtual ~TreeCache() = default;
  // With `elements`, a hit needs the elements too; they (and the symbols,
  // when kept) go to *elements.
  virtual std::optional<merkle::Tree> Lookup(const std::string& key,
                                             TableElements* elements = nullptr) = 0;
  virtual void Store(const std::string& key, const merkle::Tree& tree,
                     const TableElements* elements = nullptr) = 0;
  // Keeps symbols with the elements stored under `key` (none: nothing).
  virtual void StoreSymbols(const std::string& key, const std::vector<merkle::CodedSymbol>& symbols) = 0;
};

// kuzusync keeps what belongs to a replica directory beside it, never in it
// (a site's cron re-creates the export directory): <parent>/.<name><suffix>.
// Suffixes in use: ".kuzusync-lock" (the replica's lock: readers share it,
// a writer holds it alone), ".kuzusync" (state), ".kuzusync-new" and
// ".kuzusync-bundle" (apply's staging).
std::string BesideReplica(const std::string& replica_dir, const std::string& suffix);
constexpr char kLockSuffix[] = ".kuzusync-lock";

// The cache beside a replica: <parent>/.<name>.kuzusync/state.db, sqlite in
// WAL mode. nullptr when it cannot be opened (read-only media, say): caching
// is best effort and never changes a result.
std::unique_ptr<TreeCache> OpenReplicaTreeCache(const std::string& replica_dir);

struct TableTree {
  std::string table;
  TableKind kind = TableKind::kNode;
  merkle::Tree tree;
  // With HashExports' with_elements: its rows' set-reconciliation elements.
  std::optional<TableElements> elements;
  RowLocations locations;  // of the elements, when hashed here (not from the cache)
  std::string cache_key;  // under which the cache keeps it; empty: not cacheable
};

// Hashes one table of an export in one streaming pass. A duplicate primary
// key in a node table is kCorrupt naming the file and line.
// Leaves hold about leaf_rows rows (merkle::kTargetLeafRows locally,
// merkle::kNetworkLeafRows when the other side is remote).
// Up to `threads` threads hash while the calling thread parses (0: all cores).
// With `elements`, also the rows' set-reconciliation elements (what
// RowSource::CollectElements lists), in the same pass; with `locations`
// too, where those rows start (left empty when the files cannot be told
// apart from changed ones later, or are too many or too large to number).
Result<merkle::Tree> HashTable(Env* env, const ExportDir& export_dir, const TableSchema& table,
                               uint64_t leaf_rows = merkle::kTargetLeafRows, int threads = 0,
                               std::vector<uint64_t>* elements = nullptr, RowLocations* locations = nullptr);

// Hashes the named tables (all when `tables` is empty) of each export, using
// up to `threads` threads across all of them. result[i] belongs to exports[i].
// with_elements: tables come with their elements too (from the cache only
// when it kept them; otherwise the table is hashed, and its rows' locations
// come too).
Result<std::vector<std::vector<TableTree>>> HashExports(
    Env* env, const std::vector<const ExportDir*>& exports,
    const std::vector<std::vector<std::string>>& tables, int threads,
    uint64_t leaf_rows = merkle::kTargetLeafRows, TreeCache* cache = nullptr,
    bool with_elements = false);

// ---- The comparison, behind interfaces a remote replica can implement ---

// One side's tree of one table. A remote implementation answers GetNodes
// over the network; one call per tree level keeps round trips few.
class TreeView {
 public:
  virtual ~TreeView() = default;
  virtual int depth() const = 0;
  // Prints of the nodes `indexes` at `level`, in the same order.
  virtual Status GetNodes(int level, const std::vector<uint64_t>& indexes,
                          std::vector<merkle::NodePrint>* out) = 0;
};

class LocalTreeView final : public TreeView {
 public:
  explicit LocalTreeView(const merkle::Tree* tree) : tree_(tree) {}
  int depth() const override { return tree_->depth(); }
  Status GetNodes(int level, const std::vector<uint64_t>& indexes,
                  std::vector<merkle::NodePrint>* out) override;

 private:
  const merkle::Tree* tree_;
};

// The rows under a set of tree nodes, as the comparison needs them.
struct LeafRows {
  struct Keyed {   // node table: one row per key
    merkle::RowDigest digest;
    std::string display;  // the row, for --rows
    std::string csv;      // the row in Kuzu's default CSV dialect, when rows are kept
  };
  struct Counted {  // rel table: multiplicity of each whole row
    uint64_t count = 0;
    std::string display;
    merkle::RowDigest digest;
    std::string csv;         // when rows are kept
    RelConnection connection;  // FROM/TO tables of the row's file
    std::string from_key, to_key;
    // The (from, to) pair it connects: the unit rel changes travel in.
    using Pair = std::tuple<std::string, std::string, std::string, std::string>;
    Pair pair() const {
      return {connection.from, connection.to, from_key, to_key};
    }
  };
  std::map<std::string, Keyed> by_key;       // node tables, keyed by primary key
  std::map<std::string, Counted> by_digest;  // rel tables, keyed by row digest

  // Copies of the rel row with this digest; 0 when there is none.
  uint64_t CountOf(const std::string& digest) const {
    auto it = by_digest.find(digest);
    return it == by_digest.end() ? 0 : it->second.count;
  }
  // Rows, copies counted.
  uint64_t Rows() const {
    uint64_t n = by_key.size();
    for (const auto& [digest, row] : by_digest) n += row.count;
    return n;
  }
  // The summary a tree node holding just these rows would have.
  merkle::NodeSummary Sum() const {
    merkle::NodeSummary sum;
    for (const auto& [key, row] : by_key) sum.Add(row.digest);
    for (const auto& [digest, row] : by_digest) {
      for (uint64_t c = 0; c < row.count; ++c) sum.Add(row.digest);
    }
    return sum;
  }
};

// A row's print (merkle::RowPrint of its digest) and, for rel rows, how
// many copies of it there are.
struct RowPrintCount {
  uint64_t print = 0;
  uint64_t count = 1;
};

// Source of one side's rows under given tree nodes.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // Collects the rows of `table` whose key hash falls under one of the
  // nodes `indexes` at `level`; with keep_rows, whole rows too (for deltas).
  // With `only_prints`, just the rows whose print is in it.
  virtual Status CollectRows(const TableSchema& table, int level,
                             const std::vector<uint64_t>& indexes, bool keep_rows,
                             const std::vector<uint64_t>* only_prints, LeafRows* out) = 0;
  Status CollectRows(const TableSchema& table, int level, const std::vector<uint64_t>& indexes,
                     bool keep_rows, LeafRows* out) {
    return CollectRows(table, level, indexes, keep_rows, nullptr, out);
  }
  // Prints of those rows, in no particular order.
  virtual Status CollectPrints(const TableSchema& table, int level,
                               const std::vector<uint64_t>& indexes,
                               std::vector<RowPrintCount>* out) = 0;
  // True when rows are expensive to move (a remote replica): the comparison
  // then asks for prints first and whole rows only where prints differ.
  virtual bool remote() const { return false; }

  // Set reconciliation: the element (merkle::NodeSketchElement, or
  // merkle::RelSketchElement with the copy number of identical rel rows) of
  // every row of `table`. Safe to call for several tables at once.
  virtual Status CollectElements(const TableSchema& table, std::vector<uint64_t>* out) {
    return Status::Unsupported("this replica cannot list row elements");
  }
  // The rows of `table` whose element is in `elements` (rel rows: count is
  // the number of copies whose element is), whole with keep_rows.
  virtual Status CollectRowsByElement(const TableSchema& table, const std::vector<uint64_t>& elements,
                                     bool keep_rows, LeafRows* out) {
    return Status::Unsupported("this replica cannot find rows by element");
  }
  // The first coded symbols of the table's elements when they were kept
  // (from an earlier session), else none. Safe to call for several tables
  // at once.
  virtual std::vector<merkle::CodedSymbol> KnownSymbols(const TableSchema& table) { return {}; }
  // Symbols [0, symbols.size()) of the table's elements, made by a
  // session: kept for the next one where the source can keep them.
  virtual void KeepSymbols(const TableSchema& table, const std::vector<merkle::CodedSymbol>& symbols) {}
};

// RowSource over a local export directory: rescans the table's files, or
// reads just the rows it wants where hashing found them.
class ExportRowSource final : public RowSource {
 public:
  ExportRowSource(Env* env, const ExportDir* export_dir) : env_(env), export_(export_dir) {}
  using RowSource::CollectRows;
  Status CollectRows(const TableSchema& table, int level, const std::vector<uint64_t>& indexes,
                     bool keep_rows, const std::vector<uint64_t>* only_prints,
                     LeafRows* out) override;
  Status CollectPrints(const TableSchema& table, int level, const std::vector<uint64_t>& indexes,
                       std::vector<RowPrintCount>* out) override;
  Status CollectElements(const TableSchema& table, std::vector<uint64_t>* out) override;
  Status CollectRowsByElement(const TableSchema& table, const std::vector<uint64_t>& elements,
                             bool keep_rows, LeafRows* out) override;
  std::vector<merkle::CodedSymbol> KnownSymbols(const TableSchema& table) override;
  // Longer than those known: kept in memory, and in the cache when the
  // table's elements came from it or went to it.
  void KeepSymbols(const TableSchema& table, const std::vector<merkle::CodedSymbol>& symbols) override;
  // Elements found while hashing (CollectElements then need not scan),
  // kept in `cache` (which must outlive this) under `cache_key` if set.
  // With their rows' locations, CollectRowsByElement reads the rows it
  // wants there, and scans only when the files changed since.
  void KnowElements(const std::string& table, TableElements elements, TreeCache* cache = nullptr,
                    std::string cache_key = "", RowLocations locations = {});
  const TableElements* KnownElements(const std::string& table) const;

 private:
  struct Known {
    TableElements elements;
    TreeCache* cache = nullptr;
    std::string cache_key;
    RowLocations locations;
  };
  const Known* FindKnown(const std::string& table) const;
  Env* env_;
  const ExportDir* export_;
  mutable std::mutex known_mu_;  // KeepSymbols may run beside KnownSymbols
  std::map<std::string, Known> known_;
};

// ---- Results ------------------------------------------------------------

struct RowChange {
  char sign;            // '+' only in A, '-' only in B, '~' changed
  std::string display;  // key (node) or whole row (rel)
};

struct TableDiff {
  std::string table;
  TableKind kind = TableKind::kNode;
  merkle::NodeSummary root_a, root_b;  // whole-table summaries (zero where absent)
  uint64_t rows_a = 0;
  uint64_t rows_b = 0;
  uint64_t only_in_a = 0;
  uint64_t only_in_b = 0;
  uint64_t changed = 0;
  std::string skipped;           // why rows were not compared, if they were not
  std::vector<RowChange> rows;   // filled when DiffOptions::collect_rows

  bool differs() const { return only_in_a + only_in_b + changed > 0 || !skipped.empty(); }
};

struct SchemaDiff {
  std::vector<std::string> only_in_a;
  std::vector<std::string> only_in_b;
  std::vector<std::string> changed;
  bool empty() const { return only_in_a.empty() && only_in_b.empty() && changed.empty(); }
};

struct DiffStats {
  uint64_t comparisons = 0;      // tree-node summary pairs compared
  uint64_t leaves_compared = 0;  // differing nodes resolved by row comparison
  double elapsed_ms = 0;
};

struct DiffReport {
  bool identical = true;
  std::vector<TableDiff> tables;  // every table present on either side, by name
  SchemaDiff schema;
  DiffStats stats;
  std::vector<std::string> notes;  // e.g. why a table's rows were not compared
};

class SketchPeer;

struct DiffOptions {
  std::vector<std::string> tables;  // empty: all
  bool collect_rows = false;
  int threads = 0;                  // 0: hardware concurrency
  // Upper bound on rows held in memory at once while resolving leaves;
  // more differing rows are resolved in several passes.
  uint64_t max_rows_in_memory = 100000;
  // When set, called with both sides' rows of every batch of differing
  // leaves (whole rows kept): how deltas are built from a comparison.
  std::function<Status(const TableSchema&, const LeafRows& a, const LeafRows& b)> on_leaf_rows;
  // Whole node rows of B too (a bundle needs only their digests; a merge
  // may send either side's).
  bool keep_node_rows_of_b = false;
  // When one side is remote and offers set reconciliation (and no
  // on_leaf_rows is set): its peer. Differing tables are then compared by
  // reconciling their rows instead of descending their trees (a few
  // hundred bytes per hundred differing rows instead of every row's print
  // around each change). A table whose reconciled rows do not explain the
  // difference of its roots exactly is compared by the descent.
  SketchPeer* remote_peer = nullptr;
  bool remote_is_a = false;  // else b is the remote side
  uint64_t max_reconcile_rows = 16'000'000;  // both sides together; more: the descent
};

// Compares one table given both sides' trees and rows. Adds to *stats.
Status DiffTable(const TableSchema& table, TreeView* a, TreeView* b, RowSource* rows_a,
                 RowSource* rows_b, const DiffOptions& options, TableDiff* out, DiffStats* stats);

// ---- Replicas: what a comparison needs of each side ----------------------

// One replica as a comparison sees it: its schema, each hashed table's
// root, and access to tree nodes and rows. A local export directory is one
// implementation; a remote replica behind the transfer protocol another.
class Replica {
 public:
  struct Table {
    std::string name;
    TableKind kind = TableKind::kNode;
    int depth = 0;
    merkle::NodeSummary root;
  };

  virtual ~Replica() = default;
  virtual std::string label() const = 0;  // a path or URL, for messages
  virtual const Schema& schema() const = 0;
  virtual const std::vector<Table>& tables() const = 0;  // the hashed tables
  // The tree of a hashed table; nullptr for a table that was not hashed.
  // Owned by the replica.
  virtual TreeView* tree(const std::string& table) = 0;
  virtual RowSource* rows() = 0;

  const Table* FindTable(std::string_view name) const;
};

// A replica in a local export directory, hashed when opened.
class LocalReplica final : public Replica {
 public:
  // Hashes the named tables (all when empty) with up to `threads` threads.
  // with_elements: keep the set-reconciliation elements of the tables it
  // hashes (8 bytes a row), for rows()->CollectElements.
  static Result<std::unique_ptr<LocalReplica>> Open(Env* env, const std::string& dir,
                                                    const std::vector<std::string>& tables,
                                                    int threads,
                                                    uint64_t leaf_rows = merkle::kTargetLeafRows,
                                                    TreeCache* cache = nullptr,
                                                    bool with_elements = false);

  std::string label() const override { return export_.dir; }
  const Schema& schema() const override { return export_.schema; }
  const std::vector<Table>& tables() const override { return tables_; }
  TreeView* tree(const std::string& table) override;
  RowSource* rows() override { return &rows_; }

  const ExportDir& export_dir() const { return export_; }
  const merkle::Tree* FindTree(std::string_view table) const;
  // The table's elements, when it was opened with_elements.
  const TableElements* FindElements(const std::string& table) const { return rows_.KnownElements(table); }
  uint64_t leaf_rows() const { return leaf_rows_; }
  // Keeps the cache the replica was opened with until the replica goes, so
  // that the cache's writes finish while the replica is used.
  void AdoptCache(std::unique_ptr<TreeCache> cache) { cache_ = std::move(cache); }

 private:
  LocalReplica(Env* env, ExportDir export_dir, uint64_t leaf_rows)
      : export_(std::move(export_dir)), rows_(env, &export_), leaf_rows_(leaf_rows) {}

  ExportDir export_;
  ExportRowSource rows_;
  uint64_t leaf_rows_;
  std::unique_ptr<TreeCache> cache_;
  std::vector<Table> tables_;
  std::vector<TableTree> trees_;
  std::map<std::string, std::unique_ptr<LocalTreeView>> views_;
};

// Compares two replicas table by table.
Result<DiffReport> DiffReplicas(Replica* a, Replica* b, const DiffOptions& options);

// Compares two export directories.
Result<DiffReport> DiffExports(Env* env, const std::string& dir_a, const std::string& dir_b,
                               const DiffOptions& options);

// One hash naming a whole replica: its tables' shapes, row counts and roots.
// `roots` gives each table's root summary by table name.
std::string ReplicaRoot(const Schema& schema,
                        const std::map<std::string, merkle::NodeSummary>& roots);
std::string ReplicaRoot(const Replica& replica);

// Hashes every table of an export and returns ReplicaRoot of it.
Result<std::string> HashReplica(Env* env, const ExportDir& export_dir, int threads,
                                TreeCache* cache = nullptr);

// schema.cypher text that declares `schema` (table DDL, then the rest).
std::string SchemaText(const Schema& schema);

// ---- Deltas: bundles, apply, Cypher, snapshots ------------------------------
// Formats: docs/archive-format.md.

struct BundleOptions {
  bool deletes = true;  // false: additive only, B keeps rows A lacks
  PackOptions pack;
  int threads = 0;
  // WriteBundleBySketch holds about 40 bytes per row of a differing table
  // on each side; a table with more rows on both sides together is refused
  // (kUnsupported), and the caller compares trees, whose memory is bounded.
  uint64_t max_reconcile_rows = 16'000'000;
};

// Writes to out_path a bundle of the rows that turn B into A (A's version
// wins): node upserts and deletes by key; for rel tables, every (from, to)
// pair whose rows differ is replaced whole (B's rows of the pair deleted,
// A's inserted), which keeps live-database deletes free of property
// matching. Tables must have the same columns on both sides.
// Fills *report (when non-null) with the comparison it made.
Result<Manifest> WriteBundle(Env* env, Replica* a, Replica* b, const std::string& out_path,
                             const BundleOptions& options, DiffReport* report = nullptr);
Result<Manifest> WriteBundle(Env* env, const std::string& dir_a, const std::string& dir_b,
                             const std::string& out_path, const BundleOptions& options);

// CollectElements of several tables, up to `threads` at a time.
Status CollectElementsOfTables(RowSource* rows, const std::vector<const TableSchema*>& tables,
                               int threads, std::vector<std::vector<uint64_t>>* out);

// The other side of a set reconciliation: coded symbols of its tables' rows
// (merkle::SketchEncoder over CollectElements), as many as asked for.
class SketchPeer {
 public:
  struct Request {
    std::string table;
    uint64_t begin = 0, end = 0;  // symbols [begin, end)
  };
  virtual ~SketchPeer() = default;
  virtual Status Symbols(const std::vector<Request>& requests,
                         std::vector<std::vector<merkle::CodedSymbol>>* out) = 0;
  // Per table, the summary (count and digest sum) of the rows with these
  // elements: what a bundle without deletes leaves in place, for its
  // result root.
  struct Rows {
    std::string table;
    std::vector<uint64_t> elements;
  };
  virtual Status SumRows(const std::vector<Rows>& rows, std::vector<merkle::NodeSummary>* out) = 0;
};

// A SketchPeer over a replica's own rows: a table's rows are listed (the
// tables of one request side by side) the first time it is asked for, and
// its encoder kept; its symbols start from those the replica's rows()
// knows and go back there (KeepSymbols) when the peer is destroyed, so the
// replica must outlive it. A request past 4 symbols per row (plus 65,536) is
// refused: decoding never needs that many.
std::unique_ptr<SketchPeer> NewLocalSketchPeer(Replica* replica, int threads);

// WriteBundle for when B is across a network: the rows that differ are
// found by set reconciliation with `b_peer` instead of a tree descent, so
// the cost grows with the number of differing rows, not with how they are
// spread. With deletes, B's rows that A lacks are named by element in the
// bundle (`<T>.drops`), and only an export directory can apply it; without,
// the bundle holds A's new rows only, and the result root counts B's rows
// it leaves (SketchPeer::SumRows). A must be local. Fills *report's tables
// (only_in_b: rows removed, or without deletes kept) and stats.comparisons
// (symbols received).
Result<Manifest> WriteBundleBySketch(Env* env, Replica* a, Replica* b, SketchPeer* b_peer,
                                     const std::string& out_path, const BundleOptions& options,
                                     DiffReport* report = nullptr);

struct ApplyOptions {
  bool force = false;  // apply even if the target's root is not the bundle's base
  int threads = 0;
  TreeCache* cache = nullptr;  // for hashing the target before applying
  // Apply as WriteCypher's statements act on a live database: every (from,
  // to) pair the bundle touches is replaced whole, and a deleted node takes
  // its rels along. Idempotent; with force, what a late Cypher batch will
  // make of a database exported before it was loaded.
  bool as_cypher = false;
  // When set, the new version is built there (a path beside B, replaced if
  // it exists) and B is left as it is.
  std::string output_dir;
  // B as the caller hashed it, every table, under the write lock it still
  // holds (a served write session): then B is not hashed again.
  const LocalReplica* target = nullptr;
  // Leave B's old version for RemoveOldVersion, still under the lock, once
  // the caller has answered (removing 66 MB of files took ~20 ms of a push).
  bool defer_removal = false;
};

struct ApplyResult {
  bool already_applied = false;  // the target already had the result root
  bool forced = false;           // base root did not match and force was set
  std::string root;              // target root afterwards
  // The rows taken out of each table the apply rewrote, and put in.
  struct TableChange {
    std::vector<merkle::KeyedDigest> removed, added;
  };
  std::map<std::string, TableChange> changes;
  // With defer_removal: where B's old version waits, in B's state directory.
  std::string old_version;
};

// Applies a bundle to export directory dir_b. The new version is built
// beside it and swapped in with one atomic exchange, so a process killed at
// any moment leaves dir_b old or new. Refused (kRefused) when dir_b's root
// is not the bundle's base, unless options.force. The caller holds dir_b's
// write lock (BesideReplica(dir_b, kLockSuffix)), so that two appliers
// cannot each verify a result the other then replaces.
Result<ApplyResult> ApplyBundle(Env* env, const std::string& bundle_path, const std::string& dir_b,
                                const ApplyOptions& options);

// Removes the old version an ApplyBundle with defer_removal left (one left
// by a process that died first goes with the next apply). Before
// KeepTreesOfNewVersion: the old version's hard links count in the
// identities of the files it shares with the new one.
void RemoveOldVersion(Env* env, const ApplyResult& applied);

// After ApplyBundle with a `target` (and under the same lock): caches the
// new version's trees and elements, the target's changed as the apply
// changed the rows, so that the next session need not hash it. Best
// effort, like all caching; a served session does it after answering.
void KeepTreesOfNewVersion(Env* env, const std::string& dir_b, const LocalReplica& target,
                           const ApplyResult& applied, TreeCache* cache);

// Writes out_dir/apply.cypher and its data files: statements Kuzu 0.11 runs
// as they are (deletes of rels, then nodes; node upserts before rel
// inserts). `path_in_cypher` is how the statements name out_dir (absolute
// for the Kuzu shell). out_dir must not exist; it appears complete or not.
Status WriteCypher(Env* env, const std::string& bundle_path, const std::string& out_dir,
                   const std::string& path_in_cypher);

struct SnapshotStats {
  uint64_t raw_bytes = 0;
  uint64_t archive_bytes = 0;
};

// Packs a whole export (schema.cypher, copy.cypher, index.cypher, data
// files) with a manifest of per-file SHA-256 and per-table root hashes.
// `roots`, when the caller knows every table's root, saves hashing.
Result<SnapshotStats> PackSnapshot(Env* env, const std::string& dir, const std::string& out_path,
                                   const PackOptions& options, int threads,
                                   TreeCache* cache = nullptr,
                                   const std::map<std::string, merkle::NodeSummary>* roots = nullptr);

// Extracts a snapshot into dest_dir, which must not exist, verifying every
// member as it goes; dest_dir appears complete or not at all.
Result<Manifest> UnpackSnapshot(Env* env, const std::string& archive_path,
                                const std::string& dest_dir);


// ---- Sync: what a replica remembers between syncs, and three-way merge -----

// One counter per replica that made changes; merged (entrywise max) on sync.
using VersionVector = std::map<std::string, uint64_t>;
enum class VectorOrder { kEqual, kBehind, kAhead, kConcurrent };  // a relative to b
VectorOrder CompareVectors(const VersionVector& a, const VersionVector& b);
std::string VectorText(const VersionVector& v);  // "id:counter,..." sorted by id
Result<VersionVector> ParseVector(std::string_view text);

// What a replica knows of a peer after the last sync with it.
struct Checkpoint {
  std::string peer;
  int64_t at_ms = 0;               // unix time
  std::string local_root, remote_root;  // ReplicaRoot of both sides right after
  std::string schema_hash;         // SHA-256 of SchemaText of the merged schema
  uint64_t events = 0;             // row changes merged with this peer, all runs
  std::string table_rows;          // "Table=rows" per table, space-separated
  std::string remote_vector;       // the peer's version vector (VectorText)
  std::string base_checksum;       // SHA-256 of the stored base snapshot
  uint64_t base_bytes = 0;
};

struct SyncRun {
  int64_t id = 0;
  int64_t started_ms = 0, finished_ms = 0;
  std::string peer;
  std::string mode;     // "incremental", "full", "unchanged"
  std::string reason;   // why full: "no checkpoint", "schema changed", "checkpoint unreadable"
  uint64_t rows_in = 0, rows_out = 0, conflicts = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;
  std::string outcome;  // "in sync", "synced", "stopped: conflicts", "dry run", "error"
  std::string message;
};

// A row that both sides changed differently. Rows are CSV (default
// dialect, one line per row); absent means the row does not exist there
// (deleted, or never created).
struct SyncConflict {
  int64_t id = 0, run_id = 0;
  std::string peer, table, key;
  bool base_known = true;  // false in a full sync: there was no base
  std::optional<std::string> base_row, local_row, remote_row;
  std::string resolution;  // "local", "remote", "merged", "dropped", "unresolved"
  std::string detail;
};

class StateDb;

struct PendingSync {
  int64_t run_id = 0;
  std::string merged_root;      // both sides' root once the sync is done
  std::string local_base_root;  // the local side's root before it
  bool emitted = false;         // its Cypher batch was written
};

struct SeenVersion {
  std::string table, key, version;
  int64_t at_ms = 0;
};

// The sqlite state beside a replica (see BesideReplica): replica id,
// version vector, checkpoints with their bases, run history, conflicts.
class SyncState {
 public:
  // Creates the state when `create`; otherwise kNotFound if there is none.
  static Result<std::unique_ptr<SyncState>> Open(const std::string& replica_dir, bool create);
  ~SyncState();

  const std::string& replica_id() const { return replica_id_; }
  Result<VersionVector> Vector();
  Status SaveVector(const VersionVector& vector);
  Result<std::optional<Checkpoint>> LoadCheckpoint(const std::string& peer);
  Result<std::vector<Checkpoint>> Checkpoints();
  // Writes the stored base snapshot of `peer` to `path`; kCorrupt when its
  // checksum does not match the checkpoint.
  Status ReadBase(Env* env, const std::string& peer, const std::string& path);
  // A run is recorded when it starts (outcome "running": one that stays so
  // was killed) and sets run->id; FinishRun or Commit record how it ended.
  Status BeginRun(SyncRun* run);
  Status FinishRun(const SyncRun& run, const std::vector<SyncConflict>& conflicts);
  // A sync that has computed its merge stores, before it changes either
  // side, the checkpoint it will leave (`next`, whose base is the snapshot
  // at base_path) and the bundle for the local side; a run killed after its
  // push finishes from them (see docs/sync.md). PromotePending makes the
  // pending checkpoint current, with the version vector, the run and its
  // conflicts, in one transaction; DropPending forgets it.
  Status SavePending(Env* env, const PendingSync& pending, const Checkpoint& next,
                     const std::string& base_path, const std::string& local_bundle_path);
  Result<std::optional<PendingSync>> LoadPending(const std::string& peer);
  // Writes the pending local bundle to path; false when there is none.
  Result<bool> ReadPendingBundle(Env* env, const std::string& peer, const std::string& path);
  Status PromotePending(const std::string& peer, const VersionVector& vector, const SyncRun* run,
                        const std::vector<SyncConflict>& conflicts);
  Status DropPending(const std::string& peer);
  Status MarkPendingEmitted(const std::string& peer);
  // A replica others push to remembers the root each one's last push made.
  Status RecordPush(const std::string& replica, const std::string& root);
  Result<std::string> LastPush(const std::string& replica);  // "" if none
  // When this replica first saw `version` (the row's print in hex; empty:
  // the row deleted) of a row: records now_ms if never seen, or with now_ms 0
  // only looks (0: never seen). Commit forgets local ones: they are merged.
  Result<int64_t> FirstSeen(const std::string& table, const std::string& key,
                            const std::string& version, int64_t now_ms);
  // A hub keeps the first-seen times its clients report with their changes
  // (the earliest wins), for the next client's last-writer-wins.
  Status RecordSeen(const std::vector<SeenVersion>& seen);
  // Merges (entrywise max) another vector into this replica's.
  Status MergeVector(const VersionVector& other);
  Result<std::vector<SyncRun>> Runs(size_t limit);
  Result<std::vector<SyncConflict>> Conflicts(size_t limit);

 private:
  explicit SyncState(std::unique_ptr<StateDb> db);
  std::unique_ptr<StateDb> db_;
  std::string replica_id_;
};

enum class ConflictPolicy { kLastWriterWins, kLocalWins, kRemoteWins, kFail };

struct MergeOptions {
  ConflictPolicy policy = ConflictPolicy::kLastWriterWins;
  // lww: the column whose greater value wins (numbers compare as numbers).
  // Empty: the version first seen later wins, by first_seen below.
  std::string lww_column;
  // Numeric columns merged as base + (local - base) + (remote - base).
  std::map<std::string, std::vector<std::string>> counters;  // table -> columns
  int threads = 0;
  // lww without a column: when each version (the row's print in hex, "" for
  // a deleted row) was first seen on its side, in ms; 0 when unknown (older
  // than any known). Called once, with every conflict's two versions, so a
  // remote can answer in one round trip. May be empty: all unknown.
  struct FirstSeenQuery {
    bool local = false;
    std::string table, key, version;
  };
  std::function<std::vector<int64_t>(const std::vector<FirstSeenQuery>&)> first_seen;
  PackOptions pack;
  // The remote as a reconciliation peer: its changes since the base are
  // then found by set reconciliation (the base is local), not by comparing
  // trees over the network. Should that fail, trees are compared.
  SketchPeer* remote_peer = nullptr;
};

struct MergeResult {
  std::vector<SyncConflict> conflicts;  // every conflict and how it was resolved
  bool stopped = false;                 // policy fail met a conflict: no bundle written
  uint64_t rows_to_local = 0, rows_to_remote = 0;  // row changes each way
  bool local_bundle = false, remote_bundle = false;  // written (there were changes)
  std::string merged_root;              // ReplicaRoot of the result on both sides
  std::map<std::string, merkle::NodeSummary> merged_roots;  // per table, after the merge
  std::set<std::string> new_local_keys;  // node tables that gain keys on the local side
  // Node rows whose local version the remote bundle carries (at_ms unset).
  std::vector<SeenVersion> local_versions_sent;
  // Why the remote's changes were found by comparing trees after all, when
  // reconciliation with MergeOptions::remote_peer failed; empty otherwise.
  std::string reconciliation_failed;
};

// Three-way merge of `local` and `remote` against `base` (their state after
// the last sync), or a full two-way reconciliation when base is null.
// Tables must have the same shape on all sides. Writes the bundle that
// brings local to the merged state to local_bundle and the one for remote
// to remote_bundle (when there is something to bring). `local_changed` /
// `remote_changed` false say the side equals base (its changes are not
// looked for). In the local bundle, rel changes replace whole (from, to)
// pairs, so that its Cypher (WriteCypher) needs no property matching.
Result<MergeResult> MergeReplicas(Env* env, Replica* local, Replica* base, Replica* remote,
                                  bool local_changed, bool remote_changed,
                                  const MergeOptions& options, const std::string& local_bundle,
                                  const std::string& remote_bundle);

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_DIFF_H_
