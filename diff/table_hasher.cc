// Hashing tables into Merkle trees, and the scan that collects the rows
// under differing leaves.

#include <algorithm>
#include <map>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "diff/cache_entries.h"
#include "diff/diff.h"
#include "diff/key_set.h"
#include "diff/parallel.h"
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

// Streams every row of `table` with its key and key hash, as a reader on
// the row: fn(encoder, DataFileReader& row, key, key_hash, path). Callers
// parse and encode a row (row.Whole()) only when they want it: most rows of
// a rescan are not wanted, and parsing them whole was most of its cost.
template <typename Fn>
Status ForEachKeyedRow(Env* env, const ExportDir& export_dir, const TableSchema& table, Fn&& fn) {
  const size_t key_field = table.kind == TableKind::kNode ? table.primary_key : 0;
  for (const DataFile* file : export_dir.FilesOf(table.name)) {
    RowEncoder encoder(table, *file);
    DataFileReader row;
    KS_RETURN_IF_ERROR(row.Open(env, export_dir, *file, table.FieldCount(), key_field + 1));
    while (true) {
      bool has_row = false;
      KS_RETURN_IF_ERROR(row.Next(&has_row));
      if (!has_row) break;
      if (row.is_null(key_field)) {
        return Status::Corrupt(table.kind == TableKind::kNode ? "primary key is NULL"
                                                              : "source node key is NULL",
                               row.path(), row.line());
      }
      const std::string_view key = row.field(key_field);
      KS_RETURN_IF_ERROR(fn(encoder, row, key, merkle::KeyHash(key), row.path()));
    }
  }
  return Status::Ok();
}

