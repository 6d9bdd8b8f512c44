// The serving side of the protocol: one session per client, answering tree
// and row requests from a LocalReplica and applying pushed bundles.

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "transfer/temp_files.h"
#include "transfer/transfer.h"
#include "transfer/wire.h"

namespace kuzusync {
namespace {

using wire::Decoder;
using wire::Encoder;
using wire::Msg;

struct Hello {
  std::string replica;
  std::string token;
  Access access = Access::kRead;
};

Status DecodeHello(std::string_view payload, Hello* hello) {
  Decoder d(payload);
  std::string magic, capabilities;
  uint64_t version = 0, mode = 0;
  KS_RETURN_IF_ERROR(d.Bytes(&magic, 16));
  if (magic != wire::kMagic) return Status::Corrupt("protocol: not a kuzusync client");
  KS_RETURN_IF_ERROR(d.Varint(&version));
  if (version != wire::kProtocolVersion) {
    return Status::Unsupported("protocol version " + std::to_string(version) +
                               " is not supported (this side speaks " +
                               std::to_string(wire::kProtocolVersion) + ")");
  }
  KS_RETURN_IF_ERROR(d.Bytes(&capabilities, 4096));
  KS_RETURN_IF_ERROR(d.Bytes(&hello->replica, 4096));
  KS_RETURN_IF_ERROR(d.Bytes(&hello->token, 4096));
  KS_RETURN_IF_ERROR(d.Varint(&mode));
  hello->access = mode == 1 ? Access::kWrite : Access::kRead;
  return Status::Ok();
}

// Every token is compared, in constant time, so that timing tells nothing.
const AccessToken* FindToken(const std::vector<AccessToken>& tokens, const std::string& presented) {
  const AccessToken* match = nullptr;
  for (const AccessToken& t : tokens) {
    bool same = t.token.size() == presented.size() &&
                CRYPTO_memcmp(t.token.data(), presented.data(), presented.size()) == 0;
    if (same && match == nullptr) match = &t;
  }
  return match;
}

Status Authorize(const ServeOptions& options, const Hello& hello) {
  if (!options.require_token) return Status::Ok();
  const AccessToken* token = FindToken(options.tokens, hello.token);
  if (token == nullptr) return Status::Refused("wrong or missing token");
  if (!token->replicas.empty() &&
      std::find(token->replicas.begin(), token->replicas.end(), hello.replica) == token->replicas.end()) {
    return Status::Refused("token does not grant access to replica " + hello.replica);
  }
  if (hello.access == Access::kWrite && !token->can_write) {
    return Status::Refused("token is read-only for replica " + hello.replica);
  }
  return Status::Ok();
}

Result<std::string> ResolveReplica(const ServeOptions& options, const std::string& name) {
  if (options.root.empty()) {
    if (name.empty()) return Status::InvalidArgument("no replica path given");
    return name;
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name[0] == '.') {
    return Status::InvalidArgument("replica name '" + name + "' is not a plain directory name");
  }
  return JoinPath(options.root, name);
}


// What a server knows of a pulling client's replica: its schema and table
// roots (all that WriteBundleBySketch needs of B).
class DescribedReplica final : public Replica {
 public:
  DescribedReplica(Schema schema, std::vector<Table> tables)
      : schema_(std::move(schema)), tables_(std::move(tables)) {}
  std::string label() const override { return "the client's replica"; }
  const Schema& schema() const override { return schema_; }
  const std::vector<Table>& tables() const override { return tables_; }
  TreeView* tree(const std::string&) override { return nullptr; }
  RowSource* rows() override { return nullptr; }

 private:
  Schema schema_;
  std::vector<Table> tables_;
};

// The client as the other side of a reconciliation: the server asks (kWant),
// the client answers with its symbols.
class ClientSketchPeer final : public SketchPeer {
 public:
  explicit ClientSketchPeer(wire::FrameChannel* channel) : ch_(channel) {}
  Status Symbols(const std::vector<Request>& requests,
                 std::vector<std::vector<merkle::CodedSymbol>>* out) override {
    Encoder e;
    wire::EncodeSketchRequests(&e, requests);
    KS_RETURN_IF_ERROR(ch_->Send(Msg::kWant, e.str()));
    std::string answer;
    KS_RETURN_IF_ERROR(ch_->Expect(Msg::kSketchSymbols, &answer));
    return wire::DecodeSymbolLists(answer, requests.size(), out);
  }
  Status SumRows(const std::vector<Rows>& rows, std::vector<merkle::NodeSummary>* out) override {
    Encoder e;
    wire::EncodeRowsRequest(&e, rows);
    KS_RETURN_IF_ERROR(ch_->Send(Msg::kSumRows, e.str()));
    std::string answer;
    KS_RETURN_IF_ERROR(ch_->Expect(Msg::kRowSums, &answer));
    return wire::DecodeSums(answer, rows.size(), out);
  }

