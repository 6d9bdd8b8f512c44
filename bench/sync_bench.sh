#!/usr/bin/env bash
# kuzusync sync between a site (local export) and a hub (kuzusync serve on
# loopback, plain TCP), on the LDBC SF0.1 export (66.7 MB, 31 tables, 1.8 M rows).
#
#   bench/sync_bench.sh      (REPS=3 per measure, NOCHANGE_REPS=5; medians; ~4 min)
#
# Every sync is
#   kuzusync sync SITE kuzusync://127.0.0.1:PORT/NAME --token-file T --insecure --json [--policy P]
# and the hub is
#   kuzusync serve --listen 127.0.0.1:PORT --root HUBROOT --token-file TOKENS --insecure
# Wall time is taken around the client command; wire bytes are bytes_sent +
# bytes_received of its --json report; the hub's peak RSS is its VmHWM,
# reset (/proc/PID/clear_refs = 5) before each phase.
#
# Measures (each from a fresh site and hub, both plain copies of the export):
#  1. cold full sync: no state on either side (.<name>.kuzusync/ beside site and
#     hub deleted before each rep, so trees are hashed from scratch on both
#     sides and there is no checkpoint); site and hub identical. Peak RSS of
#     the client from /usr/bin/time -v.
#  1b. cold full sync, hub with 1% of the rows differing: in Comment, Post and
#     Forum (node tables whose last column is an integer) 1% of the rows carry
#     another value (conflicts, default policy lww); in every other table 1% of
#     the rows are missing on the hub (they flow to it). Made once in
#     $CACHE/ldbc-1pct.
#  2. no-change sync right after 1 (NOCHANGE_REPS times); also after the
#     site's files were rewritten with the same rows (new inodes, as a re-export
#     makes them), so its tree cache misses.
#  3. 100 changed rows: 100 Comment rows, chosen at random over the table,
#     get a new `length` (the last column); the file is rewritten through a
#     rename. On the site (then sync), and on the hub's files (then sync from the
#     site). Beside: those 100 new rows as CSV, zstd -3.
#  2c. no-change sync after AGE=10 re-exports of the site (files rewritten with
#     the same rows, 2 s apart so that each export's trees get cached, one sync
#     each): a cron site's tree cache grows by one tree per table per export.
#  4. conflicts: the same N Comment rows (N = 1000, 10000) updated on the site
#     only (baseline), then on both sides to different values (--policy
#     local-wins, then --policy lww). Per conflict = (median conflict sync -
#     median baseline sync) / N. Between measures both sides are in sync at a
#     checkpoint (every sync is incremental; each edit uses new values).
# After every sync that moves rows, `kuzusync diff SITE HUB` must exit 0.
# Goals (issue 5): no-change time <= 5% of the cold full sync, <= 1 KB on the
# wire; < 10 ms per conflict.
# Set KUZUSYNC to the binary to use; it is copied first (others rebuild build/).
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
ensure_kuzusync
ensure_gnu_time
REPS=${REPS:-3}
NOCHANGE_REPS=${NOCHANGE_REPS:-5}
AGE=${AGE:-10}
ORIG=$CACHE/ldbc
ONEPCT=$CACHE/ldbc-1pct
if [[ ! -f $ORIG/schema.cypher ]]; then node "$BENCH_DIR/make_ldbc_export.mjs" "$ORIG" >&2; fi

