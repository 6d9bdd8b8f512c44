// DuplicateKeyFinder: finds repeated primary keys in one streaming pass with
// about 4.5 bytes per row. Internal to the diff library.
//
// Each key's 64-bit hash is split into a partition (top 16 bits) and a
// 32-bit print stored in that partition's chain of 64-byte blocks; sorting a
// partition at the end finds equal 48-bit (partition, print) pairs. Those
// are only suspects: a second, targeted pass compares the real keys. For 10
// million distinct keys a false suspect turns up with probability ~0.2, so
// the second pass is rare; the first pass needs no more than the blocks.

#ifndef KUZUSYNC_DIFF_KEY_SET_H_
#define KUZUSYNC_DIFF_KEY_SET_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

namespace kuzusync {

class DuplicateKeyFinder {
 public:
  static uint64_t Print48(uint64_t key_hash) {
    return ((key_hash >> 48) << 32) | (key_hash & 0xffffffffu);
  }

  DuplicateKeyFinder() : head_(kPartitions, kNone), fill_(kPartitions, 0) {}

  void Add(uint64_t key_hash) {
    uint32_t partition = static_cast<uint32_t>(key_hash >> 48);
    uint32_t print = static_cast<uint32_t>(key_hash);
    if (head_[partition] == kNone || fill_[partition] == kPerBlock) {
      blocks_.emplace_back();
      blocks_.back().next = head_[partition];
      head_[partition] = static_cast<uint32_t>(blocks_.size() - 1);
      fill_[partition] = 0;
    }
    blocks_[head_[partition]].prints[fill_[partition]++] = print;
  }

  // Print48 values seen more than once across `finders` (one per thread
  // that saw keys). Releases their memory.
  static std::unordered_set<uint64_t> Suspects(std::vector<DuplicateKeyFinder>* finders) {
    std::unordered_set<uint64_t> suspects;
    std::vector<uint32_t> prints;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      prints.clear();
      for (const DuplicateKeyFinder& f : *finders) f.AppendPartition(p, &prints);
      std::sort(prints.begin(), prints.end());
      for (size_t i = 1; i < prints.size(); ++i) {
        if (prints[i] == prints[i - 1]) suspects.insert((uint64_t{p} << 32) | prints[i]);
      }
    }
    finders->clear();
    return suspects;
  }

 private:
  void AppendPartition(uint32_t p, std::vector<uint32_t>* out) const {
    bool first = true;
    for (uint32_t b = head_[p]; b != kNone; b = blocks_[b].next) {
      uint32_t n = first ? fill_[p] : kPerBlock;
      first = false;
      out->insert(out->end(), blocks_[b].prints, blocks_[b].prints + n);
    }
  }

  static constexpr uint32_t kPartitions = 1u << 16;
  static constexpr uint32_t kPerBlock = 15;
  static constexpr uint32_t kNone = 0xffffffffu;
  struct Block {
    uint32_t prints[kPerBlock];
    uint32_t next;
  };
  std::deque<Block> blocks_;  // grows without moving: no doubling peak
  std::vector<uint32_t> head_;
  std::vector<uint8_t> fill_;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_KEY_SET_H_