 private:
  wire::FrameChannel* ch_;
};

class Session {
 public:
  Session(wire::FrameChannel* channel, const ServeOptions& options, std::string dir, Access access)
      : ch_(channel), options_(options), dir_(std::move(dir)), access_(access) {}

  Status Run() {
    while (true) {
      Msg type;
      std::string payload;
      Status s = ch_->Receive(&type, &payload);
      if (!s.ok()) return Status::Ok();  // the client went away: nothing half-done to undo
      switch (type) {
        case Msg::kOpen: s = Open(payload); break;
        case Msg::kNodes: s = Nodes(payload); break;
        case Msg::kRows: s = Rows(payload); break;
        case Msg::kPrints: s = Prints(payload); break;
        case Msg::kSketch: s = Sketch(payload); break;
        case Msg::kReconcile: s = Reconcile(payload); break;
        case Msg::kSumRows: s = SumRows(payload); break;
        case Msg::kPutBegin: s = Put(payload); break;
        case Msg::kGetState: s = GetState(payload); break;
        case Msg::kPutState: s = PutState(payload); break;
        case Msg::kBye: return Status::Ok();
        case Msg::kError: return wire::DecodeError(payload);
        default: s = Status::Corrupt("protocol: unexpected message " + std::to_string(int(type)));
      }
      if (!s.ok()) return ch_->SendError(s);
    }
  }

 private:
  Status Open(std::string_view payload) {
    Decoder d(payload);
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(d.Varint(&n));
    std::vector<std::string> tables(std::min<uint64_t>(n, 100000));
    for (std::string& t : tables) KS_RETURN_IF_ERROR(d.Bytes(&t, 4096));
    uint64_t leaf_rows = merkle::kNetworkLeafRows;
    KS_RETURN_IF_ERROR(d.Varint(&leaf_rows));
    if (leaf_rows == 0 || leaf_rows > (1u << 20)) return Status::InvalidArgument("protocol: bad leaf size");
    std::string expected_root;  // sync: the root the client saw last time
    uint64_t want_state = 0;    // sync: append the replica id and version vector
    std::string client;         // sync: the client's replica id
    if (!d.done()) KS_RETURN_IF_ERROR(d.Bytes(&expected_root, 256));
    if (!d.done()) KS_RETURN_IF_ERROR(d.Varint(&want_state));
    if (!d.done()) KS_RETURN_IF_ERROR(d.Bytes(&client, 256));
    uint64_t want_elements = 0;  // push/pull --delete: reconciliation will follow
    if (!d.done()) KS_RETURN_IF_ERROR(d.Varint(&want_elements));
    client_ = client;
    sketches_.reset();
    all_tables_ = tables.empty();
    KS_ASSIGN_OR_RETURN(replica_, LocalReplica::Open(options_.env, dir_, tables, options_.threads,
                                                     leaf_rows, Cache(), want_elements != 0));
    Encoder e;
    if (!expected_root.empty() && ReplicaRoot(*replica_) == expected_root) {
      // Unchanged: no schema, no table list, a few bytes on the wire.
      e.Bytes("").Varint(0).Varint(1);
      if (want_state != 0) KS_RETURN_IF_ERROR(EncodeState(&e));
      return ch_->Send(Msg::kTrees, e.str());
    }
    e.Bytes(SchemaText(replica_->schema())).Varint(replica_->tables().size());
    for (const Replica::Table& t : replica_->tables()) {
      e.Bytes(t.name).Varint(t.kind == TableKind::kNode ? 0 : 1).Varint(t.depth);
      wire::EncodeSummary(&e, t.root);
    }
    e.Varint(0);  // not "unchanged"
    if (want_state != 0) KS_RETURN_IF_ERROR(EncodeState(&e));
    return ch_->Send(Msg::kTrees, e.str());
  }

