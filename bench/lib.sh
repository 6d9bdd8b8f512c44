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

# Small arithmetic for reports (awk: bash has no floats).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for PID FILE PATTERN: until the daemon's log shows PATTERN (5 s max).
wait_for() {
  local pid=$1 file=$2 pat=$3 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { echo "daemon $pid died:" >&2; cat "$file" >&2; return 1; }
    grep -q "$pat" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "daemon $pid not ready: $(cat "$file")" >&2
  return 1
}

# Background processes a script starts (daemons) go in PIDS; stop_pids ends them.
PIDS=()
stop_pids() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
