// merkle: row hashing and the Merkle trees kuzusync compares.
//
// A table's rows are placed in 8^depth leaf buckets by a 64-bit hash of
// their key (node primary key; rel source-node key), so two replicas' trees
// line up whatever the row order. Each tree node holds the row count and the
// lane-wise sum (mod 2^64 per lane) of the 128-bit digests of the rows under
// it: a multiset hash, so a node's value does not depend on row order, a
// parent equals the sum of its children, and trees of different depths can
// be compared at the shallower depth. See docs/hashing.md for the choice of
// digest and its threat model, docs/tree-format.md for the file format.
// Thread-safety: a Tree is immutable once built and may be shared; a
// TreeBuilder is used by one thread at a time.

#ifndef KUZUSYNC_MERKLE_MERKLE_H_
#define KUZUSYNC_MERKLE_MERKLE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/status.h"

namespace kuzusync::merkle {

constexpr int kFanoutBits = 3;  // 8 children per node
constexpr int kFanout = 1 << kFanoutBits;
constexpr int kMaxDepth = 6;    // 262,144 leaves: memory stays bounded for any row count
constexpr uint64_t kTargetLeafRows = 64;  // local comparisons: few node pairs to compare
// Comparisons over a network use smaller leaves: a differing leaf costs a
// row print per row on the wire, a tree level only a few node prints.
constexpr uint64_t kNetworkLeafRows = 16;

// Row hash format 2: XXH3-128 of a row's canonical text, XXH3-64 key
// placement (format 1: SHA-256 of length-prefixed fields, FNV-1a). Trees,
// roots, elements and symbols of different formats never compare equal:
// whatever stores or exchanges them names the format.
constexpr int kRowHashFormat = 2;

constexpr int kDigestLanes = 2;
using RowDigest = std::array<uint8_t, 8 * kDigestLanes>;

// An unambiguous encoding of one field, for keys made of several strings
// (cache keys, names of content): NULL is the single byte 0; a value of n
// bytes is varint(n + 1) followed by the bytes.
void AppendField(std::string* out, std::string_view value, bool is_null);

// Bucket placement of a key (node primary key, or a rel's source key).
// Not collision resistant and need not be: it only spreads rows.
uint64_t KeyHash(std::string_view key);

// A row's canonical text, what its digest is of: its fields as Kuzu writes
// them in its default dialect, ',' between them, NULL an empty field, a
// value quoted ("", quotes doubled) only when it is empty or holds ',',
// '"' or a line feed. So a row Kuzu wrote without a quote is its own
// canonical text and is hashed where it lies, and quoting and dialect do
// not matter (`"bob"` and `bob` have the same text). Fields are appended
// one by one; the caller puts the ',' between them.
void AppendCanonicalField(std::string* out, std::string_view value, bool is_null);

// True when `text`, a row in Kuzu's default CSV dialect, is its own
// canonical text: each field Kuzu quoted needed it and nothing else is
// quoted. Such a row is hashed where it lies too (most of Kuzu's quoted
// rows: it quotes a value only for a ',', quote or line break, or when it
// is empty).
bool IsCanonicalText(std::string_view text);

// The digest of a row's canonical text. `seed` tells apart the rows of a
// rel table's different (from, to) pairs (RowSeed); node rows use 0.
RowDigest DigestRow(std::string_view canonical_text, uint64_t seed);
uint64_t RowSeed(std::string_view from_table, std::string_view to_table);

// SHA-256, where a check must hold against more than chance or names
// content for good: tree files, root names.
using Sha256Digest = std::array<uint8_t, 32>;
Sha256Digest Sha256(std::string_view data);

// XXH3-128, little-endian, for bytes kept where only accident can damage
// them (cached elements and symbols, megabytes read on every open): a tenth
// of SHA-256's time.
using Checksum = std::array<uint8_t, 16>;
Checksum ChecksumOf(std::string_view data);

struct NodeSummary {
  uint64_t count = 0;
  std::array<uint64_t, kDigestLanes> sum{};

