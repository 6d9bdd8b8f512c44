// The client side: remotes parsed rsync-style, connections over ssh, TLS or
// an in-process pair, and RemoteReplica answering the comparison's needs
// over the protocol.

#include <signal.h>
#include <sys/socket.h>

#include <map>
#include <thread>

#include "transfer/streams.h"
#include "transfer/transfer.h"
#include "transfer/wire.h"

namespace kuzusync {
namespace {

using wire::Decoder;
using wire::Encoder;
using wire::Msg;

constexpr int kDefaultDaemonPort = 7420;
// Several tree levels travel per round trip while the answer stays small.
constexpr uint64_t kMaxNodesPerTrip = 4096;

std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> words;
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find(' ', p);
    if (q == std::string::npos) q = s.size();
    if (q > p) words.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return words;
}

Status ParseHostPort(std::string_view hostport, RemoteSpec* spec) {
  size_t at = hostport.find('@');
  if (at != std::string_view::npos) {
    spec->user = std::string(hostport.substr(0, at));
    hostport.remove_prefix(at + 1);
  }
  size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos && hostport.find(']') == std::string_view::npos) {
    std::string port(hostport.substr(colon + 1));
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("bad port in " + spec->text);
    }
    spec->port = std::stoi(port);
    hostport = hostport.substr(0, colon);
  }
  spec->host = std::string(hostport);
  if (spec->host.empty()) return Status::InvalidArgument("no host in " + spec->text);
  return Status::Ok();
}

void EncodeSeen(Encoder* e, const SeenVersion& v, bool with_time) {
  e->Bytes(v.table).Bytes(v.key).Bytes(v.version);
  if (with_time) e->Varint(static_cast<uint64_t>(v.at_ms));
}

std::string EncodeStateUpdate(const RemoteReplica::StateUpdate& state) {
  Encoder e;
  e.Bytes(VectorText(state.vector)).Varint(state.seen.size());
  for (const SeenVersion& v : state.seen) EncodeSeen(&e, v, /*with_time=*/true);
  e.Bytes(state.replica_id).Bytes(state.result_root);
  return e.str();
}

Status DecodeState(Decoder* d, RemoteReplica::State* state) {
  std::string vector_text;
  KS_RETURN_IF_ERROR(d->Bytes(&state->replica_id, 256));
  KS_RETURN_IF_ERROR(d->Bytes(&vector_text));
  KS_ASSIGN_OR_RETURN(state->vector, ParseVector(vector_text));
  return d->Bytes(&state->last_push_root, 256);
}

class RemoteTreeView;
class RemoteRowSource;

class Remote final : public RemoteReplica, public SketchPeer {
 public:
  Remote(std::string label, std::unique_ptr<ByteStream> stream, std::thread server)
      : label_(std::move(label)), stream_(std::move(stream)), channel_(stream_.get()),
        in_process_(server.joinable()), server_(std::move(server)) {}
  ~Remote() override {
    (void)channel_.Send(Msg::kBye, "");
    stream_.reset();  // closes our end: an in-process server sees the end and returns
    if (server_.joinable()) server_.join();
  }

  Status Hello(const std::string& replica, const std::string& token, Access access) {
    Encoder e;
    e.Bytes(wire::kMagic).Varint(wire::kProtocolVersion).Bytes("rows,bundle,multilevel");
    e.Bytes(replica).Bytes(token).Varint(access == Access::kWrite ? 1 : 0);
    KS_RETURN_IF_ERROR(channel_.Send(Msg::kHello, e.str()));
    std::string payload;
    ++round_trips_;
    KS_RETURN_IF_ERROR(channel_.Expect(Msg::kHelloOk, &payload));
    Decoder d(payload);
    uint64_t version = 0;
    KS_RETURN_IF_ERROR(d.Varint(&version));
    return d.Bytes(&server_capabilities_, 4096);
  }

  bool ServerCan(const std::string& capability) const {
    return ("," + server_capabilities_ + ",").find("," + capability + ",") != std::string::npos;
  }
  // Over a real connection only: in-process, a tree descent costs no bytes.
  SketchPeer* sketch_peer() override { return !in_process_ && ServerCan("sketch") ? this : nullptr; }
  Status Symbols(const std::vector<Request>& requests,
                 std::vector<std::vector<merkle::CodedSymbol>>* out) override {
    Encoder e;
    wire::EncodeSketchRequests(&e, requests);
    std::string answer;
    KS_RETURN_IF_ERROR(Call(Msg::kSketch, e.str(), Msg::kSketchSymbols, &answer));
    return wire::DecodeSymbolLists(answer, requests.size(), out);
  }
  Status SumRows(const std::vector<Rows>& rows, std::vector<merkle::NodeSummary>* out) override {
    Encoder e;
    wire::EncodeRowsRequest(&e, rows);
    std::string answer;
    KS_RETURN_IF_ERROR(Call(Msg::kSumRows, e.str(), Msg::kRowSums, &answer));
    return wire::DecodeSums(answer, rows.size(), out);
  }