  // The replica's id, version vector, and the root the client's last push made.
  Status EncodeState(Encoder* e) {
    KS_ASSIGN_OR_RETURN(SyncState* state, State());
    KS_ASSIGN_OR_RETURN(VersionVector vector, state->Vector());
    KS_ASSIGN_OR_RETURN(std::string last_push, state->LastPush(client_));
    e->Bytes(state->replica_id()).Bytes(VectorText(vector)).Bytes(last_push);
    return Status::Ok();
  }

  // Sync state: the replica's id and version vector, and the first-seen
  // times of the row versions the client asks about.
  Status GetState(std::string_view payload) {
    KS_ASSIGN_OR_RETURN(SyncState* state, State());
    Decoder d(payload);
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(d.Varint(&n));
    if (n > (1u << 20)) return Status::InvalidArgument("protocol: too many first-seen queries");
    Encoder e;
    KS_RETURN_IF_ERROR(EncodeState(&e));
    e.Varint(n);
    for (uint64_t i = 0; i < n; ++i) {
      SeenVersion q;
      KS_RETURN_IF_ERROR(DecodeSeen(&d, &q, /*with_time=*/false));
      KS_ASSIGN_OR_RETURN(int64_t at, state->FirstSeen(q.table, q.key, q.version, 0));
      e.Varint(static_cast<uint64_t>(at));
    }
    return ch_->Send(Msg::kState, e.str());
  }

  Status PutState(std::string_view payload) {
    KS_RETURN_IF_ERROR(SaveState(payload));
    return ch_->Send(Msg::kStateSaved, "");
  }

  Status SaveState(std::string_view payload) {
    if (access_ != Access::kWrite) return Status::Refused("protocol: state change in a read session");
    KS_ASSIGN_OR_RETURN(SyncState* state, State());
    Decoder d(payload);
    std::string vector_text;
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(d.Bytes(&vector_text, 1 << 20));
    KS_ASSIGN_OR_RETURN(VersionVector vector, ParseVector(vector_text));
    KS_RETURN_IF_ERROR(d.Varint(&n));
    if (n > (1u << 20)) return Status::InvalidArgument("protocol: too many first-seen times");
    std::vector<SeenVersion> seen(n);
    for (SeenVersion& v : seen) KS_RETURN_IF_ERROR(DecodeSeen(&d, &v, /*with_time=*/true));
    std::string client, result_root;
    KS_RETURN_IF_ERROR(d.Bytes(&client, 256));
    KS_RETURN_IF_ERROR(d.Bytes(&result_root, 256));
    KS_RETURN_IF_ERROR(state->MergeVector(vector));
    KS_RETURN_IF_ERROR(state->RecordSeen(seen));
    if (!client.empty() && !result_root.empty()) KS_RETURN_IF_ERROR(state->RecordPush(client, result_root));
    return Status::Ok();
  }

  static Status DecodeSeen(Decoder* d, SeenVersion* v, bool with_time) {
    KS_RETURN_IF_ERROR(d->Bytes(&v->table, 4096));
    KS_RETURN_IF_ERROR(d->Bytes(&v->key, 1 << 20));
    KS_RETURN_IF_ERROR(d->Bytes(&v->version, 64));
    if (!with_time) return Status::Ok();
    uint64_t at = 0;
    KS_RETURN_IF_ERROR(d->Varint(&at));
    v->at_ms = static_cast<int64_t>(at);
    return Status::Ok();
  }

  Result<SyncState*> State() {
    if (!state_) {
      KS_ASSIGN_OR_RETURN(state_, SyncState::Open(dir_, /*create=*/true));
    }
    return state_.get();
  }

  Status Need() const {
    return replica_ ? Status::Ok() : Status::Corrupt("protocol: tree request before open");
  }

