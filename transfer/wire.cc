// Frames over a byte stream, with hard size limits.

#include "transfer/wire.h"

#include <zstd.h>

namespace kuzusync::wire {

Status FrameChannel::Send(Msg type, std::string_view payload) {
  if (payload.size() + 1 > kMaxFrame) return Status::InvalidArgument("protocol: frame too large");
  uint32_t length = static_cast<uint32_t>(payload.size() + 1);
  char header[5] = {static_cast<char>(length), static_cast<char>(length >> 8),
                    static_cast<char>(length >> 16), static_cast<char>(length >> 24),
                    static_cast<char>(type)};
  KS_RETURN_IF_ERROR(stream_->Write(std::string_view(header, 5)));
  KS_RETURN_IF_ERROR(stream_->Write(payload));
  KS_RETURN_IF_ERROR(stream_->Flush());
  sent_ += 5 + payload.size();
  return Status::Ok();
}

Status FrameChannel::Receive(Msg* type, std::string* payload) {
  unsigned char header[5];
  KS_RETURN_IF_ERROR(stream_->ReadExactly(reinterpret_cast<char*>(header), 5));
  uint32_t length = header[0] | (header[1] << 8) | (header[2] << 16) |
                    (static_cast<uint32_t>(header[3]) << 24);
  if (length == 0 || length > kMaxFrame) {
    return Status::Corrupt("protocol: frame length " + std::to_string(length) + " is out of bounds");
  }
  *type = static_cast<Msg>(header[4]);
  payload->resize(length - 1);
  if (length > 1) KS_RETURN_IF_ERROR(stream_->ReadExactly(payload->data(), length - 1));
  received_ += 4 + length;
  return Status::Ok();
}

Status FrameChannel::SendError(const Status& s) {
  Encoder e;
  e.Varint(static_cast<uint64_t>(s.code())).Bytes(s.ToString());
  (void)Send(Msg::kError, e.str());
  return s;
}

Status DecodeError(std::string_view payload) {
  Decoder d(payload);
  uint64_t code = 0;
  std::string message;
  if (!d.Varint(&code).ok() || !d.Bytes(&message).ok()) return Status::Corrupt("protocol: bad error message");
  switch (static_cast<Status::Code>(code)) {
    case Status::Code::kNotFound: return Status::NotFound("remote: " + message);
    case Status::Code::kRefused: return Status::Refused("remote: " + message);
    case Status::Code::kBusy: return Status::Busy("remote: " + message);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument("remote: " + message);
    case Status::Code::kUnsupported: return Status::Unsupported("remote: " + message);
    case Status::Code::kIoError: return Status::IoError("remote: " + message);
    default: return Status::Corrupt("remote: " + message);
  }
}

Status FrameChannel::Expect(Msg want, std::string* payload) {
  Msg type;
  KS_RETURN_IF_ERROR(Receive(&type, payload));
  if (type == Msg::kError) return DecodeError(*payload);
  if (type != want) {
    return Status::Corrupt("protocol: expected message " + std::to_string(static_cast<int>(want)) +
                           ", got " + std::to_string(static_cast<int>(type)));
  }
  return Status::Ok();
}

}  // namespace kuzusync::wire

