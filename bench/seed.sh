#!/usr/bin/env bash
# The seed diff microbenchmarks (bench/diff_bench.cc, Google Benchmark):
# BM_DiffNodeTable/N = N users vs the same minus every 1000th (in-memory Env).
#
#   bench/seed.sh            (REPS=5 repetitions; extra args go to the benchmark)
#
# Goals: 10,000 vs 9,990 nodes -> only_in_a 10 and comparisons < 100;
# the 1,000-node diff under 100 ms.
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
BIN=${KUZUSYNC_BENCH:-$REPO/build/bench/kuzusync_bench}
REPS=${REPS:-5}
if [[ ! -x $BIN ]]; then
  echo "building release tree ($BIN missing)" >&2
  "$REPO/scripts/build.sh" release >&2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "== seed: $BIN"
machine_line
"$BIN" --benchmark_filter='BM_DiffNodeTable|BM_RowDigest' --benchmark_repetitions="$REPS" \
  --benchmark_format=json "$@" >"$out" 2>/dev/null

python3 - "$out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ctx = d["context"]
print(f"library_build_type={ctx.get('library_build_type')} cpus={ctx.get('num_cpus')} "
      f"mhz={ctx.get('mhz_per_cpu')} load_avg={ctx.get('load_avg')}")
runs = {}
for b in d["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    runs.setdefault(b["run_name"], []).append(b)

def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale, b["cpu_time"] * scale

print(f"{'benchmark':<24} {'reps':>4} {'min_ms':>9} {'median_ms':>10} {'comparisons':>11} {'leaves':>7} {'only_in_a':>9}")
res = {}
for name, bs in runs.items():
    if not name.startswith("BM_DiffNodeTable"):
        continue
    t = sorted(ms(b)[0] for b in bs)
    med = t[len(t) // 2]
    b = bs[0]
    res[name] = (t[0], med, b["comparisons"], b["only_in_a"])
    print(f"{name:<24} {len(t):>4} {t[0]:>9.3f} {med:>10.3f} {b['comparisons']:>11.0f} {b['leaves']:>7.0f} {b['only_in_a']:>9.0f}")
for name, bs in runs.items():
    if name.startswith("BM_RowDigest"):
        bps = sorted(b["bytes_per_second"] for b in bs)
        ns = sorted(b["real_time"] for b in bs)
        print(f"{name:<24} {len(bs):>4} digest {ns[0]:.1f} ns/row (best), {bps[-1] / 1e6:.0f} MB/s (best)")

def verdict(ok):
    return "MET" if ok else "MISSED"
small = res.get("BM_DiffNodeTable/1000")
big = res.get("BM_DiffNodeTable/10000")
if big:
    print(f"goal 10,000 vs 9,990: only_in_a == 10 ({big[3]:.0f}) and comparisons < 100 ({big[2]:.0f}): "
          f"{verdict(big[3] == 10 and big[2] < 100)}")
if small:
    print(f"goal 1,000-node diff < 100 ms (median {small[1]:.3f} ms): {verdict(small[1] < 100)}")
if small and big:
    print(f"ratio 10,000 / 1,000 median time: {big[1] / small[1]:.1f}x")
EOF
