# Shared shell helpers for demo/bench/e2e scripts. Source it; do not run it.

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
  local bin="$1" log="$2"
  shift 2
  "$bin/vtremoted" --listen 127.0.0.1:0 --log-level 1 "$@" >"$log.out" 2>"$log" &
  DAEMON_PID=$!
  local i
  for i in $(seq 1 100); do
    DAEMON_ADDR="$(sed -n 's/^vtremoted listening on //p' "$log.out" 2>/dev/null | head -n1)"
    [ -n "$DAEMON_ADDR" ] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.05
  done
  echo "vtremoted did not start" >&2
  cat "$log" >&2
  return 1
}

stop_daemon() {
  [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=""
}