namespace kuzusync::wire {

void EncodeSketchRequests(Encoder* e, const std::vector<SketchPeer::Request>& requests) {
  e->Varint(requests.size());
  for (const SketchPeer::Request& r : requests) e->Bytes(r.table).Varint(r.begin).Varint(r.end);
}

Status DecodeSketchRequests(Decoder* d, std::vector<SketchPeer::Request>* requests) {
  uint64_t n = 0;
  KS_RETURN_IF_ERROR(d->Varint(&n));
  if (n > 100000) return Status::InvalidArgument("protocol: too many sketches");
  uint64_t total = 0;
  requests->resize(n);
  for (SketchPeer::Request& r : *requests) {
    KS_RETURN_IF_ERROR(d->Bytes(&r.table, 4096));
    KS_RETURN_IF_ERROR(d->Varint(&r.begin));
    KS_RETURN_IF_ERROR(d->Varint(&r.end));
    // One answer must fit in a frame: 12 bytes a symbol.
    if (r.begin > r.end || r.end - r.begin > kMaxFrame / 16 || (total += r.end - r.begin) > kMaxFrame / 16) {
      return Status::InvalidArgument("protocol: sketch request out of range");
    }
  }
  return Status::Ok();
}

std::string EncodeSymbolLists(const std::vector<std::vector<merkle::CodedSymbol>>& lists) {
  Encoder e;
  e.Varint(lists.size());
  for (const auto& symbols : lists) {
    e.Varint(symbols.size());
    for (const merkle::CodedSymbol& symbol : symbols) {
      e.Raw(&symbol.sum, sizeof(symbol.sum)).Raw(&symbol.check, sizeof(symbol.check));
    }
  }
  return std::move(e.str());
}

Status DecodeSymbolLists(std::string_view payload, size_t expected,
                         std::vector<std::vector<merkle::CodedSymbol>>* out) {
  Decoder d(payload);
  uint64_t n = 0;
  KS_RETURN_IF_ERROR(d.Varint(&n));
  if (n != expected) return Status::Corrupt("protocol: wrong number of sketches");
  out->assign(n, {});
  for (auto& symbols : *out) {
    uint64_t count = 0;
    KS_RETURN_IF_ERROR(d.Varint(&count));
    if (count > payload.size() / 12) return Status::Corrupt("protocol: bad sketch");
    symbols.resize(count);
    for (merkle::CodedSymbol& symbol : symbols) {
      KS_RETURN_IF_ERROR(d.Raw(&symbol.sum, sizeof(symbol.sum)));
      KS_RETURN_IF_ERROR(d.Raw(&symbol.check, sizeof(symbol.check)));
    }
  }
  return Status::Ok();
}

void EncodeRowsRequest(Encoder* e, const std::vector<SketchPeer::Rows>& rows) {
  e->Varint(rows.size());
  for (const SketchPeer::Rows& r : rows) {
    e->Bytes(r.table).Varint(r.elements.size());
    for (uint64_t element : r.elements) e->Raw(&element, sizeof(element));
  }
}

Status DecodeRowsRequest(std::string_view payload, std::vector<SketchPeer::Rows>* rows) {
  Decoder d(payload);
  uint64_t n = 0;
  KS_RETURN_IF_ERROR(d.Varint(&n));
  if (n > 100000) return Status::InvalidArgument("protocol: too many tables");
  rows->resize(n);
  for (SketchPeer::Rows& r : *rows) {
    uint64_t count = 0;
    KS_RETURN_IF_ERROR(d.Bytes(&r.table, 4096));
    KS_RETURN_IF_ERROR(d.Varint(&count));
    if (count > payload.size() / 8) return Status::Corrupt("protocol: bad row list");
    r.elements.resize(count);
    for (uint64_t& element : r.elements) KS_RETURN_IF_ERROR(d.Raw(&element, sizeof(element)));
  }
  return Status::Ok();
}

std::string EncodeSums(const std::vector<merkle::NodeSummary>& sums) {
  Encoder e;
  e.Varint(sums.size());
  for (const merkle::NodeSummary& sum : sums) EncodeSummary(&e, sum);
  return std::move(e.str());
}

Status DecodeSums(std::string_view payload, size_t expected, std::vector<merkle::NodeSummary>* sums) {
  Decoder d(payload);
  uint64_t n = 0;
  KS_RETURN_IF_ERROR(d.Varint(&n));
  if (n != expected) return Status::Corrupt("protocol: wrong number of row sums");
  sums->resize(n);
  for (merkle::NodeSummary& sum : *sums) KS_RETURN_IF_ERROR(DecodeSummary(&d, &sum));
  return Status::Ok();
}

std::string CompressBatch(std::string_view payload) {
  std::string out(ZSTD_compressBound(payload.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), payload.data(), payload.size(), 3);
  out.resize(ZSTD_isError(n) ? 0 : n);  // cannot fail with a bound-sized buffer
  return out;
}

Status DecompressBatch(std::string_view compressed, std::string* payload) {
  const unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxFrame) {
    return Status::Corrupt("protocol: bad compressed row batch");
  }
  payload->resize(size);
  const size_t n = ZSTD_decompress(payload->data(), payload->size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n != size) return Status::Corrupt("protocol: bad compressed row batch");
  return Status::Ok();
}

