// Hashing tables into Merkle trees, and the scan that collects the rows
// under differing leaves.

#include <algorithm>
#include <map>
#include <atomic>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "diff/diff.h"
#include "diff/row_encoding.h"

namespace kuzusync {
namespace {

void AppendEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\\': *out += "\\\\"; break;
      default: out->push_back(c);
    }
  }
}

// Streams every row of `table` with its key hash and canonical encoding.
template <typename Fn>
Status ForEachEncodedRow(Env* env, const ExportDir& export_dir, const TableSchema& table, Fn&& fn) {
  std::string encoded;
  for (const DataFile* file : export_dir.FilesOf(table.name)) {
    RowEncoder encoder(table, *file);
    const std::string path = export_dir.PathOf(*file);
    KS_RETURN_IF_ERROR(ScanDataFile(env, export_dir, *file, table.FieldCount(),
                                    [&](const RowView& row) -> Status {
      if (encoder.KeyIsNull(row)) {
        return Status::Corrupt(table.kind == TableKind::kNode ? "primary key is NULL"
                                                              : "source node key is NULL",
                               path, row.line);
      }
      std::string_view key = encoder.Key(row);
      encoder.Encode(row, &encoded);
      return fn(encoder, row, key, merkle::KeyHash(key), encoded, path);
    }));
  }
  return Status::Ok();
}

// Second pass, run only when two keys share a 64-bit hash: tells a real
// duplicate (an error naming both places) from a hash collision.
Status FindDuplicateKey(Env* env, const ExportDir& export_dir, const TableSchema& table,
                        const std::unordered_set<uint64_t>& suspects) {
  std::unordered_map<std::string, std::string> first_seen;  // key -> "file:line"
  return ForEachEncodedRow(env, export_dir, table,
                           [&](const RowEncoder&, const RowView& row, std::string_view key,
                               uint64_t key_hash, const std::string&, const std::string& path) {
    if (suspects.count(key_hash) == 0) return Status::Ok();
    std::string where = path + ":" + std::to_string(row.line);
    auto [it, inserted] = first_seen.emplace(std::string(key), where);
    if (!inserted) {
      std::string shown;
      AppendEscaped(&shown, key);
      return Status::Corrupt("duplicate primary key '" + shown + "' in node table " + table.name +
                                 " (first at " + it->second + ")",
                             path, row.line);
    }
    return Status::Ok();
  });
}

}  // namespace

std::string RowEncoder::Display(const RowView& row) const {
  const auto& fields = *row.fields;
  const auto& nulls = *row.is_null;
  std::string out;
  if (table_.kind == TableKind::kNode) {
    AppendEscaped(&out, fields[table_.primary_key]);
    return out;
  }
  AppendEscaped(&out, fields[0]);
  out += " -> ";
  AppendEscaped(&out, fields[1]);
  if (fields.size() > 2) {
    out += " (";
    for (size_t i = 2; i < fields.size(); ++i) {
      if (i > 2) out += ", ";
      if (nulls[i]) {
        out += "NULL";
      } else {
        AppendEscaped(&out, fields[i]);
      }
    }
    out += ")";
  }
  return out;
}

Result<merkle::Tree> HashTable(Env* env, const ExportDir& export_dir, const TableSchema& table,
                               uint64_t leaf_rows) {
  uint64_t total_bytes = 0;
  for (const DataFile* file : export_dir.FilesOf(table.name)) total_bytes += file->size_bytes;
  // Rows are at least ~16 bytes, so this depth is never too shallow; the
  // builder cuts the tree down to the depth the real row count asks for.
  merkle::TreeBuilder builder(merkle::DepthForRows(total_bytes / 16, leaf_rows), leaf_rows);
  merkle::RowHasher hasher;
  const bool is_node = table.kind == TableKind::kNode;
  // Duplicate primary keys are found by sorting 8-byte key hashes rather
  // than keeping the keys: the only per-row memory a build needs.
  std::vector<uint64_t> key_hashes;
  KS_RETURN_IF_ERROR(ForEachEncodedRow(env, export_dir, table,
                                       [&](const RowEncoder&, const RowView&, std::string_view,
                                           uint64_t key_hash, const std::string& encoded,
                                           const std::string&) {
    builder.Add(key_hash, hasher.Digest(encoded));
    if (is_node) key_hashes.push_back(key_hash);
    return Status::Ok();
  }));
  if (is_node) {
    std::sort(key_hashes.begin(), key_hashes.end());
    std::unordered_set<uint64_t> suspects;
    for (size_t i = 1; i < key_hashes.size(); ++i) {
      if (key_hashes[i] == key_hashes[i - 1]) suspects.insert(key_hashes[i]);
    }
    key_hashes = {};
    if (!suspects.empty()) KS_RETURN_IF_ERROR(FindDuplicateKey(env, export_dir, table, suspects));
  }
  return std::move(builder).Finish();
}

