#!/usr/bin/env bash
# Tests dist/container/vtremote-healthcheck (the container's HEALTHCHECK and the Kubernetes
# readiness/liveness probe) against a real vtremoted: healthy when idle and when every
# session is taken (a helper at --max-sessions must stay in the pool and not be
# restarted), unhealthy with the wrong token and when the daemon is gone.
#   dist/container/test-healthcheck.sh BIN      (BIN holds vtremoted and vtremote)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "${1:?usage: $0 BIN}" && pwd)
check="$here/vtremote-healthcheck"
work=$(mktemp -d)
daemon="" holder=""
cleanup() {
  for p in $holder $daemon; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fails=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*" >&2
  fails=$((fails + 1))
}

umask 077
echo "right-token-$$" >"$work/token"
echo "wrong-token" >"$work/wrong"
# start_daemon FLAGS...: one session at most, our token; sets $daemon and $addr.
start_daemon() {
  : >"$work/daemon.out" # exists before the daemon writes to it: polled below
  "$bin/vtremoted" --listen 127.0.0.1:0 --token-file "$work/token" --max-sessions 1 \
    --idle-timeout-ms 20000 "$@" >"$work/daemon.out" 2>"$work/daemon.err" &
  daemon=$!
  local port=""
  for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/daemon.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "test-healthcheck.sh: vtremoted did not start: $(cat "$work/daemon.err")" >&2; exit 1; }
  addr=127.0.0.1:$port
}
start_daemon --no-tls

# health TOKEN_FILE: runs the check as the probes do (vtremote on PATH); leaves $work/out.
health() {
  PATH="$bin:$PATH" VTREMOTE_TOKEN_FILE=$1 "$check" "$addr" >"$work/out" 2>&1
}

if health "$work/token"; then pass "idle helper: healthy ($(cat "$work/out"))"; else fail "idle helper: $(cat "$work/out")"; fi

# Take the only session: a client that sends HELLO with the token, reads HELLO_ACK status 0
# and then holds the connection (the daemon keeps the slot until CONFIGURE or the idle
# timeout). Wire format: docs/protocol.md (12-byte header, strings as u16 length + bytes).
python3 - "${addr##*:}" "$(cat "$work/token")" "$work/held" <<'PY' &
import socket, struct, sys, time
port, token, flag = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
s16 = lambda b: struct.pack(">H", len(b)) + b
payload = s16(token) + s16(b"h264") + s16(b"healthcheck-test") + s16(b"0")
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(struct.pack(">IHHI", 0x56545231, 1, 1, len(payload)) + payload)
header = sock.recv(12, socket.MSG_WAITALL)
status = sock.recv(1, socket.MSG_WAITALL)
if struct.unpack(">IHHI", header)[2] != 2 or status != b"\0":
    sys.exit("HELLO not accepted: %r %r" % (header, status))
open(flag, "w").close()
time.sleep(60)
PY
holder=$!
for _ in $(seq 50); do
  [ -e "$work/held" ] && break
  sleep 0.1
done
if [ ! -e "$work/held" ]; then
  fail "could not take the session slot"
else
  # The busy answer is really what the probe got (else the next check proves nothing).
  if PATH="$bin:$PATH" vtremote probe --token-file "$work/token" "$addr" >"$work/probe" 2>&1; then
    fail "vtremote probe succeeded on a full helper: the busy case is not exercised"
  elif health "$work/token"; then
    pass "full helper (1 of 1 in use): healthy ($(cat "$work/out"))"
  else
    fail "full helper: unhealthy: $(cat "$work/out")"
  fi
fi
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
holder=""

if health "$work/wrong"; then fail "wrong token: reported healthy"; else pass "wrong token: unhealthy ($(head -1 "$work/out"))"; fi
if health "$work/missing"; then fail "missing token file: reported healthy"; else pass "missing token file: unhealthy"; fi

kill "$daemon"
wait "$daemon" 2>/dev/null || true
daemon=""
if health "$work/token"; then fail "daemon gone: reported healthy"; else pass "daemon gone: unhealthy ($(head -1 "$work/out"))"; fi

# --require-tls: the plain probe is refused; the check retries pinned to the daemon's key.
start_daemon --require-tls --state-dir "$work/state"
if PATH="$bin:$PATH" VTREMOTED_STATE_DIR="$work/state" VTREMOTE_TOKEN_FILE="$work/token" \
  "$check" "$addr" >"$work/out" 2>&1; then
  pass "--require-tls helper: healthy over TLS ($(cat "$work/out"))"
else
  fail "--require-tls helper: $(cat "$work/out")"
fi

if [ "$fails" != 0 ]; then
  echo "test-healthcheck.sh: $fails failure(s)" >&2
  exit 1
fi
echo "test-healthcheck.sh: all passed"
