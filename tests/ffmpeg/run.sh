#!/usr/bin/env bash
# End-to-end test of the patched FFmpeg's *_videotoolbox_remote codecs against
# build/bin/vtremoted on 127.0.0.1. Every output is checked with the patched ffprobe or by
# decoding it, never by exit codes alone.
#
#   tests/ffmpeg/run.sh [BIN_DIR]        (default build/bin: ffmpeg, ffprobe, vtremoted)
#
# Environment: VTREMOTE_SAMPLE (default /work/shared/data/bigbuckbunny.mp4 or
# ../shared/data/bigbuckbunny.mp4 beside the checkout; its cases are skipped, loudly, if absent),
# KEEP=1 keeps the temporary directory.
set -euo pipefail
BIN="$(cd "${1:-build/bin}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/../.."
. scripts/lib.sh
FF="$BIN/ffmpeg"
FP="$BIN/ffprobe"
. tests/suite.sh
check() { python3 "$HERE/check_stream.py" "$FP" "$@"; }
# now (fractional seconds) comes from scripts/lib.sh: BSD date has no %N.
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# daemon NAME [flags…]: starts a vtremoted, sets ${NAME}_ADDR.
daemon() {
  local name=$1
  shift
  start_daemon "$BIN" "$T/$name.log" "$@" || fail "vtremoted $name did not start"
  PIDS+=("$DAEMON_PID")
  printf -v "${name}_ADDR" '%s' "$DAEMON_ADDR"
  DAEMON_PID="" # ours to stop, not scripts/lib.sh's
}
t_start=$(now)

for b in "$FF" "$FP" "$BIN/vtremoted"; do [ -x "$b" ] || fail "$b is missing (run make build)"; done

# ---------------------------------------------------------------------------------------
# Registration and options
for kind in encoders decoders; do
  list=$("$FF" -hide_banner "-$kind")
  for c in h264_videotoolbox_remote hevc_videotoolbox_remote; do
    grep -q " $c " <<<"$list" || fail "ffmpeg -$kind lacks $c"
  done
done
pass "ffmpeg -encoders/-decoders list the four codecs"
help=$("$FF" -hide_banner -h encoder=h264_videotoolbox_remote)
for o in vt_remote_host vt_remote_token vt_remote_timeout_ms vt_remote_inflight vt_remote_wire_compression \
         vt_remote_log_level vt_params profile level coder a53cc allow_sw require_sw realtime frames_before \
         frames_after prio_speed power_efficient spatial_aq max_ref_frames constant_bit_rate max_slice_bytes; do
  grep -q -- "-$o " <<<"$help" || fail "h264_videotoolbox_remote lacks option $o"
done
grep -q "Supported pixel formats: nv12$" <<<"$help" || fail "h264 encoder pixel formats: $(grep 'pixel formats' <<<"$help")"
help=$("$FF" -hide_banner -h encoder=hevc_videotoolbox_remote)
for o in alpha_quality main10 vt_remote_host profile; do grep -q -- "$o " <<<"$help" || fail "hevc encoder lacks $o"; done
grep -q "Supported pixel formats: nv12 p010le" <<<"$help" || fail "hevc encoder pixel formats"
help=$("$FF" -hide_banner -h decoder=hevc_videotoolbox_remote)
for o in vt_remote_host vt_remote_token vt_remote_timeout_ms vt_remote_wire_compression; do
  grep -q -- "-$o " <<<"$help" || fail "hevc decoder lacks option $o"
done
pass "-h encoder=/decoder= show the vt_remote_* and VideoToolbox options"

daemon D --max-sessions 8
H=$D_ADDR
SRC=(-f lavfi -i testsrc2=s=1280x720:r=30:d=5)
enc() { # out_file log extra ffmpeg args…
  local out=$1 log=$2
  shift 2
  "$FF" -hide_banner -nostdin -y "${SRC[@]}" "$@" -vt_remote_host "$H" "$out" >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; fail "encode to $(basename "$out") failed"; }
}
decodes_cleanly() { # file: native decode with -xerror, all frames
  "$FF" -v error -nostdin -xerror -i "$1" -f null - 2>"$T/xerror.log" || { cat "$T/xerror.log" >&2; fail "$1 does not decode with -xerror"; }
  [ ! -s "$T/xerror.log" ] || { cat "$T/xerror.log" >&2; fail "$1: decoder complained"; }
}

