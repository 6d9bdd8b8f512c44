// Rateless IBLT: the element-to-symbol mapping, the encoder and the peeling
// decoder (see merkle.h for the paper).

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_set>

#include "merkle/merkle.h"
#include "merkle/sketch_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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
  *prng *= kSketchPrngMultiplier;
  const double gap =
      std::ceil((static_cast<double>(last) + 1.5) * (4294967296.0 / std::sqrt(ToDouble(*prng) + 1) - 1));
  if (!(gap < 1e18)) return kNever;  // past any symbol anyone will ask for
  const uint64_t whole = static_cast<uint64_t>(static_cast<int64_t>(gap));  // 0 <= gap < 1e18
  const uint64_t step = whole + (whole == 0);
  return last + step < last ? kNever : last + step;
}

}  // namespace

void StepLanesScalar(int lanes, uint64_t* index, uint64_t* prng) {
  for (int l = 0; l < lanes; ++l) index[l] = NextIndex(index[l], &prng[l]);
}

#if defined(__x86_64__)
bool CpuStepsLanesWithAvx512() {
  // Also asks whether the OS saves zmm registers. Valgrind's CPU has no AVX-512.
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return has;
}

// NextIndex in zmm registers: one vector sqrt or divide costs about what
// one lane's scalar one does. Every operation rounds as NextIndex's does
// (sqrt and divide are correctly rounded; vcvtuqq2pd rounds once, as
// ToDouble's one addition does), so the symbols are the same bits; no
// product is added to anything, so contraction into FMA cannot change a
// rounding.
__attribute__((target("avx512f,avx512dq"))) void StepLanesAvx512(int lanes, uint64_t* index, uint64_t* prng) {
  const __mmask8 in_use = lanes == 8 ? 0xff : (1u << lanes) - 1;
  const __m512d one = _mm512_set1_pd(1);
  const __m512i last = _mm512_maskz_loadu_epi64(in_use, index);
  const __m512i next_prng =
      _mm512_mullo_epi64(_mm512_maskz_loadu_epi64(in_use, prng), _mm512_set1_epi64(kSketchPrngMultiplier));
  // maskz_: GCC 12 warns of _mm512_sqrt_pd's undefined source (gcc.gnu.org/PR105593).
  const __m512d root = _mm512_maskz_sqrt_pd(in_use, _mm512_add_pd(_mm512_cvtepu64_pd(next_prng), one));
  const __m512d scale = _mm512_sub_pd(_mm512_div_pd(_mm512_set1_pd(4294967296.0), root), one);
  const __m512d gap =
      _mm512_ceil_pd(_mm512_mul_pd(_mm512_add_pd(_mm512_cvtepu64_pd(last), _mm512_set1_pd(1.5)), scale));
  const __mmask8 gap_in_range = _mm512_cmp_pd_mask(gap, _mm512_set1_pd(1e18), _CMP_LT_OQ);
  const __m512i whole = _mm512_cvttpd_epi64(gap);
  const __m512i step = _mm512_mask_add_epi64(whole, _mm512_cmpeq_epi64_mask(whole, _mm512_setzero_si512()), whole,
                                             _mm512_set1_epi64(1));
  const __m512i next = _mm512_add_epi64(last, step);
  const __mmask8 has_next = gap_in_range & _mm512_cmp_epu64_mask(next, last, _MM_CMPINT_NLT);
  const __m512i next_index = _mm512_mask_blend_epi64(has_next, _mm512_set1_epi64(kNever), next);
  _mm512_mask_storeu_epi64(index, in_use, next_index);
  _mm512_mask_storeu_epi64(prng, in_use, next_prng);
}
#else
bool CpuStepsLanesWithAvx512() { return false; }
void StepLanesAvx512(int lanes, uint64_t* index, uint64_t* prng) { StepLanesScalar(lanes, index, prng); }
#endif

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
    Encode(0, end, symbols);
    return;
  }
  const uint64_t begin = symbols->size();
  symbols->resize(end);
  Encode(begin, end, symbols);
}

void SketchEncoder::Encode(uint64_t begin, uint64_t end, std::vector<CodedSymbol>* symbols) {
  const bool avx512 = CpuStepsLanesWithAvx512() && !scalar_only_;
  const size_t parts =
      std::clamp<size_t>(entries_.size() / kMinElementsPerThread, 1, static_cast<size_t>(std::max(threads_, 1)));
  const size_t each = (entries_.size() + parts - 1) / parts;
  Entry* entries = entries_.data();
  auto part_range = [&](size_t p) {
    const size_t first = std::min(entries_.size(), p * each);
    return std::pair(entries + first, entries + std::min(entries_.size(), first + each));
  };
  std::vector<std::vector<CodedSymbol>> partial(parts - 1, std::vector<CodedSymbol>(end - begin));
  std::vector<std::thread> workers;
  for (size_t p = 1; p < parts; ++p) {
    workers.emplace_back([&, p] {
      const auto [first, last] = part_range(p);
      EncodeEntries(first, last, begin, end, partial[p - 1].data(), avx512);
    });
  }
  const auto [first, last] = part_range(0);
  EncodeEntries(first, last, begin, end, symbols->data() + begin, avx512);
  for (std::thread& w : workers) w.join();
  for (const std::vector<CodedSymbol>& part : partial) {
    for (uint64_t i = begin; i < end; ++i) (*symbols)[i] ^= part[i - begin];
  }
}

