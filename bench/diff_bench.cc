// Google Benchmark microbenchmarks: the seed diff cases, row hashing and
// set-reconciliation encoding.
// Whole-command comparisons against b2sum etc. live in bench/*.sh.

#include <benchmark/benchmark.h>

#include "diff/diff.h"

namespace kuzusync {
namespace {

constexpr const char kSchema[] =
    "CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`age` INT64, PRIMARY KEY(`id`));\n";
constexpr const char kCopy[] = "COPY `User` (`id`,`name`,`age`) FROM \"User.csv\" (parallel=true);\n";

std::string Users(int n, int skip_every) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (skip_every != 0 && i % skip_every == 0) continue;
    out += std::to_string(i) + ",user" + std::to_string(i) + "," + std::to_string(20 + i % 50) + "\n";
  }
  return out;
}

void WriteExport(Env* env, const std::string& dir, const std::string& users) {
  (void)WriteFileAtomically(env, dir + "/schema.cypher", kSchema);
  (void)WriteFileAtomically(env, dir + "/copy.cypher", kCopy);
  (void)WriteFileAtomically(env, dir + "/User.csv", users);
}

// Seed case: n users vs the same minus n/1000; reports comparisons.
void BM_DiffNodeTable(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto env = NewMemEnv();
  WriteExport(env.get(), "/a", Users(n, 0));
  WriteExport(env.get(), "/b", Users(n, 1000));
  DiffStats stats;
  uint64_t only_in_a = 0;
  for (auto _ : state) {
    auto report = DiffExports(env.get(), "/a", "/b", {});
    if (!report.ok()) {
      state.SkipWithError(report.status().ToString().c_str());
      return;
    }
    stats = report->stats;
    only_in_a = report->tables[0].only_in_a;
  }
  state.counters["comparisons"] = static_cast<double>(stats.comparisons);
  state.counters["leaves"] = static_cast<double>(stats.leaves_compared);
  state.counters["only_in_a"] = static_cast<double>(only_in_a);
}
BENCHMARK(BM_DiffNodeTable)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_RowDigest(benchmark::State& state) {
  std::string row(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(merkle::DigestRow(row, 0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_RowDigest)->Arg(64)->Arg(128)->Arg(1024);

// Coded symbols 0..m of n random elements (as a push encodes a table): the
// CPU of a reconciliation is mostly this, on both sides. Reports ns per
// element.
void BM_SketchEncode(benchmark::State& state) {
  const int64_t n = state.range(0), m = state.range(1);
  std::vector<uint64_t> elements(static_cast<size_t>(n));
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (uint64_t& e : elements) e = (x = x * 6364136223846793005ULL + 1442695040888963407ULL);
  for (auto _ : state) {
    merkle::SketchEncoder encoder;
    for (uint64_t e : elements) encoder.Add(e);
    std::vector<merkle::CodedSymbol> symbols;
    encoder.Extend(static_cast<uint64_t>(m), &symbols);
    benchmark::DoNotOptimize(symbols.data());
  }
  state.counters["ns_per_element"] = benchmark::Counter(
      static_cast<double>(n) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SketchEncode)->Args({1 << 20, 64})->Args({1 << 20, 4096})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kuzusync

BENCHMARK_MAIN();
