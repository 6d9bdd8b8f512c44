#!/usr/bin/env bash
# kuzusync push (to a kuzusync daemon) vs rsync (to an rsync daemon), both on
# loopback, for a changed LDBC SF0.1 export; plus the seed case (10,000-row
# node table pushed to a replica that lacks 10 rows).
#
#   bench/push_vs_rsync.sh          (REPS=3: each rep starts from fresh replica copies)
#
# Inputs (made if missing):
#   $CACHE/ldbc           LDBC SF0.1 export from real Kuzu (bench/make_ldbc_export.mjs)
#   $CACHE/ldbc-base      the same data re-exported from the database that was then mutated
#   $CACHE/ldbc-changed   that database after a few thousand scattered Cypher mutations
#                         (both from bench/make_ldbc_changes.mjs)
# Scenarios (destination replica = fresh copy of ...):
#   base: $CACHE/ldbc-base - bytes differ from CHANGED only where Kuzu's export moved
#         or changed rows (the fair baseline for rsync)
#   orig: $CACHE/ldbc      - logically identical to ldbc-base, but IMPORT's parallel
#         COPY stored rows in another order, so many more bytes differ
# Per scenario and rep (the two contenders alternate):
#   kuzusync push CHANGED kuzusync://127.0.0.1:PORT/NAME --delete --insecure --token-file T --json
#   rsync -az --delete --stats CHANGED/ rsync://127.0.0.1:PORT/NAME/
# then both destinations are checked (kuzusync diff exits 0; diff -r for rsync).
# What kuzusync knows of the replicas beforehand (its tree cache beside each,
# .<name>.kuzusync/; rsync keeps nothing between runs):
#   cold       neither replica was hashed before (both caches removed)
#   warm-dest  the destination was (as every push to it leaves it: the apply
#              keeps the new version's trees); the source is a fresh export
#   warm       both were (a source pushed before, to here or elsewhere)
# "Hashed before" is an untimed `push --dry-run` after the copy's files are
# two seconds old (younger files are never cached: they may still change).
# Changed rows: kuzusync bundle CHANGED BASE --no-delete, its *.upserts.csv and
# *.inserts.csv members concatenated and compressed with zstd -3.
# Goals: kuzusync wire bytes <= 1/10 of rsync's and <= 3x the changed rows
# (zstd -3); kuzusync wall <= rsync wall; seed case < 10 KB on the wire.
# Last: the same data pulled (kuzusync pull --delete vs rsync from the daemon).
# Set KUZUSYNC to the binary to use (copy it first if others rebuild build/).
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
ensure_kuzusync
ensure_gnu_time
REPS=${REPS:-3}
ORIG=$CACHE/ldbc
BASE=$CACHE/ldbc-base
CHANGED=$CACHE/ldbc-changed
if [[ ! -f $ORIG/schema.cypher ]]; then node "$BENCH_DIR/make_ldbc_export.mjs" "$ORIG" >&2; fi
if [[ ! -f $CHANGED/schema.cypher || ! -f $BASE/schema.cypher ]]; then
  rm -rf "$BASE" "$CHANGED"
  node "$BENCH_DIR/make_ldbc_changes.mjs" "$ORIG" "$BASE" "$CHANGED" >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kuzusync-push.XXXXXX")
