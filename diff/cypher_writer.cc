// WriteCypher: turns a bundle into statements for a live Kuzu database.
//
// Values never appear in the Cypher text: every statement LOADs its rows
// from a data file written beside apply.cypher, whose header names the
// columns c0, c1, ... so that no user identifier becomes a variable.
// Rel deletes work on whole (from, to) pairs (the bundle replaces pairs
// whole), so no property has to be matched by equality: values that went
// through CSV (6-decimal floats, lists) would not match what the database
// holds.

#include "diff/delta_files.h"
#include "diff/diff.h"
#include "diff/new_directory.h"

namespace kuzusync {
namespace {


std::string SingleQuoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// LOAD needs a concrete type; SERIAL values are plain INT64s.
std::string LoadType(const std::string& type) {
  std::string upper;
  for (char c : type) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper == "SERIAL" ? "INT64" : type;
}

bool IsString(const std::string& type) {
  std::string upper;
  for (char c : type) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper == "STRING";
}

std::string Var(size_t i) { return "c" + std::to_string(i); }

class CypherBuilder {
 public:
  CypherBuilder(Env* env, const Schema& schema, std::string delta_dir, std::string out_dir,
                std::string path_in_cypher)
      : env_(env),
        schema_(schema),
        delta_dir_(std::move(delta_dir)),
        out_dir_(std::move(out_dir)),
        path_in_cypher_(std::move(path_in_cypher)) {}

  // Copies a delta member to a data file with a c0,c1,... header; returns
  // the LOAD clause reading it, or "" when the member is absent.
  //
  // LOAD reads a quoted "" as NULL unless told which string means NULL, so
  // each file gets a NULL marker that none of its values equals, written for
  // the NULLs of STRING columns: empty strings then stay empty strings.
  // Kuzu 0.11 applies null_strings to STRING columns only; other columns
  // keep the empty field, which they read as NULL. parallel=false because
  // values may hold quoted newlines, which the parallel CSV reader refuses.
  Result<std::string> Load(const std::string& member, const std::vector<std::string>& types) {
    const std::string src = JoinPath(delta_dir_, member);
    FileType type;
    uint64_t size = 0;
    if (!env_->Stat(src, &type, &size).ok()) return std::string();
    ExportDir holder;
    holder.dir = delta_dir_;
    DataFile file;
    file.path = member;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::vector<uint8_t>> nulls;
    std::string marker = "\\N";
    KS_RETURN_IF_ERROR(ScanDataFile(env_, holder, file, types.size(), [&](const RowView& row) {
      rows.emplace_back(row.fields->begin(), row.fields->end());
      nulls.push_back(*row.is_null);
      return Status::Ok();
    }));
    bool clash = true;
    while (clash) {
      clash = false;
      for (const auto& row : rows) {
        for (const std::string& value : row) clash = clash || value == marker;
      }
      if (clash) marker += "~";
    }
    std::string data;
    std::string columns;
    for (size_t i = 0; i < types.size(); ++i) {
      data += (i ? "," : "") + Var(i);
      columns += (i ? ", " : "") + Var(i) + " " + LoadType(types[i]);
    }
    data += "\n";
    const CsvOptions csv;
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t i = 0; i < rows[r].size(); ++i) {
        if (i > 0) data += ',';
        if (nulls[r][i]) {
          if (IsString(types[i])) data += marker;
        } else {
          AppendCsvField(&data, rows[r][i], false, csv);
        }
      }
      data += '\n';
    }
    KS_RETURN_IF_ERROR(WriteFileAtomically(env_, JoinPath(out_dir_, member), data));
    return "LOAD WITH HEADERS (" + columns + ") FROM " +
           SingleQuoted(JoinPath(path_in_cypher_, member)) +
           " (header=true, parallel=false, null_strings=[" + SingleQuoted(marker) + "])\n";
  }

  const TableSchema* Table(const std::string& name) const { return schema_.Find(name); }

  const Column& KeyOf(const std::string& node_table) const {
    const TableSchema* t = schema_.Find(node_table);
    return t->columns[t->primary_key];
  }

 private:
  Env* env_;
  const Schema& schema_;
  std::string delta_dir_, out_dir_, path_in_cypher_;
};

std::vector<std::string> TypesOf(const TableSchema& table) {
  std::vector<std::string> types;
  for (const Column& c : table.columns) types.push_back(c.type);
  return types;
}

