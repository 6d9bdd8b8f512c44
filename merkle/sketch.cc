// Rateless IBLT: the element-to-symbol mapping, the encoder and the peeling
// decoder (see merkle.h for the paper).

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "merkle/merkle.h"

namespace kuzusync::merkle {
namespace {

// splitmix64's finalizer.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint32_t CheckOf(uint64_t element) {
  return static_cast<uint32_t>(Mix(element ^ 0x5bd1e9955bd1e995ULL) >> 32);
}

constexpr uint64_t kNever = ~uint64_t{0};

// static_cast<double>(x), without the branch compilers emit for x's top
// bit (a coin flip for a random x, so a mispredicted branch per step): both
// halves convert exactly and the one addition rounds as the conversion does.
inline double ToDouble(uint64_t x) {
  return static_cast<double>(static_cast<int64_t>(x >> 32)) * 4294967296.0 +
         static_cast<double>(static_cast<int64_t>(x & 0xffffffff));
}

// The next symbol after `last` that an element goes to: symbol i is chosen
// with probability 1/(1 + i/2), so early symbols hold many elements (and
// tell small differences) and later ones few (and peel large ones). This is
// the paper's reference mapping; the division by sqrt of a uniform 64-bit
// number samples the gap's inverse distribution. Inlined and free of
// unpredictable branches: encoding is most of a reconciliation's CPU.
inline __attribute__((always_inline)) uint64_t NextIndex(uint64_t last, uint64_t* prng) {
  *prng *= 0xda942042e4dd58b5ULL;
  const double gap =
      std::ceil((static_cast<double>(last) + 1.5) * (4294967296.0 / std::sqrt(ToDouble(*prng) + 1) - 1));
  if (!(gap < 1e18)) return kNever;  // past any symbol anyone will ask for
  const uint64_t whole = static_cast<uint64_t>(static_cast<int64_t>(gap));  // 0 <= gap < 1e18
  const uint64_t step = whole + (whole == 0);
  return last + step < last ? kNever : last + step;
}

}  // namespace

uint64_t RelSketchElement(uint64_t key_hash, uint64_t print, uint64_t copy) {
  const uint64_t low = copy == 0 ? print : Mix(print + copy * 0x9e3779b97f4a7c15ULL);
  return (key_hash & kRelSketchKeyBits) | (low & ~kRelSketchKeyBits);
}

SketchEncoder::Entry SketchEncoder::Start(uint64_t element) {
  return {element, Mix(element) | 1, 0};
}

void SketchEncoder::Extend(uint64_t end, std::vector<CodedSymbol>* symbols) {
  if (end <= symbols->size()) return;
  if (!encoded_) {
    if (end <= known_.size()) {
      symbols->insert(symbols->end(), known_.begin() + symbols->size(), known_.begin() + end);
      return;
    }
    // Past what is known: every element starts from symbol 0, so the
    // symbols handed out so far are made again, the same.
    known_ = {};
    encoded_ = true;
    entries_.reserve(elements_.size());
    for (uint64_t e : elements_) entries_.push_back(Start(e));
    symbols->assign(end, CodedSymbol{});
    Encode(end, symbols);
    return;
  }
  symbols->resize(end);
  Encode(end, symbols);
}

void ToggleInSymbols(const std::vector<uint64_t>& elements, std::vector<CodedSymbol>* symbols) {
  SketchEncoder encoder;
  for (uint64_t e : elements) encoder.Add(e);
  std::vector<CodedSymbol> theirs;
  encoder.Extend(symbols->size(), &theirs);
  for (size_t i = 0; i < theirs.size(); ++i) {
    (*symbols)[i].sum ^= theirs[i].sum;
    (*symbols)[i].check ^= theirs[i].check;
  }
}

// Steps every element through the symbols below `end`, XORing it into
// them; symbols->size() is end.
void SketchEncoder::Encode(uint64_t end, std::vector<CodedSymbol>* symbols) {
  // One element's steps form a chain of dependent square roots, divisions
  // and roundings; stepping kLanes elements in turn overlaps their chains
  // (with NextIndex's branch-free conversion, 1.7x faster than one element
  // at a time: BM_SketchEncode, bench/RESULTS.md). Lane state lives in
  // locals, which the symbol writes cannot alias.
  constexpr int kLanes = 8;
  CodedSymbol* out = symbols->data();
  Entry* lane_entry[kLanes];
  uint64_t element[kLanes], prng[kLanes], index[kLanes];
  uint32_t check[kLanes];
  size_t next = 0;
  int active = 0;
  auto take = [&](int l) {
    while (next < entries_.size()) {
      Entry* e = &entries_[next++];
      if (e->next_index >= end) continue;
      lane_entry[l] = e;
      element[l] = e->element;
      prng[l] = e->prng;
      index[l] = e->next_index;
      check[l] = CheckOf(e->element);
      return true;
    }
    return false;
  };
  while (active < kLanes && take(active)) ++active;
  if (active == kLanes) {
    while (true) {
      for (int l = 0; l < kLanes; ++l) {
        out[index[l]].sum ^= element[l];
        out[index[l]].check ^= check[l];
        index[l] = NextIndex(index[l], &prng[l]);
      }
      bool ended = false;
      for (int l = 0; l < kLanes; ++l) {
        if (index[l] >= end) {
          *lane_entry[l] = {element[l], prng[l], index[l]};
          if (!take(l)) {
            index[l] = end;  // done: the lanes left finish below
            ended = true;
          }
        }
      }
      if (ended) break;
    }
  }
  for (int l = 0; l < active; ++l) {
    if (index[l] >= end) continue;
    do {
      out[index[l]].sum ^= element[l];
      out[index[l]].check ^= check[l];
      index[l] = NextIndex(index[l], &prng[l]);
    } while (index[l] < end);
    *lane_entry[l] = {element[l], prng[l], index[l]};
  }
}