  // Nodes at `level` and, for `extra` more levels, all their descendants:
  // several levels per round trip when the frontier is small.
  Status Nodes(std::string_view payload) {
    KS_RETURN_IF_ERROR(Need());
    Decoder d(payload);
    std::string table;
    uint64_t level = 0, extra = 0, n = 0;
    KS_RETURN_IF_ERROR(d.Bytes(&table, 4096));
    KS_RETURN_IF_ERROR(d.Varint(&level));
    KS_RETURN_IF_ERROR(d.Varint(&extra));
    KS_RETURN_IF_ERROR(d.Varint(&n));
    const merkle::Tree* tree = replica_->FindTree(table);
    if (tree == nullptr) return Status::NotFound("no table " + table);
    if (level + extra > static_cast<uint64_t>(tree->depth()) || n > (1u << 21)) {
      return Status::InvalidArgument("protocol: node request outside the tree");
    }
    // The answer must fit a frame: refuse before building it, not after.
    if ((n << (merkle::kFanoutBits * extra)) * 2 > wire::kMaxFrame / 9) {
      return Status::InvalidArgument("protocol: node request too large for one answer");
    }
    std::vector<uint64_t> indexes(n);
    for (uint64_t& i : indexes) {
      KS_RETURN_IF_ERROR(d.Varint(&i));
      if (i >= tree->level(static_cast<int>(level)).size()) {
        return Status::InvalidArgument("protocol: no such tree node");
      }
    }
    Encoder e;
    for (uint64_t l = level; l <= level + extra; ++l) {
      for (uint64_t i : indexes) wire::EncodePrint(&e, merkle::PrintOf(tree->node(static_cast<int>(l), i)));
      if (l == level + extra) break;
      std::vector<uint64_t> children;
      for (uint64_t i : indexes) {
        for (uint64_t c = 0; c < merkle::kFanout; ++c) children.push_back(i * merkle::kFanout + c);
      }
      indexes = std::move(children);
    }
    return ch_->Send(Msg::kNodeList, e.str());
  }

  // table, level, indexes: the start of every row request.
  Status DecodeNodes(Decoder* d, const TableSchema** table, int* level,
                     std::vector<uint64_t>* indexes) {
    KS_RETURN_IF_ERROR(Need());
    std::string table_name;
    uint64_t l = 0, n = 0;
    KS_RETURN_IF_ERROR(d->Bytes(&table_name, 4096));
    KS_RETURN_IF_ERROR(d->Varint(&l));
    KS_RETURN_IF_ERROR(d->Varint(&n));
    *table = replica_->schema().Find(table_name);
    const merkle::Tree* tree = replica_->FindTree(table_name);
    if (*table == nullptr || tree == nullptr) return Status::NotFound("no table " + table_name);
    if (l > static_cast<uint64_t>(tree->depth()) || n > (1u << 21)) {
      return Status::InvalidArgument("protocol: row request outside the tree");
    }
    *level = static_cast<int>(l);
    indexes->resize(n);
    for (uint64_t& i : *indexes) {
      KS_RETURN_IF_ERROR(d->Varint(&i));
      if (i >= tree->level(*level).size()) return Status::InvalidArgument("protocol: no such tree node");
    }
    return Status::Ok();
  }

  // Coded symbols of tables' row elements. Each table's encoder is built on
  // the first request and kept, so later chunks cost only their symbols.
  Status Sketch(std::string_view payload) {
    KS_RETURN_IF_ERROR(Need());
    Decoder d(payload);
    std::vector<SketchPeer::Request> requests;
    KS_RETURN_IF_ERROR(wire::DecodeSketchRequests(&d, &requests));
    if (!sketches_) sketches_ = NewLocalSketchPeer(replica_.get(), options_.threads);
    std::vector<std::vector<merkle::CodedSymbol>> symbols;
    KS_RETURN_IF_ERROR(sketches_->Symbols(requests, &symbols));
    return ch_->Send(Msg::kSketchSymbols, wire::EncodeSymbolLists(symbols));
  }

  Status SumRows(std::string_view payload) {
    KS_RETURN_IF_ERROR(Need());
    std::vector<SketchPeer::Rows> rows;
    KS_RETURN_IF_ERROR(wire::DecodeRowsRequest(payload, &rows));
    if (!sketches_) sketches_ = NewLocalSketchPeer(replica_.get(), options_.threads);
    std::vector<merkle::NodeSummary> sums;
    KS_RETURN_IF_ERROR(sketches_->SumRows(rows, &sums));
    return ch_->Send(Msg::kRowSums, wire::EncodeSums(sums));
  }

