// transfer: replicas on other machines. One protocol (docs/protocol.md) over
// any byte stream: a pipe to `ssh host kuzusync serve --stdio`, TCP + TLS to
// `kuzusync serve --listen`, or an in-process pair for local paths. A
// RemoteReplica is a diff::Replica whose tree nodes and rows arrive over the
// protocol, so diff, bundle and push/pull work on it unchanged; only the
// bundle of missing rows travels, and the receiving side applies it with the
// same atomic ApplyBundle as a local apply.
// Thread-safety: a RemoteReplica is used by one thread; ServeSession and
// RunDaemon may run on many threads at once.

#ifndef KUZUSYNC_TRANSFER_TRANSFER_H_
#define KUZUSYNC_TRANSFER_TRANSFER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "diff/diff.h"

namespace kuzusync {

// A bidirectional byte stream.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual Status Write(std::string_view data) = 0;
  virtual Status Flush() { return Status::Ok(); }
  // Reads up to n bytes; *got is 0 only when the peer closed the stream.
  virtual Status Read(char* buffer, size_t n, size_t* got) = 0;
  // Reads exactly n bytes or fails ("connection closed").
  Status ReadExactly(char* buffer, size_t n);
};

// Where a replica lives, parsed the way rsync and git parse remotes:
//   /path or ./path              a local directory
//   host:/path, user@host:path   ssh
//   ssh://[user@]host[:port]/path
//   kuzusync://host[:port]/name  the kuzusync daemon (default port 7420)
struct RemoteSpec {
  enum class Kind { kLocal, kSsh, kDaemon };
  Kind kind = Kind::kLocal;
  std::string user;
  std::string host;
  int port = 0;
  std::string path;  // local or ssh path; daemon: replica name
  std::string text;  // as the user wrote it
};

Result<RemoteSpec> ParseRemote(const std::string& text);

struct ConnectOptions {
  std::string token_file;               // daemon: bearer token
  std::string ca_file;                  // daemon: CA bundle that signs the server cert
  bool insecure = false;                // daemon: plain TCP, loopback only
  std::string rsh = "ssh";              // ssh command (like rsync -e); BatchMode is added
  std::string remote_command = "kuzusync";  // kuzusync on the ssh host
  int threads = 0;
  // Tree shape for this comparison; both sides must use the same. Smaller
  // leaves when rows cross a network (see merkle::kNetworkLeafRows).
  uint64_t tree_leaf_rows = merkle::kNetworkLeafRows;
  bool use_tree_cache = true;  // for local replicas: see diff::OpenReplicaTreeCache
  // Sync: the remote's root at the last sync. When it still has it, the
  // remote answers with that alone (RemoteReplica::unchanged()).
  std::string expected_root;
  bool want_state = false;  // sync: the remote's id and version vector come with its trees
  std::string replica_id;   // sync: this replica's id
  // Keep the rows' set-reconciliation elements while hashing (push and
  // pull --delete): the reconciliation then need not scan the tables again.
  bool want_elements = false;
};

enum class Access { kRead, kWrite };

struct TransferCounters {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t round_trips = 0;
};

// A replica behind the protocol. Connect hashes the remote replica's tables
// (the `tables` filter, all when empty) on the remote side.
class RemoteReplica : public Replica {
 public:
  static Result<std::unique_ptr<RemoteReplica>> Connect(Env* env, const RemoteSpec& spec,
                                                        const ConnectOptions& options,
                                                        Access access,
                                                        const std::vector<std::string>& tables);
  // What a sync leaves in the remote's state: its version vector merged
  // with `vector`, and the first-seen times of the versions it brought.
  struct StateUpdate {
    VersionVector vector;
    std::vector<SeenVersion> seen;
    std::string replica_id;   // the sender's
    std::string result_root;  // with a bundle: the root it makes (see State::last_push_root)
  };
  // Sends a bundle; the remote applies it atomically under its write lock,
  // then saves `state` when given (sync: one round trip for both).
  virtual Result<ApplyResult> PutBundle(const std::string& bundle_path,
                                        const StateUpdate* state = nullptr) = 0;
  virtual TransferCounters counters() const = 0;
  // The remote as a set-reconciliation peer (diff::WriteBundleBySketch);
  // nullptr when it cannot be one, or when it is in-process.
  virtual SketchPeer* sketch_peer() = 0;
  // Pull by reconciliation (when sketch_peer() is not null): the remote,
  // which has the rows, reconciles its replica with `local` (asking for
  // local's symbols) and sends the bundle that gives local its rows (with
  // deletes: only its rows); written to bundle_path. Returns the symbols
  // it took.
  virtual Result<uint64_t> ReconcileInto(Replica* local, bool deletes, const std::string& bundle_path,
                                         int threads) = 0;

  // True when the remote still had ConnectOptions::expected_root: then it
  // sent neither schema nor tables (schema() and tables() are empty).
  virtual bool unchanged() const = 0;

  // Sync state kept beside the remote replica. With no queries and
  // ConnectOptions::want_state, answered from what OPEN brought.
  struct State {
    std::string replica_id;
    VersionVector vector;
    std::vector<int64_t> first_seen;  // per query; 0 when never reported
    // The root the last bundle from ConnectOptions::replica_id made: how a
    // sync killed after its push learns that the push landed.
    std::string last_push_root;
  };
  virtual Result<State> GetState(const std::vector<SeenVersion>& queries) = 0;
  virtual Status PutState(const StateUpdate& state) = 0;  // write sessions
};