  Result<uint64_t> ReconcileInto(Replica* local, bool deletes, const std::string& bundle_path,
                                 int threads) override;

  Status Open(const std::vector<std::string>& tables, uint64_t leaf_rows,
              const std::string& expected_root, bool want_state, const std::string& replica_id,
              bool want_elements);
  bool unchanged() const override { return unchanged_; }
  Result<State> GetState(const std::vector<SeenVersion>& queries) override;
  Status PutState(const StateUpdate& state) override;

  std::string label() const override { return label_; }
  const Schema& schema() const override { return schema_; }
  const std::vector<Table>& tables() const override { return tables_; }
  TreeView* tree(const std::string& table) override;
  RowSource* rows() override;
  Result<ApplyResult> PutBundle(const std::string& bundle_path, const StateUpdate* state) override;
  TransferCounters counters() const override {
    if (in_process_) return {};  // no network was involved
    return {channel_.bytes_sent(), channel_.bytes_received(), round_trips_};
  }
  bool in_process() const { return in_process_; }

  // One request, one answer.
  Status Call(Msg request, const std::string& payload, Msg answer, std::string* out) {
    KS_RETURN_IF_ERROR(channel_.Send(request, payload));
    ++round_trips_;
    return channel_.Expect(answer, out);
  }
  wire::FrameChannel& channel() { return channel_; }
  Env* env = nullptr;

 private:
  std::string label_;
  std::unique_ptr<ByteStream> stream_;
  wire::FrameChannel channel_;
  bool in_process_;
  std::thread server_;
  uint64_t round_trips_ = 0;
  std::string server_capabilities_;
  bool unchanged_ = false;
  std::optional<State> state_;  // from OPEN, when asked for
  Schema schema_;
  std::vector<Table> tables_;
  std::map<std::string, std::unique_ptr<RemoteTreeView>> views_;
  std::unique_ptr<RemoteRowSource> rows_;
};

// Tree nodes fetched on demand, several levels per request; the root came
// with the table list.
class RemoteTreeView final : public TreeView {
 public:
  RemoteTreeView(Remote* remote, const Replica::Table& table) : remote_(remote), table_(table) {
    cache_[{0, 0}] = merkle::PrintOf(table.root);
  }
  int depth() const override { return table_.depth; }

  Status GetNodes(int level, const std::vector<uint64_t>& indexes,
                  std::vector<merkle::NodePrint>* out) override {
    std::vector<uint64_t> missing;
    for (uint64_t i : indexes) {
      if (cache_.count({level, i}) == 0) missing.push_back(i);
    }
    if (!missing.empty()) KS_RETURN_IF_ERROR(Fetch(level, missing));
    out->clear();
    for (uint64_t i : indexes) out->push_back(cache_.at({level, i}));
    return Status::Ok();
  }

 private:
  Status Fetch(int level, const std::vector<uint64_t>& indexes) {
    uint64_t extra = 0;
    uint64_t nodes = indexes.size();
    while (level + static_cast<int>(extra) < table_.depth &&
           nodes * merkle::kFanout * (extra + 2) <= kMaxNodesPerTrip) {
      ++extra;
      nodes *= merkle::kFanout;
    }
    Encoder e;
    e.Bytes(table_.name).Varint(level).Varint(extra).Varint(indexes.size());
    for (uint64_t i : indexes) e.Varint(i);
    std::string answer;
    KS_RETURN_IF_ERROR(remote_->Call(Msg::kNodes, e.str(), Msg::kNodeList, &answer));
    Decoder d(answer);
    std::vector<uint64_t> current = indexes;
    for (uint64_t l = 0; l <= extra; ++l) {
      for (uint64_t i : current) {
        merkle::NodePrint p;
        KS_RETURN_IF_ERROR(wire::DecodePrint(&d, &p));
        cache_[{level + static_cast<int>(l), i}] = p;
      }
      std::vector<uint64_t> children;
      for (uint64_t i : current) {
        for (uint64_t c = 0; c < merkle::kFanout; ++c) children.push_back(i * merkle::kFanout + c);
      }
      current = std::move(children);
    }
    return Status::Ok();
  }

