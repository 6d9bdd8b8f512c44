// The sqlite tree cache kept beside a replica (.<name>.kuzusync/state.db).

#include <sys/resource.h>
#include <unistd.h>

#include <bit>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "diff/cache_entries.h"
#include "diff/diff.h"
#include "diff/state_db.h"

namespace kuzusync {
namespace {

constexpr int kKeepTrees = 1024;  // least recently used trees beyond this are dropped

// Elements and symbols as stored: a magic, the count, the records
// (little-endian), and a checksum of all that (merkle::ChecksumOf; version
// 01 had a SHA-256), so that damage is a miss, never wrong elements.
constexpr char kElementsMagic[8] = {'k', 'z', 'e', 'l', 'e', 'm', '0', '2'};
constexpr char kSymbolsMagic[8] = {'k', 'z', 's', 'y', 'm', 'b', '0', '2'};
constexpr size_t kCheckBytes = std::tuple_size_v<merkle::Checksum>;
constexpr size_t kSymbolBytes = 12;

void PutLe(char* at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetLe(const char* at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(at[i])) << (8 * i);
  return v;
}

// Magic, count and room for `count` records of `width` bytes (at 16).
std::string Framed(const char (&magic)[8], uint64_t count, size_t width) {
  std::string out(magic, sizeof(magic));
  out.resize(16 + width * count);
  PutLe(out.data() + 8, count, 8);
  return out;
}

std::string Checked(std::string framed) {
  const merkle::Checksum check = merkle::ChecksumOf(framed);
  framed.append(reinterpret_cast<const char*>(check.data()), check.size());
  return framed;
}

// The records of a Framed and Checked blob; nullopt when it is not one.
std::optional<std::string_view> Records(std::string_view data, const char (&magic)[8], size_t width,
                                        uint64_t* count) {
  constexpr size_t kFrame = 16 + kCheckBytes;
  if (data.size() < kFrame || data.substr(0, 8) != std::string_view(magic, 8)) return std::nullopt;
  *count = GetLe(data.data() + 8, 8);
  if (*count > (data.size() - kFrame) / width || data.size() != kFrame + width * *count) return std::nullopt;
  const merkle::Checksum check = merkle::ChecksumOf(data.substr(0, data.size() - kCheckBytes));
  if (data.substr(data.size() - kCheckBytes) !=
      std::string_view(reinterpret_cast<const char*>(check.data()), kCheckBytes)) {
    return std::nullopt;
  }
  return data.substr(16, width * *count);
}

std::string SerializeElements(const std::vector<uint64_t>& elements) {
  std::string out = Framed(kElementsMagic, elements.size(), 8);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out.data() + 16, elements.data(), 8 * elements.size());
  } else {
    for (size_t i = 0; i < elements.size(); ++i) PutLe(out.data() + 16 + 8 * i, elements[i], 8);
  }
  return Checked(std::move(out));
}

bool DeserializeElements(std::string_view data, std::vector<uint64_t>* elements) {
  uint64_t count = 0;
  std::optional<std::string_view> records = Records(data, kElementsMagic, 8, &count);
  if (!records) return false;
  elements->resize(count);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(elements->data(), records->data(), 8 * count);
  } else {
    for (uint64_t i = 0; i < count; ++i) (*elements)[i] = GetLe(records->data() + 8 * i, 8);
  }
  return true;
}

std::string SerializeSymbols(const std::vector<merkle::CodedSymbol>& symbols) {
  std::string out = Framed(kSymbolsMagic, symbols.size(), kSymbolBytes);
  for (size_t i = 0; i < symbols.size(); ++i) {
    PutLe(out.data() + 16 + kSymbolBytes * i, symbols[i].sum, 8);
    PutLe(out.data() + 16 + kSymbolBytes * i + 8, symbols[i].check, 4);
  }
  return Checked(std::move(out));
}