// Opens a local export directory or connects to a remote one.
Result<std::unique_ptr<Replica>> OpenReplica(Env* env, const std::string& where,
                                             const ConnectOptions& options, Access access,
                                             const std::vector<std::string>& tables);

// ---- Serving ----------------------------------------------------------------

struct AccessToken {
  std::string token;
  bool can_write = false;
  std::vector<std::string> replicas;  // empty: every replica
};

// Reads a token file: lines "<token> rw|ro [replica ...]", '#' comments.
Result<std::vector<AccessToken>> ReadTokenFile(Env* env, const std::string& path);

struct ServeOptions {
  Env* env = nullptr;
  // Daemon: replicas are named directories under root. Empty (ssh, local):
  // the client names a path, as the ssh user could anyway.
  std::string root;
  bool require_token = false;
  std::vector<AccessToken> tokens;
  int threads = 0;
  bool use_tree_cache = true;  // trees cached beside each replica (diff::OpenReplicaTreeCache)
  // How long a session waits for the replica's lock before it answers
  // "busy": writers queue, but two syncs that each hold their own replica
  // while writing to the other's must not wait for each other forever.
  double lock_wait_seconds = 300;
};

// Serves one client on `stream` until it says goodbye or the stream ends.
// Read sessions share the replica's lock; a write session holds it alone.
Status ServeSession(ByteStream* stream, const ServeOptions& options);

struct DaemonOptions {
  std::string listen = "127.0.0.1:7420";
  std::function<void(const std::string&)> log;  // one line per event; may be empty
  std::string tls_cert, tls_key;
  bool insecure = false;  // plain TCP; only on a loopback address
  int max_sessions = 0;   // stop after this many sessions (tests); 0: run forever
};

// Listens and serves each connection on its own thread.
Status RunDaemon(const DaemonOptions& daemon, const ServeOptions& options);

// Serves one session on stdin/stdout (`kuzusync serve --stdio`, run by ssh).
Status ServeStdio(const ServeOptions& options);

// ---- push / pull ------------------------------------------------------------

struct TransferOptions {
  bool deletes = false;  // also delete rows the destination has and the source lacks
  bool dry_run = false;
  int threads = 0;
  std::string temp_dir = "/tmp";  // where the bundle is built before it travels
  // Called at each phase with a line for a human (the CLI shows it on a
  // terminal); may be empty.
  std::function<void(const std::string&)> progress;
  PackOptions pack;
  ConnectOptions connect;
};

struct TransferReport {
  bool changed = false;
  uint64_t rows_sent = 0;     // rows upserted or inserted at the destination
  uint64_t rows_deleted = 0;
  uint64_t rows_kept = 0;     // destination-only rows left alone without --delete
  uint64_t bundle_bytes = 0;
  uint64_t comparisons = 0;
  TransferCounters counters;
  double elapsed_ms = 0;
};

// Makes `to` hold `from`'s rows (and, with deletes, only those). Either side
// may be remote (`where` syntax of ParseRemote).
Result<TransferReport> Transfer(Env* env, const std::string& from, const std::string& to,
                                const TransferOptions& options);


// ---- sync -------------------------------------------------------------------

struct SyncOptions {
  MergeOptions merge;  // conflict policy, lww column, counters
  bool dry_run = false;
  // When set, the changes that came in are also written as Cypher for the
  // local live database: <dir>/<run id, 8 digits>/apply.cypher per run (the
  // format of `apply --cypher`), with the bundle beside it as bundle.kzb.
  // A loader runs the batches in order and removes each directory after.
  std::string emit_cypher_dir;
  int threads = 0;
  std::string temp_dir = "/tmp";
  std::function<void(const std::string&)> progress;
  ConnectOptions connect;
};

struct SyncReport {
  std::string outcome;  // "in sync", "synced", "stopped: conflicts", "dry run"
  int64_t run_id = 0;
  std::string peer;
  std::string mode;    // "incremental" or "full"
  std::string reason;  // why full: "no checkpoint", "schema changed", "checkpoint unreadable"
  bool local_changed = false, remote_changed = false;
  bool stopped = false;  // conflicts met policy fail: nothing was changed
  uint64_t rows_in = 0, rows_out = 0;  // row changes applied here, sent there
  std::vector<SyncConflict> conflicts;
  std::string vector_order;  // the remote relative to this replica: equal, behind, ahead, concurrent
  VersionVector vector;      // this replica's, after the run
  std::string root;          // both replicas' root after the run
  uint64_t events = 0;       // row changes merged with this peer, all runs
  std::string cypher_batch;  // the batch directory written, if any
  uint64_t pending_batches_replayed = 0;
  int64_t finished_run = 0;  // an interrupted run whose push had landed, finished first
  std::vector<std::string> warnings;
  TransferCounters counters;
  double elapsed_ms = 0;
};

// Two-way sync of the export directory `local` with `remote` (any `where`
// of ParseRemote), three-way against the checkpoint of the last sync with
// it; see docs/sync.md. kBusy when another sync of `local` runs.
Result<SyncReport> Sync(Env* env, const std::string& local, const std::string& remote,
                        const SyncOptions& options);

// The lock a sync of `local` holds (exclusively, without waiting).
std::string SyncLockPath(const std::string& local);

}  // namespace kuzusync

#endif  // KUZUSYNC_TRANSFER_TRANSFER_H_
