// The sqlite tree cache kept beside a replica (.<name>.kuzusync/state.db).

#include <mutex>

#include "diff/diff.h"
#include "diff/state_db.h"

namespace kuzusync {
namespace {

constexpr int kKeepTrees = 1024;  // least recently used trees beyond this are dropped

class SqliteTreeCache final : public TreeCache {
 public:
  explicit SqliteTreeCache(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}

  std::optional<merkle::Tree> Lookup(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<merkle::Tree> found;
    {
      Statement get(db_->db(), "SELECT tree FROM trees WHERE key = ?");
      if (!get.ok() || get.Bind(1, key).Step() != SQLITE_ROW) return found;
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

  void Store(const std::string& key, const merkle::Tree& tree) override {
    std::lock_guard<std::mutex> lock(mu_);
    Statement put(db_->db(),
                  "INSERT OR REPLACE INTO trees(key, tree, used) VALUES "
                  "(?, ?, (SELECT COALESCE(MAX(used), 0) + 1 FROM trees))");
    if (!put.ok()) return;
    put.Bind(1, key).BindBlob(2, tree.Serialize()).Step();
    // The least recently used beyond kKeepTrees go (found through the index).
    (void)db_->Exec("DELETE FROM trees WHERE used < (SELECT used FROM trees ORDER BY used DESC LIMIT 1 OFFSET " +
                    std::to_string(kKeepTrees - 1) + ")");
  }

 private:
  std::mutex mu_;
  std::unique_ptr<StateDb> db_;
};

}  // namespace

std::unique_ptr<TreeCache> OpenReplicaTreeCache(const std::string& replica_dir) {
  Result<std::unique_ptr<StateDb>> db = StateDb::Open(replica_dir, /*create=*/true);
  if (!db.ok()) return nullptr;
  return std::make_unique<SqliteTreeCache>(std::move(db).value());
}

}  // namespace kuzusync