  Remote* remote_;
  Replica::Table table_;
  std::map<std::pair<int, uint64_t>, merkle::NodePrint> cache_;
};

class RemoteRowSource final : public RowSource {
 public:
  explicit RemoteRowSource(Remote* remote) : remote_(remote) {}
  // In-process rows are as cheap as local ones: no print round first.
  bool remote() const override { return !remote_->in_process(); }

  Status CollectPrints(const TableSchema& table, int level, const std::vector<uint64_t>& indexes,
                       std::vector<RowPrintCount>* out) override {
    Encoder e;
    e.Bytes(table.name).Varint(level).Varint(indexes.size());
    for (uint64_t i : indexes) e.Varint(i);
    std::string answer;
    KS_RETURN_IF_ERROR(remote_->Call(Msg::kPrints, e.str(), Msg::kPrintList, &answer));
    Decoder d(answer);
    uint64_t n = 0;
    KS_RETURN_IF_ERROR(d.Varint(&n));
    if (n > answer.size()) return Status::Corrupt("protocol: bad print list");
    out->resize(n);
    for (RowPrintCount& p : *out) {
      KS_RETURN_IF_ERROR(d.Raw(&p.print, sizeof(p.print)));
      KS_RETURN_IF_ERROR(d.Varint(&p.count));
    }
    return Status::Ok();
  }

  using RowSource::CollectRows;
  Status CollectRows(const TableSchema& table, int level, const std::vector<uint64_t>& indexes,
                     bool keep_rows, const std::vector<uint64_t>* only_prints,
                     LeafRows* out) override {
    return FetchRows(table, level, indexes, keep_rows, only_prints != nullptr ? 1 : 0, only_prints, out);
  }
  Status CollectRowsByElement(const TableSchema& table, const std::vector<uint64_t>& elements,
                              bool keep_rows, LeafRows* out) override {
    return FetchRows(table, 0, {0}, keep_rows, 2, &elements, out);
  }

 private:
  // ROWS: filter 0 none, 1 by print under the nodes, 2 by element in the table.
  Status FetchRows(const TableSchema& table, int level, const std::vector<uint64_t>& indexes,
                   bool keep_rows, int filter, const std::vector<uint64_t>* only, LeafRows* out) {
    Encoder e;
    e.Bytes(table.name).Varint(level).Varint(indexes.size());
    for (uint64_t i : indexes) e.Varint(i);
    e.Varint(keep_rows ? 1 : 0).Varint(filter);
    if (only != nullptr) {
      e.Varint(only->size());
      for (uint64_t p : *only) e.Raw(&p, sizeof(p));
    }
    // Compressed batches over a network, from servers that make them.
    const bool compress = !remote_->in_process() && remote_->ServerCan("zrows");
    if (compress) e.Varint(1);
    KS_RETURN_IF_ERROR(remote_->channel().Send(Msg::kRows, e.str()));
    std::string plain;
    while (true) {
      Msg type;
      std::string payload;
      KS_RETURN_IF_ERROR(remote_->channel().Receive(&type, &payload));
      if (type == Msg::kRowsEnd) break;
      if (type == Msg::kError) return wire::DecodeError(payload);
      if (type == Msg::kRowBatchZ && compress) {
        KS_RETURN_IF_ERROR(wire::DecompressBatch(payload, &plain));
        KS_RETURN_IF_ERROR(wire::DecodeRowBatch(plain, out));
        continue;
      }
      if (type != Msg::kRowBatch) return Status::Corrupt("protocol: expected rows");
      KS_RETURN_IF_ERROR(wire::DecodeRowBatch(payload, out));
    }
    return Status::Ok();
  }

  Remote* remote_;
};