# ---------------------------------------------------------------------------------------
# libvtremote from plain C (header + shared library via pkg-config), no FFmpeg involved
PCDIR="$(cd "$BIN/.." && pwd)/lib/pkgconfig"
if [ -f "$PCDIR/vtremote.pc" ] && command -v cc >/dev/null && command -v pkg-config >/dev/null; then
  # shellcheck disable=SC2046
  cc -std=c99 -Wall -Wextra -Werror -o "$T/capi_smoke" "$HERE/capi_smoke.c" \
    $(PKG_CONFIG_PATH="$PCDIR" pkg-config --cflags --libs vtremote) \
    -Wl,-rpath,"$(PKG_CONFIG_PATH="$PCDIR" pkg-config --variable=libdir vtremote)" || fail "capi_smoke.c does not build"
  r=$("$T/capi_smoke" "$H") || fail "C API round trip"
  pass "C API (shared lib, pkg-config): $(head -n1 <<<"$r" | cut -d';' -f1); $(tail -n1 <<<"$r" | cut -d';' -f1)"
  "$T/capi_smoke" --refused "127.0.0.1:$(free_port)" >/dev/null || fail "C API refused port"
  pass "C API: refused port gives VTREMOTE_ERROR_CONNECT naming the host"
else
  echo "SKIP: C API smoke test ($PCDIR/vtremote.pc, cc or pkg-config missing)" >&2
fi

# ---------------------------------------------------------------------------------------
# H.264 encode into mp4, mkv and ts, without and with B-frames
for ext in mp4 mkv ts; do
  enc "$T/h264.$ext" "$T/h264.$ext.log" -c:v h264_videotoolbox_remote -b:v 4M -g 60
  r=$(check "$T/h264.$ext" --codec h264 --frames 150 --gop 60 --bitrate 4000000 --bframes no) || exit 1
  decodes_cleanly "$T/h264.$ext"
  grep -q "VT remote summary: host=$H frames=150 packets=150 " "$T/h264.$ext.log" ||
    fail "no summary line with frames=150 packets=150 in $T/h264.$ext.log"
  pass "h264 -b:v 4M -g 60 -> .$ext: $r; decodes with -xerror"
  enc "$T/h264bf.$ext" "$T/h264bf.$ext.log" -c:v h264_videotoolbox_remote -b:v 4M -g 60 -bf 2
  r=$(check "$T/h264bf.$ext" --codec h264 --frames 150 --gop 60 --bitrate 4000000 --bframes yes) || exit 1
  decodes_cleanly "$T/h264bf.$ext"
  pass "h264 -bf 2 -> .$ext: $r, B-frames, dts strictly increasing, pts >= dts"
done
enc "$T/fkf.mp4" "$T/fkf.log" -c:v h264_videotoolbox_remote -b:v 2M -g 300 -force_key_frames 2.5
r=$(check "$T/fkf.mp4" --frames 150 --keyframe-at 0 --keyframe-at 75) || exit 1
pass "-force_key_frames 2.5 gives a keyframe at frame 75: $r"

# ---------------------------------------------------------------------------------------
# HEVC: 8-bit and Main 10
enc "$T/hevc.mp4" "$T/hevc.log" -c:v hevc_videotoolbox_remote -b:v 4M -g 60
r=$(check "$T/hevc.mp4" --codec hevc --frames 150 --gop 60 --bitrate 4000000 --pix-fmt yuv420p) || exit 1
decodes_cleanly "$T/hevc.mp4"
pass "hevc nv12 -> .mp4: $r"
enc "$T/hevcbf.mp4" "$T/hevcbf.log" -c:v hevc_videotoolbox_remote -b:v 4M -g 60 -bf 2 -vt_remote_wire_compression none
r=$(check "$T/hevcbf.mp4" --codec hevc --frames 150 --gop 60 --bframes yes) || exit 1
decodes_cleanly "$T/hevcbf.mp4"
pass "hevc -bf 2, no wire compression: $r"
enc "$T/main10.mkv" "$T/main10.log" -c:v hevc_videotoolbox_remote -pix_fmt p010le -profile:v main10 -b:v 4M -g 60
r=$(check "$T/main10.mkv" --codec hevc --frames 150 --profile "Main 10" --pix-fmt yuv420p10le) || exit 1
decodes_cleanly "$T/main10.mkv"
pass "hevc -pix_fmt p010le -profile:v main10: $r"