  void Add(const RowDigest& digest);
  void Add(const NodeSummary& other);
  void Subtract(const RowDigest& digest);
  void Subtract(const NodeSummary& other);
  bool operator==(const NodeSummary&) const = default;
};

// What the descent compares: a node's row count and a 64-bit print of its
// summary (XXH3-64 of count and lanes). Eight bytes on the wire
// instead of 24; a missed difference (2^-64) is still caught by the
// full root check that every apply makes.
struct NodePrint {
  uint64_t count = 0;
  uint64_t print = 0;
  bool operator==(const NodePrint&) const = default;
};
NodePrint PrintOf(const NodeSummary& summary);

// First eight bytes of a row digest, little-endian: the row's print.
uint64_t RowPrint(const RowDigest& digest);

// Depth whose leaves hold about leaf_rows rows (fewer than
// kFanout * leaf_rows): floor(log8(rows / leaf_rows)), within [0, kMaxDepth].
int DepthForRows(uint64_t rows, uint64_t leaf_rows = kTargetLeafRows);

// Index of the node at `level` that covers key_hash.
inline uint64_t NodeIndex(uint64_t key_hash, int level) {
  return level == 0 ? 0 : key_hash >> (64 - kFanoutBits * level);
}

// A row as a tree places and sums it.
struct KeyedDigest {
  uint64_t key_hash = 0;
  RowDigest digest{};
};

class Tree {
 public:
  Tree() : levels_(1, std::vector<NodeSummary>(1)) {}

  int depth() const { return static_cast<int>(levels_.size()) - 1; }
  uint64_t rows() const { return levels_[0][0].count; }
  const NodeSummary& root() const { return levels_[0][0]; }
  // 0 <= level <= depth(), 0 <= index < 8^level.
  const NodeSummary& node(int level, uint64_t index) const { return levels_[level][index]; }
  const std::vector<NodeSummary>& level(int level) const { return levels_[level]; }

  // Hex SHA-256 of the root summary: one string naming the table's content.
  std::string RootHex() const;

  // The same tree cut to a smaller depth (parents are sums of children).
  Tree Truncated(int depth) const;

  // The tree of this tree's rows with `removed` taken out and `added` put
  // in, at this depth, or a smaller one if the new row count calls for it
  // (a deeper one would need the rows again).
  Tree Changed(const std::vector<KeyedDigest>& removed, const std::vector<KeyedDigest>& added,
               uint64_t leaf_rows) const;

  // Self-checking binary form (docs/tree-format.md).
  std::string Serialize() const;
  static Result<Tree> Deserialize(std::string_view data, const std::string& filename);

 private:
  friend class TreeBuilder;
  // Builds the inner levels from the leaf level.
  static Tree FromLeaves(std::vector<NodeSummary> leaves, int depth);

  std::vector<std::vector<NodeSummary>> levels_;  // levels_[0] is the root
};

// Accumulates rows into leaves in one streaming pass; memory is
// proportional to the number of leaves (8^depth), not to the rows.
class TreeBuilder {
 public:
  explicit TreeBuilder(int depth, uint64_t leaf_rows = kTargetLeafRows);
  void Add(uint64_t key_hash, const RowDigest& digest) {
    leaves_[NodeIndex(key_hash, depth_)].Add(digest);
    ++rows_;
  }
  uint64_t rows() const { return rows_; }
  // Adds another builder's rows (same depth); sums make the order irrelevant.
  void Absorb(const TreeBuilder& other);
  // The tree at min(depth, DepthForRows(rows(), leaf_rows)).
  Tree Finish() &&;

