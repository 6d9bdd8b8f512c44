#!/usr/bin/env bash
# Peak memory of `kuzusync diff` on a 10,000,000-row node table.
#
#   bench/rss_10m.sh [ROWS]      (default 10000000; cached in /tmp/kuzusync-bench/rss<ROWS>/{A,B})
#
# A: one node table Item(id INT64, name STRING, age INT64, score DOUBLE), ids
# 0..ROWS-1, written by awk (no Kuzu), in the format EXPORT DATABASE (format='csv')
# writes. B = A with ~1000 scattered changes: ids with id % STEP == 7 deleted,
# id % STEP == STEP/2+7 changed (age+1), and a new row (id ROWS+k) inserted
# after each id with id % STEP == 2*STEP/3. STEP = ROWS/333 so there are about
# 333 of each kind whatever ROWS is. Goal: peak RSS < 64 MB.
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
ROWS=${1:-10000000}
REPS=${REPS:-3}
STEP=$((ROWS / 333))
((STEP >= 3)) || { echo "ROWS too small" >&2; exit 2; }
D=$CACHE/rss$ROWS

ensure_kuzusync
ensure_gnu_time

write_export() {  # dir variant(A|B)
  local dir=$1 variant=$2
  mkdir -p "$dir"
  printf '%s\n' 'CREATE NODE TABLE `Item` (`id` INT64,`name` STRING,`age` INT64,`score` DOUBLE, PRIMARY KEY(`id`));' \
    >"$dir/schema.cypher"
  printf '%s\n' 'COPY `Item` (`id`,`name`,`age`,`score`) FROM "Item.csv" (parallel=true);' >"$dir/copy.cypher"
  : >"$dir/index.cypher"
  awk -v n="$ROWS" -v step="$STEP" -v b="$([[ $variant == B ]] && echo 1 || echo 0)" 'BEGIN {
    half = int(step / 2) + 7; third = int(2 * step / 3); added = 0
    for (i = 0; i < n; i++) {
      age = 18 + i % 80
      if (b && i % step == 7) continue
      if (b && i % step == half) age++
      printf "%d,user_%d_%x,%d,%.4f\n", i, i, (i * 2654435761) % 4294967296, age, ((i * 7919) % 100000) / 100000
      if (b && i % step == third) {
        j = n + added++
        printf "%d,new_%d,%d,%.4f\n", j, j, 30, 0.5
      }
    }
  }' >"$dir/Item.csv.tmp"
  mv "$dir/Item.csv.tmp" "$dir/Item.csv"
}

for v in A B; do
  if [[ ! -f $D/$v/Item.csv ]]; then
    echo "generating $D/$v ($ROWS rows)" >&2
    write_export "$D/$v" "$v"
  fi
done

# Expected counts, from the same rules.
read -r EXP_DEL EXP_CHG EXP_ADD < <(awk -v n="$ROWS" -v step="$STEP" 'BEGIN {
  half = int(step / 2) + 7; third = int(2 * step / 3)
  for (i = 7; i < n; i += step) d++
  for (i = half; i < n; i += step) c++
  for (i = third; i < n; i += step) a++
  print d, c, a }')

echo "== rss_10m: $ROWS rows, A=$D/A B=$D/B"
machine_line
echo "sizes: A $(stat -c %s "$D/A/Item.csv") bytes, B $(stat -c %s "$D/B/Item.csv") bytes"
echo "expected: only_in_a=$EXP_DEL only_in_b=$EXP_ADD changed=$EXP_CHG"
cat "$D/A/Item.csv" "$D/B/Item.csv" >/dev/null  # warm the cache (best effort)

# Peak RSS from GNU time -v, for default threads and for --threads 1.
tf=$(mktemp)
trap 'rm -f "$tf" "$tf.json"' EXIT
measure() {  # label args...
  local label=$1
  shift
  local best_rss="" best_wall="" rc
  for ((r = 0; r < REPS; r++)); do
    rc=0
    /usr/bin/time -v -o "$tf" "$KUZUSYNC" diff "$D/A" "$D/B" --json "$@" >"$tf.json" || rc=$?
    if ((rc > 1)); then echo "kuzusync diff failed ($rc)" >&2; cat "$tf" >&2; exit 1; fi
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' "$tf")
    [[ -z $best_rss || $rss -gt $best_rss ]] && best_rss=$rss  # report the worst (largest) peak
    if [[ -z $best_wall ]] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then best_wall=$wall; fi
  done
  local counts
  counts=$(grep -o '"Item": *{[^}]*}' "$tf.json" | sed 's/"Item": *//')
  local stats
  stats=$(grep -o '"stats": *{[^}]*}' "$tf.json" | sed 's/"stats": *//')
  printf '%-28s peak_rss=%s KB (%.1f MB)  wall=%ss (best of %d)  exit=%d\n' "$label" "$best_rss" \
    "$(awk -v k="$best_rss" 'BEGIN { print k / 1024 }')" "$best_wall" "$REPS" "$rc"
  echo "  table: $counts"
  echo "  stats: $stats"
  local verdict=MET
  ((best_rss < 64 * 1024)) || verdict=MISSED
  echo "  goal peak RSS < 64 MB: $verdict"
}
measure "diff --json (default threads)"
measure "diff --json --threads 1" --threads 1
