// RowEncoder: the one place that turns a CSV row of a table into what the
// tree hashes: its key (placement) and the digest of its canonical text
// (identity).
// Internal to the diff library.

#ifndef KUZUSYNC_DIFF_ROW_ENCODING_H_
#define KUZUSYNC_DIFF_ROW_ENCODING_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "merkle/merkle.h"
#include "snapshot/snapshot.h"

namespace kuzusync {

class RowEncoder {
 public:
  RowEncoder(const TableSchema& table, const DataFile& file)
      : table_(table),
        file_(file),
        // Rel rows of different (from, to) pairs may agree on every field.
        seed_(table.kind == TableKind::kRel ? merkle::RowSeed(file.connection.from, file.connection.to) : 0),
        kuzu_dialect_(file.csv.delimiter == ',' && file.csv.quote == '"' && file.csv.escape == '"') {}

  // Node rows: the primary key. Rel rows: the source node's key, so that a
  // node's outgoing edges land in the same bucket index as the node.
  std::string_view Key(const RowView& row) const {
    return (*row.fields)[table_.kind == TableKind::kNode ? table_.primary_key : 0];
  }
  bool KeyIsNull(const RowView& row) const {
    return (*row.is_null)[table_.kind == TableKind::kNode ? table_.primary_key : 0] != 0;
  }

  // The canonical text of the reader's current row: its own bytes when it
  // is in Kuzu's dialect and unquoted or quoted only where needed (most
  // rows: nothing is parsed past the leading fields), else made from its
  // fields. Valid until the next call or row.
  std::string_view Text(DataFileReader& row) const {
    if (kuzu_dialect_ && (!row.quoted() || QuotedRowIsItsText(row))) return row.line_text();
    return Text(row.Whole());
  }
  // The canonical text of a parsed row (merkle::AppendCanonicalField).
  // Valid until the next call.
  std::string_view Text(const RowView& row) const {
    scratch_.clear();
    for (size_t i = 0; i < row.fields->size(); ++i) {
      if (i > 0) scratch_.push_back(',');
      merkle::AppendCanonicalField(&scratch_, (*row.fields)[i], (*row.is_null)[i] != 0);
    }
    return scratch_;
  }

  // The reader reads a CR in a quoted row its own way (it drops one that
  // ends an unquoted value; a lone one that ends the file stays in the last
  // value, where line_text() drops it): a quoted row holding a CR other
  // than in a CRLF line end is made from its fields.
  static bool QuotedRowIsItsText(const DataFileReader& row) {
    const std::string_view text = row.line_text();
    return !row.raw().ends_with('\r') && text.find('\r') == std::string_view::npos &&
           merkle::IsCanonicalText(text);
  }

  merkle::RowDigest DigestOfText(std::string_view text) const { return merkle::DigestRow(text, seed_); }
  uint64_t seed() const { return seed_; }  // what DigestOfText hashes with
  merkle::RowDigest Digest(DataFileReader& row) const { return DigestOfText(Text(row)); }
  merkle::RowDigest Digest(const RowView& row) const { return DigestOfText(Text(row)); }

  const RelConnection& connection() const { return file_.connection; }

  // Human form for --rows: the key of a node, or "from -> to (props)".
  std::string Display(const RowView& row) const;

 private:
  const TableSchema& table_;
  const DataFile& file_;
  uint64_t seed_;
  bool kuzu_dialect_;
  mutable std::string scratch_;
};

// The set-reconciliation element of each row of one table, in scan order:
// identical rel rows are numbered so that each copy is its own element.
// Every side must scan a table's files in the same way (ExportDir order).
class RowElements {
 public:
  explicit RowElements(TableKind kind) : kind_(kind) {}
  // The key bits of the elements of this kind of table.
  static uint64_t KeyBits(TableKind kind) {
    return kind == TableKind::kNode ? merkle::kNodeSketchKeyBits : merkle::kRelSketchKeyBits;
  }
  // Rows whose key bits no wanted element has may be skipped without
  // calling Next: identical rows share their key, so copies still count.
  uint64_t Next(uint64_t key_hash, const merkle::RowDigest& digest) {
    return Next(key_hash, merkle::RowPrint(digest));
  }
  uint64_t Next(uint64_t key_hash, uint64_t print) {
    if (kind_ == TableKind::kNode) return merkle::NodeSketchElement(key_hash, print);  // one row per key
    return merkle::RelSketchElement(key_hash, print, CopiesBefore(print));
  }

  // The elements of all of a table's rows at once, given as (key hash,
  // print) in any order: the same set as Next row by row. Most rel rows
  // have a print no other row has; two passes over bitmaps of print bits
  // (in cache) find the few that may not, and only those are counted in a
  // hash table. Counting every row there cost a cache miss a row.
  // With `copies`, also (index in *out, copy) of each rel row numbered as a
  // further copy of an identical row (copy > 0), by index.
  static void All(TableKind kind, const std::vector<std::vector<std::pair<uint64_t, uint64_t>>>& prints,
                  std::vector<uint64_t>* out, std::vector<std::pair<uint64_t, uint64_t>>* copies = nullptr);

 private:
  // Copies of `print` seen so far, counting this one. Prints are uniform,
  // so open addressing on their top bits needs no further hashing; a
  // std::unordered_map here was 15% of a push's CPU (perf).
  uint64_t CopiesBefore(uint64_t print) {
    if (print == 0) return zero_copies_++;
    if ((used_ + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = print >> shift_;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.print == print) return slot.copies++;
      if (slot.print == 0) {
        slot = {print, 1};
        ++used_;
        return 0;
      }
    }
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    shift_ = 64 - __builtin_ctzll(slots_.size());
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.print == 0) continue;
      size_t i = slot.print >> shift_;
      while (slots_[i].print != 0) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  struct Slot {
    uint64_t print = 0;
    uint64_t copies = 0;
  };
  TableKind kind_;
  std::vector<Slot> slots_;
  int shift_ = 0;
  size_t used_ = 0;
  uint64_t zero_copies_ = 0;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_ROW_ENCODING_H_