Status Remote::Open(const std::vector<std::string>& tables, uint64_t leaf_rows,
                    const std::string& expected_root, bool want_state, const std::string& replica_id,
                    bool want_elements) {
  Encoder e;
  e.Varint(tables.size());
  for (const std::string& t : tables) e.Bytes(t);
  e.Varint(leaf_rows);
  // Optional fields, each sent when it or a later one is.
  if (!expected_root.empty() || want_state || want_elements) e.Bytes(expected_root);
  if (want_state || want_elements) e.Varint(want_state ? 1 : 0).Bytes(replica_id);
  if (want_elements) e.Varint(1);
  std::string answer;
  KS_RETURN_IF_ERROR(Call(Msg::kOpen, e.str(), Msg::kTrees, &answer));
  Decoder d(answer);
  std::string schema_text;
  uint64_t n = 0;
  KS_RETURN_IF_ERROR(d.Bytes(&schema_text));
  KS_ASSIGN_OR_RETURN(schema_, ParseSchema(schema_text, label_ + ":schema.cypher"));
  KS_RETURN_IF_ERROR(d.Varint(&n));
  for (uint64_t i = 0; i < n; ++i) {
    Table t;
    uint64_t kind = 0, depth = 0;
    KS_RETURN_IF_ERROR(d.Bytes(&t.name, 4096));
    KS_RETURN_IF_ERROR(d.Varint(&kind));
    KS_RETURN_IF_ERROR(d.Varint(&depth));
    KS_RETURN_IF_ERROR(wire::DecodeSummary(&d, &t.root));
    if (depth > static_cast<uint64_t>(merkle::kMaxDepth)) return Status::Corrupt("protocol: tree too deep");
    t.kind = kind == 0 ? TableKind::kNode : TableKind::kRel;
    t.depth = static_cast<int>(depth);
    tables_.push_back(std::move(t));
  }
  uint64_t unchanged = 0;
  if (!d.done()) KS_RETURN_IF_ERROR(d.Varint(&unchanged));
  unchanged_ = unchanged != 0;
  if (want_state) {
    State state;
    KS_RETURN_IF_ERROR(DecodeState(&d, &state));
    state_ = std::move(state);
  }
  return Status::Ok();
}


Result<RemoteReplica::State> Remote::GetState(const std::vector<SeenVersion>& queries) {
  if (queries.empty() && state_) return *state_;
  Encoder e;
  e.Varint(queries.size());
  for (const SeenVersion& q : queries) EncodeSeen(&e, q, /*with_time=*/false);
  std::string answer;
  KS_RETURN_IF_ERROR(Call(Msg::kGetState, e.str(), Msg::kState, &answer));
  Decoder d(answer);
  State state;
  uint64_t n = 0;
  KS_RETURN_IF_ERROR(DecodeState(&d, &state));
  KS_RETURN_IF_ERROR(d.Varint(&n));
  if (n != queries.size()) return Status::Corrupt("protocol: wrong number of first-seen times");
  state.first_seen.resize(n);
  for (int64_t& at : state.first_seen) {
    uint64_t v = 0;
    KS_RETURN_IF_ERROR(d.Varint(&v));
    at = static_cast<int64_t>(v);
  }
  return state;
}

Status Remote::PutState(const StateUpdate& state) {
  std::string answer;
  return Call(Msg::kPutState, EncodeStateUpdate(state), Msg::kStateSaved, &answer);
}

TreeView* Remote::tree(const std::string& table) {
  auto it = views_.find(table);
  if (it != views_.end()) return it->second.get();
  const Table* t = FindTable(table);
  if (t == nullptr) return nullptr;
  return views_.emplace(table, std::make_unique<RemoteTreeView>(this, *t)).first->second.get();
}

RowSource* Remote::rows() {
  if (!rows_) rows_ = std::make_unique<RemoteRowSource>(this);
  return rows_.get();
}

