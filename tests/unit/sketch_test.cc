// Tests for the rateless set reconciliation: the difference comes out
// exactly, with about 1.4 symbols per differing element, in chunks.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "merkle/merkle.h"
#include "merkle/sketch_internal.h"

namespace kuzusync::merkle {
namespace {

struct Sets {
  std::vector<uint64_t> a, b;                // a: the remote side, b: the local side
  std::set<uint64_t> only_a, only_b;
};

Sets MakeSets(size_t common, size_t only_a, size_t only_b, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Sets s;
  for (size_t i = 0; i < common; ++i) {
    uint64_t e = rng();
    s.a.push_back(e);
    s.b.push_back(e);
  }
  for (size_t i = 0; i < only_a; ++i) {
    s.a.push_back(rng());
    s.only_a.insert(s.a.back());
  }
  for (size_t i = 0; i < only_b; ++i) {
    s.b.push_back(rng());
    s.only_b.insert(s.b.back());
  }
  std::shuffle(s.a.begin(), s.a.end(), rng);
  return s;
}

// Decodes in chunks of `chunk` symbols; returns the symbols it took.
uint64_t Reconcile(const Sets& s, uint64_t chunk, SketchDecoder* decoder, uint64_t limit = 1 << 22) {
  SketchEncoder remote;
  for (uint64_t e : s.a) remote.Add(e);
  std::vector<CodedSymbol> symbols;
  while (!decoder->decoded() && symbols.size() < limit) {
    const size_t begin = symbols.size();
    remote.Extend(begin + chunk, &symbols);
    decoder->Add(std::vector<CodedSymbol>(symbols.begin() + begin, symbols.end()));
  }
  return symbols.size();
}

TEST(SketchTest, FindsTheExactDifference) {
  for (uint64_t seed : {1, 2, 3}) {
    Sets s = MakeSets(50000, 700, 300, seed);
    SketchDecoder decoder(s.b);
    const uint64_t used = Reconcile(s, 16, &decoder);
    ASSERT_TRUE(decoder.decoded());
    EXPECT_EQ(std::set<uint64_t>(decoder.only_remote().begin(), decoder.only_remote().end()), s.only_a);
    EXPECT_EQ(std::set<uint64_t>(decoder.only_local().begin(), decoder.only_local().end()), s.only_b);
    EXPECT_EQ(decoder.only_remote().size(), s.only_a.size());  // each element once
    // The paper's overhead is 1.35 to 1.7 symbols per element at this size.
    EXPECT_LT(used, 1000 * 1.75) << "seed " << seed;
    EXPECT_GT(used, 1000) << "seed " << seed;
  }
}

// A set's symbols are the XOR of its elements' own symbols, however the
// encoder interleaves elements and however the symbols are asked for.
TEST(SketchTest, SymbolsAreTheXorOfEachElementsSymbols) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> elements(1001);
  for (uint64_t& e : elements) e = rng();
  const uint64_t kEnd = 3000;
  std::vector<CodedSymbol> expected(kEnd);
  for (uint64_t e : elements) {
    SketchEncoder one;
    one.Add(e);
    std::vector<CodedSymbol> own;
    one.Extend(kEnd, &own);
    for (uint64_t i = 0; i < kEnd; ++i) {
      expected[i].sum ^= own[i].sum;
      expected[i].check ^= own[i].check;
    }
  }
  SketchEncoder all;
  for (uint64_t e : elements) all.Add(e);
  std::vector<CodedSymbol> chunked;
  for (uint64_t end : {1, 2, 9, 64, 65, 700, 2999, 3000}) all.Extend(end, &chunked);
  EXPECT_EQ(chunked, expected);
  EXPECT_NE(expected[kEnd - 1], CodedSymbol{});  // the last symbols are reached too
}

// Symbols known from before are handed out as they are; asked for more, the
// encoder makes all of them afresh, and they agree.
TEST(SketchTest, KnownSymbolsAreUsedUntilMoreAreAskedFor) {
  Sets s = MakeSets(20000, 0, 0, 11);
  std::vector<CodedSymbol> truth;
  SketchEncoder(s.a).Extend(500, &truth);

  std::vector<CodedSymbol> known(truth.begin(), truth.begin() + 200);
  known[150].sum ^= 1;  // marked, to tell a copy from an encoding
  SketchEncoder encoder(s.a);
  encoder.Know(known);
  std::vector<CodedSymbol> got;
  encoder.Extend(64, &got);
  encoder.Extend(200, &got);
  EXPECT_EQ(got, known);  // copied, not encoded
  encoder.Extend(201, &got);
  EXPECT_EQ(got, std::vector<CodedSymbol>(truth.begin(), truth.begin() + 201));  // encoded, all
  encoder.Extend(500, &got);
  EXPECT_EQ(got, truth);
}

// A decoder whose own symbols are known decodes as one that encodes them,
// and hands its symbols on for the next time.
TEST(SketchTest, DecoderStartsFromKnownLocalSymbols) {
  Sets s = MakeSets(30000, 120, 80, 5);
  std::vector<CodedSymbol> own;
  SketchEncoder(s.b).Extend(1000, &own);
  SketchDecoder decoder(s.b, own);
  const uint64_t used = Reconcile(s, 32, &decoder);
  ASSERT_TRUE(decoder.decoded());
  EXPECT_LE(used, 1000u);
  EXPECT_EQ(std::set<uint64_t>(decoder.only_remote().begin(), decoder.only_remote().end()), s.only_a);
  EXPECT_EQ(std::set<uint64_t>(decoder.only_local().begin(), decoder.only_local().end()), s.only_b);
  EXPECT_EQ(decoder.local_symbols(), std::vector<CodedSymbol>(own.begin(), own.begin() + used));
}

// Toggling elements in a set's symbols gives the symbols of the changed set.
TEST(SketchTest, ToggleInSymbolsAddsAndRemoves) {
  Sets s = MakeSets(5000, 30, 40, 9);  // a = common + only_a, b = common + only_b
  std::vector<CodedSymbol> symbols, of_a;
  SketchEncoder(s.b).Extend(300, &symbols);
  SketchEncoder(s.a).Extend(300, &of_a);
  std::vector<uint64_t> toggled(s.only_a.begin(), s.only_a.end());
  toggled.insert(toggled.end(), s.only_b.begin(), s.only_b.end());
  ToggleInSymbols(toggled, &symbols);
  EXPECT_EQ(symbols, of_a);
}

TEST(SketchTest, IdenticalSetsNeedOneSymbol) {
  Sets s = MakeSets(10000, 0, 0, 7);
  SketchDecoder decoder(s.b);
  EXPECT_EQ(Reconcile(s, 1, &decoder), 1u);
  EXPECT_TRUE(decoder.only_local().empty());
  EXPECT_TRUE(decoder.only_remote().empty());
}

TEST(SketchTest, OneDifferenceInEitherDirection) {
  Sets s = MakeSets(10000, 1, 0, 8);
  SketchDecoder decoder(s.b);
  EXPECT_EQ(Reconcile(s, 1, &decoder), 1u);
  ASSERT_EQ(decoder.only_remote().size(), 1u);
  EXPECT_EQ(decoder.only_remote()[0], *s.only_a.begin());
  Sets t = MakeSets(10000, 0, 1, 9);
  SketchDecoder other(t.b);
  Reconcile(t, 1, &other);
  ASSERT_EQ(other.only_local().size(), 1u);
  EXPECT_EQ(other.only_local()[0], *t.only_b.begin());
}

TEST(SketchTest, TooFewSymbolsDoNotDecode) {
  Sets s = MakeSets(1000, 500, 500, 10);
  SketchDecoder decoder(s.b);
  Reconcile(s, 256, &decoder, 256);
  EXPECT_FALSE(decoder.decoded());
  // What was peeled is nevertheless right.
  for (uint64_t e : decoder.only_remote()) EXPECT_EQ(s.only_a.count(e), 1u);
  for (uint64_t e : decoder.only_local()) EXPECT_EQ(s.only_b.count(e), 1u);
}

TEST(SketchTest, EstimatesTheDifferenceFromEmptySymbols) {
  for (size_t d : {40, 400, 3000}) {
    Sets s = MakeSets(20000, d / 2, d - d / 2, d);
    SketchDecoder decoder(s.b);
    SketchEncoder remote;
    for (uint64_t e : s.a) remote.Add(e);
    std::vector<CodedSymbol> symbols;
    remote.Extend(d, &symbols);  // fewer than needed: the estimate must say how many more
    decoder.Add(symbols);
    const double estimate = decoder.EstimateDifference();
    EXPECT_GT(estimate, d * 0.6) << d;
    EXPECT_LT(estimate, d * 1.5) << d;
  }
  Sets big = MakeSets(20000, 5000, 5000, 11);
  SketchDecoder decoder(big.b);
  Reconcile(big, 64, &decoder, 64);
  EXPECT_EQ(decoder.EstimateDifference(), 0);  // 64 symbols cannot tell 10,000
}

// Symbols are a wire and cache format: where the CPU has AVX-512 the
// encoder steps elements with it, and must make the scalar stepping's bits.

// The prng value that one step turns into `after`: the multiplier is odd,
// so it has an inverse mod 2^64 (Newton's iteration doubles its correct bits).
uint64_t PrngBefore(uint64_t after) {
  uint64_t inverse = kSketchPrngMultiplier;
  for (int i = 0; i < 5; ++i) inverse *= 2 - kSketchPrngMultiplier * inverse;
  return after * inverse;
}

// Single steps from symbols and prng values no encoder reaches yet: where
// conversions round (ties above 2^53), where the gap crosses 1e18 (past it:
// no next symbol), where last + gap wraps around, and where the gap is 0.
TEST(SketchTest, Avx512StepsAsScalarAtTheEdges) {
  if (!CpuStepsLanesWithAvx512()) GTEST_SKIP() << "this CPU has no AVX-512";
  const uint64_t kMax = ~uint64_t{0};
  std::vector<uint64_t> prngs = {0, 1, 2, 3, 0xffffffff, 1ULL << 32, (1ULL << 52) - 1, 1ULL << 52, kMax - 1024, kMax};
  for (int e = 53; e < 64; ++e) {
    const uint64_t power = 1ULL << e, half_ulp = 1ULL << (e - 53);
    for (uint64_t tie : {power + half_ulp, power + 3 * half_ulp}) {  // to even: down, up
      prngs.insert(prngs.end(), {tie - 1, tie, tie + 1});
    }
  }
  const std::vector<uint64_t> lasts = {0, 1, 2, 63, 64, 4095, 1ULL << 32, (1ULL << 53) - 1, (1ULL << 53) + 1,
                                       1ULL << 63, kMax - (1ULL << 40), kMax - 1000, kMax - 2, kMax - 1};
  std::vector<std::pair<uint64_t, uint64_t>> steps;  // last, prng after the step's multiply
  for (uint64_t prng : prngs) {
    for (uint64_t last : lasts) steps.push_back({last, prng});
  }
  // Symbols around the one whose gap is 1e18, for gaps per symbol from 2^32
  // down to 1e-9 (where many symbols round to a gap of exactly 1e18).
  std::mt19937_64 rng(17);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t prng = i < 1000 ? rng() : kMax - (rng() >> (i % 64));
    const double per_symbol = 4294967296.0 / std::sqrt(static_cast<double>(prng) + 1) - 1;
    const double at = 1e18 / per_symbol;
    if (!(at < 1.8e19)) continue;
    for (int64_t k = -64; k <= 64; ++k) steps.push_back({static_cast<uint64_t>(at) + k, prng});
  }
  for (int i = 0; i < 200000; ++i) steps.push_back({rng() >> (rng() % 64), rng()});

