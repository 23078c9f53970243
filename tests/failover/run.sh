#!/usr/bin/env bash
# Failover end to end with the patched FFmpeg: two vtremoted on 127.0.0.1 form a pool
# (-vt_remote_host "A,B"); the helper serving the job is killed with SIGKILL mid-stream.
# The job must finish with every frame exactly once, in order, decodable, and as good as
# a run without failure; a remote decode must stay frame-exact against a local decode.
#
#   tests/failover/run.sh [BIN_DIR]        (default build/bin: ffmpeg, ffprobe, vtremoted)
set -euo pipefail
BIN="$(cd "${1:-build/bin}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/../.."
. scripts/lib.sh
FF="$BIN/ffmpeg"
FP="$BIN/ffprobe"
. tests/suite.sh
check() { python3 "$HERE/../ffmpeg/check_stream.py" "$FP" "$@"; }
for b in "$FF" "$FP" "$BIN/vtremoted"; do [ -x "$b" ] || fail "$b is missing (run make build)"; done

# pool NAME: starts two helpers; sets NAME (the "A,B" host value) and records each
# helper's PID by address in $T/NAME.pids.
pool() {
  local name=$1 member hosts=()
  : >"$T/$name.pids"
  for member in a b; do
    start_daemon "$BIN" "$T/$name-$member.log" --no-tls --max-sessions 4 || fail "vtremoted $name-$member did not start"
    PIDS+=("$DAEMON_PID")
    echo "$DAEMON_ADDR $DAEMON_PID" >>"$T/$name.pids"
    hosts+=("$DAEMON_ADDR")
    DAEMON_PID=""
  done
  printf -v "$name" '%s,%s' "${hosts[0]}" "${hosts[1]}"
}

# kill_serving POOL LOG AFTER: once LOG names the member the job opened on, waits AFTER
# seconds and kills that helper with SIGKILL; prints its address.
kill_serving() {
  local name=$1 log=$2 after=$3 addr="" pid _
  for _ in $(seq 1 200); do
    addr=$(sed -n 's/.*pool [^ ]*: using \([^ ]*\) (.*/\1/p' "$log" 2>/dev/null | head -n1)
    [ -n "$addr" ] && break
    sleep 0.05
  done
  [ -n "$addr" ] || { cat "$log" >&2; fail "the job never said which helper it uses"; }
  pid=$(awk -v a="$addr" '$1 == a { print $2 }' "$T/$name.pids")
  sleep "$after"
  kill -9 "$pid"
  echo "$addr"
}

# survived JOB_PID LOG VICTIM WHAT: the job exited 0 and its log shows the takeover.
survived() {
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || { tail -n 20 "$2" >&2; fail "$4 exited $rc after losing $3"; }
  grep -q "lost the helper at $3" "$2" || { tail -n 20 "$2" >&2; fail "no failover happened in the $4 (the kill came too late?)"; }
}

# psnr FILE: average PSNR of FILE against the source. The system ffmpeg (scripts/bootstrap
# installs it) has the psnr filter; the minimal test build does not.
command -v ffmpeg >/dev/null || fail "the system ffmpeg is missing (scripts/bootstrap installs it)"
psnr() {
  ffmpeg -hide_banner -nostdin -i "$1" "${SRC[@]}" -lavfi "[0:v][1:v]psnr" -f null - 2>&1 |
    sed -n 's/.*PSNR .* average:\([0-9.inf]*\).*/\1/p' | tail -n1
}

SRC=(-f lavfi -i testsrc2=s=640x360:r=30:d=6)
FRAMES=180
ENC=(-c:v h264_videotoolbox_remote -b:v 600k -g 60 -bf 2)

# ---------------------------------------------------------------------------------------
# Encode: the reference run without failure, then the same job losing its helper
pool P
"$FF" -hide_banner -nostdin -y "${SRC[@]}" "${ENC[@]}" -vt_remote_host "$P" "$T/ref.mp4" >"$T/ref.log" 2>&1 ||
  { tail -n 20 "$T/ref.log" >&2; fail "reference encode"; }
