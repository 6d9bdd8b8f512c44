// ReconcileTables: which rows of each table one replica has and the other
// lacks, by rateless set reconciliation with a SketchPeer. Internal to the
// diff library; WriteBundleBySketch and the merge use it.

#ifndef KUZUSYNC_DIFF_RECONCILE_H_
#define KUZUSYNC_DIFF_RECONCILE_H_

#include <vector>

#include "diff/diff.h"

namespace kuzusync {

struct ReconciledTable {
  const TableSchema* table = nullptr;
  std::vector<uint64_t> only_local;  // elements of rows only `local` has
  std::vector<uint64_t> only_other;  // elements of rows only the peer's replica has
};

// Reconciles `tables` (of both sides' schema) of `local`, whose rows are at
// hand, with `other` through `peer`; *symbols grows by the symbols
// received. A table of more than max_rows rows on both sides together is
// kUnsupported (memory); one that does not decode is kCorrupt.
Status ReconcileTables(Replica* local, Replica* other, SketchPeer* peer,
                       const std::vector<const TableSchema*>& tables, int threads, uint64_t max_rows,
                       std::vector<ReconciledTable>* out, uint64_t* symbols);

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_RECONCILE_H_
