// What the tree cache is keyed by, and how a table's cached elements follow
// a change of its rows. Internal to the diff library.

#ifndef KUZUSYNC_DIFF_CACHE_ENTRIES_H_
#define KUZUSYNC_DIFF_CACHE_ENTRIES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diff/diff.h"
#include "merkle/merkle.h"
#include "snapshot/env.h"
#include "snapshot/snapshot.h"

namespace kuzusync {

// Everything a table's tree depends on (its shape, the tree shape, each data
// file's identity), hashed; empty when the table must not be cached: a file
// changed in the last two seconds might change again without its identity
// changing, unless this process has just written it under the replica's
// write lock (just_written).
std::string TreeCacheKey(Env* env, const ExportDir& export_dir, const TableSchema& table,
                         uint64_t leaf_rows, bool just_written);

// A table's elements after `removed` rows were taken out and `added` put in,
// as a scan of the changed table would list them (in another order), and
// its symbols (as many as before) changed alike. nullopt when the rows
// removed are not all there.
std::optional<TableElements> ChangedElements(TableKind kind, const TableElements& before,
                                             const std::vector<merkle::KeyedDigest>& removed,
                                             const std::vector<merkle::KeyedDigest>& added);

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_CACHE_ENTRIES_H_
