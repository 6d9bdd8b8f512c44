// The sqlite tree cache kept beside a replica (.<name>.kuzusync/state.db).

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

// Elements as stored: a magic, the count, the elements (little-endian), and
// the SHA-256 of all that, so that damage is a miss, never wrong elements.
constexpr char kElementsMagic[8] = {'k', 'z', 'e', 'l', 'e', 'm', '0', '1'};

std::string SerializeElements(const std::vector<uint64_t>& elements) {
  std::string out(kElementsMagic, sizeof(kElementsMagic));
  out.resize(16 + 8 * elements.size());
  auto put = [&](size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>(v >> (8 * i));
  };
  put(8, elements.size());
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out.data() + 16, elements.data(), 8 * elements.size());
  } else {
    for (size_t i = 0; i < elements.size(); ++i) put(16 + 8 * i, elements[i]);
  }
  merkle::RowHasher hasher;
  const merkle::RowDigest digest = hasher.Digest(out);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

bool DeserializeElements(std::string_view data, std::vector<uint64_t>* elements) {
  if (data.size() < 16 + 32 || data.substr(0, 8) != std::string_view(kElementsMagic, 8)) return false;
  auto get = [&](size_t at) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data[at + i])) << (8 * i);
    return v;
  };
  const uint64_t count = get(8);
  if (count > (data.size() - 48) / 8 || data.size() != 48 + 8 * count) return false;
  merkle::RowHasher hasher;
  const merkle::RowDigest digest = hasher.Digest(data.substr(0, data.size() - 32));
  if (data.substr(data.size() - 32) != std::string_view(reinterpret_cast<const char*>(digest.data()), 32)) {
    return false;
  }
  elements->resize(count);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(elements->data(), data.data() + 16, 8 * count);
  } else {
    for (uint64_t i = 0; i < count; ++i) (*elements)[i] = get(16 + 8 * i);
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

  std::optional<merkle::Tree> Lookup(const std::string& key, std::vector<uint64_t>* elements) override {
    WaitForWrites();
    std::lock_guard<std::mutex> lock(db_mu_);
    std::optional<merkle::Tree> found;
    {
      Statement get(db_->db(), elements != nullptr ? "SELECT tree, elements FROM trees WHERE key = ?"
                                                   : "SELECT tree FROM trees WHERE key = ?");
      if (!get.ok() || get.Bind(1, key).Step() != SQLITE_ROW) return found;
      if (elements != nullptr && !DeserializeElements(get.Text(1), elements)) return found;
      // A damaged entry is a miss, never a wrong tree (the tree file checks itself).
      Result<merkle::Tree> tree = merkle::Tree::Deserialize(get.Text(0), "tree cache");
      if (tree.ok()) found = std::move(tree).value();
    }
    if (found) {
      Statement touch(db_->db(),
                      "UPDATE trees SET used = (SELECT COALESCE(MAX(used), 0) + 1 FROM trees) WHERE key = ?");
      if (touch.ok()) touch.Bind(1, key).Step();
    }
    return found;
  }

  void Store(const std::string& key, const merkle::Tree& tree, const std::vector<uint64_t>* elements) override {
    Write write{key, tree, elements != nullptr ? std::optional(*elements) : std::nullopt};
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(std::move(write));
    if (!writer_.joinable()) writer_ = std::thread([this] { WriteQueued(); });
    queue_changed_.notify_all();
  }

 private:
  struct Write {
    std::string key;
    merkle::Tree tree;
    std::optional<std::vector<uint64_t>> elements;
  };

  void WaitForWrites() {
    std::unique_lock<std::mutex> lock(queue_mu_);
    queue_changed_.wait(lock, [&] { return queue_.empty() && !writing_; });
  }

  void WriteQueued() {
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

  void Put(const Write& write) {
    const std::string tree = write.tree.Serialize();
    const std::string elements = write.elements ? SerializeElements(*write.elements) : std::string();
    std::lock_guard<std::mutex> lock(db_mu_);
    Statement put(db_->db(),
                  "INSERT OR REPLACE INTO trees(key, tree, used, elements) VALUES "
                  "(?, ?, (SELECT COALESCE(MAX(used), 0) + 1 FROM trees), ?)");
    if (!put.ok()) return;
    put.Bind(1, write.key).BindBlob(2, tree);
    if (write.elements) {
      put.BindBlob(3, elements);
    } else {
      put.BindNull(3);
    }
    put.Step();
    // The least recently used beyond kKeepTrees go (found through the index).
    (void)db_->Exec("DELETE FROM trees WHERE used < (SELECT used FROM trees ORDER BY used DESC LIMIT 1 OFFSET " +
                    std::to_string(kKeepTrees - 1) + ")");
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

std::optional<std::vector<uint64_t>> ChangedElements(TableKind kind, const std::vector<uint64_t>& elements,
                                                     const std::vector<merkle::KeyedDigest>& removed,
                                                     const std::vector<merkle::KeyedDigest>& added) {
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
  std::vector<uint64_t> out;
  out.reserve(elements.size() + coming.size());
  for (uint64_t e : elements) {
    auto it = going.find(e);
    if (it != going.end() && it->second > 0) {
      --it->second;
      continue;
    }
    out.push_back(e);
  }
  for (const auto& [e, left] : going) {
    if (left != 0) return std::nullopt;
  }
  out.insert(out.end(), coming.begin(), coming.end());
  return out;
}

namespace {

// One SqliteTreeCache per replica in a process, shared by everything that
// opens it: a pull's local side and the in-process session that applies to
// it then see each other's stores as soon as they are queued.
class SharedTreeCache final : public TreeCache {
 public:
  explicit SharedTreeCache(std::shared_ptr<SqliteTreeCache> cache) : cache_(std::move(cache)) {}
  std::optional<merkle::Tree> Lookup(const std::string& key, std::vector<uint64_t>* elements) override {
    return cache_->Lookup(key, elements);
  }
  void Store(const std::string& key, const merkle::Tree& tree, const std::vector<uint64_t>* elements) override {
    cache_->Store(key, tree, elements);
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
    cache = std::make_shared<SqliteTreeCache>(std::move(db).value());
    open[path] = cache;
  }
  return std::make_unique<SharedTreeCache>(std::move(cache));
}

}  // namespace kuzusync