// Second pass, run only when two keys share a 48-bit print: tells a real
// duplicate (an error naming both places) from a hash collision.
Status FindDuplicateKey(Env* env, const ExportDir& export_dir, const TableSchema& table,
                        const std::unordered_set<uint64_t>& suspects) {
  std::unordered_map<std::string, std::string> first_seen;  // key -> "file:line"
  return ForEachKeyedRow(env, export_dir, table,
                         [&](const RowEncoder&, DataFileReader& row, std::string_view key,
                             uint64_t key_hash, const std::string& path) {
    if (suspects.count(DuplicateKeyFinder::Print48(key_hash)) == 0) return Status::Ok();
    std::string where = path + ":" + std::to_string(row.line());
    auto [it, inserted] = first_seen.emplace(std::string(key), where);
    if (!inserted) {
      std::string shown;
      AppendEscaped(&shown, key);
      return Status::Corrupt("duplicate primary key '" + shown + "' in node table " + table.name +
                                 " (first at " + it->second + ")",
                             path, row.line());
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

namespace {

// Files changed this recently might change again within the same timestamp
// granularity without their identity changing ("racily clean" in git's
// words): tables holding one are neither looked up nor stored.
constexpr double kRacyAgeSeconds = 2.0;

}  // namespace

void RowElements::All(TableKind kind,
                      const std::vector<std::vector<std::pair<uint64_t, uint64_t>>>& prints,
                      std::vector<uint64_t>* out, std::vector<std::pair<uint64_t, uint64_t>>* copies) {
  out->clear();
  if (copies != nullptr) copies->clear();
  size_t rows = 0;
  for (const auto& part : prints) rows += part.size();
  out->reserve(rows);
  if (kind == TableKind::kNode) {
    for (const auto& part : prints) {
      for (const auto& [key_hash, print] : part) out->push_back(merkle::NodeSketchElement(key_hash, print));
    }
    return;
  }
  // About 16 bits a row (at least 2^20, at most 2^27 bits each): a print
  // shares its top bits with another row's about once in 16.
  int bits = 20;
  while (bits < 27 && (uint64_t{1} << bits) < 16 * rows) ++bits;
  std::vector<uint64_t> seen(size_t{1} << (bits - 6)), repeated(size_t{1} << (bits - 6));
  const int shift = 64 - bits;
  for (const auto& part : prints) {
    for (const auto& [key_hash, print] : part) {
      const uint64_t b = print >> shift;
      const uint64_t mask = uint64_t{1} << (b & 63);
      if ((seen[b >> 6] & mask) != 0) repeated[b >> 6] |= mask;
      seen[b >> 6] |= mask;
    }
  }
  std::unordered_map<uint64_t, uint64_t> seen_copies;  // of prints that may repeat
  for (const auto& part : prints) {
    for (const auto& [key_hash, print] : part) {
      const uint64_t b = print >> shift;
      const uint64_t copy = (repeated[b >> 6] >> (b & 63) & 1) != 0 ? seen_copies[print]++ : 0;
      if (copy != 0 && copies != nullptr) copies->emplace_back(out->size(), copy);
      out->push_back(merkle::RelSketchElement(key_hash, print, copy));
    }
  }
}

std::string TreeCacheKey(Env* env, const ExportDir& export_dir, const TableSchema& table,
                         uint64_t leaf_rows, bool just_written) {
  std::string key;
  merkle::AppendField(&key, "kuzusync-tree-v" + std::to_string(merkle::kRowHashFormat), false);
  merkle::AppendField(&key, table.ddl, false);
  merkle::AppendField(&key, std::to_string(leaf_rows), false);
  for (const DataFile* file : export_dir.FilesOf(table.name)) {
    std::string identity;
    double age = 0;
    if (!env->FileIdentity(export_dir.PathOf(*file), &identity, &age).ok() ||
        (age < kRacyAgeSeconds && !just_written)) {
      return "";
    }
    merkle::AppendField(&key, file->path, false);
    merkle::AppendField(&key, file->connection.from, false);
    merkle::AppendField(&key, file->connection.to, false);
    merkle::AppendField(&key, std::string(1, file->csv.delimiter) + file->csv.quote + file->csv.escape +
                                  (file->csv.header ? "h" : "-"), false);
    merkle::AppendField(&key, identity, false);
  }
  const merkle::Sha256Digest d = merkle::Sha256(key);
  return merkle::ToHex(d.data(), d.size());
}

namespace {

// Average bytes per line in the first 64 KB of the table's first file; 16
// when there is nothing to sample.
uint64_t SampledRowBytes(Env* env, const ExportDir& export_dir, const TableSchema& table) {
  std::vector<const DataFile*> files = export_dir.FilesOf(table.name);
  if (files.empty()) return 16;
  std::unique_ptr<SequentialFile> file;
  if (!env->NewSequentialFile(export_dir.PathOf(*files[0]), &file).ok()) return 16;
  std::string sample(64 << 10, '\0');
  size_t got = 0;
  if (!file->Read(sample.size(), sample.data(), &got).ok() || got == 0) return 16;
  size_t lines = std::count(sample.data(), sample.data() + got, '\n');
  return std::max<uint64_t>(16, got / std::max<size_t>(lines, 1));
}

// Rows read by the reading thread, waiting to be hashed: rows of one file.
struct RowBatch {
  uint64_t seed = 0;           // the file's RowEncoder::seed()
  std::string encoded;         // canonical texts, back to back
  std::vector<uint32_t> ends;  // end offset of each row in `encoded`
  std::string keys;            // each row's key (placement), back to back
  std::vector<uint32_t> key_ends;
  std::vector<uint64_t> starts;  // each row's RowLocations::starts, when located
  void Clear() {
    encoded.clear();
    ends.clear();
    keys.clear();
    key_ends.clear();
    starts.clear();
  }
};

// A bounded hand-off between the reader and the hashing threads; batches are
// recycled so that steady state allocates nothing.
class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}

  std::unique_ptr<RowBatch> TakeEmpty() {
    std::unique_lock<std::mutex> lock(mu_);
    if (free_.empty()) return std::make_unique<RowBatch>();
    auto batch = std::move(free_.back());
    free_.pop_back();
    return batch;
  }
  void Push(std::unique_ptr<RowBatch> batch) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return full_.size() < capacity_; });
    full_.push_back(std::move(batch));
    not_empty_.notify_one();
  }
  // nullptr once Close() was called and everything was taken.
  std::unique_ptr<RowBatch> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !full_.empty() || closed_; });
    if (full_.empty()) return nullptr;
    auto batch = std::move(full_.front());
    full_.pop_front();
    not_full_.notify_one();
    return batch;
  }
  void Recycle(std::unique_ptr<RowBatch> batch) {
    batch->Clear();
    std::unique_lock<std::mutex> lock(mu_);
    free_.push_back(std::move(batch));
  }
  void Close() {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::unique_ptr<RowBatch>> full_;
  std::vector<std::unique_ptr<RowBatch>> free_;
  bool closed_ = false;
};

