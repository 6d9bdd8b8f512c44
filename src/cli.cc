// Command dispatch and output for the kuzusync CLI.

#include "src/cli.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "diff/diff.h"
#include "snapshot/snapshot.h"
#include "src/json_writer.h"

namespace kuzusync {
namespace {

constexpr int kExitSame = 0;
constexpr int kExitDifferent = 1;
constexpr int kExitTrouble = 2;

int ReportError(const Status& s) {
  std::cerr << "kuzusync: " << s.ToString() << "\n";
  return kExitTrouble;
}

const char* KindName(TableKind kind) { return kind == TableKind::kNode ? "node" : "rel"; }

std::string DiffJson(const DiffReport& report) {
  JsonWriter w;
  w.BeginObject();
  w.Key("identical").Value(report.identical);
  w.Key("tables").BeginObject();
  for (const TableDiff& t : report.tables) {
    w.Key(t.table).BeginObject();
    w.Key("kind").Value(KindName(t.kind));
    w.Key("rows_a").Value(t.rows_a);
    w.Key("rows_b").Value(t.rows_b);
    w.Key("only_in_a").Value(t.only_in_a);
    w.Key("only_in_b").Value(t.only_in_b);
    w.Key("changed").Value(t.changed);
    if (!t.skipped.empty()) w.Key("skipped").Value(t.skipped);
    w.EndObject();
  }
  w.EndObject();
  w.Key("schema").BeginObject();
  w.Key("only_in_a").StringArray(report.schema.only_in_a);
  w.Key("only_in_b").StringArray(report.schema.only_in_b);
  w.Key("changed").StringArray(report.schema.changed);
  w.EndObject();
  w.Key("stats").BeginObject();
  w.Key("comparisons").Value(report.stats.comparisons);
  w.Key("leaves_compared").Value(report.stats.leaves_compared);
  w.Key("elapsed_ms").Value(report.stats.elapsed_ms);
  w.EndObject();
  w.EndObject();
  return w.str();
}

void PrintDiffHuman(const DiffReport& report, bool show_rows) {
  for (const std::string& t : report.schema.only_in_a) std::cout << "schema: table " << t << " only in A\n";
  for (const std::string& t : report.schema.only_in_b) std::cout << "schema: table " << t << " only in B\n";
  for (const std::string& t : report.schema.changed) {
    std::cout << "schema: table " << t << " differs (columns, types, key or connections)\n";
  }
  size_t differing = 0;
  for (const TableDiff& t : report.tables) {
    std::cout << t.table << " (" << KindName(t.kind) << "): ";
    if (!t.skipped.empty()) {
      std::cout << t.rows_a << " rows in A, " << t.rows_b << " in B; rows not compared: "
                << t.skipped << "\n";
      ++differing;
      continue;
    }
    if (!t.differs()) {
      std::cout << "identical, " << t.rows_a << " rows\n";
      continue;
    }
    ++differing;
    std::cout << t.rows_a << " rows in A, " << t.rows_b << " in B: " << t.only_in_a
              << " only in A, " << t.only_in_b << " only in B";
    if (t.kind == TableKind::kNode) std::cout << ", " << t.changed << " changed";
    std::cout << "\n";
    if (show_rows) {
      for (const RowChange& r : t.rows) std::cout << r.sign << ' ' << t.table << ' ' << r.display << "\n";
    }
  }
  char stats[128];
  std::snprintf(stats, sizeof(stats), "%llu comparisons, %llu leaves compared, %.1f ms",
                static_cast<unsigned long long>(report.stats.comparisons),
                static_cast<unsigned long long>(report.stats.leaves_compared),
                report.stats.elapsed_ms);
  if (report.identical) {
    std::cout << "replicas are identical (" << stats << ")\n";
  } else {
    std::cout << differing << " of " << report.tables.size() << " tables differ (" << stats << ")\n";
  }
}

int RunDiff(const std::string& a, const std::string& b, const DiffOptions& options, bool json) {
  Result<DiffReport> report = DiffExports(Env::Default(), a, b, options);
  if (!report.ok()) return ReportError(report.status());
  for (const std::string& note : report->notes) std::cerr << "kuzusync: note: " << note << "\n";
  if (json) {
    std::cout << DiffJson(report.value()) << "\n";
  } else {
    PrintDiffHuman(report.value(), options.collect_rows);
  }
  return report->identical ? kExitSame : kExitDifferent;
}

int RunHash(const std::string& dir, const std::vector<std::string>& tables, int threads, bool json) {
  const auto start = std::chrono::steady_clock::now();
  Env* env = Env::Default();
  Result<ExportDir> export_dir = OpenExport(env, dir);
  if (!export_dir.ok()) return ReportError(export_dir.status());
  for (const std::string& t : tables) {
    if (export_dir->schema.Find(t) == nullptr) {
      return ReportError(Status::InvalidArgument("no table named " + t + " in " + dir));
    }
  }
  auto trees = HashExports(env, {&export_dir.value()}, {tables}, threads);
  if (!trees.ok()) return ReportError(trees.status());
  uint64_t bytes = 0;
  for (const DataFile& f : export_dir->files) bytes += f.size_bytes;
  double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("tables").BeginObject();
    for (const TableTree& t : trees.value()[0]) {
      w.Key(t.table).BeginObject();
      w.Key("kind").Value(KindName(t.kind));
      w.Key("rows").Value(t.tree.rows());
      w.Key("root").Value(t.tree.RootHex());
      w.EndObject();
    }
    w.EndObject();
    w.Key("stats").BeginObject().Key("bytes").Value(bytes).Key("elapsed_ms").Value(elapsed_ms).EndObject();
    w.EndObject();
    std::cout << w.str() << "\n";
  } else {
    for (const TableTree& t : trees.value()[0]) {
      std::cout << t.tree.RootHex() << "  " << t.table << " (" << KindName(t.kind) << ", "
                << t.tree.rows() << " rows)\n";
    }
  }
  return kExitSame;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"kuzusync: replicate Kuzu graph databases by their EXPORT DATABASE directories"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kuzusync 0.1.0");

  std::string dir_a, dir_b;
  std::vector<std::string> tables;
  bool json = false;
  bool rows = false;
  int threads = 0;

  CLI::App* diff = app.add_subcommand(
      "diff", "Compare two replicas. Exit 0 identical, 1 different, 2 trouble.");
  diff->add_option("A", dir_a, "first replica (export directory)")->required();
  diff->add_option("B", dir_b, "second replica (export directory)")->required();
  diff->add_flag("--rows", rows, "also list differing rows: + only in A, - only in B, ~ changed");
  diff->add_flag("--json", json, "print one JSON object");
  diff->add_option("--table", tables, "limit to this table (repeatable)");
  diff->add_option("--threads", threads, "hashing threads (default: all cores)");

  CLI::App* hash = app.add_subcommand("hash", "Print per-table row counts and root hashes.");
  hash->add_option("A", dir_a, "replica (export directory)")->required();
  hash->add_flag("--json", json, "print one JSON object");
  hash->add_option("--table", tables, "limit to this table (repeatable)");
  hash->add_option("--threads", threads, "hashing threads (default: all cores)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitTrouble;
  }

  if (diff->parsed()) {
    DiffOptions options;
    options.tables = tables;
    options.collect_rows = rows;
    options.threads = threads;
    return RunDiff(dir_a, dir_b, options, json);
  }
  if (hash->parsed()) return RunHash(dir_a, tables, threads, json);
  return kExitTrouble;
}

}  // namespace kuzusync