Result<uint64_t> Remote::ReconcileInto(Replica* local, bool deletes, const std::string& bundle_path,
                                       int threads) {
  Encoder e;
  e.Bytes(SchemaText(local->schema())).Varint(local->tables().size());
  for (const Table& t : local->tables()) {
    e.Bytes(t.name);
    wire::EncodeSummary(&e, t.root);
  }
  e.Varint(deletes ? 1 : 0);
  KS_RETURN_IF_ERROR(channel_.Send(Msg::kReconcile, e.str()));
  ++round_trips_;
  std::unique_ptr<SketchPeer> peer = NewLocalSketchPeer(local, threads);
  std::unique_ptr<WritableFile> out;
  KS_RETURN_IF_ERROR(env->NewWritableFile(bundle_path, &out));
  while (true) {
    Msg type;
    std::string payload;
    KS_RETURN_IF_ERROR(channel_.Receive(&type, &payload));
    if (type == Msg::kWant) {
      Decoder d(payload);
      std::vector<SketchPeer::Request> requests;
      KS_RETURN_IF_ERROR(wire::DecodeSketchRequests(&d, &requests));
      std::vector<std::vector<merkle::CodedSymbol>> symbols;
      KS_RETURN_IF_ERROR(peer->Symbols(requests, &symbols));
      KS_RETURN_IF_ERROR(channel_.Send(Msg::kSketchSymbols, wire::EncodeSymbolLists(symbols)));
      ++round_trips_;
    } else if (type == Msg::kSumRows) {
      std::vector<SketchPeer::Rows> rows;
      KS_RETURN_IF_ERROR(wire::DecodeRowsRequest(payload, &rows));
      std::vector<merkle::NodeSummary> sums;
      KS_RETURN_IF_ERROR(peer->SumRows(rows, &sums));
      KS_RETURN_IF_ERROR(channel_.Send(Msg::kRowSums, wire::EncodeSums(sums)));
      ++round_trips_;
    } else if (type == Msg::kBundleData) {
      KS_RETURN_IF_ERROR(out->Append(payload));
    } else if (type == Msg::kBundleEnd) {
      Decoder d(payload);
      uint64_t symbols = 0;
      KS_RETURN_IF_ERROR(d.Varint(&symbols));
      KS_RETURN_IF_ERROR(out->Sync());
      KS_RETURN_IF_ERROR(out->Close());
      return symbols;
    } else if (type == Msg::kError) {
      return wire::DecodeError(payload);
    } else {
      return Status::Corrupt("protocol: expected symbol requests or a bundle");
    }
  }
}

Result<ApplyResult> Remote::PutBundle(const std::string& bundle_path, const StateUpdate* state) {
  FileType type;
  uint64_t size = 0;
  KS_RETURN_IF_ERROR(env->Stat(bundle_path, &type, &size));
  std::unique_ptr<SequentialFile> in;
  KS_RETURN_IF_ERROR(env->NewSequentialFile(bundle_path, &in));
  Encoder begin;
  begin.Varint(size);
  KS_RETURN_IF_ERROR(channel_.Send(Msg::kPutBegin, begin.str()));
  std::string buffer(wire::kChunk, '\0');
  while (true) {
    size_t got = 0;
    KS_RETURN_IF_ERROR(in->Read(buffer.size(), buffer.data(), &got));
    if (got == 0) break;
    KS_RETURN_IF_ERROR(channel_.Send(Msg::kPutData, std::string_view(buffer.data(), got)));
  }
  std::string answer;
  KS_RETURN_IF_ERROR(Call(Msg::kPutEnd, state != nullptr ? EncodeStateUpdate(*state) : "", Msg::kApplied,
                          &answer));
  Decoder d(answer);
  uint64_t already = 0;
  ApplyResult result;
  KS_RETURN_IF_ERROR(d.Varint(&already));
  KS_RETURN_IF_ERROR(d.Bytes(&result.root));
  result.already_applied = already != 0;
  views_.clear();  // the remote's trees changed
  return result;
}

Result<std::string> ReadToken(Env* env, const std::string& path) {
  if (path.empty()) return std::string();
  std::string token;
  KS_RETURN_IF_ERROR(ReadFileToString(env, path, &token));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

}  // namespace

Result<RemoteSpec> ParseRemote(const std::string& text) {
  RemoteSpec spec;
  spec.text = text;
  auto after = [&](const std::string& scheme) -> std::optional<std::string_view> {
    if (text.compare(0, scheme.size(), scheme) == 0) return std::string_view(text).substr(scheme.size());
    return std::nullopt;
  };
  if (auto rest = after("kuzusync://")) {
    size_t slash = rest->find('/');
    if (slash == std::string_view::npos) return Status::InvalidArgument("no replica name in " + text);
    spec.kind = RemoteSpec::Kind::kDaemon;
    KS_RETURN_IF_ERROR(ParseHostPort(rest->substr(0, slash), &spec));
    if (spec.port == 0) spec.port = kDefaultDaemonPort;
    spec.path = std::string(rest->substr(slash + 1));
    return spec;
  }
  if (auto rest = after("ssh://")) {
    size_t slash = rest->find('/');
    if (slash == std::string_view::npos) return Status::InvalidArgument("no path in " + text);
    spec.kind = RemoteSpec::Kind::kSsh;
    KS_RETURN_IF_ERROR(ParseHostPort(rest->substr(0, slash), &spec));
    spec.path = std::string(rest->substr(slash));
    return spec;
  }
  // scp-style host:path, when a ':' comes before any '/' (as rsync decides).
  size_t colon = text.find(':');
  size_t slash = text.find('/');
  if (colon != std::string::npos && colon > 0 && (slash == std::string::npos || colon < slash)) {
    spec.kind = RemoteSpec::Kind::kSsh;
    std::string host = text.substr(0, colon);
    size_t at = host.find('@');
    if (at != std::string::npos) {
      spec.user = host.substr(0, at);
      host = host.substr(at + 1);
    }
    spec.host = host;
    spec.path = text.substr(colon + 1);
    if (spec.path.empty()) spec.path = ".";
    return spec;
  }
  spec.path = text;
  return spec;
}

