#!/usr/bin/env bash
# Tree build throughput: `kuzusync hash` on the LDBC SF0.1 export against
# b2sum and sha256sum over the same CSV files, all in one run with a warm
# page cache. Best of $REPS (default 5) by wall time.
#
#   bench/hash_vs_b2sum.sh [EXPORT_DIR]   (default /tmp/kuzusync-bench/ldbc; made if missing)
#
# Goals: >= 300 MB/s per core (single thread: data bytes / CPU seconds), and
# `kuzusync hash` within 1.5x of b2sum's wall time.
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
DIR=${1:-$CACHE/ldbc}
REPS=${REPS:-5}

ensure_kuzusync
ensure_gnu_time
if [[ ! -f $DIR/schema.cypher ]]; then
  (cd "$REPO" && node bench/make_ldbc_export.mjs "$DIR")
fi

mapfile -t CSVS < <(find "$DIR" -maxdepth 1 -name '*.csv' -type f | sort)
BYTES=$(cat "${CSVS[@]}" | wc -c)
NPROC=$(nproc)

echo "== hash_vs_b2sum: $DIR"
machine_line
echo "data: ${#CSVS[@]} CSV files, $BYTES bytes ($(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB); best of $REPS"
reported=$("$KUZUSYNC" hash "$DIR" --json --no-cache | grep -o '"bytes": *[0-9]*' | grep -o '[0-9]*$')
[[ $reported == "$BYTES" ]] || echo "note: kuzusync reports $reported data bytes, CSV total is $BYTES"

# Warm the page cache (twice: the second pass should be all hits).
cat "${CSVS[@]}" >/dev/null
cat "${CSVS[@]}" >/dev/null

declare -A RES
time_best "$REPS" RES[cat] cat "${CSVS[@]}"
time_best "$REPS" RES[b2sum] b2sum "${CSVS[@]}"
time_best "$REPS" RES[sha256sum] sha256sum "${CSVS[@]}"
# --no-cache: the tree cache beside DIR would answer without building anything.
time_best "$REPS" RES[hash1] "$KUZUSYNC" hash "$DIR" --threads 1 --no-cache
time_best "$REPS" RES[hashN] "$KUZUSYNC" hash "$DIR" --no-cache

b2=${RES[b2sum]%% *}
printf '\n%-34s %8s %8s %9s %10s %12s\n' tool wall_s cpu_s MB/s MB/cpu-s vs_b2sum
row() {
  local label=$1 r=$2
  read -r wall user sys <<<"$r"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v b="$BYTES" -v b2="$b2" 'BEGIN {
    c = u + s; if (c < 0.005) c = 0.005
    printf "%-34s %8.3f %8.2f %9.0f %10.0f %11.2fx\n", l, w, u + s, b / w / 1e6, b / c / 1e6, w / b2 }'
}
row "cat (read floor)" "${RES[cat]}"
row "b2sum" "${RES[b2sum]}"
row "sha256sum" "${RES[sha256sum]}"
row "kuzusync hash --threads 1" "${RES[hash1]}"
row "kuzusync hash (default, $NPROC thr)" "${RES[hashN]}"
echo "(vs_b2sum = wall time / b2sum wall time; MB/cpu-s = data bytes / (user+sys); cpu_s has 10 ms resolution)"