  // Pull by reconciliation: the server has the rows the client lacks, so it
  // reconciles (asking the client for symbols) and sends the bundle, which
  // the client applies. The same bytes as a push the other way.
  Status Reconcile(std::string_view payload) {
    KS_RETURN_IF_ERROR(Need());
    Decoder d(payload);
    std::string schema_text;
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(d.Bytes(&schema_text, 1 << 24));
    KS_ASSIGN_OR_RETURN(Schema schema, ParseSchema(schema_text, "the client's schema.cypher"));
    KS_RETURN_IF_ERROR(d.Varint(&n));
    if (n > 100000) return Status::InvalidArgument("protocol: too many tables");
    std::vector<Replica::Table> tables(n);
    for (Replica::Table& t : tables) {
      KS_RETURN_IF_ERROR(d.Bytes(&t.name, 4096));
      KS_RETURN_IF_ERROR(wire::DecodeSummary(&d, &t.root));
      const TableSchema* shape = schema.Find(t.name);
      if (shape == nullptr) return Status::InvalidArgument("protocol: no table " + t.name + " in the schema");
      t.kind = shape->kind;
    }
    uint64_t deletes = 1;  // absent: with deletes
    if (!d.done()) KS_RETURN_IF_ERROR(d.Varint(&deletes));
    DescribedReplica client(std::move(schema), std::move(tables));
    ClientSketchPeer peer(ch_);
    const char* tmp = getenv("TMPDIR");
    const std::string bundle_path = TempPath(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "pull");
    BundleOptions bundle;
    bundle.deletes = deletes != 0;
    bundle.pack.level = PackOptions::kSmallHigh;
    bundle.pack.scratch = true;  // sent, then removed
    bundle.threads = options_.threads;
    DiffReport report;
    Result<Manifest> manifest =
        WriteBundleBySketch(options_.env, replica_.get(), &client, &peer, bundle_path, bundle, &report);
    Status s = manifest.status();
    if (s.ok()) s = SendFile(bundle_path);
    (void)options_.env->RemoveFile(bundle_path);
    KS_RETURN_IF_ERROR(s);
    Encoder end;
    end.Varint(report.stats.comparisons);
    return ch_->Send(Msg::kBundleEnd, end.str());
  }

  Status SendFile(const std::string& path) {
    std::unique_ptr<SequentialFile> in;
    KS_RETURN_IF_ERROR(options_.env->NewSequentialFile(path, &in));
    std::string buffer(wire::kChunk, '\0');
    while (true) {
      size_t got = 0;
      KS_RETURN_IF_ERROR(in->Read(buffer.size(), buffer.data(), &got));
      if (got == 0) return Status::Ok();
      KS_RETURN_IF_ERROR(ch_->Send(Msg::kBundleData, std::string_view(buffer.data(), got)));
    }
  }

  Status Prints(std::string_view payload) {
    Decoder d(payload);
    const TableSchema* table = nullptr;
    int level = 0;
    std::vector<uint64_t> indexes;
    KS_RETURN_IF_ERROR(DecodeNodes(&d, &table, &level, &indexes));
    std::vector<RowPrintCount> prints;
    KS_RETURN_IF_ERROR(replica_->rows()->CollectPrints(*table, level, indexes, &prints));
    Encoder e;
    e.Varint(prints.size());
    for (const RowPrintCount& p : prints) e.Raw(&p.print, sizeof(p.print)).Varint(p.count);
    return ch_->Send(Msg::kPrintList, e.str());
  }

