// MergeReplicas: what changed on each side since the base (two tree
// comparisons), merged row by row (nodes by primary key, rels as a
// multiset), written as one bundle per side.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include "diff/delta_builder.h"
#include "diff/diff.h"
#include "diff/reconcile.h"
#include "diff/row_encoding.h"

namespace kuzusync {
namespace {

struct Version {
  bool present = false;
  merkle::RowDigest digest{};
  std::string csv;  // one CSV line, newline included
  bool operator==(const Version& other) const {
    return present == other.present && (!present || digest == other.digest);
  }
};

Version VersionOf(const LeafRows::Keyed& row) { return {true, row.digest, row.csv}; }

struct NodeChange {
  Version reference, side;
};

struct RelChange {
  uint64_t reference = 0, side = 0;
  LeafRows::Counted row;
};

// What differs between a side and a reference (the base, or in a full
// reconciliation the other side), by table.
struct Changes {
  std::map<std::string, std::map<std::string, NodeChange>> nodes;  // key -> change
  std::map<std::string, std::map<std::string, RelChange>> rels;    // digest -> change
};


// Adds what differs between a side's rows and the reference's rows of a
// batch (whole rows; rel rows with every copy each has) to *out.
void AddChanges(const TableSchema& table, const LeafRows& s, const LeafRows& r, Changes* out) {
  if (table.kind == TableKind::kNode) {
    auto& changes = out->nodes[table.name];
    for (const auto& [key, row] : s.by_key) {
      auto it = r.by_key.find(key);
      if (it != r.by_key.end() && it->second.digest == row.digest) continue;
      NodeChange& c = changes[key];
      c.side = VersionOf(row);
      if (it != r.by_key.end()) c.reference = VersionOf(it->second);
    }
    for (const auto& [key, row] : r.by_key) {
      if (s.by_key.count(key) == 0) changes[key].reference = VersionOf(row);
    }
    return;
  }
  auto& changes = out->rels[table.name];
  for (const auto& [digest, row] : s.by_digest) {
    uint64_t in_reference = r.CountOf(digest);
    if (in_reference != row.count) changes[digest] = {in_reference, row.count, row};
  }
  for (const auto& [digest, row] : r.by_digest) {
    if (s.by_digest.count(digest) == 0) changes[digest] = {row.count, 0, row};
  }
}

Status CollectChanges(Replica* side, Replica* reference, int threads, Changes* out) {
  DiffOptions options;
  options.threads = threads;
  options.keep_node_rows_of_b = true;
  options.on_leaf_rows = [&](const TableSchema& table, const LeafRows& s, const LeafRows& r) -> Status {
    AddChanges(table, s, r, out);
    return Status::Ok();
  };
  return DiffReplicas(side, reference, options).status();
}

// CollectChanges for a remote side reached through `peer` and a local
// reference (the base): the rows that differ are found by reconciliation,
// then fetched whole; rel counts are completed from the reference, which
// has every copy of the rows it shares with the side.
Status CollectChangesBySketch(Replica* side, SketchPeer* peer, Replica* reference, int threads,
                              Changes* out) {
  std::vector<const TableSchema*> differing;
  for (const TableSchema& table : reference->schema().tables) {
    const Replica::Table* a = side->FindTable(table.name);
    const Replica::Table* b = reference->FindTable(table.name);
    if (a == nullptr || b == nullptr) return Status::InvalidArgument("table " + table.name + " was not hashed");
    if (a->root != b->root) differing.push_back(&table);
  }
  std::vector<ReconciledTable> found;
  uint64_t symbols = 0;
  KS_RETURN_IF_ERROR(ReconcileTables(reference, side, peer, differing, threads, BundleOptions{}.max_reconcile_rows,
                                     &found, &symbols));
  constexpr size_t kMaxElementsPerRequest = 1 << 20;  // 8 MiB: inside a protocol frame
  for (const ReconciledTable& t : found) {
    const TableSchema& table = *t.table;
    LeafRows s, r;
    for (size_t begin = 0; begin < t.only_other.size(); begin += kMaxElementsPerRequest) {
      const size_t end = std::min(t.only_other.size(), begin + kMaxElementsPerRequest);
      KS_RETURN_IF_ERROR(side->rows()->CollectRowsByElement(
          table, std::vector<uint64_t>(t.only_other.begin() + begin, t.only_other.begin() + end), true, &s));
    }
    KS_RETURN_IF_ERROR(reference->rows()->CollectRowsByElement(table, t.only_local, true, &r));
    if (s.Rows() != t.only_other.size() || r.Rows() != t.only_local.size()) {
      return Status::Corrupt("set reconciliation of table " + table.name + " named rows that are not there");
    }
    if (table.kind == TableKind::kRel) {
      // Every copy the reference has of a touched row, then the side's
      // count: the reference's, less what only it has, plus what only the
      // side has.
      std::vector<uint64_t> prints;
      for (const auto& [digest, row] : s.by_digest) prints.push_back(merkle::RowPrint(row.digest));
      for (const auto& [digest, row] : r.by_digest) prints.push_back(merkle::RowPrint(row.digest));
      LeafRows all;
      if (!prints.empty()) {
        KS_RETURN_IF_ERROR(reference->rows()->CollectRows(table, 0, {0}, true, &prints, &all));
      }
      LeafRows side_rows;
      for (const auto& [digest, row] : all.by_digest) {
        const uint64_t count = row.count - r.CountOf(digest) + s.CountOf(digest);
        if (count > 0) {
          side_rows.by_digest[digest] = row;
          side_rows.by_digest[digest].count = count;
        }
      }
      for (const auto& [digest, row] : s.by_digest) {
        if (all.by_digest.count(digest) == 0) side_rows.by_digest[digest] = row;
      }
      AddChanges(table, side_rows, all, out);
    } else {
      AddChanges(table, s, r, out);
    }
  }
  return Status::Ok();
}

std::string Line(const Version& v) {
  std::string text = v.csv;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::optional<std::string> RowOrAbsent(const Version& v) {
  if (!v.present) return std::nullopt;
  return Line(v);
}

struct Fields {
  std::vector<std::string> values;
  std::vector<uint8_t> nulls;
};

Status ParseRow(const Version& v, const std::string& table, Fields* out) {
  out->values.clear();
  out->nulls.clear();
  return ScanCsvText(v.csv, "a row of " + table, [&](const RowView& row) {
    out->values.assign(row.fields->begin(), row.fields->end());
    out->nulls = *row.is_null;
    return Status::Ok();
  });
}

bool ParseNumber(const std::string& text, bool is_null, double* value, bool* integral) {
  if (is_null || text.empty()) return false;
  char* end = nullptr;
  *value = std::strtod(text.c_str(), &end);
  if (*end != '\0') return false;
  *integral = text.find_first_of(".eE") == std::string::npos;
  return true;
}

std::string HexOf(const merkle::RowDigest& digest) { return merkle::ToHex(digest.data(), digest.size()); }

// A version of a row, as first-seen times name it: its 8-byte print in hex
// (enough to tell a key's versions apart; a quarter of the digest's bytes on
// the wire). "" names the row deleted.
std::string VersionId(const Version& v) {
  if (!v.present) return "";
  const uint64_t print = merkle::RowPrint(v.digest);
  return merkle::ToHex(reinterpret_cast<const uint8_t*>(&print), sizeof(print));
}

struct NodeOutcome {
  std::string key;
  Version local, remote, merged;
};

struct RelOutcome {
  uint64_t local = 0, remote = 0, merged = 0;
  LeafRows::Counted row;
};

class Merger {
 public:
  Merger(const MergeOptions& options, MergeResult* result) : options_(options), result_(result) {}

  // Decides the merged version of a node row and records any conflict.
  // base is null in a full reconciliation.
  Status MergeNode(const TableSchema& table, const std::string& key, const Version* base,
                   const Version& local, const Version& remote, Version* merged) {
    if (local == remote) {
      *merged = local;
      return Status::Ok();
    }
    if (base != nullptr && local == *base) {
      *merged = remote;
      return Status::Ok();
    }
    if (base != nullptr && remote == *base) {
      *merged = local;
      return Status::Ok();
    }
    if (base == nullptr && (!local.present || !remote.present)) {  // one side only: copy it
      *merged = local.present ? local : remote;
      return Status::Ok();
    }
    SyncConflict conflict;
    conflict.table = table.name;
    conflict.key = key;
    conflict.base_known = base != nullptr;
    if (base != nullptr) conflict.base_row = RowOrAbsent(*base);
    conflict.local_row = RowOrAbsent(local);
    conflict.remote_row = RowOrAbsent(remote);

    auto counters = options_.counters.find(table.name);
    if (counters != options_.counters.end() && base != nullptr && base->present && local.present &&
        remote.present) {
      bool resolved = false;
      KS_RETURN_IF_ERROR(MergeColumns(table, counters->second, *base, local, remote, merged,
                                      &conflict, &resolved));
      if (resolved) return Status::Ok();
    } else {
      bool local_wins = false;
      if (options_.policy == ConflictPolicy::kFail) {
        conflict.resolution = "unresolved";
        conflict.detail = "policy fail";
        result_->stopped = true;
        *merged = local;
      } else {
        KS_RETURN_IF_ERROR(Decide(table, key, local, remote, &local_wins, &conflict.detail));
        conflict.resolution = local_wins ? "local" : "remote";
        *merged = local_wins ? local : remote;
      }
    }
    if (!local.present || !remote.present) {
      conflict.detail = std::string(local.present ? "updated here, deleted there" : "deleted here, updated there") +
                        "; " + conflict.detail;
    }
    result_->conflicts.push_back(std::move(conflict));
    return Status::Ok();
  }

 private:
  // Per column: counters add up both sides' changes, any other column takes
  // the side that changed it. Columns both sides changed differently go to
  // the policy (counters are merged all the same). *resolved when no column
  // conflicted.
  Status MergeColumns(const TableSchema& table, const std::vector<std::string>& counter_names,
                      const Version& base, const Version& local, const Version& remote,
                      Version* merged, SyncConflict* conflict, bool* resolved) {
    Fields b, l, r;
    KS_RETURN_IF_ERROR(ParseRow(base, table.name, &b));
    KS_RETURN_IF_ERROR(ParseRow(local, table.name, &l));
    KS_RETURN_IF_ERROR(ParseRow(remote, table.name, &r));
    if (b.values.size() != table.columns.size() || l.values.size() != b.values.size() ||
        r.values.size() != b.values.size()) {
      return Status::Corrupt("a row of " + table.name + " has the wrong number of fields");
    }
    Fields out = l;
    std::vector<size_t> conflicting;
    for (size_t i = 0; i < b.values.size(); ++i) {
      const bool is_counter = std::find(counter_names.begin(), counter_names.end(),
                                        table.columns[i].name) != counter_names.end();
      double vb, vl, vr;
      bool ib, il, ir;
      if (is_counter && ParseNumber(b.values[i], b.nulls[i], &vb, &ib) &&
          ParseNumber(l.values[i], l.nulls[i], &vl, &il) && ParseNumber(r.values[i], r.nulls[i], &vr, &ir)) {
        if (ib && il && ir) {
          long long sum = std::strtoll(l.values[i].c_str(), nullptr, 10) +
                          std::strtoll(r.values[i].c_str(), nullptr, 10) -
                          std::strtoll(b.values[i].c_str(), nullptr, 10);
          out.values[i] = std::to_string(sum);
        } else {
          char text[64];
          std::snprintf(text, sizeof(text), "%.17g", vl + vr - vb);
          out.values[i] = text;
        }
        out.nulls[i] = 0;
        continue;
      }
      auto same = [](const Fields& x, const Fields& y, size_t i) {
        return x.nulls[i] == y.nulls[i] && x.values[i] == y.values[i];
      };
      if (same(l, r, i) || same(r, b, i)) continue;  // keep local's
      if (same(l, b, i)) {
        out.values[i] = r.values[i];
        out.nulls[i] = r.nulls[i];
        continue;
      }
      conflicting.push_back(i);
    }
    if (!conflicting.empty()) {
      bool local_wins = true;
      if (options_.policy == ConflictPolicy::kFail) {
        conflict->resolution = "unresolved";
        conflict->detail = "policy fail";
        result_->stopped = true;
      } else {
        KS_RETURN_IF_ERROR(Decide(table, conflict->key, local, remote, &local_wins, &conflict->detail));
        conflict->resolution = std::string(local_wins ? "local" : "remote") + " + counters";
      }
      for (size_t i : conflicting) {
        const Fields& winner = local_wins ? l : r;
        out.values[i] = winner.values[i];
        out.nulls[i] = winner.nulls[i];
      }
    }
    // The merged row, in the default dialect, and its digest.
    std::vector<std::string_view> views(out.values.begin(), out.values.end());
    RowView row{&views, &out.nulls, 0};
    merged->present = true;
    merged->csv.clear();
    AppendCsvRow(&merged->csv, row, CsvOptions{});
    DataFile node_file;
    RowEncoder encoder(table, node_file);
    merged->digest = encoder.Digest(row);
    *resolved = conflicting.empty();
    return Status::Ok();
  }

  // The policy's choice between two versions of a row.
  Status Decide(const TableSchema& table, const std::string& key, const Version& local,
                const Version& remote, bool* local_wins, std::string* why) {
    switch (options_.policy) {
      case ConflictPolicy::kLocalWins:
        *local_wins = true;
        *why = "policy local-wins";
        return Status::Ok();
      case ConflictPolicy::kRemoteWins:
        *local_wins = false;
        *why = "policy remote-wins";
        return Status::Ok();
      case ConflictPolicy::kFail:
      case ConflictPolicy::kLastWriterWins:
        break;
    }
    if (!options_.lww_column.empty() && local.present && remote.present) {
      int column = -1;
      for (size_t i = 0; i < table.columns.size(); ++i) {
        if (table.columns[i].name == options_.lww_column) column = static_cast<int>(i);
      }
      if (column >= 0) {
        Fields l, r;
        KS_RETURN_IF_ERROR(ParseRow(local, table.name, &l));
        KS_RETURN_IF_ERROR(ParseRow(remote, table.name, &r));
        double vl, vr;
        bool il, ir;
        int order;  // local vs remote
        if (l.nulls[column] != r.nulls[column]) {
          order = l.nulls[column] ? -1 : 1;  // NULL is older than any value
        } else if (ParseNumber(l.values[column], l.nulls[column], &vl, &il) &&
                   ParseNumber(r.values[column], r.nulls[column], &vr, &ir)) {
          order = vl < vr ? -1 : vl > vr ? 1 : 0;
        } else {
          order = l.values[column].compare(r.values[column]);
        }
        if (order != 0) {
          *local_wins = order > 0;
          *why = "lww by " + options_.lww_column;
          return Status::Ok();
        }
      }
    }
    const int64_t seen_local = FirstSeen(true, table.name, key, local);
    const int64_t seen_remote = FirstSeen(false, table.name, key, remote);
    if (seen_local != seen_remote) {
      *local_wins = seen_local > seen_remote;
      *why = "lww by first-seen time";
      return Status::Ok();
    }
    // A tie is broken by the versions themselves, so that every site that
    // meets the same conflict picks the same winner.
    const std::string l = local.present ? HexOf(local.digest) : "";
    const std::string r = remote.present ? HexOf(remote.digest) : "";
    *local_wins = l > r;
    *why = "lww tie, broken by row digest";
    return Status::Ok();
  }

  // A first pass over the conflicts asks for the times it needs (and takes
  // them as unknown); after SetTimes, a second pass has them.
  int64_t FirstSeen(bool local, const std::string& table, const std::string& key, const Version& v) {
    MergeOptions::FirstSeenQuery q{local, table, key, VersionId(v)};
    auto it = times_.find(std::tuple(q.local, q.table, q.key, q.version));
    if (it != times_.end()) return it->second;
    wanted_.push_back(std::move(q));
    return 0;
  }

 public:
  const std::vector<MergeOptions::FirstSeenQuery>& wanted() const { return wanted_; }
  void SetTimes(const std::vector<int64_t>& times) {
    for (size_t i = 0; i < wanted_.size() && i < times.size(); ++i) {
      const auto& q = wanted_[i];
      times_[std::tuple(q.local, q.table, q.key, q.version)] = times[i];
    }
    wanted_.clear();
  }

 private:
  const MergeOptions& options_;
  MergeResult* result_;
  std::vector<MergeOptions::FirstSeenQuery> wanted_;
  std::map<std::tuple<bool, std::string, std::string, std::string>, int64_t> times_;
};


std::map<std::string, merkle::NodeSummary> RootsOf(const Replica& replica) {
  std::map<std::string, merkle::NodeSummary> roots;
  for (const Replica::Table& t : replica.tables()) roots[t.name] = t.root;
  return roots;
}

// The local bundle replaces each touched (from, to) pair whole: the
// pair's current local rows out, its merged rows in.
Status AddLocalRelPairs(Replica* local, const TableSchema& table,
                        const std::map<std::string, RelOutcome>& outcomes, DeltaBuilder* delta) {
  std::set<LeafRows::Counted::Pair> touched;
  std::set<uint64_t> leaves;
  TreeView* tree = local->tree(table.name);
  const int depth = tree == nullptr ? 0 : tree->depth();
  for (const auto& [digest, o] : outcomes) {
    if (o.merged == o.local) continue;
    touched.insert(o.row.pair());
    leaves.insert(merkle::NodeIndex(merkle::KeyHash(o.row.from_key), depth));
  }
  if (touched.empty()) return Status::Ok();
  LeafRows current;
  if (tree != nullptr) {
    KS_RETURN_IF_ERROR(local->rows()->CollectRows(
        table, depth, std::vector<uint64_t>(leaves.begin(), leaves.end()), /*keep_rows=*/true, &current));
  }
  std::set<std::string> done;
  for (const auto& [digest, row] : current.by_digest) {
    if (touched.count(row.pair()) == 0) continue;
    KS_RETURN_IF_ERROR(delta->DeleteRel(table.name, row.connection, row.csv, row.digest, row.count));
    auto it = outcomes.find(digest);
    const uint64_t merged = it == outcomes.end() ? row.count : it->second.merged;
    if (merged > 0) KS_RETURN_IF_ERROR(delta->InsertRel(table.name, row.connection, row.csv, row.digest, merged));
    done.insert(digest);
  }
  for (const auto& [digest, o] : outcomes) {
    if (done.count(digest) != 0 || o.merged == 0 || touched.count(o.row.pair()) == 0) continue;
    KS_RETURN_IF_ERROR(delta->InsertRel(table.name, o.row.connection, o.row.csv, o.row.digest, o.merged));
  }
  return Status::Ok();
}

// Merges every node table's changes; fills *gone with the keys the merge
// leaves absent.
Status MergeNodes(Replica* local, Replica* base, Changes& local_changes, Changes& remote_changes,
                  Merger* merger, std::map<std::string, std::vector<NodeOutcome>>* node_outcomes,
                  std::map<std::string, std::set<std::string>>* gone) {
  for (const TableSchema& table : local->schema().tables) {
    if (table.kind != TableKind::kNode) continue;
    const auto& from_local = local_changes.nodes[table.name];
    const auto& from_remote = remote_changes.nodes[table.name];
    std::set<std::string> keys;
    for (const auto& [key, c] : from_local) keys.insert(key);
    for (const auto& [key, c] : from_remote) keys.insert(key);
    for (const std::string& key : keys) {
      NodeOutcome o;
      o.key = key;
      auto l = from_local.find(key);
      auto r = from_remote.find(key);
      Version base_version;
      if (base == nullptr) {  // full: "side" is local, "reference" is remote
        o.local = l->second.side;
        o.remote = l->second.reference;
      } else {
        base_version = l != from_local.end() ? l->second.reference : r->second.reference;
        o.local = l != from_local.end() ? l->second.side : base_version;
        o.remote = r != from_remote.end() ? r->second.side : base_version;
      }
      KS_RETURN_IF_ERROR(merger->MergeNode(table, key, base == nullptr ? nullptr : &base_version,
                                          o.local, o.remote, &o.merged));
      if (!o.merged.present) (*gone)[table.name].insert(key);
      (*node_outcomes)[table.name].push_back(std::move(o));
    }
  }

  return Status::Ok();
}

}  // namespace

namespace {

Result<MergeResult> MergeOnce(Env* env, Replica* local, Replica* base, Replica* remote,
                              bool local_changed, bool remote_changed, const MergeOptions& options,
                              const std::string& local_bundle, const std::string& remote_bundle) {
  for (const TableSchema& t : local->schema().tables) {
    const TableSchema* other = remote->schema().Find(t.name);
    if (other == nullptr || !other->SameShape(t)) {
      return Status::Refused("table " + t.name + " differs between " + local->label() + " and " +
                             remote->label() + ": sync does not carry schema changes");
    }
  }
  if (remote->schema().tables.size() != local->schema().tables.size()) {
    return Status::Refused(local->label() + " and " + remote->label() +
                           " have different tables: sync does not carry schema changes");
  }

  // What each side changed. Without a base, one comparison of the two sides.
  Changes local_changes, remote_changes;
  if (base == nullptr) {
    KS_RETURN_IF_ERROR(CollectChanges(local, remote, options.threads, &local_changes));
  } else {
    if (local_changed) KS_RETURN_IF_ERROR(CollectChanges(local, base, options.threads, &local_changes));
    if (remote_changed && options.remote_peer != nullptr) {
      KS_RETURN_IF_ERROR(CollectChangesBySketch(remote, options.remote_peer, base, options.threads,
                                                &remote_changes));
    } else if (remote_changed) {
      KS_RETURN_IF_ERROR(CollectChanges(remote, base, options.threads, &remote_changes));
    }
  }

  MergeResult result;
  Merger merger(options, &result);
  std::map<std::string, std::vector<NodeOutcome>> node_outcomes;
  std::map<std::string, std::map<std::string, RelOutcome>> rel_outcomes;
  std::map<std::string, std::set<std::string>> gone;  // node table -> keys absent after the merge

  KS_RETURN_IF_ERROR(MergeNodes(local, base, local_changes, remote_changes, &merger, &node_outcomes, &gone));
  if (!merger.wanted().empty() && options.first_seen) {
    // lww by first-seen time: every time asked for at once, then again.
    merger.SetTimes(options.first_seen(merger.wanted()));
    result = MergeResult{};
    node_outcomes.clear();
    gone.clear();
    KS_RETURN_IF_ERROR(MergeNodes(local, base, local_changes, remote_changes, &merger, &node_outcomes, &gone));
  }

  if (result.stopped) return result;  // nothing is written: rels are not looked at

  for (const TableSchema& table : local->schema().tables) {
    if (table.kind != TableKind::kRel) continue;
    auto& outcomes = rel_outcomes[table.name];
    const auto& from_local = local_changes.rels[table.name];
    const auto& from_remote = remote_changes.rels[table.name];
    std::set<std::string> digests;
    for (const auto& [d, c] : from_local) digests.insert(d);
    for (const auto& [d, c] : from_remote) digests.insert(d);
    for (const std::string& digest : digests) {
      RelOutcome o;
      auto l = from_local.find(digest);
      auto r = from_remote.find(digest);
      o.row = l != from_local.end() ? l->second.row : r->second.row;
      if (base == nullptr) {  // full: keep every copy either side has
        o.local = l->second.side;
        o.remote = l->second.reference;
        o.merged = std::max(o.local, o.remote);
      } else {
        const uint64_t b = l != from_local.end() ? l->second.reference : r->second.reference;
        o.local = l != from_local.end() ? l->second.side : b;
        o.remote = r != from_remote.end() ? r->second.side : b;
        // Both sides at the same count changed it the same way: once, not
        // twice (also how a run interrupted after its push converges).
        const int64_t merged = o.local == o.remote ? static_cast<int64_t>(o.local)
                                                   : static_cast<int64_t>(o.local) +
                                                         static_cast<int64_t>(o.remote) -
                                                         static_cast<int64_t>(b);
        o.merged = merged < 0 ? 0 : static_cast<uint64_t>(merged);
      }
      // A rel whose endpoint the merge deleted cannot exist (Kuzu deletes a
      // node's rels with it): it is dropped, and kept as a conflict.
      auto endpoint_gone = [&](const std::string& node_table, const std::string& key) {
        auto it = gone.find(node_table);
        return it != gone.end() && it->second.count(key) != 0;
      };
      if (o.merged > 0 && (endpoint_gone(o.row.connection.from, o.row.from_key) ||
                           endpoint_gone(o.row.connection.to, o.row.to_key))) {
        SyncConflict c;
        c.table = table.name;
        c.key = o.row.display;
        if (o.local > 0) c.local_row = Line(Version{true, o.row.digest, o.row.csv});
        if (o.remote > 0) c.remote_row = Line(Version{true, o.row.digest, o.row.csv});
        c.resolution = "dropped";
        c.detail = "a node it connects was deleted";
        result.conflicts.push_back(std::move(c));
        o.merged = 0;
      }
      outcomes[digest] = std::move(o);
    }
  }

  // The two bundles, and the check that both lead to the same replica.
  DeltaBuilder to_local(env, local_bundle + ".kuzusync-staging");
  DeltaBuilder to_remote(env, remote_bundle + ".kuzusync-staging");
  KS_RETURN_IF_ERROR(to_local.Open());
  KS_RETURN_IF_ERROR(to_remote.Open());
  for (const auto& [table, outcomes] : node_outcomes) {
    for (const NodeOutcome& o : outcomes) {
      for (auto [side, delta, count] : {std::tuple{&o.local, &to_local, &result.rows_to_local},
                                        std::tuple{&o.remote, &to_remote, &result.rows_to_remote}}) {
        if (o.merged == *side) continue;
        ++*count;
        if (delta == &to_local && o.merged.present && !o.local.present) result.new_local_keys.insert(table);
        if (delta == &to_remote && o.merged == o.local) {
          result.local_versions_sent.push_back(
              {table, o.key, VersionId(o.merged), 0});
        }
        if (o.merged.present) {
          KS_RETURN_IF_ERROR(delta->UpsertNode(table, o.merged.csv, o.merged.digest,
                                               side->present ? &side->digest : nullptr));
        } else {
          KS_RETURN_IF_ERROR(delta->DeleteNode(table, o.key, side->digest));
        }
      }
    }
  }
  for (const auto& [table, outcomes] : rel_outcomes) {
    for (const auto& [digest, o] : outcomes) {
      result.rows_to_local += o.merged > o.local ? o.merged - o.local : o.local - o.merged;
      result.rows_to_remote += o.merged > o.remote ? o.merged - o.remote : o.remote - o.merged;
      if (o.merged > o.remote) {
        KS_RETURN_IF_ERROR(to_remote.InsertRel(table, o.row.connection, o.row.csv, o.row.digest,
                                               o.merged - o.remote));
      } else if (o.merged < o.remote) {
        KS_RETURN_IF_ERROR(to_remote.DeleteRel(table, o.row.connection, o.row.csv, o.row.digest,
                                               o.remote - o.merged));
      }
    }
    KS_RETURN_IF_ERROR(AddLocalRelPairs(local, *local->schema().Find(table), outcomes, &to_local));
  }

  const bool deletes = true;
  std::string local_result = ReplicaRoot(*local), remote_result = ReplicaRoot(*remote);
  std::map<std::string, merkle::NodeSummary> merged_roots = RootsOf(*local);
  if (to_local.changes() > 0) {
    KS_ASSIGN_OR_RETURN(Manifest m, to_local.Finish(local->schema(), RootsOf(*local), remote->schema(),
                                                    local_bundle, options.pack, deletes, &merged_roots));
    local_result = m.result_root;
    result.local_bundle = true;
  }
  if (to_remote.changes() > 0) {
    KS_ASSIGN_OR_RETURN(Manifest m, to_remote.Finish(remote->schema(), RootsOf(*remote), local->schema(),
                                                     remote_bundle, options.pack, deletes));
    remote_result = m.result_root;
    result.remote_bundle = true;
  }
  if (local_result != remote_result) {
    if (result.local_bundle) (void)env->RemoveFile(local_bundle);
    if (result.remote_bundle) (void)env->RemoveFile(remote_bundle);
    return Status::Corrupt("internal check failed: the merge would not make " + local->label() +
                           " and " + remote->label() + " equal");
  }
  result.merged_root = local_result;
  result.merged_roots = std::move(merged_roots);
  return result;
}

}  // namespace

Result<MergeResult> MergeReplicas(Env* env, Replica* local, Replica* base, Replica* remote,
                                  bool local_changed, bool remote_changed,
                                  const MergeOptions& options, const std::string& local_bundle,
                                  const std::string& remote_bundle) {
  Result<MergeResult> result =
      MergeOnce(env, local, base, remote, local_changed, remote_changed, options, local_bundle, remote_bundle);
  if (result.ok() || options.remote_peer == nullptr ||
      (result.status().code() != Status::Code::kCorrupt &&
       result.status().code() != Status::Code::kUnsupported)) {
    return result;
  }
  // Reconciliation failed, or missed a change (old and new row share an
  // element): the two bundles would not agree, and the check that says so
  // keeps them unwritten. Trees find the remote's changes instead.
  MergeOptions by_trees = options;
  by_trees.remote_peer = nullptr;
  Result<MergeResult> again = MergeOnce(env, local, base, remote, local_changed, remote_changed, by_trees,
                                        local_bundle, remote_bundle);
  if (again.ok()) again->reconciliation_failed = result.status().ToString();
  return again;
}

}  // namespace kuzusync