 private:
  int depth_;
  uint64_t leaf_rows_;
  uint64_t rows_ = 0;
  std::vector<NodeSummary> leaves_;
};

// ---- Set reconciliation -------------------------------------------------
// A rateless invertible Bloom lookup table (Yang, Gilad, Alizadeh,
// "Practical Rateless Set Reconciliation", SIGCOMM 2024): one side sends
// coded symbols of its set of 64-bit elements, as many as the other side
// asks for; the other side subtracts its own and peels the difference out.
// About 1.4 symbols per differing element are needed, whatever the sets'
// size, and the symbols need not be sized in advance: more can be asked
// for. kuzusync's elements come from row prints (NodeSketchElement,
// RelSketchElement).

// 12 bytes on the wire: the XOR of the elements mapped to the symbol and
// the XOR of their checks (which tells a symbol holding one element).
struct CodedSymbol {
  uint64_t sum = 0;
  uint32_t check = 0;
  bool empty() const { return sum == 0 && check == 0; }
  // The symbol of both symbols' elements together (of their sets'
  // symmetric difference).
  CodedSymbol& operator^=(const CodedSymbol& other) {
    sum ^= other.sum;
    check ^= other.check;
    return *this;
  }
  bool operator==(const CodedSymbol&) const = default;
};

// The element of a row: high bits from the hash of its key (node key, rel
// source key), low bits from its print. The key bits let a side that
// looks for rows by element skip hashing rows under other keys; for node
// rows they also tie a changed row's old and new elements together, so the
// side that sends the new row need not name the old one.
// Node rows: 40 key bits, 24 print bits (one row per key; 40 bits keep a
// deleted key from passing for a changed one).
constexpr uint64_t kNodeSketchKeyBits = ~uint64_t{0xffffff};
inline uint64_t NodeSketchElement(uint64_t key_hash, uint64_t print) {
  return (key_hash & kNodeSketchKeyBits) | (print & ~kNodeSketchKeyBits);
}
// Rel rows: 32 key bits, 32 bits of the print and of `copy` (0, 1, ...):
// identical rel rows must be distinct elements, XOR would cancel them.
constexpr uint64_t kRelSketchKeyBits = ~uint64_t{0xffffffff};
uint64_t RelSketchElement(uint64_t key_hash, uint64_t print, uint64_t copy);

// A bitmap of the top 20 bits of key hashes (128 KB). A scan that wants the
// rows of a few thousand keys out of millions asks it first: a bit test
// where a hash set costs a division and a cache miss per row, with about
// 0.5% false hits for 5,000 keys. Sketch elements carry their key hash's
// top bits, so an element may be added in place of its key hash.
class KeyHashFilter {
 public:
  KeyHashFilter() : bits_(size_t{1} << (kBits - 6)) {}
  void Add(uint64_t key_hash) { bits_[Top(key_hash) >> 6] |= uint64_t{1} << (Top(key_hash) & 63); }
  bool MayContain(uint64_t key_hash) const {
    return (bits_[Top(key_hash) >> 6] >> (Top(key_hash) & 63) & 1) != 0;
  }

 private:
  static constexpr int kBits = 20;
  static uint64_t Top(uint64_t key_hash) { return key_hash >> (64 - kBits); }
  std::vector<uint64_t> bits_;
};

// Coded symbols of one set, made incrementally.
class SketchEncoder {
 public:
  SketchEncoder() = default;
  explicit SketchEncoder(std::vector<uint64_t> elements) : elements_(std::move(elements)) {}
  // Before the first Extend.
  void Add(uint64_t element) { elements_.push_back(element); }
  size_t elements() const { return elements_.size(); }
  // The set's symbols [0, known.size()), made before (kuzusync keeps a
  // table's between sessions): Extend copies them rather than encode, as
  // long as it is asked for no more. Encoding is O(elements), copying
  // O(symbols).
  void Know(std::vector<CodedSymbol> known) { known_ = std::move(known); }
  // Encoding may use up to `threads` threads, one per kMinElementsPerThread
  // elements: symbols are XORs, so parts of the set encode apart.
  void SetThreads(int threads) { threads_ = threads; }
  static constexpr size_t kMinElementsPerThread = 1 << 16;
  // Appends the symbols [symbols->size(), end) of the set.
  void Extend(uint64_t end, std::vector<CodedSymbol>* symbols);