cleanup() {
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
  local pid=$1 port=$2 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { echo "daemon $pid died" >&2; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "port $port not open" >&2
  return 1
}
now() { echo "$EPOCHREALTIME"; }
# CPU seconds a daemon and the children it reaped have used so far (rsync
# forks a child per connection; kuzusync serves on threads). The push's share
# is the difference around it; the daemon finishes after answering (the
# kuzusync daemon caches the new version's trees then), so it is read 0.5 s
# later. Wall time is the client's.
daemon_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$1/stat"; }
client_cpu() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"; }
rs_stat() { grep "^$2:" "$1" | sed 's/.*: //; s/,//g; s/ .*//'; }
v() { if awk "BEGIN { exit !($1) }"; then echo MET; else echo MISSED; fi; }

# Seed exports: User(id, name, age), 10,000 rows; the replica lacks every 1000th.
make_seed() {
  local dir=$1 skip=$2
  mkdir -p "$dir"
  echo 'CREATE NODE TABLE `User` (`id` INT64,`name` STRING,`age` INT64, PRIMARY KEY(`id`));' >"$dir/schema.cypher"
  echo 'COPY `User` (`id`,`name`,`age`) FROM "User.csv" (parallel=true);' >"$dir/copy.cypher"
  : >"$dir/index.cypher"
  awk -v skip="$skip" 'BEGIN { for (i = 1; i <= 10000; i++) if (!skip || i % 1000 != 0) printf "%d,user%d,%d\n", i, i, 18 + i % 60 }' >"$dir/User.csv"
}
make_seed "$WORK/seedA" 0
make_seed "$WORK/seedB" 1

echo "== push_vs_rsync"
machine_line
echo "binary: $KUZUSYNC ($("$KUZUSYNC" --version 2>&1 | head -1)); $(rsync --version | head -1); zstd $(zstd --version | sed 's/.* v\([0-9.]*\).*/\1/')"
echo "changed: $CHANGED ($(du -sb "$CHANGED" | cut -f1) bytes); reps: $REPS; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Daemons.
KSROOT=$WORK/ksroot RSROOT=$WORK/rsroot
mkdir -p "$KSROOT" "$RSROOT"
TOKEN="bench-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "$TOKEN" >"$WORK/token"
echo "$TOKEN rw" >"$WORK/tokens"
chmod 600 "$WORK/token" "$WORK/tokens"
KSPORT=$(free_port)
"$KUZUSYNC" serve --listen "127.0.0.1:$KSPORT" --root "$KSROOT" --token-file "$WORK/tokens" --insecure \
  >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
KS_DAEMON=$!
wait_for "$!" "$WORK/serve.log" listening
RSPORT=$(free_port)
cat >"$WORK/rsyncd.conf" <<EOF
port = $RSPORT
address = 127.0.0.1
use chroot = no
uid = root
gid = root
pid file = $WORK/rsyncd.pid
log file = $WORK/rsyncd.log
[base]
  path = $RSROOT/base
  read only = false
[orig]
  path = $RSROOT/orig
  read only = false
[seed]
  path = $RSROOT/seed
  read only = false
EOF
rsync --daemon --no-detach --config="$WORK/rsyncd.conf" &
PIDS+=($!)
RS_DAEMON=$!
wait_port "$!" "$RSPORT"
echo "kuzusync serve on 127.0.0.1:$KSPORT, rsync --daemon on 127.0.0.1:$RSPORT"

# bench_case NAME SRC DSTSEED [MODE]: REPS alternating runs; sets globals KS_* / RS_*.
bench_case() {
  local name=$1 src=$2 seed=$3 mode=${4:-cold} r t0 t1 w
  local src_state
  src_state="$(dirname "$src")/.$(basename "$src").kuzusync"
  KS_WALL="" RS_WALL=""
  for ((r = 1; r <= REPS; r++)); do
    rm -rf "${KSROOT:?}/$name" "${KSROOT:?}/.$name.kuzusync" "${RSROOT:?}/$name"
    cp -a "$seed" "$KSROOT/$name"
    cp -a "$seed" "$RSROOT/$name"
    if [[ $mode != cold ]]; then
      sleep 2.1
      "$KUZUSYNC" push "$src" "kuzusync://127.0.0.1:$KSPORT/$name" --dry-run --insecure --token-file "$WORK/token" \
        --quiet >/dev/null
    fi
    if [[ $mode != warm ]]; then rm -rf "$src_state"; fi
    cat "$src"/* "$KSROOT/$name"/* "$RSROOT/$name"/* >/dev/null # warm cache
    sync # the copies' writeback is not either contender's
    local d0 d1
    d0=$(daemon_cpu "$KS_DAEMON")
    t0=$(now)
    /usr/bin/time -f '%U %S' -o "$WORK/cpu" \
      "$KUZUSYNC" push "$src" "kuzusync://127.0.0.1:$KSPORT/$name" --delete --insecure --token-file "$WORK/token" \
      --json >"$WORK/$name.json"
    t1=$(now)
    w=$(elapsed "$t0" "$t1")
    sleep 0.5
    d1=$(daemon_cpu "$KS_DAEMON")
    local ks_bytes=$(($(jget "$WORK/$name.json" bytes_sent) + $(jget "$WORK/$name.json" bytes_received)))
    echo "  $name ($mode) rep $r kuzusync: wall ${w}s cpu client $(client_cpu "$WORK/cpu") s + daemon $(awk -v a="$d0" -v b="$d1" 'BEGIN { printf "%.2f", b - a }') s wire ${ks_bytes} B  $(cat "$WORK/$name.json")"
    if [[ -z $KS_WALL ]] || awk -v a="$w" -v b="$KS_WALL" 'BEGIN { exit !(a < b) }'; then
      KS_WALL=$w KS_BYTES=$ks_bytes KS_JSON=$(cat "$WORK/$name.json")
    fi
    [[ $ks_bytes == "$KS_BYTES" ]] || echo "  note: kuzusync bytes vary between reps ($ks_bytes vs $KS_BYTES)"
    "$KUZUSYNC" diff "$src" "$KSROOT/$name" >"$WORK/diff.txt" || { echo "kuzusync replica $name differs from source:" >&2; tail -3 "$WORK/diff.txt" >&2; exit 1; }

    d0=$(daemon_cpu "$RS_DAEMON")
    t0=$(now)
    /usr/bin/time -f '%U %S' -o "$WORK/cpu" \
      rsync -az --delete --stats "$src/" "rsync://127.0.0.1:$RSPORT/$name/" >"$WORK/$name.rsync"
    t1=$(now)
    w=$(elapsed "$t0" "$t1")
    sleep 0.5
    d1=$(daemon_cpu "$RS_DAEMON")
    local s rcv
    s=$(rs_stat "$WORK/$name.rsync" "Total bytes sent")
    rcv=$(rs_stat "$WORK/$name.rsync" "Total bytes received")
    echo "  $name ($mode) rep $r rsync:    wall ${w}s cpu client $(client_cpu "$WORK/cpu") s + daemon $(awk -v a="$d0" -v b="$d1" 'BEGIN { printf "%.2f", b - a }') s wire $((s + rcv)) B (sent $s, received $rcv, literal $(rs_stat "$WORK/$name.rsync" "Literal data"), matched $(rs_stat "$WORK/$name.rsync" "Matched data"))"
    if [[ -z $RS_WALL ]] || awk -v a="$w" -v b="$RS_WALL" 'BEGIN { exit !(a < b) }'; then
      RS_WALL=$w RS_BYTES=$((s + rcv)) RS_SENT=$s RS_RECV=$rcv
    fi
    diff -r "$src" "$RSROOT/$name" >/dev/null || { echo "rsync replica $name differs from source" >&2; exit 1; }
  done
  echo "  $name verified (every rep): kuzusync diff SRC replica exit 0; rsync copy diff -r identical"
}

# changed_rows NAME BASEDIR: sets CR_RAW CR_ZSTD BUNDLE_ADD BUNDLE_FULL.
changed_rows() {
  local name=$1 base=$2 d=$WORK/bundle-$1
  mkdir -p "$d/x"
  "$KUZUSYNC" bundle "$CHANGED" "$base" -o "$d/add.kzb" --no-delete 2>"$d/add.log"
  "$KUZUSYNC" bundle "$CHANGED" "$base" -o "$d/full.kzb" 2>"$d/full.log"
  tar -I zstd -xf "$d/add.kzb" -C "$d/x"
  local files=("$d"/x/*.upserts.csv "$d"/x/*.inserts.csv)
  CR_ROWS=$(cat "${files[@]}" | wc -l)
  CR_RAW=$(cat "${files[@]}" | wc -c)
  CR_ZSTD=$(cat "${files[@]}" | zstd -3 -q -c | wc -c)
  BUNDLE_ADD=$(stat -c %s "$d/add.kzb")
  BUNDLE_FULL=$(stat -c %s "$d/full.kzb")
  echo "  $name changed rows: $(cat "$d/add.log"); full bundle: $(cat "$d/full.log")"
}

summary() {
  local name=$1
  echo "-- $name: kuzusync best wall ${KS_WALL}s, wire ${KS_BYTES} B; rsync best wall ${RS_WALL}s, wire ${RS_BYTES} B (sent $RS_SENT + received $RS_RECV)"
  echo "   kuzusync json: $KS_JSON"
}

# The base scenario in each cache state; orig only cold.
for run in base:cold base:warm-dest base:warm orig:cold; do
  scen=${run%%:*} mode=${run#*:}
  if [[ $scen == base ]]; then seed=$BASE; else seed=$ORIG; fi
  echo "== scenario $scen, $mode: CHANGED -> fresh copy of $seed"
  bench_case "$scen" "$CHANGED" "$seed" "$mode"
  summary "$scen"
  if [[ $mode == cold ]]; then changed_rows "$scen" "$seed"; fi
  echo "   changed rows (upserts+inserts, no deletes): $CR_ROWS rows, $CR_RAW B raw, $CR_ZSTD B zstd -3; bundle --no-delete $BUNDLE_ADD B, bundle with deletes $BUNDLE_FULL B"
  r1=$(ratio "$KS_BYTES" "$RS_BYTES") r2=$(ratio "$KS_BYTES" "$CR_ZSTD") r3=$(ratio "$KS_WALL" "$RS_WALL")
  echo "   ratio kuzusync/rsync bytes: $r1 (goal <= 0.1): $(v "$r1 <= 0.1")"
  echo "   ratio kuzusync bytes / changed rows zstd: $r2 (goal <= 3): $(v "$r2 <= 3")"
  echo "   ratio kuzusync/rsync wall ($scen, $mode): $r3 (goal <= 1): $(v "$r3 <= 1")"
done

echo "== seed: 10,000-row User table -> replica lacking 10 rows"
bench_case seed "$WORK/seedA" "$WORK/seedB"
summary seed
echo "   goal seed wire bytes < 10 KB (10240 B): ${KS_BYTES} B: $(v "$KS_BYTES < 10240"); rsync for reference: $RS_BYTES B"
# The other direction: CHANGED served by each daemon, pulled into a fresh
# local copy of BASE (no goal in the issue; the same reconciliation, run by
# the server).
echo "== pull: CHANGED on the daemon -> fresh local copy of $BASE"
rm -rf "${KSROOT:?}/pullsrc" "${RSROOT:?}/base"
cp -a "$CHANGED" "$KSROOT/pullsrc"
cp -a "$CHANGED" "$RSROOT/base"
PULL_KS_WALL="" PULL_RS_WALL=""
for ((r = 1; r <= REPS; r++)); do
  rm -rf "$WORK/pull-ks" "$WORK/pull-rs"
  cp -a "$BASE" "$WORK/pull-ks"
  cp -a "$BASE" "$WORK/pull-rs"
  rm -rf "$KSROOT/.pullsrc.kuzusync" "$WORK/.pull-ks.kuzusync" # cold, as the pushes' first case
  cat "$WORK/pull-ks"/* "$WORK/pull-rs"/* "$KSROOT/pullsrc"/* >/dev/null
  t0=$(now)
  "$KUZUSYNC" pull "kuzusync://127.0.0.1:$KSPORT/pullsrc" "$WORK/pull-ks" --delete --insecure \
    --token-file "$WORK/token" --json >"$WORK/pull.json"
  t1=$(now)
  w=$(elapsed "$t0" "$t1")
  b=$(($(jget "$WORK/pull.json" bytes_sent) + $(jget "$WORK/pull.json" bytes_received)))
  "$KUZUSYNC" diff "$CHANGED" "$WORK/pull-ks" >/dev/null || { echo "kuzusync pull result differs" >&2; exit 1; }
  echo "  pull rep $r kuzusync: wall ${w}s wire $b B  $(cat "$WORK/pull.json")"
  if [[ -z $PULL_KS_WALL ]] || awk -v a="$w" -v c="$PULL_KS_WALL" 'BEGIN { exit !(a < c) }'; then
    PULL_KS_WALL=$w PULL_KS_BYTES=$b
  fi
  t0=$(now)
  rsync -az --delete --stats "rsync://127.0.0.1:$RSPORT/base/" "$WORK/pull-rs/" >"$WORK/pull.rsync"
  t1=$(now)
  w=$(elapsed "$t0" "$t1")
  b=$(($(rs_stat "$WORK/pull.rsync" "Total bytes sent") + $(rs_stat "$WORK/pull.rsync" "Total bytes received")))
  diff -r "$CHANGED" "$WORK/pull-rs" >/dev/null || { echo "rsync pull result differs" >&2; exit 1; }
  echo "  pull rep $r rsync:    wall ${w}s wire $b B"
  if [[ -z $PULL_RS_WALL ]] || awk -v a="$w" -v c="$PULL_RS_WALL" 'BEGIN { exit !(a < c) }'; then
    PULL_RS_WALL=$w PULL_RS_BYTES=$b
  fi
done
echo "-- pull: kuzusync best wall ${PULL_KS_WALL}s, wire ${PULL_KS_BYTES} B; rsync best wall ${PULL_RS_WALL}s, wire ${PULL_RS_BYTES} B"
echo "   ratio kuzusync/rsync bytes: $(ratio "$PULL_KS_BYTES" "$PULL_RS_BYTES"); wall: $(ratio "$PULL_KS_WALL" "$PULL_RS_WALL")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
