#!/usr/bin/env bash
# Where `kuzusync hash` spends its time and where `kuzusync diff` peaks in memory.
#
#   bench/profile.sh [EXPORT_DIR] [ROWS_DIR]
#     EXPORT_DIR: LDBC export (default /tmp/kuzusync-bench/ldbc)
#     ROWS_DIR:   rss_10m.sh cache (default /tmp/kuzusync-bench/rss10000000; massif skipped if absent
#                 or MASSIF=0; takes ~3 minutes)
#
# callgrind: valgrind's CPUID hides SHA-NI, so OpenSSL runs its AVX2 SHA-256
# under valgrind: the SHA block function's share is larger than natively. The
# native cost of that difference is measured directly by disabling SHA-NI
# with OPENSSL_ia32cap (bit 29 of the second capability word).
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
DIR=${1:-$CACHE/ldbc}
ROWS_DIR=${2:-$CACHE/rss10000000}
CG=${CG_OUT:-/tmp/cg.out}
ensure_kuzusync
ensure_gnu_time

echo "== profile: callgrind of kuzusync hash $DIR --threads 1 -> $CG"
machine_line
valgrind --tool=callgrind --callgrind-out-file="$CG" "$KUZUSYNC" hash "$DIR" --threads 1 >/dev/null 2>"$CG.log"
grep -E 'Collected|refs' "$CG.log" | tail -1
# callgrind_annotate names entries file:function, and code inlined from a
# header is a separate entry (e.g. stl_algobase.h:CsvReader::Next): per
# function, self costs are summed and inclusive costs take the largest part.
top10() {  # self|inclusive
  local mode=$1 args=()
  args=(--auto=no)
  [[ $mode == inclusive ]] && args+=(--inclusive=yes)
  callgrind_annotate "${args[@]}" "$CG" 2>/dev/null | awk -v mode="$mode" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1; next }
    /^ *[0-9,]+ +\( *[0-9.]+%\) +/ {
      ir = $1; gsub(",", "", ir); ir += 0
      rest = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", rest)
      fn = rest; sub(/^[^:]*:/, "", fn); sub(/ \[.*$/, "", fn)
      obj = rest; if (match(rest, /\[[^]]*\]$/)) { obj = substr(rest, RSTART + 1, RLENGTH - 2); sub(/.*\//, "", obj) } else obj = ""
      if (fn ~ /\(below main\)|^main$|^0x000000000001ab70$|__libc_start/) next
      if (obj != "") where[fn] = obj
      if (mode == "self") cost[fn] += ir; else if (ir > cost[fn]) cost[fn] = ir
    }
    END { for (k in cost) printf "%.0f\t%.2f\t%s [%s]\n", cost[k], 100 * cost[k] / total, k, where[k] }' |
    sort -t$'\t' -k1,1nr | head -"${TOP:-10}" |
    awk -F'\t' '{ f = $3; if (length(f) > 150) f = substr(f, 1, 147) "..."; printf "%15s %6.2f%%  %s\n", $1, $2, f }'
}
echo "-- top 10 functions by self cost (Ir)"
top10 self || true
echo "-- top 16 functions by inclusive cost (Ir), below main (the first ones are the call chain)"
TOP=16 top10 inclusive || true

echo "-- native A/B: SHA-NI on vs off (OPENSSL_ia32cap), hash --threads 1, best of 5"
time_best 5 ON "$KUZUSYNC" hash "$DIR" --threads 1
OPENSSL_ia32cap=":~0x20000000" time_best 5 OFF "$KUZUSYNC" hash "$DIR" --threads 1
echo "sha-ni on:  wall ${ON%% *} s"
echo "sha-ni off: wall ${OFF%% *} s"

if [[ ${MASSIF:-1} == 1 && -f $ROWS_DIR/A/Item.csv ]]; then
  echo "== profile: massif of kuzusync diff $ROWS_DIR/{A,B} --threads 1"
  valgrind --tool=massif --massif-out-file="$CACHE/massif.out" "$KUZUSYNC" diff "$ROWS_DIR/A" "$ROWS_DIR/B" \
    --json --threads 1 >/dev/null 2>/dev/null || true
  ms_print "$CACHE/massif.out" >"$CACHE/massif.txt"
  # The peak snapshot's table row and its top-level allocation sites, each
  # named by the first kuzusync source line (file.cc:N) on its stack.
  awk '
    /Detailed snapshots:/ { if (match($0, /[0-9]+ \(peak\)/)) peak = substr($0, RSTART, RLENGTH - 7) + 0 }
    peak != "" && $1 == peak && NF == 6 && $2 ~ /^[0-9,]+$/ { printf "peak snapshot %d: heap total %s bytes\n", peak, $3; inpeak = 1; next }
    inpeak && /^->/ { if (site != "") print site; site = $0; named = 0; next }
    inpeak && !named && site != "" && match($0, /[a-z_]+\.(cc|h):[0-9]+\)$/) && $0 !~ /new_allocator|allocator\.h|alloc_traits|stl_|vector\.tcc|basic_string|std_function|invoke|hashtable/ {
      f = substr($0, RSTART, RLENGTH - 1); sub(/ 0x[0-9A-F]+: allocate \(new_allocator.h:137\)/, "", site)
      site = site "  <- " f; named = 1 }
    inpeak && /^--------------------/ { if (site != "") print site; exit }
  ' "$CACHE/massif.txt"
fi