Result<std::string> BuildStatements(CypherBuilder& cb, const Schema& schema) {
  std::string rel_deletes, node_deletes, node_upserts, rel_inserts;
  for (const TableSchema& table : schema.tables) {
    const std::string label = delta::Backquote(table.name);
    if (table.kind == TableKind::kNode) {
      const Column& key = table.columns[table.primary_key];
      KS_ASSIGN_OR_RETURN(std::string load_del,
                          cb.Load(delta::NodeDeletes(table.name), {key.type}));
      if (!load_del.empty()) {
        node_deletes += load_del + "MATCH (n:" + label + " {" + delta::Backquote(key.name) + ": c0}) DETACH DELETE n;\n";
      }
      KS_ASSIGN_OR_RETURN(std::string load_up, cb.Load(delta::NodeUpserts(table.name), TypesOf(table)));
      if (!load_up.empty()) {
        std::string sets;
        for (size_t i = 0; i < table.columns.size(); ++i) {
          if (i == table.primary_key) continue;
          sets += (sets.empty() ? " SET " : ", ") + std::string("n.") + delta::Backquote(table.columns[i].name) + " = " + Var(i);
        }
        node_upserts += load_up + "MERGE (n:" + label + " {" + delta::Backquote(key.name) + ": " +
                        Var(table.primary_key) + "})" + sets + ";\n";
      }
      continue;
    }
    for (const RelConnection& c : table.connections) {
      if (schema.Find(c.from) == nullptr || schema.Find(c.to) == nullptr) {
        return Status::Corrupt("rel table " + table.name + " connects undeclared tables");
      }
      const Column& from_key = cb.KeyOf(c.from);
      const Column& to_key = cb.KeyOf(c.to);
      std::vector<std::string> types = {from_key.type, to_key.type};
      for (const Column& col : table.columns) types.push_back(col.type);
      // One MATCH per endpoint: with both in one MATCH, Kuzu 0.11 plans a
      // cross product of the two node tables before joining the loaded rows.
      const std::string source = "MATCH (a:" + delta::Backquote(c.from) + " {" + delta::Backquote(from_key.name) +
                                 ": c0})\n";
      const std::string target = "(b:" + delta::Backquote(c.to) + " {" + delta::Backquote(to_key.name) + ": c1})";
      // Deleted pairs: only their endpoints matter, so every column loads as STRING but the keys.
      std::vector<std::string> delete_types = types;
      for (size_t i = 2; i < delete_types.size(); ++i) delete_types[i] = "STRING";
      KS_ASSIGN_OR_RETURN(std::string load_del, cb.Load(delta::RelDeletes(table.name, c), delete_types));
      if (!load_del.empty()) {
        rel_deletes += load_del + "WITH DISTINCT c0, c1\n" + source + "MATCH (a)-[r:" + label +
                       "]->" + target + " DELETE r;\n";
      }
      KS_ASSIGN_OR_RETURN(std::string load_ins, cb.Load(delta::RelInserts(table.name, c), types));
      if (!load_ins.empty()) {
        std::string props;
        for (size_t i = 0; i < table.columns.size(); ++i) {
          props += (i ? ", " : "") + delta::Backquote(table.columns[i].name) + ": " + Var(i + 2);
        }
        rel_inserts += load_ins + source + "MATCH " + target + "\nCREATE (a)-[:" + label +
                       (props.empty() ? "" : " {" + props + "}") + "]->(b);\n";
      }
    }
  }
  return "// Written by kuzusync from a bundle. Order: rel deletes, node deletes,\n"
         "// node upserts, rel inserts. Run in a Kuzu 0.11 database as is.\n" +
         rel_deletes + node_deletes + node_upserts + rel_inserts;
}

}  // namespace

Status WriteCypher(Env* env, const std::string& bundle_path, const std::string& out_dir,
                   const std::string& path_in_cypher) {
  KS_ASSIGN_OR_RETURN(auto out, NewDirectory::Begin(env, out_dir,
                                                    "kuzusync writes Cypher only into a new directory"));
  // The bundle's members are read from a directory of their own, beside.
  KS_ASSIGN_OR_RETURN(auto delta, NewDirectory::Begin(env, out->building() + ".bundle",
                                                      "remove it (left by an earlier run)"));
  KS_ASSIGN_OR_RETURN(Manifest manifest, ReadArchiveOfKind(env, bundle_path, delta->building(), "bundle"));
  KS_RETURN_IF_ERROR(delta::RefuseDrops(manifest, bundle_path));
  std::string schema_text;
  KS_RETURN_IF_ERROR(ReadFileToString(env, JoinPath(delta->building(), delta::kSchemaMember), &schema_text));
  KS_ASSIGN_OR_RETURN(Schema schema, ParseSchema(schema_text, bundle_path + ":" + delta::kSchemaMember));
  CypherBuilder builder(env, schema, delta->building(), out->building(), path_in_cypher);
  KS_ASSIGN_OR_RETURN(std::string statements, BuildStatements(builder, schema));
  KS_RETURN_IF_ERROR(WriteFileAtomically(env, JoinPath(out->building(), "apply.cypher"), statements));
  return out->Publish();  // `delta` is never published: it is removed on return
}

}  // namespace kuzusync