bool DeserializeSymbols(std::string_view data, std::vector<merkle::CodedSymbol>* symbols) {
  uint64_t count = 0;
  std::optional<std::string_view> records = Records(data, kSymbolsMagic, kSymbolBytes, &count);
  if (!records) return false;
  symbols->resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    (*symbols)[i].sum = GetLe(records->data() + kSymbolBytes * i, 8);
    (*symbols)[i].check = static_cast<uint32_t>(GetLe(records->data() + kSymbolBytes * i + 8, 4));
  }
  return true;
}

// Stores are written by a thread of their own (a table's elements are
// megabytes: sqlite's copying and checkpointing them need not hold up the
// hashing or the answer that follows); lookups and the destructor wait for
// what is queued.
class SqliteTreeCache final : public TreeCache {
 public:
  explicit SqliteTreeCache(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}

  ~SqliteTreeCache() override {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      closing_ = true;
    }
    queue_changed_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  std::optional<merkle::Tree> Lookup(const std::string& key, TableElements* elements) override {
    WaitForWrites();
    std::lock_guard<std::mutex> lock(db_mu_);
    std::optional<merkle::Tree> found;
    {
      Statement get(db_->db(), elements != nullptr
                                   ? "SELECT tree, elements, (SELECT symbols FROM symbols WHERE key = trees.key) "
                                     "FROM trees WHERE key = ?"
                                   : "SELECT tree FROM trees WHERE key = ?");
      if (!get.ok() || get.Bind(1, key).Step() != SQLITE_ROW) return found;
      if (elements != nullptr) {
        if (!DeserializeElements(get.Blob(1), &elements->elements)) return found;
        // Damaged or absent symbols are made again; the elements stand.
        if (!DeserializeSymbols(get.Blob(2), &elements->symbols)) elements->symbols.clear();
      }
      // A damaged entry is a miss, never a wrong tree (the tree file checks itself).
      Result<merkle::Tree> tree = merkle::Tree::Deserialize(get.Blob(0), "tree cache");
      if (tree.ok()) found = std::move(tree).value();
    }
    if (found) {
      Statement touch(db_->db(),
                      "UPDATE trees SET used = (SELECT COALESCE(MAX(used), 0) + 1 FROM trees) WHERE key = ?");
      if (touch.ok()) touch.Bind(1, key).Step();
    }
    return found;
  }

  void Store(const std::string& key, const merkle::Tree& tree, const TableElements* elements) override {
    Queue({key, tree, elements != nullptr ? std::optional(*elements) : std::nullopt, {}});
  }

  void StoreSymbols(const std::string& key, const std::vector<merkle::CodedSymbol>& symbols) override {
    Queue({key, std::nullopt, std::nullopt, symbols});
  }

 private:
  struct Write {
    std::string key;
    std::optional<merkle::Tree> tree;  // none: only symbols, for the elements stored under key
    std::optional<TableElements> elements;
    std::vector<merkle::CodedSymbol> symbols;
  };

  void Queue(Write write) {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(std::move(write));
    if (!writer_.joinable()) writer_ = std::thread([this] { WriteQueued(); });
    queue_changed_.notify_all();
  }

  void WaitForWrites() {
    std::unique_lock<std::mutex> lock(queue_mu_);
    queue_changed_.wait(lock, [&] { return queue_.empty() && !writing_; });
  }

  void WriteQueued() {
    // What is cached serves the next command; this one's hashing,
    // reconciling and answering come first. At the lowest priority the
    // writer runs in their gaps (the source's 14 MB of LDBC elements took
    // 47 ms of CPU in the middle of a push). Whoever waits for the writes
    // sleeps, which leaves the writer the core.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
    std::unique_lock<std::mutex> lock(queue_mu_);
    while (true) {
      queue_changed_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing, nothing left
      Write write = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      Put(write);
      lock.lock();
      writing_ = false;
      queue_changed_.notify_all();
    }
  }

