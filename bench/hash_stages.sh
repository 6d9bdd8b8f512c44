#!/usr/bin/env bash
# Native stage breakdown of `kuzusync hash --threads 1` (see bench/hash_stages.cc).
#
#   bench/hash_stages.sh [EXPORT_DIR]    (default /tmp/kuzusync-bench/ldbc)
#
# Compiles bench/hash_stages.cc with g++ against the release static libraries
# in build/ (or $KUZUSYNC_LIBDIR: run_all.sh's copies) into
# /tmp/kuzusync-bench/hash_stages, then prints the stages beside the real
# command's best-of-5 time.
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
DIR=${1:-$CACHE/ldbc}
ensure_kuzusync
ensure_gnu_time
mkdir -p "$CACHE"
libs=()
for l in diff merkle snapshot; do
  if [[ -n ${KUZUSYNC_LIBDIR:-} ]]; then libs+=("$KUZUSYNC_LIBDIR/libkuzusync_$l.a"); else libs+=("$REPO/build/$l/libkuzusync_$l.a"); fi
done
g++ -std=c++20 -O2 -g -I"$REPO" "$BENCH_DIR/hash_stages.cc" -o "$CACHE/hash_stages" "${libs[@]}" -lcrypto -lpthread
echo "== hash_stages: $DIR (single thread, best of 5 per stage)"
machine_line
"$CACHE/hash_stages" "$DIR"
time_best 5 FULL "$KUZUSYNC" hash "$DIR" --threads 1
echo "kuzusync hash --threads 1 (whole command)   ${FULL%% *} s"