Result<std::vector<std::vector<TableTree>>> HashExports(
    Env* env, const std::vector<const ExportDir*>& exports,
    const std::vector<std::vector<std::string>>& tables, int threads, uint64_t leaf_rows) {
  struct Job {
    size_t export_index;
    const TableSchema* table;
    uint64_t bytes;
    Result<merkle::Tree> result = Status::Ok();
  };
  std::vector<Job> jobs;
  std::vector<std::vector<TableTree>> out(exports.size());
  for (size_t e = 0; e < exports.size(); ++e) {
    for (const TableSchema& table : exports[e]->schema.tables) {
      const auto& wanted = tables[e];
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), table.name) == wanted.end()) {
        continue;
      }
      uint64_t bytes = 0;
      for (const DataFile* f : exports[e]->FilesOf(table.name)) bytes += f->size_bytes;
      jobs.push_back({e, &table, bytes});
    }
  }
  // Largest tables first, so that the last job to finish is a small one.
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return jobs[x].bytes > jobs[y].bytes; });
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < order.size();) {
      Job& job = jobs[order[i]];
      job.result = HashTable(env, *exports[job.export_index], *job.table, leaf_rows);
    }
  };
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(jobs.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  for (Job& job : jobs) {  // declaration order: the first error reported is deterministic
    if (!job.result.ok()) return job.result.status();
    out[job.export_index].push_back({job.table->name, job.table->kind, std::move(job.result).value()});
  }
  return out;
}

Status LocalTreeView::GetNodes(int level, const std::vector<uint64_t>& indexes,
                               std::vector<merkle::NodePrint>* out) {
  out->clear();
  if (level < 0 || level > tree_->depth()) return Status::InvalidArgument("no such tree level");
  const auto& nodes = tree_->level(level);
  for (uint64_t i : indexes) {
    if (i >= nodes.size()) return Status::InvalidArgument("no such tree node");
    out->push_back(merkle::PrintOf(nodes[i]));
  }
  return Status::Ok();
}

Status ExportRowSource::CollectPrints(const TableSchema& table, int level,
                                      const std::vector<uint64_t>& indexes,
                                      std::vector<RowPrintCount>* out) {
  std::vector<bool> wanted(size_t{1} << (merkle::kFanoutBits * level));
  for (uint64_t i : indexes) wanted.at(i) = true;
  merkle::RowHasher hasher;
  std::map<uint64_t, uint64_t> rel_counts;
  KS_RETURN_IF_ERROR(ForEachEncodedRow(env_, *export_, table,
                                       [&](const RowEncoder&, const RowView&, std::string_view,
                                           uint64_t key_hash, const std::string& encoded,
                                           const std::string&) {
    if (!wanted[merkle::NodeIndex(key_hash, level)]) return Status::Ok();
    uint64_t print = merkle::RowPrint(hasher.Digest(encoded));
    if (table.kind == TableKind::kNode) {
      out->push_back({print, 1});
    } else {
      ++rel_counts[print];
    }
    return Status::Ok();
  }));
  for (const auto& [print, count] : rel_counts) out->push_back({print, count});
  return Status::Ok();
}

Status ExportRowSource::CollectRows(const TableSchema& table, int level,
                                    const std::vector<uint64_t>& indexes, bool keep_rows,
                                    const std::vector<uint64_t>* only_prints, LeafRows* out) {
  const CsvOptions default_dialect;
  std::unordered_set<uint64_t> prints;
  if (only_prints != nullptr) prints.insert(only_prints->begin(), only_prints->end());
  std::vector<bool> wanted(size_t{1} << (merkle::kFanoutBits * level));
  for (uint64_t i : indexes) wanted.at(i) = true;
  merkle::RowHasher hasher;
  return ForEachEncodedRow(env_, *export_, table,
                           [&](const RowEncoder& encoder, const RowView& row, std::string_view key,
                               uint64_t key_hash, const std::string& encoded, const std::string&) {
    if (!wanted[merkle::NodeIndex(key_hash, level)]) return Status::Ok();
    merkle::RowDigest digest = hasher.Digest(encoded);
    if (only_prints != nullptr && prints.count(merkle::RowPrint(digest)) == 0) return Status::Ok();
    std::string csv;
    if (keep_rows) AppendCsvRow(&csv, row, default_dialect);
    if (table.kind == TableKind::kNode) {
      out->by_key[std::string(key)] = {digest, encoder.Display(row), std::move(csv)};
    } else {
      auto& counted = out->by_digest[std::string(digest.begin(), digest.end())];
      if (counted.count++ == 0) {
        counted.display = encoder.Display(row);
        counted.digest = digest;
        counted.csv = std::move(csv);
        counted.connection = encoder.connection();
        counted.from_key = std::string((*row.fields)[0]);
        counted.to_key = std::string((*row.fields)[1]);
      }
    }
    return Status::Ok();
  });
}

}  // namespace kuzusync
