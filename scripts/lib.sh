# Shared shell helpers for demo/bench/e2e scripts. Source it; do not run it.
# Runs on Linux and macOS (/bin/bash 3.2, BSD userland): see scripts/lint-macos-shell.

# now: seconds since the epoch with a fraction. BSD date (macOS) has no %N and prints a
# literal "N", so there the time comes from python3 (which the tests need anyway).
if [[ "$(date +%N 2>/dev/null)" =~ ^[0-9]+$ ]]; then # macos-ok: the feature test itself
  now() { date +%s.%N; } # macos-ok: only where date +%N was seen to print digits
else
  now() { python3 -c 'import time; print("%.6f" % time.time())'; }
fi

# with_timeout SECONDS COMMAND [ARGS...]: runs COMMAND and kills it after SECONDS; then
# exits 124, as GNU timeout does. macOS has no timeout(1): use it where it exists, else
# gtimeout (Homebrew coreutils), else python3. 127 when COMMAND cannot be run.
with_timeout() {
  local secs=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$secs" "$@"
  elif command -v gtimeout >/dev/null 2>&1; then
    gtimeout "$secs" "$@"
  else
    python3 -c '
import subprocess, sys
try:
    p = subprocess.Popen(sys.argv[2:])
except OSError as e:
    sys.stderr.write("with_timeout: %s: %s\n" % (sys.argv[2], e.strerror))
    sys.exit(127)
try:
    rc = p.wait(timeout=float(sys.argv[1]))
except subprocess.TimeoutExpired:
    p.terminate()
    try:
        p.wait(timeout=2)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    sys.exit(124)
except KeyboardInterrupt:
    p.terminate()
    sys.exit(130)
sys.exit(rc if rc >= 0 else 128 - rc)
' "$secs" "$@"
  fi
}

# Finds the sample clip: $VTREMOTE_SAMPLE, then the shared data folder beside the checkout.
find_sample() {
  local top c
  top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for c in "${VTREMOTE_SAMPLE:-}" "$top/../shared/data/bigbuckbunny.mp4" "/work/shared/data/bigbuckbunny.mp4"; do
    [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

# start_daemon BIN_DIR LOG [extra flags…]: starts vtremoted on a free loopback port and
# sets DAEMON_PID and DAEMON_ADDR.
start_daemon() {
  local bin="$1" log="$2" a
  local state=("--state-dir" "$log.state")
  shift 2
  # The TLS key goes beside the log, not into the user's or the system's state folder,
  # unless the caller chose (--state-dir) or needs none (--no-tls).
  for a in "$@"; do
    case "$a" in --state-dir | --state-dir=* | --no-tls) state=() ;; esac
  done
  "$bin/vtremoted" --listen 127.0.0.1:0 --log-level 1 ${state[@]+"${state[@]}"} "$@" >"$log.out" 2>"$log" &
  DAEMON_PID=$!
  local _
  for _ in $(seq 1 100); do
    DAEMON_ADDR="$(sed -n 's/^vtremoted listening on //p' "$log.out" 2>/dev/null | head -n1)"
    [ -n "$DAEMON_ADDR" ] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.05
  done
  echo "vtremoted did not start" >&2
  cat "$log" >&2
  return 1
}

# cpu_seconds PID: user+system CPU time of a running process (all its threads). /proc on
# Linux (clock ticks, exact); elsewhere (macOS) ps's TIME column, [[DD-]HH:]MM:SS[.ss].
cpu_seconds() {
  if [ -r "/proc/$1/stat" ]; then # macos-ok: feature test, ps below otherwise
    # Field 2 (comm) may hold spaces: count from the last ")".
    sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($12 + $13) / hz }' # macos-ok: only where /proc exists
  else
    ps -o time= -p "$1" | awk '{
      t = $1; d = 0
      if (index(t, "-")) { split(t, dt, "-"); d = dt[1]; t = dt[2] }
      n = split(t, p, ":"); s = 0
      for (i = 1; i <= n; i++) s = s * 60 + p[i]
      printf "%.2f\n", d * 86400 + s
    }'
  fi
}

# summary_count LOG: how many SUMMARY lines the daemon has logged so far.
summary_count() {
  grep -c ' SUMMARY ' "$1" 2>/dev/null || true
}

# wait_summary LOG N: waits (up to 30 s) until LOG holds more than N SUMMARY lines and prints
# the newest. A session logs its line after the client closed, a moment after the client
# process exits.
wait_summary() {
  local _
  for _ in $(seq 1 300); do
    if [ "$(summary_count "$1")" -gt "$2" ]; then
      grep ' SUMMARY ' "$1" | tail -n1
      return 0
    fi
    sleep 0.1
  done
  echo "no new SUMMARY line in $1 after 30 s (the session did not end?)" >&2
  return 1
}

# summary_field LINE KEY: the value of KEY=VALUE in a SUMMARY line ("" when absent).
summary_field() {
  printf '%s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}

stop_daemon() {
  [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=""
}