  int nevers = 0;
  for (size_t i = 0, lanes = 1; i < steps.size(); i += lanes, lanes = lanes % 8 + 1) {
    lanes = std::min(lanes, steps.size() - i);
    uint64_t index[8], prng[8], vector_index[8], vector_prng[8];
    for (size_t l = 0; l < lanes; ++l) {
      index[l] = vector_index[l] = steps[i + l].first;
      prng[l] = vector_prng[l] = PrngBefore(steps[i + l].second);
    }
    StepLanesScalar(static_cast<int>(lanes), index, prng);
    StepLanesAvx512(static_cast<int>(lanes), vector_index, vector_prng);
    for (size_t l = 0; l < lanes; ++l) {
      ASSERT_EQ(vector_index[l], index[l]) << "from " << steps[i + l].first << ", prng " << steps[i + l].second;
      ASSERT_EQ(vector_prng[l], prng[l]);
      ASSERT_EQ(prng[l], steps[i + l].second);
      nevers += index[l] == kMax;
    }
  }
  EXPECT_GT(nevers, 10000);  // the gaps past 1e18 and past the last symbol were reached
}

SketchEncoder ScalarEncoder(const std::vector<uint64_t>& elements) {
  SketchEncoder encoder(elements);
  SketchEncoderInternal::UseScalarStepping(&encoder);
  return encoder;
}