 private:
  friend class SketchDecoder;
  friend class SketchEncoderInternal;
  struct Entry {
    uint64_t element;
    uint64_t prng;
    uint64_t next_index;  // the next symbol this element goes to
  };
  static Entry Start(uint64_t element);
  // Steps every element through the symbols [begin, end) (no element is
  // before `begin`); symbols->size() is end.
  void Encode(uint64_t begin, uint64_t end, std::vector<CodedSymbol>* symbols);
  // Encode's work on entries [first, last) into out[i - begin], i in [begin, end).
  static void EncodeEntries(Entry* first, Entry* last, uint64_t begin, uint64_t end, CodedSymbol* out,
                            bool avx512);
  std::vector<uint64_t> elements_;
  std::vector<Entry> entries_;  // made from elements_ when encoding starts
  std::vector<CodedSymbol> known_;
  bool encoded_ = false;  // entries_ exist and have been stepped
  bool scalar_only_ = false;  // tests compare the AVX-512 stepping with the scalar one
  int threads_ = 1;
};

// XORs the symbols [0, symbols->size()) of `elements` into *symbols: a
// set's symbols become those of the set with `elements` toggled (added
// where absent, removed where present).
void ToggleInSymbols(const std::vector<uint64_t>& elements, std::vector<CodedSymbol>* symbols);

// Peels the difference between this side's set and the other side's out of
// the other side's symbols, which arrive in order, in chunks.
class SketchDecoder {
 public:
  // known_local: this side's first symbols when known (SketchEncoder::Know).
  // threads: for encoding this side's symbols (SketchEncoder::SetThreads).
  explicit SketchDecoder(std::vector<uint64_t> local_elements, std::vector<CodedSymbol> known_local = {},
                         int threads = 1);
  // Encodes this side's symbols up to `end` ahead of the other side's
  // (Add does it otherwise): while the other side encodes its own.
  void Prepare(uint64_t end) { local_.Extend(end, &local_symbols_); }
  // The other side's next symbols.
  void Add(const std::vector<CodedSymbol>& remote);
  uint64_t received() const { return difference_.size(); }
  // True once every symbol received is explained by the elements found.
  bool decoded() const { return received() > 0 && nonempty_ == 0; }
  // Elements peeled so far (the whole difference once decoded()).
  uint64_t found() const { return found_.size(); }
  // Which side each one found is on: one pass over this side's elements
  // (sorting them up front cost more than all of a push's peeling).
  const std::vector<uint64_t>& only_local() const;
  const std::vector<uint64_t>& only_remote() const;
  // Maximum-likelihood size of the difference, from which symbols were
  // empty before peeling; 0 when none was (the difference is larger than
  // the symbols received can tell).
  double EstimateDifference() const;
  // This side's symbols [0, received()) (or more, when prepared ahead).
  const std::vector<CodedSymbol>& local_symbols() const { return local_symbols_; }

 private:
  void Toggle(uint64_t index, uint64_t element);
  void Peel(std::vector<uint64_t> candidates);
  void Classify() const;

  SketchEncoder local_;
  std::vector<CodedSymbol> local_symbols_;
  std::vector<CodedSymbol> difference_;
  std::vector<bool> was_empty_;  // before peeling, for the estimate
  uint64_t nonempty_ = 0;
  std::vector<SketchEncoder::Entry> found_;  // peeled elements, to subtract from later symbols
  mutable uint64_t classified_ = 0;          // found_.size() when only_* were made
  mutable std::vector<uint64_t> only_local_, only_remote_;
};

std::string ToHex(const uint8_t* data, size_t size);

// Hex SHA-256 of a node summary (count and sum lanes): the root hash of a
// table whose root is `summary`.
std::string SummaryHex(const NodeSummary& summary);

}  // namespace kuzusync::merkle

#endif  // KUZUSYNC_MERKLE_MERKLE_H_
