// DeltaBuilder: stages bundle members and accounts for the result root.

#include "diff/delta_builder.h"

#include <cstdio>

#include "diff/delta_files.h"

namespace kuzusync {

namespace {
constexpr size_t kFlushBytes = 4 << 20;
}  // namespace

DeltaBuilder::DeltaBuilder(Env* env, std::string staging) : env_(env), staging_(std::move(staging)) {}

DeltaBuilder::~DeltaBuilder() {
  for (auto& [member, file] : files_) (void)file->Close();
  if (open_) (void)RemoveTree(env_, staging_);
}

Status DeltaBuilder::Open() {
  KS_RETURN_IF_ERROR(RemoveTree(env_, staging_));
  KS_RETURN_IF_ERROR(env_->CreateDir(staging_));
  open_ = true;
  return Status::Ok();
}

Status DeltaBuilder::Append(const std::string& member, const std::string& data) {
  pending_[member] += data;
  pending_bytes_ += data.size();
  return pending_bytes_ >= kFlushBytes ? Flush() : Status::Ok();
}

Status DeltaBuilder::Flush() {
  for (auto& [member, data] : pending_) {
    if (data.empty()) continue;
    auto it = files_.find(member);
    if (it == files_.end()) {
      std::unique_ptr<WritableFile> file;
      KS_RETURN_IF_ERROR(env_->NewWritableFile(JoinPath(staging_, member), &file));
      it = files_.emplace(member, std::move(file)).first;
    }
    KS_RETURN_IF_ERROR(it->second->Append(data));
    data.clear();
  }
  pending_bytes_ = 0;
  return Status::Ok();
}

Status DeltaBuilder::UpsertNode(const std::string& table, const std::string& csv,
                                const merkle::RowDigest& digest, const merkle::RowDigest* replaced) {
  TableDelta& t = tables_[table];
  t.delta.Add(digest);
  if (replaced != nullptr) t.delta.Subtract(*replaced);
  ++t.upserts;
  ++changes_;
  return Append(delta::NodeUpserts(table), csv);
}

Status DeltaBuilder::DeleteNode(const std::string& table, const std::string& key,
                                const merkle::RowDigest& digest) {
  TableDelta& t = tables_[table];
  t.delta.Subtract(digest);
  ++t.deletes;
  ++changes_;
  std::string line;
  AppendCsvField(&line, key, false, CsvOptions{});
  line += '\n';
  return Append(delta::NodeDeletes(table), line);
}

Status DeltaBuilder::InsertRel(const std::string& table, const RelConnection& connection,
                               const std::string& csv, const merkle::RowDigest& digest, uint64_t copies) {
  TableDelta& t = tables_[table];
  std::string rows;
  for (uint64_t i = 0; i < copies; ++i) {
    t.delta.Add(digest);
    rows += csv;
  }
  t.upserts += copies;
  changes_ += copies;
  return Append(delta::RelInserts(table, connection), rows);
}

Status DeltaBuilder::DeleteRel(const std::string& table, const RelConnection& connection,
                               const std::string& csv, const merkle::RowDigest& digest, uint64_t copies) {
  TableDelta& t = tables_[table];
  std::string rows;
  for (uint64_t i = 0; i < copies; ++i) {
    t.delta.Subtract(digest);
    rows += csv;
  }
  t.deletes += copies;
  changes_ += copies;
  return Append(delta::RelDeletes(table, connection), rows);
}

Status DeltaBuilder::DropRows(const std::string& table, const std::vector<uint64_t>& elements) {
  if (elements.empty()) return Status::Ok();
  TableDelta& t = tables_[table];
  t.deletes += elements.size();
  changes_ += elements.size();
  std::string lines;
  char hex[17];
  for (uint64_t e : elements) {
    snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(e));
    lines.append(hex, 16);
    lines += '\n';
  }
  return Append(delta::Drops(table), lines);
}

Result<Manifest> DeltaBuilder::Finish(const Schema& schema,
                                      const std::map<std::string, merkle::NodeSummary>& roots,
                                      const Schema& source_schema, const std::string& out_path,
                                      const PackOptions& pack, bool deletes,
                                      std::map<std::string, merkle::NodeSummary>* result_roots) {
  KS_RETURN_IF_ERROR(Flush());
  std::vector<ArchiveSource> sources;
  const std::string schema_path = JoinPath(staging_, delta::kSchemaMember);
  // Staging is scratch, like the other members: written, not synced.
  std::unique_ptr<WritableFile> schema_file;
  KS_RETURN_IF_ERROR(env_->NewWritableFile(schema_path, &schema_file));
  KS_RETURN_IF_ERROR(schema_file->Append(SchemaText(source_schema)));
  KS_RETURN_IF_ERROR(schema_file->Close());
  sources.push_back({delta::kSchemaMember, schema_path});
  for (auto& [member, file] : files_) {
    KS_RETURN_IF_ERROR(file->Close());
    sources.push_back({member, JoinPath(staging_, member)});
  }
  files_.clear();

  Manifest manifest;
  manifest.kind = "bundle";
  manifest.row_hash = merkle::kRowHashFormat;
  manifest.options.emplace_back("deletes", deletes ? "yes" : "no");
  std::map<std::string, merkle::NodeSummary> result;
  for (const TableSchema& table : schema.tables) {
    auto root = roots.find(table.name);
    merkle::NodeSummary summary = root == roots.end() ? merkle::NodeSummary{} : root->second;
    Manifest::Table entry;
    entry.name = table.name;
    entry.kind = table.kind == TableKind::kNode ? "node" : "rel";
    auto d = tables_.find(table.name);
    if (d != tables_.end()) {
      summary.Add(d->second.delta);
      if (d->second.result) summary = *d->second.result;
      entry.upserts = d->second.upserts;
      entry.deletes = d->second.deletes;
    }
    result[table.name] = summary;
    entry.rows = summary.count;
    entry.root = merkle::SummaryHex(summary);
    manifest.tables.push_back(std::move(entry));
  }
  manifest.base_root = ReplicaRoot(schema, roots);
  manifest.result_root = ReplicaRoot(schema, result);
  PackOptions packing = pack;
  if (packing.level == PackOptions::kSmallHigh) {
    uint64_t total = 0;
    for (const ArchiveSource& source : sources) {
      FileType type;
      uint64_t size = 0;
      if (env_->Stat(source.path, &type, &size).ok()) total += size;
    }
    packing.level = total < (16u << 20) ? 17 : 3;
  }
  KS_RETURN_IF_ERROR(WriteArchive(env_, out_path, &manifest, sources, packing));
  KS_RETURN_IF_ERROR(RemoveTree(env_, staging_));
  open_ = false;
  if (result_roots != nullptr) *result_roots = std::move(result);
  return manifest;
}

}  // namespace kuzusync