  Status Rows(std::string_view payload) {
    Decoder d(payload);
    const TableSchema* table = nullptr;
    int level = 0;
    std::vector<uint64_t> indexes;
    KS_RETURN_IF_ERROR(DecodeNodes(&d, &table, &level, &indexes));
    uint64_t keep = 0, filtered = 0;
    KS_RETURN_IF_ERROR(d.Varint(&keep));
    KS_RETURN_IF_ERROR(d.Varint(&filtered));
    std::vector<uint64_t> only;
    if (filtered != 0) {
      uint64_t n = 0;
      KS_RETURN_IF_ERROR(d.Varint(&n));
      if (n > (1u << 24)) return Status::InvalidArgument("protocol: too many prints");
      only.resize(n);
      for (uint64_t& p : only) KS_RETURN_IF_ERROR(d.Raw(&p, sizeof(p)));
    }
    uint64_t compress = 0;  // optional: answer with kRowBatchZ
    if (!d.done()) KS_RETURN_IF_ERROR(d.Varint(&compress));
    LeafRows rows;
    if (filtered == 2) {  // by reconciliation element, over the whole table
      KS_RETURN_IF_ERROR(replica_->rows()->CollectRowsByElement(*table, only, keep != 0, &rows));
    } else {
      KS_RETURN_IF_ERROR(replica_->rows()->CollectRows(*table, level, indexes, keep != 0,
                                                        filtered != 0 ? &only : nullptr, &rows));
    }
    Encoder batch;
    auto flush = [&]() -> Status {
      if (batch.str().empty()) return Status::Ok();
      Status s = compress != 0 ? ch_->Send(Msg::kRowBatchZ, wire::CompressBatch(batch.str()))
                               : ch_->Send(Msg::kRowBatch, batch.str());
      batch.str().clear();
      return s;
    };
    // A delta needs no display strings; a diff (--rows) does.
    const bool with_text = keep == 0;
    for (const auto& [key, row] : rows.by_key) {
      wire::EncodeKeyed(&batch, key, row, with_text);
      if (batch.str().size() > wire::kChunk) KS_RETURN_IF_ERROR(flush());
    }
    for (const auto& [digest, row] : rows.by_digest) {
      wire::EncodeCounted(&batch, digest, row, with_text);
      if (batch.str().size() > wire::kChunk) KS_RETURN_IF_ERROR(flush());
    }
    KS_RETURN_IF_ERROR(flush());
    return ch_->Send(Msg::kRowsEnd, "");
  }

  // Receives a bundle into a file beside the replica, then applies it.
  Status Put(std::string_view payload) {
    if (access_ != Access::kWrite) return Status::Refused("this session is read-only");
    Decoder d(payload);
    uint64_t size = 0;
    KS_RETURN_IF_ERROR(d.Varint(&size));
    const std::string incoming = BesideReplica(dir_, ".kuzusync-incoming");
    std::unique_ptr<WritableFile> file;
    KS_RETURN_IF_ERROR(options_.env->NewWritableFile(incoming, &file));
    auto discard = [&](Status s) {
      file.reset();
      (void)options_.env->RemoveFile(incoming);
      return s;
    };
    uint64_t received = 0;
    std::string state_update;  // sync: vector and first-seen times, saved once applied
    while (true) {
      Msg type;
      std::string data;
      Status s = ch_->Receive(&type, &data);
      if (!s.ok()) return discard(s);
      if (type == Msg::kPutEnd) {
        state_update = std::move(data);
        break;
      }
      if (type != Msg::kPutData) return discard(Status::Corrupt("protocol: expected bundle data"));
      received += data.size();
      if (received > size) return discard(Status::Corrupt("protocol: more bundle data than announced"));
      s = file->Append(data);
      if (!s.ok()) return discard(s);
    }
    if (received != size) return discard(Status::Corrupt("protocol: bundle is shorter than announced"));
    // Not synced: it lives only as long as this apply.
    Status s = file->Close();
    if (!s.ok()) return discard(s);
    ApplyOptions apply;
    apply.threads = options_.threads;
    apply.cache = Cache();
    // The session hashed every table of the replica under the write lock
    // it still holds, so the replica is as it was then (the lock is what
    // keeps it so: a writer that ignores it is not seen).
    if (replica_ != nullptr && all_tables_) apply.target = replica_.get();
    apply.defer_removal = true;
    Result<ApplyResult> result = ApplyBundle(options_.env, incoming, dir_, apply);
    (void)discard(Status::Ok());
    sketches_.reset();
    // replica_'s trees describe the old version: it goes, once the new
    // version's trees are made from it, after the answer.
    std::unique_ptr<LocalReplica> before = std::move(replica_);
    if (!result.ok()) return result.status();
    if (!state_update.empty()) KS_RETURN_IF_ERROR(SaveState(state_update));
    Encoder e;
    e.Varint(result->already_applied ? 1 : 0).Bytes(result->root);
    Status answered = ch_->Send(Msg::kApplied, e.str());
    RemoveOldVersion(options_.env, result.value());
    KS_RETURN_IF_ERROR(answered);
    if (apply.target != nullptr && apply.cache != nullptr) {
      KeepTreesOfNewVersion(options_.env, dir_, *before, result.value(), apply.cache);
    }
    return Status::Ok();
  }