void ToggleInSymbols(const std::vector<uint64_t>& elements, std::vector<CodedSymbol>* symbols) {
  SketchEncoder encoder;
  for (uint64_t e : elements) encoder.Add(e);
  std::vector<CodedSymbol> theirs;
  encoder.Extend(symbols->size(), &theirs);
  for (size_t i = 0; i < theirs.size(); ++i) (*symbols)[i] ^= theirs[i];
}

void SketchEncoder::EncodeEntries(Entry* first_entry, Entry* last_entry, uint64_t begin, uint64_t end,
                                  CodedSymbol* out, bool avx512) {
  // One element's steps form a chain of dependent square roots, divisions
  // and roundings. kLanes elements are in flight and each pass steps every
  // one of them: their chains overlap, and no mispredicted branch between
  // them throws away the work in flight (a lane's element is done when a
  // coin flip says so). With AVX-512 one instruction steps 8 lanes
  // (BM_SketchEncode, bench/RESULTS.md). Lane state lives in locals, which
  // the symbol writes cannot alias.
  constexpr int kLanes = 256;
  constexpr int kGroup = 8;  // lanes per StepLanes*
  Entry* lane_entry[kLanes];
  alignas(64) uint64_t prng[kLanes], index[kLanes];
  uint64_t element[kLanes];
  uint32_t check[kLanes];
  int finished[kLanes];
  Entry* next = first_entry;
  auto take = [&](int l) {
    while (next != last_entry) {
      Entry* e = next++;
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
  int lanes = 0;
  while (lanes < kLanes && take(lanes)) ++lanes;
  while (lanes > 0) {
    // A group's symbol writes overlap the steps of the group before.
    for (int group = 0; group < lanes; group += kGroup) {
      const int n = std::min(kGroup, lanes - group);
      for (int l = group; l < group + n; ++l) {
        out[index[l] - begin].sum ^= element[l];
        out[index[l] - begin].check ^= check[l];
      }
      if (avx512) {
        StepLanesAvx512(n, index + group, prng + group);
      } else {
        StepLanesScalar(n, index + group, prng + group);
      }
    }
    int count = 0;  // without a branch per lane
    for (int l = 0; l < lanes; ++l) {
      finished[count] = l;
      count += index[l] >= end;
    }
    // From the last lane down, so that a lane moved down into a freed one
    // has been dealt with.
    while (count > 0) {
      const int l = finished[--count];
      *lane_entry[l] = {element[l], prng[l], index[l]};
      if (take(l)) continue;
      const int last = --lanes;
      lane_entry[l] = lane_entry[last];
      element[l] = element[last];
      prng[l] = prng[last];
      index[l] = index[last];
      check[l] = check[last];
    }
  }
}

SketchDecoder::SketchDecoder(std::vector<uint64_t> local_elements, std::vector<CodedSymbol> known_local,
                             int threads)
    : local_(std::move(local_elements)) {
  local_.Know(std::move(known_local));
  local_.SetThreads(threads);
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
    s = remote[i - begin];
    s ^= local_symbols_[i];
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
  // An empty symbol adds a constant, log(1 - p_i), to the derivative; a
  // nonempty one -q / expm1(-q d), q = log(1 - p_i). The search runs once
  // per table per round on the critical path of a push: constants are
  // summed once, and 15 halvings find d to within 0.1%, plenty for a
  // request schedule that asks for 1.35 times it.
  bool any_empty = false;
  double empty = 0;
  std::vector<double> nonempty;
  for (size_t i = 0; i < was_empty_.size(); ++i) {
    any_empty = any_empty || was_empty_[i];
    if (i == 0) continue;  // symbol 0 holds every element
    const double q = std::log1p(-1.0 / (1.0 + i / 2.0));
    if (was_empty_[i]) {
      empty += q;
    } else {
      nonempty.push_back(q);
    }
  }
  if (!any_empty) return 0;
  auto slope = [&](double d) {
    double sum = empty;
    for (double q : nonempty) sum += -q / std::expm1(-q * d);
    return sum;
  };
  double lo = 0.5, hi = 1e12;
  if (slope(lo) <= 0) return lo;
  for (int step = 0; step < 15; ++step) {
    const double mid = std::sqrt(lo * hi);
    (slope(mid) > 0 ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace kuzusync::merkle