void EncodeSummary(Encoder* e, const merkle::NodeSummary& s) {
  e->Varint(s.count);
  for (uint64_t lane : s.sum) e->Raw(&lane, sizeof(lane));  // little-endian hosts only (x86, arm)
}

Status DecodeSummary(Decoder* d, merkle::NodeSummary* s) {
  KS_RETURN_IF_ERROR(d->Varint(&s->count));
  for (uint64_t& lane : s->sum) KS_RETURN_IF_ERROR(d->Raw(&lane, sizeof(lane)));
  return Status::Ok();
}

void EncodePrint(Encoder* e, const merkle::NodePrint& p) {
  e->Varint(p.count);
  if (p.count != 0) e->Raw(&p.print, sizeof(p.print));  // empty nodes: the count says it all
}

Status DecodePrint(Decoder* d, merkle::NodePrint* p) {
  KS_RETURN_IF_ERROR(d->Varint(&p->count));
  p->print = 0;
  if (p->count != 0) KS_RETURN_IF_ERROR(d->Raw(&p->print, sizeof(p->print)));
  return Status::Ok();
}

void EncodeKeyed(Encoder* e, const std::string& key, const LeafRows::Keyed& row, bool with_text) {
  e->Raw("K", 1).Bytes(key).Raw(row.digest.data(), row.digest.size());
  e->Bytes(with_text ? row.display : "").Bytes(row.csv);
}

void EncodeCounted(Encoder* e, const std::string& digest, const LeafRows::Counted& row,
                   bool with_text) {
  e->Raw("C", 1).Bytes(digest).Varint(row.count).Bytes(with_text ? row.display : "").Bytes(row.csv);
  e->Bytes(row.connection.from).Bytes(row.connection.to).Bytes(row.from_key).Bytes(row.to_key);
}

Status DecodeRowBatch(std::string_view payload, LeafRows* rows) {
  Decoder d(payload);
  while (!d.done()) {
    char tag = 0;
    KS_RETURN_IF_ERROR(d.Raw(&tag, 1));
    if (tag == 'K') {
      std::string key;
      LeafRows::Keyed row;
      KS_RETURN_IF_ERROR(d.Bytes(&key));
      KS_RETURN_IF_ERROR(d.Raw(row.digest.data(), row.digest.size()));
      KS_RETURN_IF_ERROR(d.Bytes(&row.display));
      KS_RETURN_IF_ERROR(d.Bytes(&row.csv));
      rows->by_key[key] = std::move(row);
    } else if (tag == 'C') {
      std::string digest;
      LeafRows::Counted row;
      KS_RETURN_IF_ERROR(d.Bytes(&digest));
      if (digest.size() != row.digest.size()) return Status::Corrupt("protocol: bad row digest");
      std::copy(digest.begin(), digest.end(), row.digest.begin());
      KS_RETURN_IF_ERROR(d.Varint(&row.count));
      KS_RETURN_IF_ERROR(d.Bytes(&row.display));
      KS_RETURN_IF_ERROR(d.Bytes(&row.csv));
      KS_RETURN_IF_ERROR(d.Bytes(&row.connection.from));
      KS_RETURN_IF_ERROR(d.Bytes(&row.connection.to));
      KS_RETURN_IF_ERROR(d.Bytes(&row.from_key));
      KS_RETURN_IF_ERROR(d.Bytes(&row.to_key));
      rows->by_digest[digest] = std::move(row);
    } else {
      return Status::Corrupt("protocol: unknown row entry");
    }
  }
  return Status::Ok();
}

}  // namespace kuzusync::wire
