#!/usr/bin/env bash
# End-to-end test of the `vtremote` CLI against build/bin/vtremoted on 127.0.0.1.
# Outputs are checked by decoding them, never by exit codes alone.
set -euo pipefail
BIN="$(cd "${1:-build/bin}" && pwd)"
cd "$(dirname "$0")/../.."
. scripts/lib.sh
T="$(mktemp -d)"
cleanup() { stop_daemon; [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

start_daemon "$BIN" "$T/d.log" --token s3cret --max-sessions 2

# probe: success and each failure reason
out="$("$BIN/vtremote" probe "$DAEMON_ADDR" --token s3cret)"
grep -q "^server: *vtremoted" <<<"$out" || fail "probe output: $out"
grep -q "sessions: 0 in use of 2" <<<"$out" || fail "probe sessions: $out"
grep -q "^wire: *none, lz4, zstd, vtl$" <<<"$out" || fail "probe wire compressions: $out"
pass "probe prints server, version, sessions, codecs and wire compressions"
err="$("$BIN/vtremote" probe "$DAEMON_ADDR" --token wrong 2>&1)" && fail "wrong token accepted"
grep -q "authentication failed" <<<"$err" && grep -q "$DAEMON_ADDR" <<<"$err" || fail "auth message: $err"
pass "probe: wrong token named with host"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
err="$("$BIN/vtremote" probe "127.0.0.1:$port" 2>&1)" && fail "refused port accepted"
grep -q "connection refused" <<<"$err" || fail "refused message: $err"
pass "probe: refused port"
# A server that speaks first with something else (an SSH banner, say).
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
open(sys.argv[2], "w").close()
for _ in range(4):
    c, _ = s.accept(); c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n"); time.sleep(0.5); c.close()
' "$port" "$T/banner.ready" &
HTTP_PID=$!
# A loaded machine can take longer than any fixed sleep to start Python: wait for the file.
for _ in $(seq 1 100); do [ -e "$T/banner.ready" ] && break; sleep 0.1; done
# with_timeout (scripts/lib.sh): macOS has no timeout(1). The exit status must be vtremote's
# own error status (1), so that a wrapper that could not run the probe (127) or a hang (124)
# does not pass for a refusal.
rc=0
err="$(with_timeout 20 "$BIN/vtremote" probe "127.0.0.1:$port" --timeout-ms 2000 2>&1)" || rc=$?
[ "$rc" = 1 ] || fail "probe of a non-vtremote server: exit $rc, want 1: $err"
grep -qi "not a vtremote server" <<<"$err" || fail "non-vtremote message: $err"
pass "probe: not a vtremote server"
# Name resolution and "no route" without any traffic leaving the machine: a private network
# namespace with its loopback down (no resolver reachable, no route even to 127.0.0.1).
if unshare -n true 2>/dev/null; then
  err="$(unshare -n "$BIN/vtremote" probe "helper-that-does-not-exist:5555" 2>&1)" && fail "bad host accepted"
  grep -q "cannot resolve" <<<"$err" || fail "resolve message: $err"
  pass "probe: unresolvable host ($err)"
  err="$(unshare -n "$BIN/vtremote" probe "127.0.0.1:5555" 2>&1)" && fail "unreachable host accepted"
  grep -qi "unreachable" <<<"$err" || fail "unreachable message: $err"
  pass "probe: unreachable network ($err)"
else
  echo "skip - unresolvable/unreachable host: cannot create a network namespace here"
fi

# encode/decode round trips, checked against the system ffmpeg
psnr() { # ref.yuv test.yuv pixfmt size -> average PSNR
  ffmpeg -hide_banner -v info -f rawvideo -pix_fmt "$3" -s "$4" -i "$2" -f rawvideo -pix_fmt "$3" -s "$4" -i "$1" \
    -lavfi psnr -f null - 2>&1 | sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -n1
}
for case in "h264 nv12 zstd" "hevc nv12 lz4" "hevc p010 none" "h264 nv12 vtl" "hevc p010 vtl"; do
  set -- $case
  codec=$1 fmt=$2 comp=$3
  ff=$([ "$fmt" = p010 ] && echo p010le || echo nv12)
  ffmpeg -v error -y -f lavfi -i testsrc2=s=352x288:r=30:d=2 -pix_fmt "$ff" -f rawvideo "$T/in.yuv"
  "$BIN/vtremote" encode --host "$DAEMON_ADDR" --token s3cret --codec "$codec" --size 352x288 --fps 30 \
    --pix-fmt "$fmt" --bitrate 2M --gop 30 --compression "$comp" -i "$T/in.yuv" -o "$T/out.$codec" 2>"$T/enc.log" \
    || { cat "$T/enc.log"; fail "encode $case"; }
  n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/out.$codec")
  [ "$n" = 60 ] || fail "encode $case: $n frames, want 60"
  p=$(psnr "$T/in.yuv" <(ffmpeg -v error -i "$T/out.$codec" -f rawvideo -pix_fmt "$ff" -) "$ff" 352x288)
  awk -v p="$p" 'BEGIN{exit !(p=="inf" || p+0 >= 35)}' || fail "encode $case: PSNR $p < 35"
  pass "encode $case: 60 frames, PSNR $p dB"
  "$BIN/vtremote" decode --host "$DAEMON_ADDR" --token s3cret --codec "$codec" --compression "$comp" \
    -i "$T/out.$codec" -o "$T/remote.yuv" 2>"$T/dec.log" || { cat "$T/dec.log"; fail "decode $case"; }
  ffmpeg -v error -y -i "$T/out.$codec" -f rawvideo -pix_fmt "$ff" "$T/local.yuv"
  cmp -s "$T/remote.yuv" "$T/local.yuv" || fail "decode $case: remote frames differ from a local decode"
  pass "decode $case: frame-exact with a local libavcodec decode"
done
# A stream that starts mid-GOP (a live feed, a cut file): 50 pictures whose references are
# missing, more than the window of 16, then an IDR. The helper's decoder drops them; the
# client must neither stall nor fail, and must get what a local decode gets.
ffmpeg -v error -y -f lavfi -i testsrc2=s=352x288:r=30:d=4 -c:v libx264 -g 60 -bf 2 \
  -x264-params aud=1:scenecut=0 -pix_fmt yuv420p -f h264 "$T/gop.h264"
python3 tests/cli/cut_midgop.py "$T/gop.h264" "$T/midgop.h264" 10 >"$T/midgop.counts"
read -r sent decodable <"$T/midgop.counts"
"$BIN/vtremote" decode --host "$DAEMON_ADDR" --token s3cret --codec h264 --timeout-ms 3000 \
  -i "$T/midgop.h264" -o "$T/midgop.yuv" 2>"$T/midgop.err" || { cat "$T/midgop.err"; fail "mid-GOP decode"; }
ffmpeg -v error -y -i "$T/midgop.h264" -f rawvideo -pix_fmt nv12 "$T/midgop-local.yuv" 2>"$T/midgop-local.err" ||
  { cat "$T/midgop-local.err"; fail "local decode of the mid-GOP stream"; }
cmp -s "$T/midgop.yuv" "$T/midgop-local.yuv" ||
  fail "mid-GOP decode: $(($(wc -c <"$T/midgop.yuv") / 152064)) remote vs $(($(wc -c <"$T/midgop-local.yuv") / 152064)) local pictures, or different bytes"
pass "decode from mid-GOP: $sent packets, $decodable decodable, frame-exact with a local decode"
grep -q "SUMMARY.*mode=encode.*result=ok" "$T/d.log" || fail "no encode summary line"
for m in encode decode; do
  grep -q "SUMMARY.*mode=$m.*compression=vtl.*result=ok" "$T/d.log" || fail "no $m session used vtl"
done
grep -q "SUMMARY.*result=error: authentication failed" "$T/d.log" || fail "failed session has no summary line"
pass "daemon logs a summary line per session, failed ones included"
err="$("$BIN/vtremote" encode --host "$DAEMON_ADDR" --token s3cret --codec h264 --size 352x288 --fps 30 \
  --opt profile=12345 -i "$T/in.yuv" -o "$T/bad.h264" 2>&1)" && fail "bogus profile accepted"
grep -q "profile" <<<"$err" && grep -q "$DAEMON_ADDR" <<<"$err" || fail "refusal message: $err"
pass "encode: an unsupported option is refused naming the option and the host ($err)"

# TLS on the same port, required: a pinned client encodes; plain, wrong-pin and
# wrong-token clients each get their own message. The token comes from a file or the
# environment, never the command line.
stop_daemon
printf 's3cret\n' >"$T/token"
"$BIN/vtremoted" --state-dir "$T/state" --fingerprint >"$T/fp" || fail "vtremoted --fingerprint"
fp="$(cat "$T/fp")"
grep -q '^SHA256:' <<<"$fp" || fail "fingerprint: $fp"
start_daemon "$BIN" "$T/d.log" --token-file "$T/token" --require-tls --state-dir "$T/state"
grep -q "^vtremoted TLS fingerprint $fp$" "$T/d.log.out" || fail "daemon did not print its fingerprint $fp"
"$BIN/vtremote" encode --host "$DAEMON_ADDR" --token-file "$T/token" --tls-fingerprint "$fp" \
  --codec h264 --size 352x288 --fps 30 -i "$T/in.yuv" -o "$T/tls.h264" 2>"$T/tls.err" ||
  { cat "$T/tls.err"; fail "encode over TLS"; }
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/tls.h264")
[ "$n" = "$(($(wc -c <"$T/in.yuv") / 152064))" ] || fail "TLS encode: $n frames"
pass "encode over TLS (pinned fingerprint, token from a file): $n frames"
out="$(VTREMOTE_TOKEN=s3cret "$BIN/vtremote" probe "$DAEMON_ADDR" --tls-fingerprint "$fp")" ||
  fail "probe with VTREMOTE_TOKEN: $out"
err="$("$BIN/vtremote" probe "$DAEMON_ADDR" --token-file "$T/token" 2>&1)" && fail "plain client accepted"
grep -q "TLS required" <<<"$err" || fail "plain client message: $err"
bad="SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
err="$("$BIN/vtremote" probe "$DAEMON_ADDR" --token-file "$T/token" --tls-fingerprint "$bad" 2>&1)" &&
  fail "wrong fingerprint accepted"
grep -q "$fp" <<<"$err" && grep -q "$bad" <<<"$err" || fail "fingerprint message lacks one of them: $err"
err="$(VTREMOTE_TOKEN=wrong "$BIN/vtremote" probe "$DAEMON_ADDR" --tls-fingerprint "$fp" 2>&1)" &&
  fail "wrong token accepted over TLS"
grep -q "authentication failed" <<<"$err" || fail "wrong token message: $err"
grep -q "SUMMARY.*peer=127.0.0.1:[0-9]* (tls).*mode=encode.*result=ok" "$T/d.log" ||
  fail "no TLS session in the daemon's summary lines"
pass "TLS required: plain client, wrong fingerprint (both shown) and wrong token each named"

# SIGHUP reloads the token file: new sessions need the new token.
printf 'n3w\n' >"$T/token"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do grep -q "token reloaded" "$T/d.log" && break; sleep 0.1; done
grep -q "token reloaded" "$T/d.log" || fail "no reload logged after SIGHUP"
VTREMOTE_TOKEN=n3w "$BIN/vtremote" probe "$DAEMON_ADDR" --tls-fingerprint "$fp" >/dev/null ||
  fail "new token refused after SIGHUP"
VTREMOTE_TOKEN=s3cret "$BIN/vtremote" probe "$DAEMON_ADDR" --tls-fingerprint "$fp" >/dev/null 2>&1 &&
  fail "old token still accepted after SIGHUP"
pass "SIGHUP reloads the token file"