# -re: the job lasts 6 s, so the kill lands mid-stream.
"$FF" -hide_banner -nostdin -v verbose -y -re "${SRC[@]}" "${ENC[@]}" -vt_remote_host "$P" "$T/failover.mp4" >"$T/failover.log" 2>&1 &
job=$!
victim=$(kill_serving P "$T/failover.log" 2)
survived "$job" "$T/failover.log" "$victim" encode
r=$(check "$T/failover.mp4" --codec h264 --frames $FRAMES --bframes yes) || exit 1
"$FF" -v error -nostdin -xerror -i "$T/failover.mp4" -f null - 2>"$T/xerror.log" || { cat "$T/xerror.log" >&2; fail "does not decode with -xerror"; }
[ ! -s "$T/xerror.log" ] || { cat "$T/xerror.log" >&2; fail "the decoder complained about the splice"; }
ref=$(psnr "$T/ref.mp4")
got=$(psnr "$T/failover.mp4")
python3 -c "import sys; r, g = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if g >= r - 1.0 else 1)" "$ref" "$got" ||
  fail "PSNR $got dB after the failover, $ref dB without: more than 1 dB apart"
pass "encode survives SIGKILL of $victim: exit 0, $r, -xerror clean, PSNR $got dB vs $ref dB without failure"

# ---------------------------------------------------------------------------------------
# Decode: framemd5 of the pictures delivered == a local decode
pool Q
"$FF" -v error -nostdin -y -i "$T/ref.mp4" -map 0:v -f framemd5 "$T/local.md5" || fail "local decode"
"$FF" -hide_banner -nostdin -v verbose -y -re -c:v h264_videotoolbox_remote -vt_remote_host "$Q" -i "$T/ref.mp4" -map 0:v \
  -pix_fmt yuv420p -f framemd5 "$T/remote.md5" >"$T/decode.log" 2>&1 &
job=$!
victim=$(kill_serving Q "$T/decode.log" 2)
survived "$job" "$T/decode.log" "$victim" decode
a=$(grep -v '^#' "$T/local.md5" | awk -F', *' '{print $1, $3, $5, $6}')
b=$(grep -v '^#' "$T/remote.md5" | awk -F', *' '{print $1, $3, $5, $6}')
[ "$(awk 'END { print NR }' <<<"$a")" = $FRAMES ] || fail "local decode gave $(awk 'END { print NR }' <<<"$a") frames"
[ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b") | head -n 5 >&2; fail "remote decode across the failover differs from local"; }
pass "decode survives SIGKILL of $victim: framemd5 of all $FRAMES pictures == local decode"

# ---------------------------------------------------------------------------------------
# Nobody left: a clear error within the failover wait
start_daemon "$BIN" "$T/alone.log" --no-tls || fail "vtremoted alone did not start"
PIDS+=("$DAEMON_PID")
echo "$DAEMON_ADDR $DAEMON_PID" >"$T/alone.pids"
alone=$DAEMON_ADDR
DAEMON_PID=""
rc=0
"$FF" -hide_banner -nostdin -y -re "${SRC[@]}" "${ENC[@]}" -vt_remote_host "$alone" -vt_remote_failover_timeout_ms 1000 \
  -f null - >"$T/alone-job.log" 2>&1 &
job=$!
# kill_serving reads the pool line; a single helper has none, so its PID is used directly.
sleep 2
kill -9 "$(awk '{ print $2 }' "$T/alone.pids")"
wait "$job" || rc=$?
[ "$rc" != 0 ] || fail "ffmpeg succeeded with no helper left"
grep -q "$alone: lost the helper (.*) and no helper took over within 1000 ms: $alone: connection refused" "$T/alone-job.log" ||
  { tail -n 5 "$T/alone-job.log" >&2; fail "the error does not say what was lost and why nobody took over"; }
pass "no helper left: exit $rc, $(grep -o 'and no helper took over within 1000 ms: [^(]*' "$T/alone-job.log" | head -n1)"