  TreeCache* Cache() {
    if (!cache_opened_ && options_.use_tree_cache) cache_ = OpenReplicaTreeCache(dir_);
    cache_opened_ = true;
    return cache_.get();
  }

  wire::FrameChannel* ch_;
  const ServeOptions& options_;
  std::string dir_;
  Access access_;
  // Before replica_ and sketches_, which use it until they go.
  std::unique_ptr<TreeCache> cache_;
  bool cache_opened_ = false;
  std::unique_ptr<LocalReplica> replica_;
  std::unique_ptr<SketchPeer> sketches_;  // of replica_'s tables, for this session
  bool all_tables_ = false;               // replica_ hashed every table
  std::unique_ptr<SyncState> state_;
  std::string client_;  // the client's replica id, when it syncs
};

Status LockReplica(const ServeOptions& options, const std::string& dir, Access access,
                   std::unique_ptr<FileLock>* lock) {
  const std::string path = BesideReplica(dir, kLockSuffix);
  const LockMode mode = access == Access::kWrite ? LockMode::kExclusive : LockMode::kShared;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(options.lock_wait_seconds);
  while (true) {
    Status s = options.env->TryLockFile(path, mode, lock);
    if (s.code() != Status::Code::kBusy) return s;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Busy("replica " + dir + " stayed locked by another session for " +
                          std::to_string(static_cast<int>(options.lock_wait_seconds)) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

Status ServeSession(ByteStream* stream, const ServeOptions& options) {
  wire::FrameChannel ch(stream);
  std::string payload;
  Msg type;
  KS_RETURN_IF_ERROR(ch.Receive(&type, &payload));
  if (type != Msg::kHello) return ch.SendError(Status::Corrupt("protocol: expected hello"));
  Hello hello;
  Status s = DecodeHello(payload, &hello);
  // Nothing about the replica is looked at before the token is checked.
  if (s.ok()) s = Authorize(options, hello);
  if (!s.ok()) return ch.SendError(s);
  Result<std::string> dir = ResolveReplica(options, hello.replica);
  if (!dir.ok()) return ch.SendError(dir.status());
  // Nothing is created for a replica that does not exist, not even a lock.
  FileType file_type;
  uint64_t size = 0;
  if (!options.env->Stat(dir.value(), &file_type, &size).ok() || file_type != FileType::kDirectory) {
    return ch.SendError(Status::NotFound("no such replica", dir.value()));
  }
  std::unique_ptr<FileLock> lock;
  s = LockReplica(options, dir.value(), hello.access, &lock);
  if (!s.ok()) return ch.SendError(s);
  if (hello.access == Access::kWrite) {
    // With the write lock held, what a killed apply left beside the replica
    // is debris (the replica itself is old or new, never half).
    for (const char* suffix : {".kuzusync-new", ".kuzusync-bundle", ".kuzusync-incoming", ".kuzusync-merged"}) {
      (void)RemoveTree(options.env, BesideReplica(dir.value(), suffix));
      (void)options.env->RemoveFile(BesideReplica(dir.value(), suffix));
    }
  }
  Encoder ok;
  ok.Varint(wire::kProtocolVersion).Bytes("rows,bundle,multilevel,sync,sketch,zrows");
  KS_RETURN_IF_ERROR(ch.Send(Msg::kHelloOk, ok.str()));
  Session session(&ch, options, dir.value(), hello.access);
  return session.Run();
}

Result<std::vector<AccessToken>> ReadTokenFile(Env* env, const std::string& path) {
  std::string text;
  KS_RETURN_IF_ERROR(ReadFileToString(env, path, &text));
  std::vector<AccessToken> tokens;
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::vector<std::string> words;
    size_t p = 0;
    while (p < line.size()) {
      size_t q = line.find_first_of(" \t\r", p);
      if (q == std::string::npos) q = line.size();
      if (q > p) words.push_back(line.substr(p, q - p));
      p = q + 1;
    }
    if (words.empty()) continue;
    if (words.size() < 2 || (words[1] != "rw" && words[1] != "ro") || words[0].size() < 16) {
      return Status::Corrupt("expected '<token of 16+ characters> rw|ro [replica ...]'", path, line_no);
    }
    AccessToken t{words[0], words[1] == "rw", {}};
    for (size_t i = 2; i < words.size(); ++i) {
      if (words[i] != "*") t.replicas.push_back(words[i]);
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

}  // namespace kuzusync