SketchDecoder::SketchDecoder(std::vector<uint64_t> local_elements, std::vector<CodedSymbol> known_local)
    : local_(std::move(local_elements)) {
  local_.Know(std::move(known_local));
}

const std::vector<uint64_t>& SketchDecoder::only_local() const {
  Classify();
  return only_local_;
}

const std::vector<uint64_t>& SketchDecoder::only_remote() const {
  Classify();
  return only_remote_;
}

void SketchDecoder::Classify() const {
  if (classified_ == found_.size()) return;
  classified_ = found_.size();
  // A bitmap of the found elements' top 20 bits turns most of this side's
  // elements away before the set is asked.
  KeyHashFilter maybe;
  std::unordered_set<uint64_t> remote;
  for (const SketchEncoder::Entry& e : found_) {
    remote.insert(e.element);
    maybe.Add(e.element);
  }
  only_local_.clear();
  for (uint64_t e : local_.elements_) {
    if (maybe.MayContain(e) && remote.erase(e) != 0) only_local_.push_back(e);
  }
  only_remote_.clear();
  for (const SketchEncoder::Entry& e : found_) {
    if (remote.count(e.element) != 0) only_remote_.push_back(e.element);
  }
}

void SketchDecoder::Toggle(uint64_t index, uint64_t element) {
  CodedSymbol& s = difference_[index];
  const bool was = s.empty();
  s.sum ^= element;
  s.check ^= CheckOf(element);
  if (was && !s.empty()) ++nonempty_;
  if (!was && s.empty()) --nonempty_;
}

void SketchDecoder::Add(const std::vector<CodedSymbol>& remote) {
  const uint64_t begin = difference_.size();
  const uint64_t end = begin + remote.size();
  local_.Extend(end, &local_symbols_);
  difference_.resize(end);
  std::vector<uint64_t> candidates;
  for (uint64_t i = begin; i < end; ++i) {
    CodedSymbol& s = difference_[i];
    s.sum = remote[i - begin].sum ^ local_symbols_[i].sum;
    s.check = remote[i - begin].check ^ local_symbols_[i].check;
    was_empty_.push_back(s.empty());
    if (!s.empty()) ++nonempty_;
  }
  // Elements found earlier are in the new symbols too.
  for (SketchEncoder::Entry& e : found_) {
    while (e.next_index < end) {
      Toggle(e.next_index, e.element);
      e.next_index = NextIndex(e.next_index, &e.prng);
    }
  }
  for (uint64_t i = begin; i < end; ++i) candidates.push_back(i);
  Peel(std::move(candidates));
}

void SketchDecoder::Peel(std::vector<uint64_t> candidates) {
  const uint64_t end = difference_.size();
  std::vector<uint64_t> indexes;
  while (!candidates.empty()) {
    const uint64_t i = candidates.back();
    candidates.pop_back();
    const CodedSymbol s = difference_[i];
    if (s.sum == 0 || CheckOf(s.sum) != s.check) continue;
    // A symbol that looks pure but whose element does not map to it is a
    // coincidence of checks, not an element.
    SketchEncoder::Entry e = SketchEncoder::Start(s.sum);
    indexes.clear();
    bool maps_here = false;
    while (e.next_index < end) {
      indexes.push_back(e.next_index);
      maps_here = maps_here || e.next_index == i;
      e.next_index = NextIndex(e.next_index, &e.prng);
    }
    if (!maps_here) continue;
    for (uint64_t k : indexes) {
      Toggle(k, s.sum);
      if (!difference_[k].empty()) candidates.push_back(k);
    }
    found_.push_back(e);
  }
}

double SketchDecoder::EstimateDifference() const {
  // Symbol i is empty with probability (1 - p_i)^d, p_i = 1 / (1 + i/2).
  // The log-likelihood's derivative in d is decreasing; find its zero.
  bool any_empty = false;
  for (bool e : was_empty_) any_empty = any_empty || e;
  if (!any_empty) return 0;
  auto slope = [&](double d) {
    double sum = 0;
    for (size_t i = 1; i < was_empty_.size(); ++i) {  // symbol 0 holds every element
      const double q = std::log1p(-1.0 / (1.0 + i / 2.0));  // log(1 - p_i)
      if (was_empty_[i]) {
        sum += q;
      } else {
        const double qd = std::exp(q * d);
        sum += -q * qd / -std::expm1(q * d);
      }
    }
    return sum;
  };
  double lo = 0.5, hi = 1e12;
  if (slope(lo) <= 0) return lo;
  for (int step = 0; step < 30; ++step) {  // to within 0.01%: 30 halvings of log(2e12)
    const double mid = std::sqrt(lo * hi);
    (slope(mid) > 0 ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace kuzusync::merkle
