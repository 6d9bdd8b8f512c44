// ApplyBundle: builds the new version of an export directory beside it
// (unchanged files hard-linked, changed ones rewritten), checks its root,
// then swaps it in with one atomic exchange.

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

#include "diff/cache_entries.h"
#include "diff/delta_files.h"
#include "diff/diff.h"
#include "diff/key_set.h"
#include "diff/new_directory.h"
#include "diff/parallel.h"
#include "diff/row_encoding.h"

namespace kuzusync {
namespace {

struct SplitPath {
  std::string parent;
  std::string base;
};

SplitPath Split(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}


struct StringHash {
  using is_transparent = void;  // lookups by string_view, without a copy per row
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A row read from a delta member, kept until it is written into B's dialect.
struct OwnedRow {
  std::vector<std::string> fields;
  std::vector<uint8_t> nulls;
};

// Streams the rows of one delta member (default dialect, no header).
Status ScanMember(Env* env, const std::string& dir, const std::string& member, size_t fields,
                  const std::function<Status(const RowView&)>& on_row) {
  FileType type;
  uint64_t size = 0;
  if (!env->Stat(JoinPath(dir, member), &type, &size).ok()) return Status::Ok();  // no such delta
  ExportDir holder;
  holder.dir = dir;
  DataFile file;
  file.path = member;
  return ScanDataFile(env, holder, file, fields, on_row);
}

Status ReadOwnedRows(Env* env, const std::string& dir, const std::string& member, size_t fields,
                     std::vector<OwnedRow>* rows) {
  return ScanMember(env, dir, member, fields, [&](const RowView& row) {
    rows->push_back({std::vector<std::string>(row.fields->begin(), row.fields->end()), *row.is_null});
    return Status::Ok();
  });
}

// Reads a `.drops` member: one element per line, 16 hex digits.
Status ReadDrops(Env* env, const std::string& dir, const std::string& member,
                 std::unordered_set<uint64_t>* out) {
  std::string text;
  FileType type;
  uint64_t size = 0;
  if (!env->Stat(JoinPath(dir, member), &type, &size).ok()) return Status::Ok();  // none
  KS_RETURN_IF_ERROR(ReadFileToString(env, JoinPath(dir, member), &text));
  uint64_t line = 0;
  for (size_t at = 0; at < text.size();) {
    ++line;
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string field = text.substr(at, end - at);
    char* rest = nullptr;
    const unsigned long long element = strtoull(field.c_str(), &rest, 16);
    if (field.size() != 16 || rest != field.c_str() + 16) {
      return Status::Corrupt("expected 16 hex digits", member, line);
    }
    out->insert(element);
    at = end + 1;
  }
  return Status::Ok();
}

// The key bits of drops: rows under other keys are kept without hashing.
std::unordered_set<uint64_t> KeyBitsOf(const std::unordered_set<uint64_t>& drops, TableKind kind) {
  std::unordered_set<uint64_t> keys;
  for (uint64_t e : drops) keys.insert(e & RowElements::KeyBits(kind));
  return keys;
}

void AppendOwnedRow(std::string* out, const OwnedRow& row, const CsvOptions& csv) {
  std::vector<std::string_view> views(row.fields.begin(), row.fields.end());
  AppendCsvRow(out, RowView{&views, &row.nulls, 0}, csv);
}

// Writes one rewritten data file: B's rows that survive, byte for byte,
// then additions. It lists the rows it leaves out and the rows it adds, as
// they read back from what it wrote, so the new file's tree is B's minus
// the one plus the other, without hashing the file again: every byte of the
// file is either a whole row of B's file, counted there, or parsed here.
class FileRewriter {
 public:
  FileRewriter(Env* env, const ExportDir& b, const TableSchema& table, const DataFile& file,
               const std::string& staging)
      : env_(env), b_(b), table_(table), file_(file), encoder_(table, file),
        out_path_(JoinPath(staging, file.path)) {}

  Status Open() {
    KS_RETURN_IF_ERROR(env_->NewWritableFile(out_path_, &out_));
    if (file_.csv.header) {
      KS_ASSIGN_OR_RETURN(std::string header, ReadHeaderLine(env_, b_.PathOf(file_)));
      buffer_ = header + "\n";
    }
    return Status::Ok();
  }