Result<std::unique_ptr<RemoteReplica>> RemoteReplica::Connect(Env* env, const RemoteSpec& spec,
                                                              const ConnectOptions& options,
                                                              Access access,
                                                              const std::vector<std::string>& tables) {
  std::unique_ptr<ByteStream> stream;
  std::thread server;
  std::string replica = spec.path;
  KS_ASSIGN_OR_RETURN(std::string token, ReadToken(env, options.token_file));
  switch (spec.kind) {
    case RemoteSpec::Kind::kLocal: {
      // The same protocol in-process: a thread serves the other end.
      int fds[2];
      // A server that refuses (no such replica) closes its end: a write
      // must then fail with EPIPE, not kill the process.
      ::signal(SIGPIPE, SIG_IGN);
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        return Status::IoError("socketpair failed");
      }
      stream = std::make_unique<FdStream>(fds[0], fds[0], true);
      ServeOptions serve;
      serve.env = env;
      serve.threads = options.threads;
      serve.use_tree_cache = options.use_tree_cache;
      server = std::thread([fd = fds[1], serve] {
        FdStream end(fd, fd, true);
        (void)ServeSession(&end, serve);
      });
      break;
    }
    case RemoteSpec::Kind::kSsh: {
      std::vector<std::string> argv = SplitWords(options.rsh);
      if (argv.empty()) return Status::InvalidArgument("empty ssh command");
      argv.insert(argv.begin() + 1, {"-o", "BatchMode=yes"});
      if (spec.port != 0) argv.insert(argv.end(), {"-p", std::to_string(spec.port)});
      if (!spec.user.empty()) argv.insert(argv.end(), {"-l", spec.user});
      argv.push_back(spec.host);
      for (const std::string& w : SplitWords(options.remote_command)) argv.push_back(w);
      argv.insert(argv.end(), {"serve", "--stdio"});
      KS_ASSIGN_OR_RETURN(stream, ChildStream::Spawn(argv));
      break;
    }
    case RemoteSpec::Kind::kDaemon: {
      if (options.insecure && !IsLoopback(spec.host)) {
        return Status::Refused("--insecure (plain TCP) is allowed only on a loopback address");
      }
      KS_ASSIGN_OR_RETURN(int fd, TcpConnect(spec.host, spec.port));
      if (options.insecure) {
        stream = std::make_unique<FdStream>(fd, fd, true);
      } else {
        KS_ASSIGN_OR_RETURN(stream, TlsStream::Connect(fd, spec.host, options.ca_file));
      }
      break;
    }
  }
  auto remote = std::make_unique<Remote>(spec.text, std::move(stream), std::move(server));
  remote->env = env;
  KS_RETURN_IF_ERROR(remote->Hello(replica, token, access));
  KS_RETURN_IF_ERROR(remote->Open(tables, options.tree_leaf_rows, options.expected_root,
                                  options.want_state, options.replica_id, options.want_elements));
  return std::unique_ptr<RemoteReplica>(std::move(remote));
}

Result<std::unique_ptr<Replica>> OpenReplica(Env* env, const std::string& where,
                                             const ConnectOptions& options, Access access,
                                             const std::vector<std::string>& tables) {
  KS_ASSIGN_OR_RETURN(RemoteSpec spec, ParseRemote(where));
  if (spec.kind == RemoteSpec::Kind::kLocal) {
    std::unique_ptr<TreeCache> cache;
    if (options.use_tree_cache) cache = OpenReplicaTreeCache(where);
    KS_ASSIGN_OR_RETURN(auto local, LocalReplica::Open(env, where, tables, options.threads,
                                                       options.tree_leaf_rows, cache.get(),
                                                       options.want_elements));
    local->AdoptCache(std::move(cache));
    return std::unique_ptr<Replica>(std::move(local));
  }
  KS_ASSIGN_OR_RETURN(auto remote, RemoteReplica::Connect(env, spec, options, access, tables));
  return std::unique_ptr<Replica>(std::move(remote));
}

}  // namespace kuzusync