# ---------------------------------------------------------------------------------------
# Remote decode == local decode (framemd5 after converting both to the same format)
same_frames() { # file codec pixfmt [input args for both decodes]; $REMOTE_ARGS: remote only
  local f=$1 codec=$2 pix=$3
  shift 3
  rm -f "$T/local.md5" "$T/remote.md5"
  "$FF" -v error -nostdin -y "$@" -i "$f" -map 0:v -pix_fmt "$pix" -f framemd5 "$T/local.md5" ||
    fail "local decode of $f"
  # shellcheck disable=SC2086
  "$FF" -v error -nostdin -y "$@" -c:v "$codec" -vt_remote_host "$H" ${REMOTE_ARGS:-} -i "$f" -map 0:v -pix_fmt "$pix" \
    -f framemd5 "$T/remote.md5" 2>"$T/remote.log" || { cat "$T/remote.log" >&2; fail "remote decode of $f"; }
  # stream, pts, size and hash of every frame (durations are the muxer's guess)
  local a b
  a=$(grep -v '^#' "$T/local.md5" | awk -F', *' '{print $1, $3, $5, $6}')
  b=$(grep -v '^#' "$T/remote.md5" | awk -F', *' '{print $1, $3, $5, $6}')
  [ -n "$a" ] || fail "local decode of $f gave no frames"
  [ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b") | head -n 5 >&2; fail "remote decode of $f differs from local"; }
  echo "$(awk 'END { print NR }' <<<"$a") frames" # BSD wc -l pads the count with spaces
}
n=$(same_frames "$T/h264bf.mp4" h264_videotoolbox_remote yuv420p)
pass "remote h264 decode of an mp4 (avcC, B-frames) == local: $n"
n=$(same_frames "$T/h264.ts" h264_videotoolbox_remote yuv420p)
pass "remote h264 decode of an mpegts (Annex B) == local: $n"
n=$(same_frames "$T/hevc.mp4" hevc_videotoolbox_remote yuv420p)
pass "remote hevc decode (hvcC) == local: $n"
n=$(same_frames "$T/main10.mkv" hevc_videotoolbox_remote yuv420p10le)
pass "remote hevc Main 10 decode == local: $n"
n=$(REMOTE_ARGS="-vt_remote_wire_compression lz4 -vt_remote_inflight 3" same_frames "$T/hevcbf.mp4" hevc_videotoolbox_remote yuv420p)
pass "remote hevc decode with B-frames, lz4, window 3 == local: $n"
n=$(same_frames "$T/h264bf.mkv" h264_videotoolbox_remote yuv420p -ss 2.5)
pass "remote decode after an input seek (-ss 2.5) == local: $n"
n=$(same_frames "$T/h264.mkv" h264_videotoolbox_remote yuv420p -stream_loop 1)
[ "${n%% *}" = 300 ] || fail "looped remote decode gave $n, want 300 frames"
pass "decoder flush (input loop) reconnects and stays frame-exact: $n"

if SAMPLE=$(find_sample); then
  aud=$("$FP" -v error -select_streams a:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$SAMPLE")
  "$FF" -hide_banner -nostdin -y -i "$SAMPLE" -c:v h264_videotoolbox_remote -vt_remote_host "$H" -b:v 2M \
    -c:a copy "$T/bbb.mp4" >"$T/bbb.log" 2>&1 || { tail -n 20 "$T/bbb.log" >&2; fail "bbb transcode"; }
  r=$(check "$T/bbb.mp4" --codec h264 --frames 132 --fps 25 --audio-packets "$aud") || exit 1
  decodes_cleanly "$T/bbb.mp4"
  pass "$(basename "$SAMPLE") -> h264_videotoolbox_remote -c:a copy: $r, all $aud audio packets kept"
  n=$(same_frames "$SAMPLE" h264_videotoolbox_remote yuv420p)
  pass "remote decode of $(basename "$SAMPLE") == local: $n"
else
  echo "SKIP: sample clip not found (set VTREMOTE_SAMPLE)" >&2
fi

# ---------------------------------------------------------------------------------------
# Plain v1 towards a daemon that looks like the original one
pport=$(free_port)
python3 "$HERE/v1_proxy.py" "$pport" "$H" "$T/proxy.report" >"$T/proxy.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 50); do grep -q listening "$T/proxy.out" 2>/dev/null && break; sleep 0.1; done
P=127.0.0.1:$pport
"$FF" -hide_banner -nostdin -y "${SRC[@]}" -c:v h264_videotoolbox_remote -vt_remote_host "$P" -b:v 4M -g 60 -bf 2 \
  -vf setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709 -vt_params vtr_e2e_probe=42:vtr_other=x \
  "$T/v1.mp4" >"$T/v1.log" 2>&1 || { tail -n 20 "$T/v1.log" >&2; fail "encode through the v1 proxy"; }
r=$(check "$T/v1.mp4" --frames 150 --gop 60 --bframes yes) || exit 1
"$FF" -v error -nostdin -c:v hevc_videotoolbox_remote -vt_remote_host "$P" -i "$T/main10.mkv" -f null - 2>"$T/v1dec.log" ||
  { cat "$T/v1dec.log" >&2; fail "decode through the v1 proxy"; }
sleep 0.5
grep -q "^conn 1 " "$T/proxy.report" && grep -q "^conn 2 " "$T/proxy.report" || fail "proxy saw no sessions: $(cat "$T/proxy.report")"
if grep -q violation "$T/proxy.report"; then cat "$T/proxy.report" >&2; fail "client spoke beyond plain v1"; fi
opts=$(grep -m1 "^conn 1 options: " "$T/proxy.report")
for kv in "options: mode=encode,wire_compression=2," bitrate=4000000 gop=60 max_b_frames=2 colorspace=1 \
          color_primaries=1 color_trc=1 sar_num=1 sar_den=1 vtr_e2e_probe=42 vtr_other=x; do
  grep -q -- "$kv" <<<"$opts" || fail "CONFIGURE lacks $kv: $opts"
done
for k in qmin= qmax= prio_speed= power_efficient=; do
  ! grep -q -- ",$k" <<<"$opts" || fail "CONFIGURE sends unset $k: $opts"
done
grep -q "^conn 2 options: mode=decode," "$T/proxy.report" || fail "decoder CONFIGURE: $(grep '^conn 2 options' "$T/proxy.report")"
pass "plain v1 to an original-looking daemon (encode + decode): $r; $(grep -c ' ok$' "$T/proxy.report") sessions clean"

# ---------------------------------------------------------------------------------------
# Failures: non-zero exit within the timeout, message naming the host and the cause
expect_failure() { # label host pattern timeout_ms [extra args]
  local label=$1 host=$2 pattern=$3 ms=$4 t0 t1 rc=0
  shift 4
  t0=$(now)
  ${WRAP:-} "$FF" -hide_banner -nostdin -y "${SRC[@]}" -c:v h264_videotoolbox_remote -vt_remote_host "$host" \
    -vt_remote_timeout_ms "$ms" "$@" -f null - >"$T/err.log" 2>&1 || rc=$?
  t1=$(now)
  [ "$rc" != 0 ] || fail "$label: ffmpeg exited 0"
  grep -q -- "$host" "$T/err.log" || { tail -n 5 "$T/err.log" >&2; fail "$label: message does not name $host"; }
  grep -qi -- "$pattern" "$T/err.log" || { tail -n 5 "$T/err.log" >&2; fail "$label: message lacks '$pattern'"; }
  awk -v a="$t0" -v b="$t1" -v ms="$ms" 'BEGIN{exit !(b - a < ms / 1000 + 3)}' ||
    fail "$label: took $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')s with a ${ms} ms timeout"
  pass "$label: exit $rc after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')s: $(grep -i -m1 -- "$pattern" "$T/err.log" | sed 's/^\[[^]]*\] //')"
}
expect_failure "refused port" "127.0.0.1:$(free_port)" "refused" 2000
# "Unreachable" without sending a packet anywhere: a private network namespace whose only
# interface (loopback) is down, so even 127.0.0.1 has no route. Tests never target
# addresses off this machine.
if unshare -n true 2>/dev/null; then
  WRAP="unshare -n" expect_failure "unreachable host" "127.0.0.1:5555" "unreachable" 1000
else
  echo "skip - unreachable host: cannot create a network namespace here (needs root or user namespaces)"
fi
sport=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
open(sys.argv[2], "w").close()   # listening: the test may start
held = []
while True:
    c, _ = s.accept(); held.append(c)   # accept, then say nothing
' "$sport" "$T/silent.ready" &
PIDS+=("$!")
# A loaded machine can take longer than any fixed sleep to start Python: wait for the file.
for _ in $(seq 1 100); do [ -e "$T/silent.ready" ] && break; sleep 0.1; done
[ -e "$T/silent.ready" ] || fail "the silent test server did not start"
expect_failure "silent server" "127.0.0.1:$sport" "timed out" 1500
daemon TOK --token s3cret
expect_failure "wrong token" "$TOK_ADDR" "authentication failed" 3000 -vt_remote_token wrong
"$FF" -v error -nostdin -y "${SRC[@]}" -frames:v 10 -c:v h264_videotoolbox_remote -vt_remote_host "$TOK_ADDR" \
  -vt_remote_token s3cret -f null - || fail "right token refused"
# TLS, required by the helper: pinned fingerprint and a token from the environment work;
# a plain client, a wrong fingerprint (both shown) and a token file with the wrong token
# each fail with their own message.
"$BIN/vtremoted" --state-dir "$T/tls-state" --fingerprint >"$T/fp" || fail "vtremoted --fingerprint"
FPR="$(cat "$T/fp")"
daemon TLS --token s3cret --require-tls --state-dir "$T/tls-state"
VTREMOTE_TOKEN=s3cret "$FF" -v error -nostdin -y "${SRC[@]}" -frames:v 30 -c:v h264_videotoolbox_remote \
  -vt_remote_host "$TLS_ADDR" -vt_remote_tls_fingerprint "$FPR" "$T/tls.mp4" || fail "encode over TLS"
n=$("$FP" -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/tls.mp4")
[ "$n" = 30 ] || fail "encode over TLS: $n frames"
grep -q "SUMMARY.* (tls).*result=ok" "$T/TLS.log" || fail "the helper logged no TLS session"
pass "encode over TLS with -vt_remote_tls_fingerprint and VTREMOTE_TOKEN: $n frames"
printf 'wrong\n' >"$T/wrong-token"
expect_failure "plain client of a TLS-only helper" "$TLS_ADDR" "TLS required" 3000 -vt_remote_token s3cret
expect_failure "wrong TLS fingerprint" "$TLS_ADDR" "$FPR" 3000 -vt_remote_token s3cret \
  -vt_remote_tls_fingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
expect_failure "wrong token over TLS" "$TLS_ADDR" "authentication failed" 3000 -vt_remote_tls 1 \
  -vt_remote_tls_fingerprint "$FPR" -vt_remote_token_file "$T/wrong-token"
daemon BUSY --max-sessions 1
"$FF" -v error -nostdin -re -f lavfi -i testsrc2=s=320x240:r=30:d=30 -c:v h264_videotoolbox_remote \
  -vt_remote_host "$BUSY_ADDR" -f null - >"$T/hold.log" 2>&1 &
HOLD=$!
PIDS+=("$HOLD")
for _ in $(seq 1 100); do grep -q "CONFIGURE ok" "$T/BUSY.log" && break; sleep 0.1; done
grep -q "CONFIGURE ok" "$T/BUSY.log" || fail "the session holding the busy daemon did not start"
expect_failure "busy daemon" "$BUSY_ADDR" "busy" 3000
kill "$HOLD" 2>/dev/null || true

echo "tests/ffmpeg: all passed in $(awk -v a="$t_start" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}')s"