std::vector<CodedSymbol> Symbols(SketchEncoder encoder, uint64_t end) {
  std::vector<CodedSymbol> symbols;
  encoder.Extend(end, &symbols);
  return symbols;
}

TEST(SketchTest, Avx512EncoderMakesTheScalarSymbols) {
  if (!CpuStepsLanesWithAvx512()) GTEST_SKIP() << "this CPU has no AVX-512";
  std::mt19937_64 rng(13);
  for (size_t size : {0, 1, 7, 8, 9, 255, 256, 257, 3001, 100000}) {
    std::vector<uint64_t> elements(size);
    for (uint64_t& e : elements) e = rng();
    for (uint64_t end : {1, 2, 64, 4096}) {
      EXPECT_EQ(Symbols(SketchEncoder(elements), end), Symbols(ScalarEncoder(elements), end))
          << size << " elements to " << end;
    }
    // Asked for more and more, as a decoder asks.
    SketchEncoder vector(elements), scalar = ScalarEncoder(elements);
    std::vector<CodedSymbol> by_vector, by_scalar;
    for (uint64_t end : {1, 2, 3, 64, 65, 100, 700, 4096, 5000}) {
      vector.Extend(end, &by_vector);
      scalar.Extend(end, &by_scalar);
      ASSERT_EQ(by_vector, by_scalar) << size << " elements to " << end;
    }
  }
}

