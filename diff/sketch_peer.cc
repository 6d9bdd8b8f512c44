// NewLocalSketchPeer: coded symbols of a replica's own rows, for the side of
// a set reconciliation that has the rows at hand.

#include <algorithm>
#include <map>

#include "diff/diff.h"
#include "diff/parallel.h"

namespace kuzusync {
namespace {

class LocalSketchPeer final : public SketchPeer {
 public:
  LocalSketchPeer(Replica* replica, int threads) : replica_(replica), threads_(threads) {}
  // What the session made is kept for the next one (once, at the end: a
  // reconciliation extends a table's symbols several times).
  ~LocalSketchPeer() override {
    for (auto& [table, sketch] : sketches_) replica_->rows()->KeepSymbols(*sketch.table, sketch.symbols);
  }

  Status SumRows(const std::vector<Rows>& rows, std::vector<merkle::NodeSummary>* out) override {
    out->assign(rows.size(), {});
    for (size_t i = 0; i < rows.size(); ++i) {
      const TableSchema* table = replica_->schema().Find(rows[i].table);
      if (table == nullptr) return Status::NotFound("no table " + rows[i].table);
      LeafRows found;
      KS_RETURN_IF_ERROR(replica_->rows()->CollectRowsByElement(*table, rows[i].elements, false, &found));
      (*out)[i] = found.Sum();
    }
    return Status::Ok();
  }

  Status Symbols(const std::vector<Request>& requests,
                 std::vector<std::vector<merkle::CodedSymbol>>* out) override {
    std::vector<const TableSchema*> fresh;
    for (const Request& r : requests) {
      const TableSchema* table = replica_->schema().Find(r.table);
      const Replica::Table* hashed = replica_->FindTable(r.table);
      if (table == nullptr || hashed == nullptr) return Status::NotFound("no table " + r.table);
      if (r.begin > r.end || r.end > 4 * hashed->root.count + (1u << 16)) {
        return Status::InvalidArgument("sketch request for " + r.table + " out of range");
      }
      if (sketches_.count(r.table) == 0 && std::find(fresh.begin(), fresh.end(), table) == fresh.end()) {
        fresh.push_back(table);
      }
    }
    std::vector<std::vector<uint64_t>> elements;
    KS_RETURN_IF_ERROR(CollectElementsOfTables(replica_->rows(), fresh, threads_, &elements));
    for (size_t i = 0; i < fresh.size(); ++i) {
      Sketch& sketch = sketches_[fresh[i]->name];
      sketch.table = fresh[i];
      sketch.encoder = merkle::SketchEncoder(std::move(elements[i]));
      sketch.encoder.Know(replica_->rows()->KnownSymbols(*fresh[i]));
      sketch.encoder.SetThreads(ThreadsOrCores(threads_));  // a large table in parts, beside the others
    }
    // Tables are encoded side by side (a table asked for twice in one
    // request is extended once, to the larger end, before either is read).
    std::map<std::string, uint64_t> ends;
    for (const Request& r : requests) ends[r.table] = std::max(ends[r.table], r.end);
    std::vector<std::pair<Sketch*, uint64_t>> work;
    for (const auto& [table, end] : ends) work.emplace_back(&sketches_[table], end);
    KS_RETURN_IF_ERROR(RunInParallel(work.size(), threads_, [&](size_t i) {
      work[i].first->encoder.Extend(work[i].second, &work[i].first->symbols);
      return Status::Ok();
    }));
    out->clear();
    for (const Request& r : requests) {
      const Sketch& sketch = sketches_[r.table];
      out->emplace_back(sketch.symbols.begin() + r.begin, sketch.symbols.begin() + r.end);
    }
    return Status::Ok();
  }

 private:
  struct Sketch {
    const TableSchema* table = nullptr;
    merkle::SketchEncoder encoder;
    std::vector<merkle::CodedSymbol> symbols;
  };
  Replica* replica_;
  int threads_;
  std::map<std::string, Sketch> sketches_;
};

}  // namespace

std::unique_ptr<SketchPeer> NewLocalSketchPeer(Replica* replica, int threads) {
  return std::make_unique<LocalSketchPeer>(replica, threads);
}

}  // namespace kuzusync
