# Shared helpers for bench/*.sh (sourced, not run).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
KUZUSYNC=${KUZUSYNC:-$REPO/build/src/kuzusync}
CACHE=${KUZUSYNC_BENCH_CACHE:-/tmp/kuzusync-bench}

ensure_kuzusync() {
  if [[ ! -x $KUZUSYNC ]]; then
    echo "building release binary ($KUZUSYNC missing)" >&2
    "$REPO/scripts/build.sh" release >&2
  fi
}

ensure_gnu_time() {
  if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time" >&2
    apt-get update -qq >&2 && apt-get install -y -qq time >&2
  fi
}

machine_line() {
  local cpu
  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
  echo "machine: nproc=$(nproc), cpu=\"$cpu\", kernel=$(uname -r), date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# time_best N OUTVAR cmd... : runs cmd N times (stdout to /dev/null) and sets
# OUTVAR to "wall user sys" of the run with the smallest wall time.
time_best() {
  local n=$1 __out=$2
  shift 2
  local best="" tf
  tf=$(mktemp)
  for ((i = 0; i < n; i++)); do
    local t0=$EPOCHREALTIME rc=0
    /usr/bin/time -f '%U %S' -o "$tf" "$@" >/dev/null || rc=$?
    local t1=$EPOCHREALTIME
    # kuzusync diff exits 1 on "different": not a failure here.
    if [[ $rc -gt 1 ]]; then echo "command failed ($rc): $*" >&2; rm -f "$tf"; return 1; fi
    local line
    # GNU time's %e has 10 ms resolution; take the wall time from bash instead.
    line="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(tail -1 "$tf")"
    if [[ -z $best ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best=$line
    fi
  done
  rm -f "$tf"
  printf -v "$__out" '%s' "$best"
}
