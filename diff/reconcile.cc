// ReconcileTables: the request schedule (64 symbols, then as many as the
// difference is estimated to need) and the decoding, table by table side by
// side.

#include "diff/reconcile.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <thread>

#include "diff/parallel.h"

namespace kuzusync {
namespace {

constexpr uint64_t kFirstSymbols = 64;  // 768 bytes: enough for a few dozen differences
// What one request may ask for, so that every answer stays well inside a
// protocol frame: 12 MiB of symbols.
constexpr uint64_t kMaxSymbolsPerRequest = 1 << 20;

// How many symbols to have after a chunk that did not decode: about 1.35
// per differing element once the difference can be estimated, three times
// as many while it cannot.
uint64_t NextEnd(const merkle::SketchDecoder& decoder) {
  const uint64_t have = decoder.received();
  const double from_empty_symbols = decoder.EstimateDifference();
  if (from_empty_symbols == 0) return have * 3;
  const double estimate = std::max(from_empty_symbols, static_cast<double>(decoder.found()));
  const uint64_t wanted = static_cast<uint64_t>(std::ceil(1.35 * estimate)) + 8;
  return std::clamp(wanted, have + have / 16 + 8, have * 3);
}

struct Reconciliation {
  ReconciledTable* found = nullptr;
  std::unique_ptr<merkle::SketchDecoder> decoder;
  uint64_t limit = 0;  // give up past this many symbols
};

}  // namespace

Status ReconcileTables(Replica* local, Replica* other, SketchPeer* peer,
                       const std::vector<const TableSchema*>& tables, int threads, uint64_t max_rows,
                       std::vector<ReconciledTable>* out, uint64_t* symbols_received) {
  out->assign(tables.size(), {});
  std::vector<Reconciliation> pending(tables.size());
  for (size_t i = 0; i < tables.size(); ++i) {
    const Replica::Table* mine = local->FindTable(tables[i]->name);
    const Replica::Table* theirs = other->FindTable(tables[i]->name);
    if (mine == nullptr || theirs == nullptr) {
      return Status::InvalidArgument("table " + tables[i]->name + " was not hashed");
    }
    const uint64_t rows = mine->root.count + theirs->root.count;
    if (rows > max_rows) {
      return Status::Unsupported("table " + tables[i]->name + " has too many rows to reconcile in memory (" +
                                 std::to_string(rows) + ")");
    }
    (*out)[i].table = tables[i];
    pending[i].found = &(*out)[i];
    // Twice the elements of both sides always decodes; far more never will.
    pending[i].limit = 2 * rows + 4 * kFirstSymbols;
  }

  // This side's elements are listed while the peer lists its own for the
  // first request. A table the peer has no rows of needs no symbols: all of
  // ours are new there (the first push to a replica made from an empty
  // database).
  auto peer_is_empty = [&](size_t i) { return other->FindTable(tables[i]->name)->root.count == 0; };
  std::vector<Reconciliation*> open;
  std::vector<SketchPeer::Request> requests;
  for (size_t i = 0; i < tables.size(); ++i) {
    if (peer_is_empty(i)) continue;
    open.push_back(&pending[i]);
    requests.push_back({tables[i]->name, 0, kFirstSymbols});
  }
  // Each request is answered while this side encodes its own symbols of
  // the same range: the two sides' encoding overlaps.
  std::vector<std::vector<merkle::CodedSymbol>> symbols;
  Status asked;
  auto ask = [&] { asked = peer->Symbols(requests, &symbols); };
  std::optional<std::thread> asker;
  if (!requests.empty()) asker.emplace(ask);
  std::vector<std::vector<uint64_t>> elements;
  Status prepared = CollectElementsOfTables(local->rows(), tables, threads, &elements);
  if (prepared.ok()) {
    prepared = RunInParallel(tables.size(), threads, [&](size_t i) {
      if (peer_is_empty(i)) {
        (*out)[i].only_local = std::move(elements[i]);
      } else {
        // Tables encode side by side, and a large one in parts besides:
        // otherwise the largest holds up the rest on one core.
        pending[i].decoder = std::make_unique<merkle::SketchDecoder>(
            std::move(elements[i]), local->rows()->KnownSymbols(*tables[i]), ThreadsOrCores(threads));
        pending[i].decoder->Prepare(kFirstSymbols);
      }
      return Status::Ok();
    });
  }
  if (asker) asker->join();
  KS_RETURN_IF_ERROR(prepared);
  KS_RETURN_IF_ERROR(asked);
  elements.clear();

  // Then one round trip per step, for every table still undecoded.
  while (!open.empty()) {
    if (symbols.size() != requests.size()) return Status::Corrupt("peer answered the wrong number of sketches");
    for (size_t i = 0; i < open.size(); ++i) {
      if (symbols[i].size() != requests[i].end - requests[i].begin) {
        return Status::Corrupt("peer answered the wrong number of symbols for " + requests[i].table);
      }
      *symbols_received += symbols[i].size();
    }
    KS_RETURN_IF_ERROR(RunInParallel(open.size(), threads, [&](size_t i) {
      open[i]->decoder->Add(symbols[i]);
      return Status::Ok();
    }));
    std::vector<Reconciliation*> still_open;
    for (Reconciliation* r : open) {
      if (!r->decoder->decoded()) {
        still_open.push_back(r);
        continue;
      }
      r->found->only_local = r->decoder->only_local();
      r->found->only_other = r->decoder->only_remote();
      local->rows()->KeepSymbols(*r->found->table, r->decoder->local_symbols());
      r->decoder.reset();
    }
    open = std::move(still_open);
    if (open.empty()) break;
    requests.clear();
    for (Reconciliation* r : open) {
      const uint64_t have = r->decoder->received();
      const uint64_t end =
          std::min({NextEnd(*r->decoder), r->limit, have + kMaxSymbolsPerRequest / open.size()});
      if (end <= have) {
        return Status::Corrupt("set reconciliation of table " + r->found->table->name + " with " +
                               other->label() + " did not converge after " + std::to_string(have) +
                               " symbols");
      }
      requests.push_back({r->found->table->name, have, end});
    }
    asker.emplace(ask);
    prepared = RunInParallel(open.size(), threads, [&](size_t i) {
      open[i]->decoder->Prepare(requests[i].end);
      return Status::Ok();
    });
    asker->join();
    KS_RETURN_IF_ERROR(prepared);
    KS_RETURN_IF_ERROR(asked);
  }
  return Status::Ok();
}

}  // namespace kuzusync