  // Copies B's rows, dropping those `drop(DataFileReader&)` says to. It
  // sees the first `leading` fields of each row parsed, and asks the reader
  // for the whole row only when the key is not enough: most rows are kept
  // on their key alone, and copied without being parsed further.
  template <typename Drop>
  Status CopyRows(size_t leading, Drop&& drop) {
    DataFileReader rows;
    KS_RETURN_IF_ERROR(rows.Open(env_, b_, file_, table_.FieldCount(), leading));
    while (true) {
      bool has_row = false;
      KS_RETURN_IF_ERROR(rows.Next(&has_row));
      if (!has_row) return Status::Ok();
      if (drop(rows)) {
        removed_.push_back(Keyed(rows.Whole()));
        continue;
      }
      has_newlines_ = has_newlines_ || rows.multiline();
      buffer_.append(rows.raw());
      if (rows.raw().empty() || rows.raw().back() != '\n') buffer_ += '\n';  // B's last line had no line break
      KS_RETURN_IF_ERROR(MaybeFlush());
    }
  }

  Status Add(const std::vector<OwnedRow>& rows) {
    std::string added;
    for (const OwnedRow& row : rows) {
      for (const std::string& field : row.fields) NoteNewlines(field);
      AppendOwnedRow(&added, row, file_.csv);
    }
    CsvOptions unheaded = file_.csv;
    unheaded.header = false;
    uint64_t read_back = 0;
    KS_RETURN_IF_ERROR(ScanCsvText(added, "rows added to " + file_.path, [&](const RowView& row) {
      ++read_back;
      added_.push_back(Keyed(row));
      return Status::Ok();
    }, unheaded));
    if (read_back != rows.size()) {
      return Status::Corrupt("rows added to " + file_.path + " did not read back as written");
    }
    buffer_ += added;
    return MaybeFlush();
  }

  // True when a value holds a line break: Kuzu's parallel CSV reader then
  // refuses the file, so its COPY statement must say parallel=false.
  bool has_newlines() const { return has_newlines_; }
  const std::vector<merkle::KeyedDigest>& removed() const { return removed_; }
  const std::vector<merkle::KeyedDigest>& added() const { return added_; }

  // Writes out what is buffered and starts the file's writeback; the file
  // is synced with the others (TakeFile): a sync waits for the journal,
  // which is better waited for once than by each table's thread in turn.
  Status Finish() {
    KS_RETURN_IF_ERROR(out_->Append(buffer_));
    buffer_.clear();
    out_->StartSync();
    return Status::Ok();
  }
  std::unique_ptr<WritableFile> TakeFile() { return std::move(out_); }

 private:
  void NoteNewlines(std::string_view field) {
    has_newlines_ = has_newlines_ || field.find_first_of("\r\n") != std::string_view::npos;
  }

  merkle::KeyedDigest Keyed(const RowView& row) {
    return {merkle::KeyHash(encoder_.Key(row)), encoder_.Digest(row)};
  }

  Status MaybeFlush() {
    if (buffer_.size() < (1 << 20)) return Status::Ok();
    Status s = out_->Append(buffer_);
    buffer_.clear();
    return s;
  }

