// Tests for the rateless set reconciliation: the difference comes out
// exactly, with about 1.4 symbols per differing element, in chunks.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "merkle/merkle.h"

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