// A large set encodes in parts, one a thread, whose symbols are XORed
// together: the same symbols as one thread's, extended in any chunks.
TEST(SketchTest, EncodingInPartsMakesTheSameSymbols) {
  std::mt19937_64 random(5);
  std::vector<uint64_t> elements(3 * SketchEncoder::kMinElementsPerThread + 12345);
  for (uint64_t& e : elements) e = random();
  SketchEncoder one(elements), parts(elements);
  parts.SetThreads(4);
  std::vector<CodedSymbol> a, b;
  for (uint64_t end : {1, 64, 65, 1000, 4096}) {
    one.Extend(end, &a);
    parts.Extend(end, &b);
    ASSERT_EQ(a, b) << "to " << end;
  }
  // And a decoder encoding its side in parts finds the same difference.
  std::vector<uint64_t> remote = elements;
  remote.resize(remote.size() - 40);
  for (int i = 0; i < 30; ++i) remote.push_back(random());
  SketchEncoder theirs(remote);
  std::vector<CodedSymbol> symbols;
  theirs.Extend(200, &symbols);
  SketchDecoder decoder(elements, {}, 4);
  decoder.Add(symbols);
  ASSERT_TRUE(decoder.decoded());
  EXPECT_EQ(decoder.only_local().size(), 40u);
  EXPECT_EQ(decoder.only_remote().size(), 30u);
}

TEST(SketchTest, CopiesOfOneRowAreDistinctElements) {
  std::set<uint64_t> elements;
  const uint64_t key_hash = 0xabcdef0123456789ULL;
  for (uint64_t copy = 0; copy < 100; ++copy) elements.insert(RelSketchElement(key_hash, 42, copy));
  EXPECT_EQ(elements.size(), 100u);
  for (uint64_t e : elements) EXPECT_EQ(e & kRelSketchKeyBits, key_hash & kRelSketchKeyBits);
  // A changed node row keeps its key bits: that is how its old version is known.
  EXPECT_EQ(NodeSketchElement(key_hash, 1) & kNodeSketchKeyBits, NodeSketchElement(key_hash, 2) & kNodeSketchKeyBits);
  EXPECT_NE(NodeSketchElement(key_hash, 1), NodeSketchElement(key_hash, 2));
}

}  // namespace
}  // namespace kuzusync::merkle