constexpr size_t kBatchRows = 4096;
constexpr uint64_t kPipelineMinBytes = 256 << 10;  // below this, threads cost more than they save

// Each file's identity, taken before the file is read: a location then
// holds for as long as its file keeps that identity. False when a file
// cannot be numbered in RowLocations::starts or has no identity.
bool StartLocating(Env* env, const ExportDir& export_dir, const std::vector<const DataFile*>& files,
                   RowLocations* locations) {
  locations->starts.clear();
  locations->copies.clear();
  locations->identities.clear();
  if (files.size() >= (size_t{1} << (64 - RowLocations::kOffsetBits))) return false;
  for (const DataFile* file : files) {
    std::string identity;
    double age = 0;
    if (file->size_bytes >> RowLocations::kOffsetBits != 0 ||
        !env->FileIdentity(export_dir.PathOf(*file), &identity, &age).ok()) {
      locations->identities.clear();
      return false;
    }
    locations->identities.push_back(std::move(identity));
  }
  return true;
}

}  // namespace

Result<merkle::Tree> HashTable(Env* env, const ExportDir& export_dir, const TableSchema& table,
                               uint64_t leaf_rows, int threads, std::vector<uint64_t>* elements,
                               RowLocations* locations) {
  const std::vector<const DataFile*> files = export_dir.FilesOf(table.name);
  const uint64_t total_bytes = export_dir.BytesOf(table.name);
  const bool locate = elements != nullptr && locations != nullptr &&
                      StartLocating(env, export_dir, files, locations);
  // The builder keeps 8^depth leaves and cuts the tree down to the depth the
  // real row count asks for, so the row estimate errs a little high (+25%)
  // but not more: a level too deep costs 8x the leaf memory.
  const uint64_t estimated_rows = total_bytes * 5 / 4 / SampledRowBytes(env, export_dir, table);
  const int build_depth = merkle::DepthForRows(estimated_rows, leaf_rows);
  const bool is_node = table.kind == TableKind::kNode;
  threads = ThreadsOrCores(threads);
  // One thread: parse and hash inline. A pipeline of one reader and one
  // hasher gains nothing on its own core count and costs a copy.
  if (threads == 1 || total_bytes < kPipelineMinBytes) threads = 0;

  // The reading thread only parses and encodes (the measured bottleneck);
  // each hashing thread places, digests and adds rows to a builder and a
  // duplicate-key finder of its own, combined at the end (node values are
  // sums, so the order rows arrive in does not matter).
  const int workers = std::max(threads, 1);
  std::vector<merkle::TreeBuilder> builders;
  std::vector<DuplicateKeyFinder> finders(is_node ? workers : 0);
  // (key hash, print) of every row, per worker, when elements are wanted,
  // and where each row starts, in the same order, when located.
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> prints(elements != nullptr ? workers : 0);
  std::vector<std::vector<uint64_t>> starts(locate ? workers : 0);
  // Reserved, as growing them copied them over and over (a fifth of what
  // locating costs, callgrind); the estimate errs high.
  for (auto& part : prints) part.reserve(estimated_rows / workers);
  for (std::vector<uint64_t>& part : starts) part.reserve(estimated_rows / workers);
  for (int t = 0; t < workers; ++t) builders.emplace_back(build_depth, leaf_rows);
  auto absorb = [&](int worker, std::string_view key, const merkle::RowDigest& digest, uint64_t start) {
    uint64_t key_hash = merkle::KeyHash(key);
    builders[worker].Add(key_hash, digest);
    if (is_node) finders[worker].Add(key_hash);
    if (elements != nullptr) prints[worker].emplace_back(key_hash, merkle::RowPrint(digest));
    if (locate) starts[worker].push_back(start);
  };
  BatchQueue queue(static_cast<size_t>(2 * workers));
  std::vector<std::thread> hashers;
  for (int t = 0; t < threads; ++t) {
    hashers.emplace_back([&queue, &absorb, locate, t] {
      while (auto batch = queue.Pop()) {
        uint32_t begin = 0, key_begin = 0;
        for (size_t i = 0; i < batch->ends.size(); ++i) {
          absorb(t, std::string_view(batch->keys.data() + key_begin, batch->key_ends[i] - key_begin),
                 merkle::DigestRow(std::string_view(batch->encoded.data() + begin, batch->ends[i] - begin),
                                   batch->seed),
                 locate ? batch->starts[i] : 0);
          begin = batch->ends[i];
          key_begin = batch->key_ends[i];
        }
        queue.Recycle(std::move(batch));
      }
    });
  }
  // Rows are parsed only up to their key: most are their own canonical text.
  const size_t key_field = is_node ? table.primary_key : 0;
  std::unique_ptr<RowBatch> batch;
  Status s;
  for (size_t f = 0; f < files.size(); ++f) {
    const DataFile* file = files[f];
    const uint64_t file_bits = static_cast<uint64_t>(f) << RowLocations::kOffsetBits;
    RowEncoder encoder(table, *file);
    DataFileReader row;
    s = row.Open(env, export_dir, *file, table.FieldCount(), key_field + 1);
    if (threads > 0) {
      batch = queue.TakeEmpty();
      batch->seed = encoder.seed();
    }
    while (s.ok()) {
      bool has_row = false;
      s = row.Next(&has_row);
      if (!s.ok() || !has_row) break;
      if (row.is_null(key_field)) {
        s = Status::Corrupt(is_node ? "primary key is NULL" : "source node key is NULL", row.path(), row.line());
        break;
      }
      if (threads == 0) {
        absorb(0, row.field(key_field), encoder.Digest(row), file_bits | row.offset());
        continue;
      }
      batch->encoded.append(encoder.Text(row));
      batch->ends.push_back(static_cast<uint32_t>(batch->encoded.size()));
      batch->keys.append(row.field(key_field));
      batch->key_ends.push_back(static_cast<uint32_t>(batch->keys.size()));
      if (locate) batch->starts.push_back(file_bits | row.offset());
      if (batch->ends.size() >= kBatchRows) {
        queue.Push(std::move(batch));
        batch = queue.TakeEmpty();
        batch->seed = encoder.seed();
      }
    }
    if (batch && !batch->ends.empty()) queue.Push(std::move(batch));
    batch.reset();
    if (!s.ok()) break;
  }
  queue.Close();
  for (std::thread& t : hashers) t.join();
  KS_RETURN_IF_ERROR(s);

  for (size_t t = 1; t < builders.size(); ++t) builders[0].Absorb(builders[t]);
  if (is_node) {
    std::unordered_set<uint64_t> suspects = DuplicateKeyFinder::Suspects(&finders);
    if (!suspects.empty()) KS_RETURN_IF_ERROR(FindDuplicateKey(env, export_dir, table, suspects));
  }
  if (elements != nullptr) {
    // Copies of identical rows are numbered in whatever order they came:
    // the set of elements is the same.
    RowElements::All(table.kind, prints, elements, locate ? &locations->copies : nullptr);
  }
  if (locate) locations->starts = std::move(starts);  // in the order of the elements
  return std::move(builders[0]).Finish();
}

