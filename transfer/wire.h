// Framing and message encoding of the kuzusync protocol (docs/protocol.md).
// Internal to the transfer library.

#ifndef KUZUSYNC_TRANSFER_WIRE_H_
#define KUZUSYNC_TRANSFER_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "snapshot/status.h"
#include "diff/diff.h"
#include "transfer/transfer.h"

namespace kuzusync::wire {

constexpr uint32_t kProtocolVersion = 2;  // 2: row hash format 2 (merkle::kRowHashFormat)
constexpr char kMagic[] = "KZSYNC";
constexpr uint32_t kMaxFrame = 16 << 20;  // a frame larger than this ends the session
constexpr size_t kChunk = 1 << 20;        // bundle data and row batches travel in chunks

enum class Msg : uint8_t {
  kHello = 1,      // client: magic, version, capabilities, replica, token, mode
  kHelloOk = 2,    // server: version, capabilities, replica id
  kError = 3,      // either side: code, message; ends the session
  kOpen = 4,       // client: table filter -> kTrees
  kTrees = 5,      // server: schema text, per table: name, kind, depth, root
  kNodes = 6,      // client: table, level, extra levels, indexes -> kNodeList
  kNodeList = 7,   // server: summaries, level by level
  kRows = 8,       // client: table, level, keep_rows, indexes -> kRowBatch*, kRowsEnd
  kRowBatch = 9,
  kRowsEnd = 10,
  kPutBegin = 11,  // client: bundle size -> kPutData*, kPutEnd
  kPutData = 12,
  kPutEnd = 13,    // -> kApplied or kError
  kApplied = 14,   // server: already_applied, new root
  kBye = 15,
  kPrints = 16,     // client: table, level, indexes -> kPrintList
  kPrintList = 17,  // server: per row: 8-byte print, copies
  kGetState = 18,   // client: first-seen queries -> kState
  kState = 19,      // server: replica id, version vector, first-seen times
  kPutState = 20,   // client (write): version vector, first-seen times -> kStateSaved
  kStateSaved = 21,
  kSketch = 22,         // client: per table: name, first and end symbol -> kSketchSymbols
  kSketchSymbols = 23,  // per table: count, then (8-byte sum, 4-byte check) each
  // Pull by reconciliation, run by the server (which has the rows):
  kReconcile = 24,   // client: schema text, per table: name, root -> kWant* then kBundleData*, kBundleEnd
  kWant = 25,        // server: like kSketch, answered by the client's kSketchSymbols
  kBundleData = 26,  // server: the bundle, in chunks
  kBundleEnd = 27,   // server: symbols received
  kSumRows = 28,     // either side (the reconciling one): per table: name, elements -> kRowSums
  kRowSums = 29,     // per table: count and digest sum of those rows
  kRowBatchZ = 30,   // server: a kRowBatch payload compressed with zstd (when ROWS asked)
};

class Encoder {
 public:
  Encoder& Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  Encoder& Bytes(std::string_view s) {
    Varint(s.size());
    out_.append(s);
    return *this;
  }
  Encoder& Raw(const void* data, size_t n) {
    out_.append(static_cast<const char*>(data), n);
    return *this;
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

// Reads what an Encoder wrote; every read is bounds-checked and a short or
// malformed message is kCorrupt.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  Status Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Short();
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return Status::Ok();
    }
    return Status::Corrupt("protocol: varint too long");
  }
  Status Bytes(std::string* s, size_t limit = kMaxFrame) {
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(Varint(&n));
    if (n > limit || n > in_.size() - pos_) return Short();
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return Status::Ok();
  }
  Status Raw(void* out, size_t n) {
    if (n > in_.size() - pos_) return Short();
    std::copy(in_.data() + pos_, in_.data() + pos_ + n, static_cast<char*>(out));
    pos_ += n;
    return Status::Ok();
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  static Status Short() { return Status::Corrupt("protocol: truncated or malformed message"); }
  std::string_view in_;
  size_t pos_ = 0;
};

// Sends and receives length-prefixed frames: u32 length (little-endian) of
// type + payload, u8 type, payload. Counts bytes both ways.
class FrameChannel {
 public:
  explicit FrameChannel(ByteStream* stream) : stream_(stream) {}
  Status Send(Msg type, std::string_view payload);
  Status Receive(Msg* type, std::string* payload);
  // Sends kError carrying `s` (best effort) and returns s.
  Status SendError(const Status& s);
  // kError from the peer becomes a Status; an unexpected type is kCorrupt.
  Status Expect(Msg want, std::string* payload);
  uint64_t bytes_sent() const { return sent_; }
  uint64_t bytes_received() const { return received_; }

 private:
  ByteStream* stream_;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
};

Status DecodeError(std::string_view payload);

}  // namespace kuzusync::wire

namespace kuzusync::wire {

// Row entries of a kRowBatch: node rows by key, rel rows by digest.
void EncodeKeyed(Encoder* e, const std::string& key, const LeafRows::Keyed& row, bool with_text);
void EncodeCounted(Encoder* e, const std::string& digest, const LeafRows::Counted& row,
                   bool with_text);
// Decodes one kRowBatch payload into *rows.
Status DecodeRowBatch(std::string_view payload, LeafRows* rows);
// kRowBatchZ payloads: a zstd frame of a kRowBatch payload, whose size the
// frame states and which may not exceed kMaxFrame.
std::string CompressBatch(std::string_view payload);
Status DecompressBatch(std::string_view compressed, std::string* payload);

// kSketch / kWant requests and kSketchSymbols answers.
void EncodeSketchRequests(Encoder* e, const std::vector<SketchPeer::Request>& requests);
Status DecodeSketchRequests(Decoder* d, std::vector<SketchPeer::Request>* requests);
std::string EncodeSymbolLists(const std::vector<std::vector<merkle::CodedSymbol>>& lists);
Status DecodeSymbolLists(std::string_view payload, size_t expected,
                         std::vector<std::vector<merkle::CodedSymbol>>* out);

// kSumRows requests and kRowSums answers.
void EncodeRowsRequest(Encoder* e, const std::vector<SketchPeer::Rows>& rows);
Status DecodeRowsRequest(std::string_view payload, std::vector<SketchPeer::Rows>* rows);
std::string EncodeSums(const std::vector<merkle::NodeSummary>& sums);
Status DecodeSums(std::string_view payload, size_t expected, std::vector<merkle::NodeSummary>* sums);

void EncodeSummary(Encoder* e, const merkle::NodeSummary& s);
void EncodePrint(Encoder* e, const merkle::NodePrint& p);
Status DecodePrint(Decoder* d, merkle::NodePrint* p);
Status DecodeSummary(Decoder* d, merkle::NodeSummary* s);

}  // namespace kuzusync::wire

#endif  // KUZUSYNC_TRANSFER_WIRE_H_