  Env* env_;
  const ExportDir& b_;
  const TableSchema& table_;
  const DataFile& file_;
  RowEncoder encoder_;
  std::string out_path_;
  std::unique_ptr<WritableFile> out_;
  std::string buffer_;
  bool has_newlines_ = false;
  std::vector<merkle::KeyedDigest> removed_, added_;
};

// Makes the COPY statement reading `path` say parallel=false.
void ForceSerialCopy(std::string* copy_cypher, const std::string& path) {
  const std::string from = "\"" + path + "\"";
  size_t at = copy_cypher->find(from);
  if (at == std::string::npos) return;
  size_t p = at + from.size();
  while (p < copy_cypher->size() && (*copy_cypher)[p] == ' ') ++p;
  if (p >= copy_cypher->size() || (*copy_cypher)[p] != '(') {
    copy_cypher->insert(at + from.size(), " (parallel=false)");
    return;
  }
  size_t close = copy_cypher->find(')', p);
  if (close == std::string::npos) return;
  std::string options = copy_cypher->substr(p, close - p);
  size_t flag = options.find("parallel=true");
  if (flag != std::string::npos) {
    copy_cypher->replace(p + flag, 13, "parallel=false");
  } else if (options.find("parallel=false") == std::string::npos) {
    copy_cypher->insert(close, ", parallel=false");
  }
}

// Hard-links (or, across file systems, copies) what is not rewritten.
Status LinkTree(Env* env, const std::string& from, const std::string& to,
                const std::set<std::string>& skip) {
  std::vector<DirEntry> entries;
  KS_RETURN_IF_ERROR(env->ListDir(from, &entries));
  for (const DirEntry& e : entries) {
    if (skip.count(e.name) != 0) continue;
    const std::string src = JoinPath(from, e.name), dst = JoinPath(to, e.name);
    if (e.type == FileType::kDirectory) {
      KS_RETURN_IF_ERROR(env->CreateDir(dst));
      KS_RETURN_IF_ERROR(LinkTree(env, src, dst, {}));
      KS_RETURN_IF_ERROR(env->SyncDir(dst));
    } else if (e.type == FileType::kRegular) {
      if (!env->LinkFile(src, dst).ok()) KS_RETURN_IF_ERROR(CopyFile(env, src, dst));
    }
  }
  return Status::Ok();
}

using TableChange = ApplyResult::TableChange;

// Builds the new version of B in `staging` from the delta in `delta_dir`.
// Tables the delta touched go to *changes; every other table's files are
// hard links to B's.
Status BuildNewVersion(Env* env, const ExportDir& b, const std::string& delta_dir,
                       const std::string& staging, bool as_cypher, int threads,
                       std::map<std::string, TableChange>* changes) {
  // As Cypher: the keys each node table loses, whose rels go with them.
  std::map<std::string, std::set<std::string>> deleted_nodes;
  if (as_cypher) {
    for (const TableSchema& table : b.schema.tables) {
      if (table.kind != TableKind::kNode) continue;
      KS_RETURN_IF_ERROR(ScanMember(env, delta_dir, delta::NodeDeletes(table.name), 1,
                                    [&](const RowView& row) {
        deleted_nodes[table.name].emplace((*row.fields)[0]);
        return Status::Ok();
      }));
    }
  }
  std::set<std::string> taken;
  for (const DataFile& f : b.files) taken.insert(f.path);
  std::mutex names_mu;
  auto new_file_name = [&](const std::string& stem) {
    std::lock_guard<std::mutex> lock(names_mu);
    std::string name = stem + ".csv";
    for (int i = 1; taken.count(name) != 0; ++i) name = stem + "_" + std::to_string(i) + ".csv";
    taken.insert(name);
    return name;
  };

  static const std::set<std::string> kNone;
  auto gone_keys = [&](const std::string& node_table) {
    auto it = deleted_nodes.find(node_table);
    return it == deleted_nodes.end() ? &kNone : &it->second;
  };

  // Tables are rewritten side by side. What each adds to the shared results
  // is kept per table and joined in schema order, so the new version does
  // not depend on timing.
  struct TableOutcome {
    bool touched = false;
    TableChange change;
    std::vector<std::string> rewritten, serial;  // serial: files with line breaks in values
    std::string copy_lines;
    std::vector<std::unique_ptr<WritableFile>> unsynced;
    void Rewrote(FileRewriter& rewriter, const std::string& path) {
      change.removed.insert(change.removed.end(), rewriter.removed().begin(), rewriter.removed().end());
      change.added.insert(change.added.end(), rewriter.added().begin(), rewriter.added().end());
      rewritten.push_back(path);
      if (rewriter.has_newlines()) serial.push_back(path);
      unsynced.push_back(rewriter.TakeFile());
    }
  };
  std::vector<TableOutcome> outcomes(b.schema.tables.size());
  std::vector<uint64_t> table_bytes;
  for (const TableSchema& table : b.schema.tables) table_bytes.push_back(b.BytesOf(table.name));
  const std::vector<size_t> order = LargestFirst(table_bytes);
  KS_RETURN_IF_ERROR(RunInParallel(order.size(), threads, [&](size_t position) -> Status {
    const size_t table_index = order[position];
    const TableSchema& table = b.schema.tables[table_index];
    TableOutcome& outcome = outcomes[table_index];
    std::vector<const DataFile*> files = b.FilesOf(table.name);
    if (table.kind == TableKind::kNode) {
      std::vector<OwnedRow> upserts;
      std::unordered_set<std::string, StringHash, std::equal_to<>> drop;  // keys
      KS_RETURN_IF_ERROR(ReadOwnedRows(env, delta_dir, delta::NodeUpserts(table.name),
                                       table.FieldCount(), &upserts));
      KS_RETURN_IF_ERROR(ScanMember(env, delta_dir, delta::NodeDeletes(table.name), 1,
                                    [&](const RowView& row) {
        drop.emplace((*row.fields)[0]);
        return Status::Ok();
      }));
      std::unordered_set<uint64_t> drops;
      KS_RETURN_IF_ERROR(ReadDrops(env, delta_dir, delta::Drops(table.name), &drops));
      if (upserts.empty() && drop.empty() && drops.empty()) return Status::Ok();
      if (as_cypher && !drops.empty()) return Status::Refused("a bundle with drops cannot be applied as Cypher");
      const std::unordered_set<uint64_t> drop_keys = KeyBitsOf(drops, table.kind);
      outcome.touched = true;
      RowElements elements(table.kind);
      for (const OwnedRow& row : upserts) drop.insert(row.fields[table.primary_key]);
      // Keys neither dropped by name nor by element, most of B's, are kept
      // on one bit test.
      merkle::KeyHashFilter maybe_dropped;
      for (const std::string& key : drop) maybe_dropped.Add(merkle::KeyHash(key));
      for (uint64_t e : drops) maybe_dropped.Add(e);
      DataFile created;
      if (files.empty()) {
        created.table = table.name;
        created.path = new_file_name(table.name);
        outcome.copy_lines += "COPY " + delta::Backquote(table.name) + " FROM \"" + created.path + "\";\n";
        files.push_back(&created);
      }
      for (size_t i = 0; i < files.size(); ++i) {
        FileRewriter rewriter(env, b, table, *files[i], staging);
        KS_RETURN_IF_ERROR(rewriter.Open());
        if (files[i] != &created) {
          RowEncoder encoder(table, *files[i]);
          const size_t key = table.primary_key;
          KS_RETURN_IF_ERROR(rewriter.CopyRows(key + 1, [&](DataFileReader& row) {
            const uint64_t key_hash = merkle::KeyHash(row.field(key));
            if (!maybe_dropped.MayContain(key_hash)) return false;
            if (drop.count(row.field(key)) != 0) return true;
            if (drops.empty()) return false;
            if (drop_keys.count(key_hash & merkle::kNodeSketchKeyBits) == 0) return false;
            return drops.count(elements.Next(key_hash, encoder.Digest(row))) != 0;
          }));
        }
        if (i == 0) KS_RETURN_IF_ERROR(rewriter.Add(upserts));
        KS_RETURN_IF_ERROR(rewriter.Finish());
        outcome.Rewrote(rewriter, files[i]->path);
      }
      return Status::Ok();
    }
    std::unordered_set<uint64_t> drops;
    KS_RETURN_IF_ERROR(ReadDrops(env, delta_dir, delta::Drops(table.name), &drops));
    if (as_cypher && !drops.empty()) return Status::Refused("a bundle with drops cannot be applied as Cypher");
    RowElements elements(table.kind);  // numbered across all of the table's files
    const std::unordered_set<uint64_t> drop_keys = KeyBitsOf(drops, table.kind);
    merkle::KeyHashFilter maybe_dropped;  // asked before drop_keys
    for (uint64_t e : drops) maybe_dropped.Add(e);
    for (const RelConnection& connection : table.connections) {
      DataFile pair_file;
      pair_file.table = table.name;
      pair_file.connection = connection;
      // Rows of this pair in any of its files, parsed (the files' dialects
      // may differ from pair_file's).
      RowEncoder encoder(table, pair_file);
      merkle::RowDigest digest;
      auto digest_of = [&](const RowView& row) {
        digest = encoder.Digest(row);
        return std::string(digest.begin(), digest.end());
      };
      std::vector<OwnedRow> inserts;
      std::map<std::string, uint64_t> drop;
      std::set<std::pair<std::string, std::string>> replaced_pairs;  // as Cypher: (from, to)
      KS_RETURN_IF_ERROR(ReadOwnedRows(env, delta_dir, delta::RelInserts(table.name, connection),
                                       table.FieldCount(), &inserts));
      KS_RETURN_IF_ERROR(ScanMember(env, delta_dir, delta::RelDeletes(table.name, connection),
                                    table.FieldCount(), [&](const RowView& row) {
        ++drop[digest_of(row)];
        if (as_cypher) replaced_pairs.emplace((*row.fields)[0], (*row.fields)[1]);
        return Status::Ok();
      }));
      if (as_cypher) {
        for (const OwnedRow& row : inserts) replaced_pairs.emplace(row.fields[0], row.fields[1]);
      }
      const std::set<std::string>* gone_from = as_cypher ? gone_keys(connection.from) : nullptr;
      const std::set<std::string>* gone_to = as_cypher ? gone_keys(connection.to) : nullptr;
      const bool detaches = as_cypher && (!gone_from->empty() || !gone_to->empty());
      if (inserts.empty() && drop.empty() && drops.empty() && !detaches) continue;
      outcome.touched = true;
      std::vector<const DataFile*> pair_files;
      for (const DataFile* f : files) {
        if (f->connection == connection) pair_files.push_back(f);
      }
      if (pair_files.empty()) {
        pair_file.path = new_file_name(table.name + "_" + connection.from + "_" + connection.to);
        outcome.copy_lines += "COPY " + delta::Backquote(table.name) + " FROM \"" + pair_file.path +
                          "\" (from='" + connection.from + "', to='" + connection.to + "');\n";
        pair_files.push_back(&pair_file);
      }
      for (size_t i = 0; i < pair_files.size(); ++i) {
        FileRewriter rewriter(env, b, table, *pair_files[i], staging);
        KS_RETURN_IF_ERROR(rewriter.Open());
        if (pair_files[i] != &pair_file) {
          // Rel rows are placed by their FROM key; as Cypher, the TO key
          // decides too.
          KS_RETURN_IF_ERROR(rewriter.CopyRows(as_cypher ? 2 : 1, [&](DataFileReader& row) {
            if (as_cypher) {
              // What the statements do: a pair they touch is replaced whole,
              // and DETACH DELETE takes a node's rels with it.
              const std::string from(row.field(0)), to(row.field(1));
              return replaced_pairs.count({from, to}) != 0 || gone_from->count(from) != 0 ||
                     gone_to->count(to) != 0;
            }
            bool hashed = false;
            if (!drops.empty()) {
              const uint64_t key_hash = merkle::KeyHash(row.field(0));
              if (maybe_dropped.MayContain(key_hash) &&
                  drop_keys.count(key_hash & merkle::kRelSketchKeyBits) != 0) {
                digest_of(row.Whole());
                hashed = true;
                if (drops.count(elements.Next(key_hash, digest)) != 0) return true;
              }
            }
            if (drop.empty()) return false;
            if (!hashed) digest_of(row.Whole());
            auto it = drop.find(std::string(digest.begin(), digest.end()));
            if (it == drop.end()) return false;
            if (--it->second == 0) drop.erase(it);
            return true;
          }));
        }
        if (i == 0) KS_RETURN_IF_ERROR(rewriter.Add(inserts));
        KS_RETURN_IF_ERROR(rewriter.Finish());
        outcome.Rewrote(rewriter, pair_files[i]->path);
      }
    }
    return Status::Ok();
  }));
  std::vector<WritableFile*> unsynced;
  for (TableOutcome& outcome : outcomes) {
    for (auto& file : outcome.unsynced) unsynced.push_back(file.get());
  }
  KS_RETURN_IF_ERROR(RunInParallel(unsynced.size(), threads, [&](size_t i) {
    KS_RETURN_IF_ERROR(unsynced[i]->Sync());
    return unsynced[i]->Close();
  }));
  std::set<std::string> rewritten;
  std::set<std::string> serial;
  std::string new_copy_lines;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].touched) (*changes)[b.schema.tables[i].name] = outcomes[i].change;
    rewritten.insert(outcomes[i].rewritten.begin(), outcomes[i].rewritten.end());
    serial.insert(outcomes[i].serial.begin(), outcomes[i].serial.end());
    new_copy_lines += outcomes[i].copy_lines;
  }
  if (!new_copy_lines.empty() || !serial.empty()) {
    std::string copy;
    KS_RETURN_IF_ERROR(ReadFileToString(env, JoinPath(b.dir, "copy.cypher"), &copy));
    if (!copy.empty() && copy.back() != '\n') copy += '\n';
    copy += new_copy_lines;
    for (const std::string& path : serial) ForceSerialCopy(&copy, path);
    KS_RETURN_IF_ERROR(WriteFileAtomically(env, JoinPath(staging, "copy.cypher"), copy));
    rewritten.insert("copy.cypher");
  }
  KS_RETURN_IF_ERROR(LinkTree(env, b.dir, staging, rewritten));
  return env->SyncDir(staging);
}

}  // namespace