Result<std::vector<std::vector<TableTree>>> HashExports(
    Env* env, const std::vector<const ExportDir*>& exports,
    const std::vector<std::vector<std::string>>& tables, int threads, uint64_t leaf_rows,
    TreeCache* cache, bool with_elements) {
  struct Job {
    size_t export_index;
    const TableSchema* table;
    uint64_t bytes;
    std::optional<Result<merkle::Tree>> result;
    std::optional<TableElements> elements;
    std::string cache_key;  // empty: not cacheable
    bool store = false;     // hashed, so the cache gets it
    RowLocations locations;
  };
  std::vector<Job> jobs;
  uint64_t total_bytes = 0;
  for (size_t e = 0; e < exports.size(); ++e) {
    for (const TableSchema& table : exports[e]->schema.tables) {
      const auto& wanted = tables[e];
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), table.name) == wanted.end()) {
        continue;
      }
      const uint64_t bytes = exports[e]->BytesOf(table.name);
      std::string key = cache != nullptr ? TreeCacheKey(env, *exports[e], table, leaf_rows, false) : "";
      std::optional<merkle::Tree> cached;
      std::optional<TableElements> elements;
      if (with_elements) elements.emplace();
      // Wanting elements, a tree cached without them is a miss: hashing
      // finds both in one pass, listing elements alone costs as much.
      if (!key.empty()) cached = cache->Lookup(key, elements ? &*elements : nullptr);
      if (cached) {
        jobs.push_back(
            {e, &table, bytes, Result<merkle::Tree>(std::move(*cached)), std::move(elements), key, false, {}});
      } else {
        jobs.push_back({e, &table, bytes, std::nullopt, std::nullopt, key, !key.empty(), {}});
        total_bytes += bytes;
      }
    }
  }
  threads = ThreadsOrCores(threads);
  // A table too large to share the cores with others is hashed alone by all
  // threads (reader plus hashers); the rest run side by side, one thread
  // each, largest first, which keeps every core busy on exports of many
  // mid-sized tables (measured: the reader alone is the bottleneck there).
  std::vector<uint64_t> job_bytes;
  for (const Job& job : jobs) job_bytes.push_back(job.bytes);
  std::vector<size_t> shared;
  for (size_t i : LargestFirst(job_bytes)) {
    Job& job = jobs[i];
    if (job.result) continue;  // from the cache
    if (threads > 1 && job.bytes * threads > total_bytes) {
      if (with_elements) job.elements.emplace();
      job.result = HashTable(env, *exports[job.export_index], *job.table, leaf_rows, threads,
                             job.elements ? &job.elements->elements : nullptr, &job.locations);
    } else {
      shared.push_back(i);
    }
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t n; (n = next.fetch_add(1)) < shared.size();) {
      Job& job = jobs[shared[n]];
      if (with_elements) job.elements.emplace();
      job.result = HashTable(env, *exports[job.export_index], *job.table, leaf_rows, 1,
                             job.elements ? &job.elements->elements : nullptr, &job.locations);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int>(threads, static_cast<int>(shared.size())); ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  std::vector<std::vector<TableTree>> out(exports.size());
  for (size_t j = 0; j < jobs.size(); ++j) {  // declaration order: the first error is deterministic
    Job& job = jobs[j];
    if (!job.result->ok()) return job.result->status();
    if (job.store) cache->Store(job.cache_key, job.result->value(), job.elements ? &*job.elements : nullptr);
    out[job.export_index].push_back({job.table->name, job.table->kind, std::move(*job.result).value(),
                                     std::move(job.elements), std::move(job.locations),
                                     std::move(job.cache_key)});
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
  std::map<uint64_t, uint64_t> rel_counts;
  KS_RETURN_IF_ERROR(ForEachKeyedRow(env_, *export_, table,
                                     [&](const RowEncoder& encoder, DataFileReader& row,
                                         std::string_view, uint64_t key_hash, const std::string&) {
    if (!wanted[merkle::NodeIndex(key_hash, level)]) return Status::Ok();
    uint64_t print = merkle::RowPrint(encoder.Digest(row));
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

namespace {

// Adds one scanned row to *out (whole with keep_rows).
void AddRow(const TableSchema& table, const RowEncoder& encoder, const RowView& row,
            std::string_view key, const merkle::RowDigest& digest, bool keep_rows, LeafRows* out) {
  std::string csv;
  if (keep_rows) AppendCsvRow(&csv, row, CsvOptions{});
  if (table.kind == TableKind::kNode) {
    out->by_key[std::string(key)] = {digest, encoder.Display(row), std::move(csv)};
    return;
  }
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

// Streams every row of `table` with its digest and sketch element.
template <typename Fn>
Status ForEachElement(Env* env, const ExportDir& export_dir, const TableSchema& table, Fn&& fn) {
  RowElements elements(table.kind);
  return ForEachKeyedRow(env, export_dir, table,
                         [&](const RowEncoder& encoder, DataFileReader& reader, std::string_view key,
                             uint64_t key_hash, const std::string&) {
    const merkle::RowDigest digest = encoder.Digest(reader);
    return fn(encoder, reader, key, digest, elements.Next(key_hash, digest));
  });
}

}  // namespace

void ExportRowSource::KnowElements(const std::string& table, TableElements elements, TreeCache* cache,
                                   std::string cache_key, RowLocations locations) {
  std::lock_guard<std::mutex> lock(known_mu_);
  known_[table] = {std::move(elements), cache, std::move(cache_key), std::move(locations)};
}

const ExportRowSource::Known* ExportRowSource::FindKnown(const std::string& table) const {
  std::lock_guard<std::mutex> lock(known_mu_);
  auto it = known_.find(table);
  return it == known_.end() ? nullptr : &it->second;
}

const TableElements* ExportRowSource::KnownElements(const std::string& table) const {
  const Known* known = FindKnown(table);
  return known == nullptr ? nullptr : &known->elements;
}

std::vector<merkle::CodedSymbol> ExportRowSource::KnownSymbols(const TableSchema& table) {
  std::lock_guard<std::mutex> lock(known_mu_);
  auto it = known_.find(table.name);
  return it == known_.end() ? std::vector<merkle::CodedSymbol>() : it->second.elements.symbols;
}

void ExportRowSource::KeepSymbols(const TableSchema& table, const std::vector<merkle::CodedSymbol>& symbols) {
  std::lock_guard<std::mutex> lock(known_mu_);
  auto it = known_.find(table.name);
  // Symbols of elements listed by a scan are not kept: nothing says the
  // files are still as scanned the next time.
  if (it == known_.end() || symbols.size() <= it->second.elements.symbols.size()) return;
  it->second.elements.symbols = symbols;
  if (it->second.cache != nullptr && !it->second.cache_key.empty()) {
    it->second.cache->StoreSymbols(it->second.cache_key, symbols);
  }
}

Status ExportRowSource::CollectElements(const TableSchema& table, std::vector<uint64_t>* out) {
  if (const TableElements* known = KnownElements(table.name)) {
    *out = known->elements;
    return Status::Ok();
  }
  return ForEachElement(env_, *export_, table,
                        [&](const RowEncoder&, DataFileReader&, std::string_view,
                            const merkle::RowDigest&, uint64_t element) {
    out->push_back(element);
    return Status::Ok();
  });
}

Status CollectElementsOfTables(RowSource* rows, const std::vector<const TableSchema*>& tables,
                               int threads, std::vector<std::vector<uint64_t>>* out) {
  out->assign(tables.size(), {});
  return RunInParallel(tables.size(), threads,
                       [&](size_t i) { return rows->CollectElements(*tables[i], &(*out)[i]); });
}

namespace {

// The rows whose element is in `wanted`, read where hashing found them:
// `all` are the table's elements and `locations` theirs. The indexes of the
// wanted elements come from one pass over `all` (a bitmap, then a set),
// their rows are read in file order, and each must be the row that was
// hashed there: its element is recomputed, with the copy number hashing
// gave it. A file whose identity changed, a row that is not as hashed or a
// read that fails is an error, and *out is then incomplete.
Status CollectRowsAtLocations(Env* env, const ExportDir& export_dir, const TableSchema& table,
                              const std::vector<uint64_t>& all, const RowLocations& locations,
                              const std::vector<uint64_t>& elements, bool keep_rows, LeafRows* out) {
  const std::vector<const DataFile*> files = export_dir.FilesOf(table.name);
  size_t located = 0;
  for (const std::vector<uint64_t>& part : locations.starts) located += part.size();
  if (located != all.size() || locations.identities.size() != files.size()) {
    return Status::Corrupt("row locations do not match the elements of table " + table.name);
  }
  const std::unordered_set<uint64_t> wanted(elements.begin(), elements.end());
  merkle::KeyHashFilter maybe;  // asked before the set
  for (uint64_t e : elements) maybe.Add(e);
  std::vector<std::pair<uint64_t, size_t>> found;  // (start, index in all)
  size_t i = 0;
  for (const std::vector<uint64_t>& part : locations.starts) {
    for (uint64_t start : part) {
      if (maybe.MayContain(all[i]) && wanted.count(all[i]) != 0) found.emplace_back(start, i);
      ++i;
    }
  }
  std::sort(found.begin(), found.end());  // file by file, each front to back

  const bool is_node = table.kind == TableKind::kNode;
  const size_t key_field = is_node ? table.primary_key : 0;
  constexpr uint64_t kOffsetMask = (uint64_t{1} << RowLocations::kOffsetBits) - 1;
  for (size_t begin = 0; begin < found.size();) {
    const size_t f = found[begin].first >> RowLocations::kOffsetBits;
    size_t end = begin;
    std::vector<uint64_t> offsets;
    for (; end < found.size() && (found[end].first >> RowLocations::kOffsetBits) == f; ++end) {
      offsets.push_back(found[end].first & kOffsetMask);
    }
    if (f >= files.size()) return Status::Corrupt("row location names no file of table " + table.name);
    const DataFile& file = *files[f];
    std::string identity;
    double age = 0;
    KS_RETURN_IF_ERROR(env->FileIdentity(export_dir.PathOf(file), &identity, &age));
    if (identity != locations.identities[f]) {
      return Status::Corrupt("changed since it was hashed", export_dir.PathOf(file));
    }
    RowEncoder encoder(table, file);
    DataFileReader row;
    KS_RETURN_IF_ERROR(
        row.OpenAtOffsets(env, export_dir, file, table.FieldCount(), key_field + 1, std::move(offsets)));
    for (; begin < end; ++begin) {
      bool has_row = false;
      KS_RETURN_IF_ERROR(row.Next(&has_row));
      const size_t index = found[begin].second;
      if (!has_row || row.is_null(key_field)) {
        return Status::Corrupt("the row at byte " + std::to_string(row.offset()) + " is not the one hashed there",
                               row.path());
      }
      const std::string_view key = row.field(key_field);
      const uint64_t key_hash = merkle::KeyHash(key);
      const merkle::RowDigest digest = encoder.Digest(row);
      uint64_t element;
      if (is_node) {
        element = merkle::NodeSketchElement(key_hash, merkle::RowPrint(digest));
      } else {
        auto copy = std::lower_bound(locations.copies.begin(), locations.copies.end(),
                                     std::pair<uint64_t, uint64_t>(index, 0));
        element = merkle::RelSketchElement(key_hash, merkle::RowPrint(digest),
                                           copy != locations.copies.end() && copy->first == index ? copy->second : 0);
      }
      if (element != all[index]) {
        return Status::Corrupt("the row at byte " + std::to_string(row.offset()) + " is not the one hashed there",
                               row.path());
      }
      AddRow(table, encoder, row.Whole(), key, digest, keep_rows, out);
    }
  }
  return Status::Ok();
}

// Adds rows collected on their own to *out, as if AddRow had added them
// there.
void MoveRows(LeafRows* rows, LeafRows* out) {
  if (out->by_key.empty() && out->by_digest.empty()) {
    std::swap(*rows, *out);
    return;
  }
  for (auto& [key, row] : rows->by_key) out->by_key[key] = std::move(row);
  for (auto& [digest, row] : rows->by_digest) {
    auto [it, inserted] = out->by_digest.try_emplace(digest, std::move(row));
    if (!inserted) it->second.count += row.count;
  }
}

}  // namespace

Status ExportRowSource::CollectRowsByElement(const TableSchema& table,
                                             const std::vector<uint64_t>& elements, bool keep_rows,
                                             LeafRows* out) {
  const Known* known = FindKnown(table.name);
  if (known != nullptr && !known->locations.empty()) {
    // Rescanning the table costs a pass over all of it, on the critical
    // path of a push (30 ms of 340 on LDBC, mostly one table's scan).
    LeafRows rows;
    if (CollectRowsAtLocations(env_, *export_, table, known->elements.elements, known->locations, elements,
                               keep_rows, &rows)
            .ok()) {
      MoveRows(&rows, out);
      return Status::Ok();
    }
    // The files changed since they were hashed (or a read failed): the
    // scan finds what they hold now, or reports the error.
  }
  const std::unordered_set<uint64_t> wanted(elements.begin(), elements.end());
  const uint64_t key_bits = RowElements::KeyBits(table.kind);
  std::unordered_set<uint64_t> wanted_keys;
  merkle::KeyHashFilter maybe;  // asked before the set
  for (uint64_t e : elements) {
    wanted_keys.insert(e & key_bits);
    maybe.Add(e);
  }
  RowElements numbering(table.kind);
  return ForEachKeyedRow(env_, *export_, table,
                         [&](const RowEncoder& encoder, DataFileReader& reader, std::string_view key,
                             uint64_t key_hash, const std::string&) {
    if (!maybe.MayContain(key_hash) || wanted_keys.count(key_hash & key_bits) == 0) {
      return Status::Ok();  // not parsed past its key, nor hashed
    }
    const merkle::RowDigest digest = encoder.Digest(reader);
    if (wanted.count(numbering.Next(key_hash, digest)) != 0) {
      AddRow(table, encoder, reader.Whole(), key, digest, keep_rows, out);
    }
    return Status::Ok();
  });
}

Status ExportRowSource::CollectRows(const TableSchema& table, int level,
                                    const std::vector<uint64_t>& indexes, bool keep_rows,
                                    const std::vector<uint64_t>* only_prints, LeafRows* out) {
  std::unordered_set<uint64_t> prints;
  if (only_prints != nullptr) prints.insert(only_prints->begin(), only_prints->end());
  std::vector<bool> wanted(size_t{1} << (merkle::kFanoutBits * level));
  for (uint64_t i : indexes) wanted.at(i) = true;
  return ForEachKeyedRow(env_, *export_, table,
                         [&](const RowEncoder& encoder, DataFileReader& reader, std::string_view key,
                             uint64_t key_hash, const std::string&) {
    if (!wanted[merkle::NodeIndex(key_hash, level)]) return Status::Ok();
    const merkle::RowDigest digest = encoder.Digest(reader);
    if (only_prints != nullptr && prints.count(merkle::RowPrint(digest)) == 0) return Status::Ok();
    AddRow(table, encoder, reader.Whole(), key, digest, keep_rows, out);
    return Status::Ok();
  });
}

}  // namespace kuzusync