  // Each part goes once it is written out, and sqlite binds the blobs
  // without copying them: a push's 14 MB of LDBC source elements were held
  // three times over while they were stored.
  void Put(Write& write) {
    if (!write.tree) {
      const std::string symbols = SerializeSymbols(write.symbols);
      std::lock_guard<std::mutex> lock(db_mu_);
      Statement put(db_->db(),
                    "INSERT OR REPLACE INTO symbols(key, symbols) SELECT ?1, ?2 "
                    "WHERE EXISTS (SELECT 1 FROM trees WHERE key = ?1 AND elements IS NOT NULL)");
      if (put.ok()) put.Bind(1, write.key).BindBlob(2, symbols).Step();
      return;
    }
    const std::string tree = write.tree->Serialize();
    write.tree.reset();
    std::string elements, symbols;
    if (write.elements) {
      elements = SerializeElements(write.elements->elements);
      if (!write.elements->symbols.empty()) symbols = SerializeSymbols(write.elements->symbols);
      write.elements.reset();
    }
    std::lock_guard<std::mutex> lock(db_mu_);
    Statement put(db_->db(),
                  "INSERT OR REPLACE INTO trees(key, tree, used, elements) VALUES "
                  "(?, ?, (SELECT COALESCE(MAX(used), 0) + 1 FROM trees), ?)");
    if (!put.ok()) return;
    put.Bind(1, write.key).BindBlob(2, tree);
    if (!elements.empty()) {
      put.BindBlob(3, elements);
    } else {
      put.BindNull(3);
    }
    put.Step();
    // The entry's symbols are its own or none.
    Statement set(db_->db(), symbols.empty() ? "DELETE FROM symbols WHERE key = ?1"
                                             : "INSERT OR REPLACE INTO symbols(key, symbols) VALUES (?1, ?2)");
    if (set.ok()) {
      set.Bind(1, write.key);
      if (!symbols.empty()) set.BindBlob(2, symbols);
      set.Step();
    }
    // The least recently used beyond kKeepTrees go (found through the index).
    (void)db_->Exec("DELETE FROM trees WHERE used < (SELECT used FROM trees ORDER BY used DESC LIMIT 1 OFFSET " +
                    std::to_string(kKeepTrees - 1) + ")");
    (void)db_->Exec("DELETE FROM symbols WHERE key NOT IN (SELECT key FROM trees)");
  }

  std::mutex db_mu_;
  std::unique_ptr<StateDb> db_;
  std::mutex queue_mu_;
  std::condition_variable queue_changed_;
  std::deque<Write> queue_;
  bool writing_ = false;
  bool closing_ = false;
  std::thread writer_;
};

}  // namespace