Result<ApplyResult> ApplyBundle(Env* env, const std::string& bundle_path, const std::string& dir_b,
                                const ApplyOptions& options) {
  KS_ASSIGN_OR_RETURN(ExportDir b, OpenExport(env, dir_b));
  const SplitPath where = Split(dir_b);
  // Fixed names beside B: a run killed half-way leaves them behind, and the
  // next run removes them first.
  const std::string staging = BesideReplica(dir_b, ".kuzusync-new");
  const std::string delta_dir = BesideReplica(dir_b, ".kuzusync-bundle");
  // In the state directory, where listings of B's neighbours do not look.
  const std::string state_dir = BesideReplica(dir_b, ".kuzusync");
  const std::string old_version = JoinPath(state_dir, "old-version");
  KS_RETURN_IF_ERROR(RemoveTree(env, staging));
  KS_RETURN_IF_ERROR(RemoveTree(env, delta_dir));
  KS_RETURN_IF_ERROR(RemoveTree(env, old_version));

  auto cleanup = [&](Status s) -> Status {
    (void)RemoveTree(env, staging);
    (void)RemoveTree(env, delta_dir);
    return s;
  };
  KS_RETURN_IF_ERROR(env->CreateDir(delta_dir));
  Result<Manifest> manifest = ReadArchiveOfKind(env, bundle_path, delta_dir, "bundle", /*scratch=*/true);
  if (!manifest.ok()) return cleanup(manifest.status());
  // Roots of another row hash format cannot be checked against this
  // replica's; a forced apply checks none, but drops name rows by element,
  // which depends on the format too.
  if (manifest->row_hash != merkle::kRowHashFormat) {
    bool has_drops = false;
    for (const Manifest::Member& m : manifest->members) has_drops = has_drops || m.name.ends_with(".drops");
    if (!options.force || has_drops) {
      return cleanup(Status::Refused(bundle_path + " was made by a kuzusync with row hash format " +
                                     std::to_string(manifest->row_hash) + ", this one uses " +
                                     std::to_string(merkle::kRowHashFormat) +
                                     ": make the bundle again (or apply it with --force, as upserts)"));
    }
  }

  ApplyResult result;
  // B's roots: the new version's are these, changed by the rows the rewrite
  // takes out and puts in (nothing is hashed again).
  std::map<std::string, merkle::NodeSummary> roots;
  if (options.target != nullptr) {
    for (const Replica::Table& t : options.target->tables()) roots[t.name] = t.root;
  } else {
    Result<std::vector<std::vector<TableTree>>> b_trees =
        HashExports(env, {&b}, {{}}, options.threads, merkle::kTargetLeafRows, options.cache);
    if (!b_trees.ok()) return cleanup(b_trees.status());
    for (const TableTree& t : b_trees.value()[0]) roots[t.table] = t.tree.root();
  }
  Result<std::string> root = ReplicaRoot(b.schema, roots);
  if (root.value() == manifest->result_root) {
    result.already_applied = true;
    result.root = root.value();
    KS_RETURN_IF_ERROR(cleanup(Status::Ok()));
    return result;
  }
  if (root.value() != manifest->base_root) {
    if (!options.force) {
      return cleanup(Status::Refused(dir_b + " has changed since the bundle was made (its root is " +
                                     root.value().substr(0, 16) + "..., the bundle applies to " +
                                     manifest->base_root.substr(0, 16) +
                                     "...); use --force to apply it anyway as upserts"));
    }
    result.forced = true;
  }

  KS_RETURN_IF_ERROR(env->CreateDir(staging));
  std::map<std::string, TableChange> changes;
  Status s = BuildNewVersion(env, b, delta_dir, staging, options.as_cypher, options.threads, &changes);
  if (!s.ok()) return cleanup(s);
  Result<ExportDir> rebuilt = OpenExport(env, staging);
  if (!rebuilt.ok()) return cleanup(rebuilt.status());
  for (const auto& [table, change] : changes) {
    merkle::NodeSummary& root = roots[table];
    for (const merkle::KeyedDigest& row : change.added) root.Add(row.digest);
    for (const merkle::KeyedDigest& row : change.removed) root.Subtract(row.digest);
  }
  Result<std::string> new_root = ReplicaRoot(rebuilt->schema, roots);
  if (!result.forced && new_root.value() != manifest->result_root) {
    std::string tables;
    for (const Manifest::Table& t : manifest->tables) {
      if (merkle::SummaryHex(roots[t.name]) == t.root) continue;
      tables += (tables.empty() ? "" : ", ") + t.name + " (" + std::to_string(roots[t.name].count) +
                " rows, the bundle expects " + std::to_string(t.rows) + ")";
    }
    return cleanup(Status::Corrupt("applying " + bundle_path + " to " + dir_b +
                                   " did not give the bundle's result root (tables: " + tables + "); " +
                                   dir_b + " is unchanged"));
  }
  if (!options.output_dir.empty()) {  // B stays as it is; the new version goes beside it
    s = RemoveTree(env, options.output_dir);
    if (s.ok()) s = env->Rename(staging, options.output_dir);
    if (s.ok()) s = env->SyncDir(where.parent);
    if (!s.ok()) return cleanup(s);
    result.root = new_root.value();
    KS_RETURN_IF_ERROR(cleanup(Status::Ok()));
    return result;
  }
  // The one step that publishes: B's old and new versions trade places.
  s = env->ExchangePaths(staging, dir_b);
  if (s.ok()) s = env->SyncDir(where.parent);
  if (!s.ok()) return cleanup(s);
  result.root = new_root.value();
  result.changes = std::move(changes);
  // staging now holds the old version.
  FileType state_type;
  uint64_t ignored;
  if (options.defer_removal && env->Stat(state_dir, &state_type, &ignored).ok() &&
      state_type == FileType::kDirectory && env->Rename(staging, old_version).ok()) {
    result.old_version = old_version;
  }
  KS_RETURN_IF_ERROR(cleanup(Status::Ok()));
  return result;
}

