// DeltaBuilder: the one place bundle members are written and a bundle's
// result root is computed (the destination's roots plus the digests of what
// the delta adds, minus what it removes: tree summaries are additive).
// Internal to the diff library; WriteBundle and MergeReplicas use it.

#ifndef KUZUSYNC_DIFF_DELTA_BUILDER_H_
#define KUZUSYNC_DIFF_DELTA_BUILDER_H_

#include <map>
#include <optional>
#include <string>

#include "diff/diff.h"

namespace kuzusync {

class DeltaBuilder {
 public:
  // Members are staged in `staging`, which is created and, by Finish or the
  // destructor, removed.
  DeltaBuilder(Env* env, std::string staging);
  ~DeltaBuilder();
  DeltaBuilder(const DeltaBuilder&) = delete;
  DeltaBuilder& operator=(const DeltaBuilder&) = delete;

  Status Open();

  // Rows are CSV lines in Kuzu's default dialect, newline included.
  // `replaced`: the digest of the destination's row with that key, if any.
  Status UpsertNode(const std::string& table, const std::string& csv, const merkle::RowDigest& digest,
                    const merkle::RowDigest* replaced);
  Status DeleteNode(const std::string& table, const std::string& key, const merkle::RowDigest& digest);
  Status InsertRel(const std::string& table, const RelConnection& connection, const std::string& csv,
                   const merkle::RowDigest& digest, uint64_t copies = 1);
  Status DeleteRel(const std::string& table, const RelConnection& connection, const std::string& csv,
                   const merkle::RowDigest& digest, uint64_t copies = 1);

  // Removes the destination's rows with these set-reconciliation elements.
  Status DropRows(const std::string& table, const std::vector<uint64_t>& elements);
  // The table's root after the delta, when the caller knows it better than
  // the sum of what was added and removed (rows named by element are not at
  // hand to subtract).
  void SetResultRoot(const std::string& table, const merkle::NodeSummary& root) {
    tables_[table].result = root;
  }

  uint64_t changes() const { return changes_; }

  // Packs the bundle that turns a replica with `schema` and table roots
  // `roots` into one with those roots plus the delta (bundles carry no
  // schema changes; `source_schema`, the side the rows came from, is kept
  // as the bundle's schema.cypher). Fills *result_roots when non-null.
  Result<Manifest> Finish(const Schema& schema, const std::map<std::string, merkle::NodeSummary>& roots,
                          const Schema& source_schema, const std::string& out_path,
                          const PackOptions& pack, bool deletes,
                          std::map<std::string, merkle::NodeSummary>* result_roots = nullptr);

 private:
  struct TableDelta {
    merkle::NodeSummary delta;  // added minus removed (sums wrap around)
    uint64_t upserts = 0, deletes = 0;
    std::optional<merkle::NodeSummary> result;  // SetResultRoot
  };
  Status Append(const std::string& member, const std::string& data);
  Status Flush();

  Env* env_;
  std::string staging_;
  bool open_ = false;
  std::map<std::string, std::string> pending_;  // member -> rows not yet written
  size_t pending_bytes_ = 0;
  std::map<std::string, std::unique_ptr<WritableFile>> files_;
  std::map<std::string, TableDelta> tables_;
  uint64_t changes_ = 0;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_DELTA_BUILDER_H_
