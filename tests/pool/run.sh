#!/usr/bin/env bash
# A pool given as one host name with several addresses, the way a Kubernetes headless
# Service or round-robin DNS gives it: inside a network namespace we create, its own
# /etc/hosts (ip netns exec bind-mounts /etc/netns/NAME/hosts) maps helpers.test to
# 127.0.0.2 and 127.0.0.3, a helper listens on each, one is held at its session limit,
# and FFmpeg with -vt_remote_host helpers.test:5555 must use the other; then the serving
# helper is killed mid-encode and the job finishes on the first.
#
#   tests/pool/run.sh [BIN_DIR]    (root, for the namespace; skipped otherwise)
set -euo pipefail
BIN="$(cd "${1:-build/bin}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/../.."
FF="$BIN/ffmpeg"
FP="$BIN/ffprobe"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
for b in "$FF" "$FP" "$BIN/vtremoted" "$BIN/vtremote"; do [ -x "$b" ] || fail "$b is missing (run make build)"; done
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "SKIP: tests/pool needs root and iproute2 for a network namespace" >&2
  exit 0
fi
NS="vtr-pool-$$"
T="$(mktemp -d)"
cleanup() {
  local p
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "/etc/netns/$NS"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
if ! ip netns add "$NS" 2>"$T/netns.err"; then
  echo "SKIP: cannot create a network namespace here: $(cat "$T/netns.err")" >&2
  exit 0
fi
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost\n127.0.0.2 helpers.test\n127.0.0.3 helpers.test\n' >"/etc/netns/$NS/hosts"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up

# helper IP [flags…]: a vtremoted inside the namespace on IP:5555.
helper() {
  in_ns "$BIN/vtremoted" --listen "$1:5555" --no-tls --log-level 1 "${@:2}" >"$T/$1.out" 2>"$T/$1.log" &
  local _
  for _ in $(seq 1 100); do
    grep -q "^vtremoted listening on" "$T/$1.out" 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$T/$1.log" >&2
  fail "vtremoted on $1 did not start"
}
# kill_helper IP: SIGKILL to the vtremoted listening on IP:5555 (ip netns exec forks, so
# the PID the shell knows is not the daemon's).
kill_helper() { pkill -9 -f -- "--listen $1:5555" || fail "no vtremoted on $1 to kill"; }
helper 127.0.0.2 --max-sessions 1 >/dev/null
helper 127.0.0.3 --max-sessions 4 >/dev/null

probe=$(in_ns "$BIN/vtremote" probe helpers.test:5555 2>&1) || { echo "$probe" >&2; fail "vtremote probe helpers.test:5555"; }
grep -q "127.0.0.2:5555" <<<"$probe" && grep -q "127.0.0.3:5555" <<<"$probe" ||
  { echo "$probe" >&2; fail "the probe of helpers.test does not show both addresses"; }
pass "vtremote probe helpers.test:5555 shows both addresses of the name"

# Hold A's only session for 2 s with a job aimed at it alone.
SRC=(-f lavfi -i testsrc2=s=640x360:r=30:d=6)
in_ns "$FF" -hide_banner -nostdin -y -re -f lavfi -i testsrc2=s=640x360:r=30:d=2 -c:v h264_videotoolbox_remote -vt_remote_host 127.0.0.2:5555 \
  -f null - >"$T/hold.log" 2>&1 &
hold=$!
for _ in $(seq 1 100); do grep -q "SUMMARY\|session 1" "$T/127.0.0.2.log" 2>/dev/null && break; sleep 0.05; done
sleep 0.5
in_ns "$FF" -hide_banner -nostdin -v verbose -y -re "${SRC[@]}" -c:v h264_videotoolbox_remote -b:v 2M -g 60 -bf 2 \
  -vt_remote_host helpers.test:5555 "$T/pool.mp4" >"$T/pool.log" 2>&1 &
job=$!
for _ in $(seq 1 100); do grep -q "pool helpers.test:5555: using" "$T/pool.log" && break; sleep 0.05; done
grep -q "pool helpers.test:5555: using 127.0.0.3:5555 (0 of 4 sessions in use); skipped: 127.0.0.2:5555: server busy (1 of 1" "$T/pool.log" ||
  { cat "$T/pool.log" >&2; fail "the job did not choose the idle member and say why the full one was skipped"; }
pass "the name's full member (127.0.0.2, 1 of 1) is skipped and the idle one chosen"
wait "$hold" || fail "the job holding 127.0.0.2 failed"

# Now kill the serving member: the job goes on with the one the holder has released.
sleep 0.5
kill_helper 127.0.0.3
rc=0
wait "$job" || rc=$?
[ "$rc" = 0 ] || { tail -n 20 "$T/pool.log" >&2; fail "ffmpeg exited $rc after losing 127.0.0.3"; }
grep -q "lost the helper at 127.0.0.3:5555" "$T/pool.log" || { tail -n 20 "$T/pool.log" >&2; fail "no failover happened"; }
grep -q "127.0.0.2:5555 took over" "$T/pool.log" || { tail -n 20 "$T/pool.log" >&2; fail "the other address did not take over"; }
r=$(python3 tests/ffmpeg/check_stream.py "$FP" "$T/pool.mp4" --codec h264 --frames 180 --bframes yes) || exit 1
pass "killing 127.0.0.3 mid-encode: 127.0.0.2 took over, $r"
