// Tree building, truncation and the on-disk form of a tree.

#include <algorithm>
#include <bit>
#include <cstring>

#include "merkle/merkle.h"

namespace kuzusync::merkle {
namespace {

constexpr char kMagic[8] = {'K', 'S', 'T', 'R', 'E', 'E', '0', '1'};
constexpr uint32_t kFormatVersion = 2;  // 1: four 64-bit lanes (SHA-256 digests)

uint64_t LoadLE64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

void PutLE64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutLE32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

void NodeSummary::Add(const RowDigest& digest) {
  ++count;
  for (int i = 0; i < kDigestLanes; ++i) sum[i] += LoadLE64(digest.data() + 8 * i);
}

void NodeSummary::Subtract(const RowDigest& digest) {
  --count;
  for (int i = 0; i < kDigestLanes; ++i) sum[i] -= LoadLE64(digest.data() + 8 * i);
}

void NodeSummary::Add(const NodeSummary& other) {
  count += other.count;
  for (int i = 0; i < kDigestLanes; ++i) sum[i] += other.sum[i];
}

void NodeSummary::Subtract(const NodeSummary& other) {
  count -= other.count;
  for (int i = 0; i < kDigestLanes; ++i) sum[i] -= other.sum[i];
}

int DepthForRows(uint64_t rows, uint64_t leaf_rows) {
  int depth = 0;
  uint64_t leaves_needed = rows / std::max<uint64_t>(leaf_rows, 1);
  while (depth < kMaxDepth && (uint64_t{1} << (kFanoutBits * (depth + 1))) <= leaves_needed) ++depth;
  return depth;
}

Tree Tree::FromLeaves(std::vector<NodeSummary> leaves, int depth) {
  Tree tree;
  tree.levels_.assign(depth + 1, {});
  tree.levels_[depth] = std::move(leaves);
  for (int level = depth - 1; level >= 0; --level) {
    const std::vector<NodeSummary>& below = tree.levels_[level + 1];
    std::vector<NodeSummary>& here = tree.levels_[level];
    here.assign(below.size() / kFanout, NodeSummary{});
    for (size_t i = 0; i < below.size(); ++i) here[i / kFanout].Add(below[i]);
  }
  return tree;
}

Tree Tree::Truncated(int depth) const {
  Tree tree;
  tree.levels_.assign(levels_.begin(), levels_.begin() + std::min(depth, this->depth()) + 1);
  return tree;
}

Tree Tree::Changed(const std::vector<KeyedDigest>& removed, const std::vector<KeyedDigest>& added,
                   uint64_t leaf_rows) const {
  const int depth = this->depth();
  std::vector<NodeSummary> leaves = levels_.back();
  for (const KeyedDigest& row : removed) leaves[NodeIndex(row.key_hash, depth)].Subtract(row.digest);
  for (const KeyedDigest& row : added) leaves[NodeIndex(row.key_hash, depth)].Add(row.digest);
  Tree changed = FromLeaves(std::move(leaves), depth);
  return changed.Truncated(DepthForRows(changed.rows(), leaf_rows));
}

namespace {

Sha256Digest SummaryDigest(const NodeSummary& summary) {
  std::string encoded;
  PutLE64(&encoded, summary.count);
  for (uint64_t lane : summary.sum) PutLE64(&encoded, lane);
  return Sha256(encoded);
}

}  // namespace

std::string SummaryHex(const NodeSummary& summary) {
  Sha256Digest d = SummaryDigest(summary);
  return ToHex(d.data(), d.size());
}

uint64_t RowPrint(const RowDigest& digest) { return LoadLE64(digest.data()); }

std::string Tree::RootHex() const { return SummaryHex(root()); }

std::string Tree::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  PutLE32(&out, kFormatVersion);
  out.push_back(static_cast<char>(kFanoutBits));
  out.push_back(static_cast<char>(depth()));
  out.push_back(0);
  out.push_back(0);
  for (const NodeSummary& leaf : levels_.back()) {
    PutLE64(&out, leaf.count);
    for (uint64_t lane : leaf.sum) PutLE64(&out, lane);
  }
  Sha256Digest check = Sha256(out);
  out.append(reinterpret_cast<const char*>(check.data()), check.size());
  return out;
}

Result<Tree> Tree::Deserialize(std::string_view data, const std::string& filename) {
  constexpr size_t kHeader = sizeof(kMagic) + 8;
  constexpr size_t kLeaf = 8 + 8 * kDigestLanes;
  constexpr size_t kCheck = 32;
  if (data.size() < kHeader + kCheck || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corrupt("not a kuzusync tree file", filename);
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  uint32_t version = static_cast<uint32_t>(LoadLE64(bytes + 8) & 0xffffffffu);
  if (version != kFormatVersion) {
    return Status::Corrupt("tree file format version " + std::to_string(version) +
                               " is not supported", filename);
  }
  int fanout_bits = bytes[12];
  int depth = bytes[13];
  if (fanout_bits != kFanoutBits || depth > kMaxDepth) {
    return Status::Corrupt("tree file has an unsupported shape", filename);
  }
  size_t leaves = size_t{1} << (kFanoutBits * depth);
  if (data.size() != kHeader + leaves * kLeaf + kCheck) {
    return Status::Corrupt("tree file is truncated or too long", filename);
  }
  Sha256Digest check = Sha256(data.substr(0, data.size() - kCheck));
  if (std::memcmp(check.data(), data.data() + data.size() - kCheck, kCheck) != 0) {
    return Status::Corrupt("tree file checksum mismatch", filename);
  }
  std::vector<NodeSummary> leaf_level(leaves);
  const uint8_t* p = bytes + kHeader;
  for (NodeSummary& leaf : leaf_level) {
    leaf.count = LoadLE64(p);
    for (int i = 0; i < kDigestLanes; ++i) leaf.sum[i] = LoadLE64(p + 8 + 8 * i);
    p += kLeaf;
  }
  return FromLeaves(std::move(leaf_level), depth);
}

TreeBuilder::TreeBuilder(int depth, uint64_t leaf_rows)
    : depth_(std::min(std::max(depth, 0), kMaxDepth)),
      leaf_rows_(leaf_rows),
      leaves_(size_t{1} << (kFanoutBits * depth_)) {}

void TreeBuilder::Absorb(const TreeBuilder& other) {
  for (size_t i = 0; i < leaves_.size() && i < other.leaves_.size(); ++i) leaves_[i].Add(other.leaves_[i]);
  rows_ += other.rows_;
}

Tree TreeBuilder::Finish() && {
  Tree full = Tree::FromLeaves(std::move(leaves_), depth_);
  int wanted = DepthForRows(rows_, leaf_rows_);
  return wanted < depth_ ? full.Truncated(wanted) : full;
}

}  // namespace kuzusync::merkle
