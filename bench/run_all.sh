#!/usr/bin/env bash
# Runs the benchmarks one after another and keeps a log:
#   bench/hash_vs_b2sum.sh, bench/rss_10m.sh, bench/seed.sh, bench/sync_bench.sh (~4 min)
# and, with PROFILE=1, bench/hash_stages.sh and bench/profile.sh (callgrind + massif; ~4 min).
#
#   bench/run_all.sh            log: /tmp/kuzusync-bench/run_all-<UTC time>.log
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
mkdir -p "$CACHE"
# Others rebuild build/ while we run: measure copies taken now, so that all
# numbers in one log come from one build.
SNAP=$CACHE/bin-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$SNAP"
ensure_kuzusync
cp "$KUZUSYNC" "$SNAP/kuzusync"
cp "$REPO/build/bench/kuzusync_bench" "$SNAP/kuzusync_bench"
for l in diff merkle snapshot; do cp "$REPO/build/$l/libkuzusync_$l.a" "$SNAP/"; done
"$SNAP/kuzusync" --version >/dev/null  # a copy taken mid-link would fail here
export KUZUSYNC=$SNAP/kuzusync KUZUSYNC_BENCH=$SNAP/kuzusync_bench KUZUSYNC_LIBDIR=$SNAP
binaries() {  # mtime and short sha256 of what is measured
  local f
  for f in "$REPO/build/src/kuzusync" "$REPO/build/bench/kuzusync_bench"; do
    printf '%s %s %s; ' "${f#"$REPO"/}" "$(stat -c %y "$f" 2>/dev/null | cut -c1-19)" "$(sha256sum "$f" 2>/dev/null | cut -c1-12)"
  done
}
start=$(binaries)
LOG=$CACHE/run_all-$(date -u +%Y%m%dT%H%M%SZ).log
{
  machine_line
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), modified:" \
    "$(git -C "$REPO" status --short --untracked-files=no 2>/dev/null | awk '{ printf "%s ", $2 }')"
  echo "measuring copies (taken at start) in $SNAP: kuzusync sha256 $(sha256sum "$SNAP/kuzusync" | cut -c1-12)," \
    "kuzusync_bench sha256 $(sha256sum "$SNAP/kuzusync_bench" | cut -c1-12); build/ then: $start"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  "$BENCH_DIR/hash_vs_b2sum.sh"
  echo
  "$BENCH_DIR/rss_10m.sh"
  echo
  "$BENCH_DIR/seed.sh"
  echo
  "$BENCH_DIR/sync_bench.sh"
  if [[ ${PROFILE:-0} == 1 ]]; then
    echo
    "$BENCH_DIR/hash_stages.sh"
    echo
    "$BENCH_DIR/profile.sh"
  fi
  echo
  end=$(binaries)
  [[ $end == "$start" ]] || echo "note: build/ was rebuilt during the run (now: $end); the copies above were measured"
} 2>&1 | tee "$LOG"
echo "log: $LOG"