W=$CACHE/sync-work
rm -rf "$W"
mkdir -p "$W/sites" "$W/hub"
cleanup() {
  stop_pids
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$KUZUSYNC" "$W/kuzusync"
KS=$W/kuzusync
"$KS" --version >/dev/null

# edit.py: record-aware CSV edits (quote parity; a quoted field spanning lines is
# never split). The file is rewritten through a temp file and a rename.
cat >"$W/edit.py" <<'EOF'
import os, random, sys
# set FILE N SEED VALUE ROWS_OUT: the last field (an integer) of N single-line
#   records, chosen by key (first field) with a seeded PRNG from the sorted
#   keys, becomes VALUE; the new rows go to ROWS_OUT.
# drop FILE PERCENT SEED: PERCENT% of the single-line records, chosen at random, go.
mode, path = sys.argv[1], sys.argv[2]
with open(path, 'rb') as f:
    lines = f.read().split(b'\n')
trail = bool(lines) and lines[-1] == b''
if trail: lines.pop()
single = []
inside = False
for i, line in enumerate(lines):
    odd = line.count(b'"') % 2 == 1
    if not inside and not odd: single.append(i)
    if odd: inside = not inside
if mode == 'set':
    n, seed, value, rows_out = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    eligible = {}
    for i in single:
        head, _, last = lines[i].rpartition(b',')
        if head and last.isdigit(): eligible[lines[i].split(b',', 1)[0]] = i
    keys = sorted(eligible, key=lambda k: (len(k), k))
    if len(keys) < n: sys.exit(f'{path}: only {len(keys)} editable rows, {n} asked')
    out = []
    for k in random.Random(seed).sample(keys, n):
        i = eligible[k]
        lines[i] = lines[i].rpartition(b',')[0] + b',' + value.encode()
        out.append(lines[i])
    with open(rows_out, 'wb') as f:
        f.write(b'\n'.join(out) + b'\n')
elif mode == 'drop':
    pct, seed = float(sys.argv[3]), int(sys.argv[4])
    gone = set(random.Random(seed).sample(single, int(len(single) * pct / 100)))
    lines = [l for i, l in enumerate(lines) if i not in gone]
    print(len(gone))
else:
    sys.exit('mode: set or drop')
tmp = path + '.edit-tmp'
with open(tmp, 'wb') as f:
    f.write(b'\n'.join(lines) + (b'\n' if trail and lines else b''))
os.rename(tmp, path)
EOF
edit() { python3 "$W/edit.py" "$@"; }

if [[ ! -f $ONEPCT.done ]]; then
  echo "making $ONEPCT (1% of the rows of every table differ)" >&2
  rm -rf "$ONEPCT" "$ONEPCT.done"
  cp -a "$ORIG" "$ONEPCT"
  summary=""
  for f in "$ONEPCT"/*.csv; do
    b=$(basename "$f" .csv)
    case $b in
      Comment | Post | Forum)
        n=$(($(wc -l <"$f") / 100))
        edit set "$f" "$n" 7 4242 /dev/null
        summary+="$b: $n changed; " ;;
      *) summary+="$b: $(edit drop "$f" 1 7) dropped; " ;;
    esac
  done
  echo "$summary" >"$ONEPCT.done"
fi

# JSON fields of a sync report, space-separated.
jf() {
  python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(d['outcome'].replace(' ', '_'), d['mode'], d['rows_in'], d['rows_out'], len(d['conflicts']),
      d['bytes_sent'], d['bytes_received'], d['round_trips'], d['elapsed_ms'])
EOF
}
now() { echo "$EPOCHREALTIME"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
v() { if awk "BEGIN { exit !($1) }"; then echo MET; else echo MISSED; fi; }

TOKEN="bench-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "$TOKEN" >"$W/token"
echo "$TOKEN rw" >"$W/tokens"
chmod 600 "$W/token" "$W/tokens"
PORT=$(free_port)
"$KS" serve --listen "127.0.0.1:$PORT" --root "$W/hub" --token-file "$W/tokens" --insecure >"$W/serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_for "$SERVE_PID" "$W/serve.log" listening
hub_peak_reset() { echo 5 >"/proc/$SERVE_PID/clear_refs" 2>/dev/null || true; }
hub_peak() { awk '/VmHWM/ { print $2 }' "/proc/$SERVE_PID/status"; }

echo "== sync_bench"
machine_line
echo "binary: $KUZUSYNC (copied; sha256 $(sha256sum "$KS" | cut -c1-12)); zstd $(zstd --version | sed 's/.* v\([0-9.]*\).*/\1/')"
echo "export: $ORIG ($(du -sb --exclude='.*' "$ORIG" | cut -f1) bytes, $(ls "$ORIG" | grep -c '\.csv$') csv files); reps: $REPS, no-change reps: $NOCHANGE_REPS"
echo "hub: kuzusync serve on 127.0.0.1:$PORT (plain TCP), root $W/hub; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# fresh NAME SITE_SRC HUB_SRC: new copies, no state on either side.
fresh() {
  local name=$1
  rm -rf "$W/sites/$name" "$W/sites/.$name.kuzusync" "$W/hub/$name" "$W/hub/.$name.kuzusync"
  cp -a "$2" "$W/sites/$name"
  cp -a "$3" "$W/hub/$name"
}
cold() { rm -rf "$W/sites/.$1.kuzusync" "$W/hub/.$1.kuzusync"; }

# sync NAME TAG [args...]: one sync; sets WALL and J_* from its report.
SEQ=0
sync_run() {
  local name=$1 tag=$2 t0 t1
  shift 2
  SEQ=$((SEQ + 1))
  local out=$W/$SEQ-$tag.json
  t0=$(now)
  /usr/bin/time -v -o "$W/$SEQ.time" "$KS" sync "$W/sites/$name" "kuzusync://127.0.0.1:$PORT/$name" \
    --token-file "$W/token" --insecure --json "$@" >"$out" 2>"$W/$SEQ.err" || {
    echo "sync failed ($tag): $(cat "$W/$SEQ.err")" >&2
    cat "$out" >&2
    exit 1
  }
  t1=$(now)
  WALL=$(elapsed "$t0" "$t1")
  read -r J_OUTCOME J_MODE J_IN J_OUT J_CONF J_SENT J_RECV J_RT J_MS < <(jf "$out")
  J_BYTES=$((J_SENT + J_RECV))
  RSS_KB=$(awk -F': ' '/Maximum resident/ { print $2 }' "$W/$SEQ.time")
  printf '  %-22s wall %7.3fs  %-8s %-11s in %5d out %5d conflicts %5d  wire %9d B (%d sent + %d received) %5d round trips  rss %d KB\n' \
    "$tag" "$WALL" "$J_OUTCOME" "$J_MODE" "$J_IN" "$J_OUT" "$J_CONF" "$J_BYTES" "$J_SENT" "$J_RECV" "$J_RT" "$RSS_KB"
}
check_same() {
  "$KS" diff "$W/sites/$1" "$W/hub/$1" >"$W/diff.txt" 2>&1 || {
    echo "site and hub differ after the sync ($1):" >&2
    tail -5 "$W/diff.txt" >&2
    exit 1
  }
}

# trees_of STATEDIR: "<count> <bytes>" of the tree cache in STATEDIR/state.db.
trees_of() {
  python3 -c 'import sqlite3, sys; c = sqlite3.connect("file:" + sys.argv[1] + "/state.db?mode=ro", uri=True); print(*c.execute("SELECT count(*), sum(length(tree)) FROM trees").fetchone())' "$1"
}

# ---------------------------------------------------------------- 1. cold full
echo "== 1. cold full sync, site and hub identical (state deleted on both sides before each rep)"
fresh main "$ORIG" "$ORIG"
sleep 2.1 # files younger than 2 s are not cached: let the cold run fill the tree cache
COLD_W=() COLD_B=() COLD_RSS=() COLD_HUB=()
for ((r = 1; r <= REPS; r++)); do
  cold main
  hub_peak_reset
  sync_run main "cold-full-$r"
  [[ $J_MODE == full ]] || echo "  note: mode $J_MODE, expected full"
  COLD_W+=("$WALL") COLD_B+=("$J_BYTES") COLD_RSS+=("$RSS_KB") COLD_HUB+=("$(hub_peak)")
done
check_same main
COLD_WALL=$(median "${COLD_W[@]}") COLD_BYTES=$(median "${COLD_B[@]}")
echo "-- cold full: median wall ${COLD_WALL}s, wire ${COLD_BYTES} B, client peak RSS $(median "${COLD_RSS[@]}") KB (max $(printf '%s\n' "${COLD_RSS[@]}" | sort -n | tail -1)), hub peak RSS $(median "${COLD_HUB[@]}") KB"

# ------------------------------------------------------------ 2. no change
echo "== 2. no-change sync right after (both sides unchanged since the checkpoint)"
NC_W=() NC_B=()
for ((r = 1; r <= NOCHANGE_REPS; r++)); do
  sync_run main "no-change-$r"
  [[ $J_OUTCOME == in_sync ]] || echo "  note: outcome $J_OUTCOME, expected in sync"
  NC_W+=("$WALL") NC_B+=("$J_BYTES")
done
NC_WALL=$(median "${NC_W[@]}") NC_BYTES=$(median "${NC_B[@]}")
NC_RATIO=$(ratio "$NC_WALL" "$COLD_WALL")
t=$(trees_of "$W/sites/.main.kuzusync") h=$(trees_of "$W/hub/.main.kuzusync")
echo "-- no-change: median wall ${NC_WALL}s, wire ${NC_BYTES} B (max $(printf '%s\n' "${NC_B[@]}" | sort -n | tail -1));" \
  "tree caches: site ${t% *} trees ${t#* } B, hub ${h% *} trees ${h#* } B"
echo "   no-change / cold full wall: $NC_RATIO (goal <= 0.05): $(v "$NC_RATIO <= 0.05")"
echo "   no-change wire bytes: $NC_BYTES (goal <= 1024): $(v "$NC_BYTES <= 1024")"
RX_W=()
for ((r = 1; r <= REPS; r++)); do
  for f in "$W/sites/main"/*; do cp -p "$f" "$f.tmp" && mv "$f.tmp" "$f"; done
  sync_run main "no-change-reexport-$r"
  RX_W+=("$WALL")
done
RX_WALL=$(median "${RX_W[@]}")
echo "-- no-change after the site's files were rewritten (same rows, new inodes, local trees rehashed):" \
  "median wall ${RX_WALL}s = $(ratio "$RX_WALL" "$COLD_WALL") of the cold full sync, wire ${J_BYTES} B (no goal)"

# ---------------------------------------------------------- 3. 100 rows
echo "== 3. incremental sync after 100 changed Comment rows"
INC_W=() INC_B=() INC_Z=() INC_RAW=()
for ((r = 1; r <= REPS; r++)); do
  edit set "$W/sites/main/Comment.csv" 100 $((100 + r)) $((1000000 + r)) "$W/rows-site-$r.csv"
  INC_Z+=("$(zstd -3 -q -c "$W/rows-site-$r.csv" | wc -c)") INC_RAW+=("$(wc -c <"$W/rows-site-$r.csv")")
  sync_run main "site-100-rows-$r"
  [[ $J_OUT == 100 && $J_IN == 0 ]] || echo "  note: rows out $J_OUT, in $J_IN; expected 100, 0"
  INC_W+=("$WALL") INC_B+=("$J_BYTES")
  check_same main
done
INC_WALL=$(median "${INC_W[@]}") INC_BYTES=$(median "${INC_B[@]}") INC_ZSTD=$(median "${INC_Z[@]}")
INC_RATIO=$(ratio "$INC_BYTES" "$INC_ZSTD")
echo "-- site-side 100 rows: median wall ${INC_WALL}s ($(ratio "$INC_WALL" "$COLD_WALL") of cold full), wire ${INC_BYTES} B;" \
  "the 100 rows: $(median "${INC_RAW[@]}") B raw, ${INC_ZSTD} B zstd -3; wire / rows zstd: ${INC_RATIO}"
HINC_W=() HINC_B=() HINC_Z=()
for ((r = 1; r <= REPS; r++)); do
  edit set "$W/hub/main/Comment.csv" 100 $((200 + r)) $((2000000 + r)) "$W/rows-hub-$r.csv"
  HINC_Z+=("$(zstd -3 -q -c "$W/rows-hub-$r.csv" | wc -c)")
  sync_run main "hub-100-rows-$r"
  [[ $J_IN == 100 && $J_OUT == 0 ]] || echo "  note: rows in $J_IN, out $J_OUT; expected 100, 0"
  HINC_W+=("$WALL") HINC_B+=("$J_BYTES")
  check_same main
done
HINC_WALL=$(median "${HINC_W[@]}") HINC_BYTES=$(median "${HINC_B[@]}") HINC_ZSTD=$(median "${HINC_Z[@]}")
HINC_RATIO=$(ratio "$HINC_BYTES" "$HINC_ZSTD")
echo "-- hub-side 100 rows: median wall ${HINC_WALL}s ($(ratio "$HINC_WALL" "$COLD_WALL") of cold full), wire ${HINC_BYTES} B;" \
  "the 100 rows ${HINC_ZSTD} B zstd -3; wire / rows zstd: ${HINC_RATIO}"

# ---------------------------------------------------------- 4. conflicts
echo "== 4. conflicts: the same N Comment rows changed on the site only, then on both sides"
declare -A PER
for n in 1000 10000; do
  ONE_W=() LW_W=() LWW_W=()
  for ((r = 1; r <= REPS; r++)); do
    seed=$((n + r)) base=$((3000000 + 10 * r))
    edit set "$W/sites/main/Comment.csv" "$n" "$seed" $((base + 1)) /dev/null
    sync_run main "n$n-one-sided-$r" --policy local-wins
    [[ $J_OUT == "$n" && $J_CONF == 0 ]] || echo "  note: rows out $J_OUT, conflicts $J_CONF; expected $n, 0"
    ONE_W+=("$WALL")
    edit set "$W/sites/main/Comment.csv" "$n" "$seed" $((base + 2)) /dev/null
    edit set "$W/hub/main/Comment.csv" "$n" "$seed" $((base + 3)) /dev/null
    sync_run main "n$n-local-wins-$r" --policy local-wins
    [[ $J_CONF == "$n" ]] || echo "  note: $J_CONF conflicts, expected $n"
    LW_W+=("$WALL")
    edit set "$W/sites/main/Comment.csv" "$n" "$seed" $((base + 4)) /dev/null
    edit set "$W/hub/main/Comment.csv" "$n" "$seed" $((base + 5)) /dev/null
    sync_run main "n$n-lww-$r" --policy lww
    [[ $J_CONF == "$n" ]] || echo "  note: $J_CONF conflicts, expected $n"
    LWW_W+=("$WALL")
    check_same main
  done
  one=$(median "${ONE_W[@]}") lw=$(median "${LW_W[@]}") lww=$(median "${LWW_W[@]}")
  PER[$n-lw]=$(awk -v a="$lw" -v b="$one" -v n="$n" 'BEGIN { printf "%.3f", (a - b) * 1000 / n }')
  PER[$n-lww]=$(awk -v a="$lww" -v b="$one" -v n="$n" 'BEGIN { printf "%.3f", (a - b) * 1000 / n }')
  echo "-- N=$n: median one-sided ${one}s, local-wins ${lw}s, lww ${lww}s"
  echo "   per conflict, local-wins: ${PER[$n-lw]} ms (goal < 10): $(v "${PER[$n-lw]} < 10")"
  echo "   per conflict, lww:        ${PER[$n-lww]} ms (goal < 10): $(v "${PER[$n-lww]} < 10")"
done

# ------------------------------------------------------- 1b. 1% differing
echo "== 1b. cold full sync, hub with 1% of the rows differing ($ONEPCT: $(cat "$ONEPCT.done"))"
P_W=() P_B=() P_RSS=() P_HUB=()
for ((r = 1; r <= REPS; r++)); do
  fresh onepct "$ORIG" "$ONEPCT"
  hub_peak_reset
  sync_run onepct "cold-full-1pct-$r"
  P_W+=("$WALL") P_B+=("$J_BYTES") P_RSS+=("$RSS_KB") P_HUB+=("$(hub_peak)")
  check_same onepct
done
echo "-- cold full, 1% differing (policy lww): median wall $(median "${P_W[@]}")s ($(ratio "$(median "${P_W[@]}")" "$COLD_WALL") of the identical case)," \
  "wire $(median "${P_B[@]}") B, client peak RSS $(median "${P_RSS[@]}") KB, hub peak RSS $(median "${P_HUB[@]}") KB"

# ------------------------------------------ 2c. no change, aged tree cache
# A cron site re-exports before every sync: each export is new files, so each
# adds one tree per table to the tree cache beside it (up to 1024 trees).
echo "== 2c. no-change sync after $AGE re-exports of the site (each: files rewritten, same rows; sync)"
fresh aged "$ORIG" "$ORIG"
sleep 2.1
sync_run aged "aged-cold-full" >/dev/null
for ((k = 1; k <= AGE; k++)); do
  for f in "$W/sites/aged"/*; do cp -p "$f" "$f.tmp" && mv "$f.tmp" "$f"; done
  sleep 2.1 # so that this export's trees are cached, as they would be on a cron site
  sync_run aged "aged-reexport-$k" >/dev/null
done
AG_W=()
for ((r = 1; r <= NOCHANGE_REPS; r++)); do
  sync_run aged "aged-no-change-$r"
  AG_W+=("$WALL")
done
AG_WALL=$(median "${AG_W[@]}")
AG_TREES=$(trees_of "$W/sites/.aged.kuzusync")
AG_RATIO=$(ratio "$AG_WALL" "$COLD_WALL")
echo "-- no-change after $AGE re-exports: median wall ${AG_WALL}s ($(ratio "$AG_WALL" "$NC_WALL")x the fresh no-change;" \
  "$AG_RATIO of the cold full sync: $(v "$AG_RATIO <= 0.05")); site tree cache: ${AG_TREES% *} trees, ${AG_TREES#* } B"

echo "== summary"
echo "cold full (identical)        wall ${COLD_WALL}s  wire ${COLD_BYTES} B"
echo "no-change                    wall ${NC_WALL}s  wire ${NC_BYTES} B  ratio ${NC_RATIO} (<= 0.05: $(v "$NC_RATIO <= 0.05")), bytes (<= 1024: $(v "$NC_BYTES <= 1024"))"
echo "100 rows, site side          wall ${INC_WALL}s  wire ${INC_BYTES} B  rows zstd ${INC_ZSTD} B  ratio ${INC_RATIO}"
echo "100 rows, hub side           wall ${HINC_WALL}s  wire ${HINC_BYTES} B  rows zstd ${HINC_ZSTD} B  ratio ${HINC_RATIO}"
for n in 1000 10000; do
  echo "per conflict N=$n           local-wins ${PER[$n-lw]} ms ($(v "${PER[$n-lw]} < 10")), lww ${PER[$n-lww]} ms ($(v "${PER[$n-lww]} < 10"))"
done
echo "no-change, $AGE re-exports    wall ${AG_WALL}s  ratio ${AG_RATIO} (<= 0.05: $(v "$AG_RATIO <= 0.05"))"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