std::optional<TableElements> ChangedElements(TableKind kind, const TableElements& before,
                                             const std::vector<merkle::KeyedDigest>& removed,
                                             const std::vector<merkle::KeyedDigest>& added) {
  const std::vector<uint64_t>& elements = before.elements;
  // Elements that go (a multiset: each as often as listed) and that come.
  std::unordered_map<uint64_t, uint64_t> going;
  std::vector<uint64_t> coming;
  if (kind == TableKind::kNode) {  // one row per key: an element per row
    for (const merkle::KeyedDigest& row : removed) {
      ++going[merkle::NodeSketchElement(row.key_hash, merkle::RowPrint(row.digest))];
    }
    for (const merkle::KeyedDigest& row : added) {
      coming.push_back(merkle::NodeSketchElement(row.key_hash, merkle::RowPrint(row.digest)));
    }
  } else {
    // Copies of one rel row are numbered 0, 1, ...: a print that had n
    // copies and now has m keeps copies below min(n, m).
    struct Copies {
      uint64_t key_hash = 0;
      int64_t change = 0;
    };
    std::map<uint64_t, Copies> by_print;
    for (const merkle::KeyedDigest& row : removed) {
      Copies& c = by_print[merkle::RowPrint(row.digest)];
      c.key_hash = row.key_hash;
      --c.change;
    }
    for (const merkle::KeyedDigest& row : added) {
      Copies& c = by_print[merkle::RowPrint(row.digest)];
      c.key_hash = row.key_hash;
      ++c.change;
    }
    std::unordered_set<uint64_t> keys;
    for (const auto& [print, c] : by_print) keys.insert(c.key_hash & merkle::kRelSketchKeyBits);
    std::unordered_set<uint64_t> under_keys;  // the elements the copies can be among
    for (uint64_t e : elements) {
      if (keys.count(e & merkle::kRelSketchKeyBits) != 0) under_keys.insert(e);
    }
    for (const auto& [print, c] : by_print) {
      int64_t had = 0;
      while (under_keys.count(merkle::RelSketchElement(c.key_hash, print, had)) != 0) ++had;
      const int64_t has = had + c.change;
      if (has < 0) return std::nullopt;
      for (int64_t k = has; k < had; ++k) ++going[merkle::RelSketchElement(c.key_hash, print, k)];
      for (int64_t k = had; k < has; ++k) coming.push_back(merkle::RelSketchElement(c.key_hash, print, k));
    }
  }
  std::vector<uint64_t> toggled = coming;  // what the symbols gain or lose
  for (const auto& [e, times] : going) toggled.insert(toggled.end(), times, e);
  TableElements out;
  out.elements.reserve(elements.size() + coming.size());
  for (uint64_t e : elements) {
    auto it = going.find(e);
    if (it != going.end() && it->second > 0) {
      --it->second;
      continue;
    }
    out.elements.push_back(e);
  }
  for (const auto& [e, left] : going) {
    if (left != 0) return std::nullopt;
  }
  out.elements.insert(out.elements.end(), coming.begin(), coming.end());
  out.symbols = before.symbols;
  merkle::ToggleInSymbols(toggled, &out.symbols);
  return out;
}

namespace {

// One SqliteTreeCache per replica in a process, shared by everything that
// opens it: a pull's local side and the in-process session that applies to
// it then see each other's stores as soon as they are queued.
class SharedTreeCache final : public TreeCache {
 public:
  explicit SharedTreeCache(std::shared_ptr<SqliteTreeCache> cache) : cache_(std::move(cache)) {}
  std::optional<merkle::Tree> Lookup(const std::string& key, TableElements* elements) override {
    return cache_->Lookup(key, elements);
  }
  void Store(const std::string& key, const merkle::Tree& tree, const TableElements* elements) override {
    cache_->Store(key, tree, elements);
  }
  void StoreSymbols(const std::string& key, const std::vector<merkle::CodedSymbol>& symbols) override {
    cache_->StoreSymbols(key, symbols);
  }

 private:
  std::shared_ptr<SqliteTreeCache> cache_;
};

}  // namespace

std::unique_ptr<TreeCache> OpenReplicaTreeCache(const std::string& replica_dir) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<SqliteTreeCache>> open;
  const std::string path = BesideReplica(replica_dir, ".kuzusync");
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<SqliteTreeCache> cache = open[path].lock();
  if (cache == nullptr) {
    Result<std::unique_ptr<StateDb>> db = StateDb::Open(replica_dir, /*create=*/true);
    if (!db.ok()) return nullptr;
    // The command that closes the cache does not copy what it wrote from the
    // WAL into the database file (a later writer does, by sqlite's
    // auto-checkpoint): a push's 14 MB of LDBC elements kept it waiting 10
    // to 30 ms at exit. An entry a power cut takes is a miss; what sync
    // records is synced as it commits (SyncState::Open).
    sqlite3_db_config(db.value()->db(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    cache = std::make_shared<SqliteTreeCache>(std::move(db).value());
    open[path] = cache;
  }
  return std::make_unique<SharedTreeCache>(std::move(cache));
}

}  // namespace kuzusync
