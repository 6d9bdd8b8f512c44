// RowEncoder: the one place that turns a CSV row of a table into what the
// tree hashes: its key (placement) and its canonical encoding (identity).
// Internal to the diff library.

#ifndef KUZUSYNC_DIFF_ROW_ENCODING_H_
#define KUZUSYNC_DIFF_ROW_ENCODING_H_

#include <string>
#include <string_view>

#include "merkle/merkle.h"
#include "snapshot/snapshot.h"

namespace kuzusync {

class RowEncoder {
 public:
  RowEncoder(const TableSchema& table, const DataFile& file) : table_(table), file_(file) {}

  // Node rows: the primary key. Rel rows: the source node's key, so that a
  // node's outgoing edges land in the same bucket index as the node.
  std::string_view Key(const RowView& row) const {
    return (*row.fields)[table_.kind == TableKind::kNode ? table_.primary_key : 0];
  }
  bool KeyIsNull(const RowView& row) const {
    return (*row.is_null)[table_.kind == TableKind::kNode ? table_.primary_key : 0] != 0;
  }

  // Canonical encoding: rel rows are prefixed by their FROM and TO table
  // names, because a rel table with several FROM/TO pairs holds rows that
  // agree on keys but connect different tables.
  void Encode(const RowView& row, std::string* out) const {
    out->clear();
    EncodeAppend(row, out);
  }

  void EncodeAppend(const RowView& row, std::string* out) const {
    if (table_.kind == TableKind::kRel) {
      merkle::AppendField(out, file_.connection.from, false);
      merkle::AppendField(out, file_.connection.to, false);
    }
    const auto& fields = *row.fields;
    const auto& nulls = *row.is_null;
    for (size_t i = 0; i < fields.size(); ++i) merkle::AppendField(out, fields[i], nulls[i] != 0);
  }

  const RelConnection& connection() const { return file_.connection; }

  // Human form for --rows: the key of a node, or "from -> to (props)".
  std::string Display(const RowView& row) const;

 private:
  const TableSchema& table_;
  const DataFile& file_;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_ROW_ENCODING_H_