void RemoveOldVersion(Env* env, const ApplyResult& applied) {
  if (!applied.old_version.empty()) (void)RemoveTree(env, applied.old_version);
}

void KeepTreesOfNewVersion(Env* env, const std::string& dir_b, const LocalReplica& old,
                           const ApplyResult& applied, TreeCache* cache) {
  // Nothing was written: the files are as the session's hashing found them
  // and cached them (or, being too recent, did not).
  if (applied.already_applied) return;
  // Identities are final now: the old version's hard links are gone.
  const auto& changes = applied.changes;
  Result<ExportDir> now = OpenExport(env, dir_b);
  if (!now.ok()) return;
  for (const TableSchema& table : now->schema.tables) {
    const merkle::Tree* tree = old.FindTree(table.name);
    if (tree == nullptr) continue;
    const TableElements* elements = old.FindElements(table.name);
    const std::string key = TreeCacheKey(env, now.value(), table, old.leaf_rows(), /*just_written=*/true);
    if (key.empty()) continue;
    auto change = changes.find(table.name);
    if (change == changes.end()) {
      cache->Store(key, *tree, elements);
      continue;
    }
    const merkle::Tree changed = tree->Changed(change->second.removed, change->second.added, old.leaf_rows());
    std::optional<TableElements> changed_elements;
    if (elements != nullptr) {
      changed_elements = ChangedElements(table.kind, *elements, change->second.removed, change->second.added);
    }
    cache->Store(key, changed, changed_elements ? &*changed_elements : nullptr);
  }
}

}  // namespace kuzusync
