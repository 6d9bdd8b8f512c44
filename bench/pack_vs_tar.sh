#!/usr/bin/env bash
# kuzusync snapshot pack/unpack vs tar + zstd on the LDBC SF0.1 export.
#
#   bench/pack_vs_tar.sh [EXPORT_DIR]      (default $CACHE/ldbc; REPS=5)
#
# Best of REPS warm-cache runs each; the two contenders alternate run by run
# so that load from other jobs on a shared machine hits both alike.
#   pack:   kuzusync snapshot pack DIR -o a.tar.zst          (level 3, threads = nproc)
#   tar:    tar -C DIR -I 'zstd -3 -T2' -cf t.tar.zst .
#   unpack: kuzusync snapshot unpack a.tar.zst -C NEW        vs  tar -I 'zstd -d -T2' -xf t.tar.zst -C NEW
# Goal: pack within 1.2x of tar's time at equal or better size.
# Set KUZUSYNC to the binary to use (copy it first if others rebuild build/).
set -euo pipefail
export LC_ALL=C
source "$(dirname "$0")/lib.sh"
ensure_kuzusync
ensure_gnu_time
REPS=${REPS:-5}
SRC=${1:-$CACHE/ldbc}
if [[ ! -f $SRC/schema.cypher ]]; then
  node "$BENCH_DIR/make_ldbc_export.mjs" "$SRC" >&2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kuzusync-pack.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# run_once OUTVAR cmd... : one run; OUTVAR = "wall user sys" (wall from bash).
run_once() {
  local __out=$1 tf t0 t1 rc=0
  shift
  tf=$WORK/time.txt
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S' -o "$tf" "$@" >/dev/null 2>"$WORK/stderr.txt" || rc=$?
  t1=$EPOCHREALTIME
  if [[ $rc -ne 0 ]]; then
    echo "command failed ($rc): $*" >&2
    cat "$WORK/stderr.txt" >&2
    return 1
  fi
  printf -v "$__out" '%s %s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" "$(tail -1 "$tf")"
}
# keep_best VAR "wall user sys": VAR = the line with the smaller wall.
keep_best() {
  local __var=$1 line=$2
  if [[ -z ${!__var} ]] || awk -v a="${line%% *}" -v b="${!__var%% *}" 'BEGIN { exit !(a < b) }'; then
    printf -v "$__var" '%s' "$line"
  fi
}
fsize() { stat -c %s "$1"; }

echo "== pack_vs_tar: $SRC"
machine_line
echo "binary: $KUZUSYNC ($("$KUZUSYNC" --version 2>&1 | head -1))"
echo "tar: $(tar --version | head -1); zstd: $(zstd --version)"
echo "input: $(find "$SRC" -maxdepth 1 -type f | wc -l) files, $(du -sb "$SRC" | cut -f1) bytes"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

KS_OUT=$WORK/a.tar.zst
TAR_OUT=$WORK/t.tar.zst
# Warm the page cache (input and binaries).
cat "$SRC"/* >/dev/null
"$KUZUSYNC" snapshot pack "$SRC" -o "$KS_OUT" 2>"$WORK/pack_stderr.txt"
tar -C "$SRC" -I 'zstd -3 -T2' -cf "$TAR_OUT" .
echo "kuzusync pack said: $(cat "$WORK/pack_stderr.txt")"

best_pack="" best_tar="" best_unpack="" best_untar=""
for ((i = 1; i <= REPS; i++)); do
  rm -f "$KS_OUT" "$TAR_OUT"
  run_once r "$KUZUSYNC" snapshot pack "$SRC" -o "$KS_OUT"; keep_best best_pack "$r"; echo "  rep $i pack   kuzusync: $r"
  run_once r tar -C "$SRC" -I 'zstd -3 -T2' -cf "$TAR_OUT" .; keep_best best_tar "$r"; echo "  rep $i pack   tar:      $r"
done
for ((i = 1; i <= REPS; i++)); do
  rm -rf "$WORK/u_ks" "$WORK/u_tar"; mkdir "$WORK/u_tar"
  run_once r "$KUZUSYNC" snapshot unpack "$KS_OUT" -C "$WORK/u_ks"; keep_best best_unpack "$r"; echo "  rep $i unpack kuzusync: $r"
  run_once r tar -I 'zstd -d -T2' -xf "$TAR_OUT" -C "$WORK/u_tar"; keep_best best_untar "$r"; echo "  rep $i unpack tar:      $r"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Both round trips must reproduce the input.
"$KUZUSYNC" diff "$SRC" "$WORK/u_ks" >/dev/null || { echo "kuzusync unpack differs from input" >&2; exit 1; }
for f in "$SRC"/*; do
  cmp -s "$f" "$WORK/u_ks/$(basename "$f")" || { echo "kuzusync unpack: $f not byte-identical" >&2; exit 1; }
  cmp -s "$f" "$WORK/u_tar/$(basename "$f")" || { echo "tar unpack: $f not byte-identical" >&2; exit 1; }
done
echo "round trips: both byte-identical to the input"

ks_size=$(fsize "$KS_OUT")
tar_size=$(fsize "$TAR_OUT")
in_size=$(du -sb "$SRC" | cut -f1)
printf '%-22s %9s %9s %9s %12s\n' "best of $REPS" wall_s user_s sys_s bytes
printf '%-22s %9s %9s %9s %12s\n' "pack kuzusync" $best_pack "$ks_size"
printf '%-22s %9s %9s %9s %12s\n' "pack tar+zstd -3 -T2" $best_tar "$tar_size"
printf '%-22s %9s %9s %9s\n' "unpack kuzusync" $best_unpack
printf '%-22s %9s %9s %9s\n' "unpack tar+zstd -d" $best_untar
pt=$(ratio "${best_pack%% *}" "${best_tar%% *}")
ut=$(ratio "${best_unpack%% *}" "${best_untar%% *}")
sz=$(ratio "$ks_size" "$tar_size")
echo "compression: kuzusync $(ratio "$in_size" "$ks_size")x, tar $(ratio "$in_size" "$tar_size")x"
echo "ratio pack time kuzusync/tar: ${pt}x"
echo "ratio unpack time kuzusync/tar: ${ut}x"
echo "ratio size kuzusync/tar: ${sz}x ($((ks_size - tar_size)) bytes)"
v() { if [[ $1 == 1 ]]; then echo MET; else echo MISSED; fi; }
t_ok=$(awk -v r="$pt" 'BEGIN { print (r <= 1.2) ? 1 : 0 }')
s_ok=$([[ $ks_size -le $tar_size ]] && echo 1 || echo 0)
echo "goal pack time <= 1.2x tar (${pt}x): $(v "$t_ok")"
echo "goal size <= tar ($ks_size vs $tar_size): $(v "$s_ok")"
