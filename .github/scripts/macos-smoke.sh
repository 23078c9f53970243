#!/usr/bin/env bash
# End-to-end smoke test on a Mac: vtremoted (VideoToolbox backend) + the vtremote CLI, and the
# patched ffmpeg when BIN_DIR has one (make build puts it in build/bin).
#
#   .github/scripts/macos-smoke.sh [BIN_DIR]      (default build/bin; SMOKE_ADDR=127.0.0.1:5555;
#                                                  SMOKE_BACKEND=libavcodec runs it on Linux)
#
# For each codec: encode 60 synthetic 1280x720 NV12 frames remotely, count the frames in the
# bitstream, decode it remotely and check the output size. Then two H.264 streams that real
# sources produce and VideoToolbox has to cope with, made with libx264:
#   * one that starts mid-GOP: parameter sets, then P/B pictures whose references are missing,
#     then an IDR. Decoding must not fail: undecodable pictures are dropped (issue 9, item 1).
#   * one without VUI bitstream_restriction (no max_num_reorder_frames: x264 leaves it out of
#     intra-only streams). Frames must come out without waiting for 16 more packets: decoded
#     lock-step (one packet in flight, as the original client does) within a time limit
#     (issue 9, item 2).
#
# GitHub's Apple Silicon runners are VMs without the media engine, so VideoToolbox may offer
# only software encoders. vtremote encode does not send allow_sw=1, so then the helper must
# refuse with an allow_sw error (checked), and the bitstream for the decode test comes from
# the local ffmpeg instead. On a Mac with a hardware encoder the full path runs. Needs an
# ffmpeg with libx264 on PATH (brew install ffmpeg) to make the input.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
cd "$(dirname "$0")/../.."
. scripts/lib.sh # with_timeout, now
addr=${SMOKE_ADDR:-127.0.0.1:5555}
backend=${SMOKE_BACKEND:-videotoolbox}
frames=60
w=1280
h=720
work=$(mktemp -d)
log="$work/vtremoted.log"

"$bin/vtremoted" --backend "$backend" --list-codecs | tee "$work/codecs.txt"

"$bin/vtremoted" --backend "$backend" --listen "$addr" --log-level 2 >"$log" 2>&1 &
daemon=$!
# shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap below
cleanup() {
  kill "$daemon" 2>/dev/null || true
  echo "---- vtremoted log ----"
  cat "$log" || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 50); do
  "$bin/vtremote" probe "$addr" >/dev/null 2>&1 && break
  sleep 0.2
done
"$bin/vtremote" probe "$addr"

ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=${w}x${h}:r=30:d=2" \
  -pix_fmt nv12 -f rawvideo "$work/in.yuv"

count_frames() { # codec file
  ffprobe -v error -f "$1" -select_streams v:0 -count_frames \
    -show_entries stream=nb_read_frames -of csv=p=0 "$2"
}

fail=0
for codec in h264 hevc; do
  echo "==== $codec"
  es="$work/out.$codec"
  if grep -E "^$codec +encode: VideoToolbox HW" "$work/codecs.txt" >/dev/null; then
    "$bin/vtremote" encode --host "$addr" --codec "$codec" --size "${w}x${h}" --fps 30 \
      --pix-fmt nv12 --bitrate 4M -i "$work/in.yuv" -o "$es"
  else
    echo "::warning::no hardware $codec encoder on this runner: checking the allow_sw refusal, decoding an ffmpeg-made stream"
    if "$bin/vtremote" encode --host "$addr" --codec "$codec" --size "${w}x${h}" --fps 30 \
      --pix-fmt nv12 --bitrate 4M -i "$work/in.yuv" -o "$es" 2>"$work/enc.err"; then
      echo "FAIL $codec: encode without a hardware encoder and without allow_sw succeeded"
      fail=1
    elif ! grep -q allow_sw "$work/enc.err"; then
      echo "FAIL $codec: refusal does not name allow_sw:"
      cat "$work/enc.err"
      fail=1
    else
      echo "ok   $codec: refused: $(tail -1 "$work/enc.err")"
    fi
    lib=libx264
    [ "$codec" = hevc ] && lib=libx265
    ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt nv12 -s "${w}x${h}" -r 30 \
      -i "$work/in.yuv" -c:v "$lib" -b:v 4M -f "$codec" "$es"
  fi
  n=$(count_frames "$codec" "$es")
  if [ "$n" = "$frames" ]; then echo "ok   $codec: $n frames in the bitstream"; else
    echo "FAIL $codec: ffprobe counted '$n' frames, expected $frames"
    fail=1
  fi
  "$bin/vtremote" decode --host "$addr" --codec "$codec" -i "$es" -o "$work/dec.$codec.yuv"
  size=$(wc -c <"$work/dec.$codec.yuv" | tr -d ' ')
  want=$((frames * w * h * 3 / 2))
  if [ "$size" = "$want" ]; then echo "ok   $codec: decoded $size bytes"; else
    echo "FAIL $codec: decoded $size bytes, expected $want"
    fail=1
  fi
done

# ---------------------------------------------------------------------------------------
# Streams VideoToolbox must survive (small pictures: these test the logic, not throughput).
sw=320
sh=240
frame_bytes=$((sw * sh * 3 / 2))
# decoded_frames FILE: whole NV12 pictures in FILE, or "partial" when its size is not a multiple.
decoded_frames() {
  local b
  b=$(wc -c <"$1" | tr -d ' ')
  if [ $((b % frame_bytes)) = 0 ]; then echo $((b / frame_bytes)); else echo "partial ($b bytes)"; fi
}

echo "==== h264 starting mid-GOP"
# -g 60 -bf 2 with an access unit delimiter before each picture (aud=1), so the stream splits
# into access units; then SPS+PPS followed by access units 10.. : 50 pictures without their
# references, more than the client's window of 16, before the next IDR.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=${sw}x${sh}:r=30:d=4" \
  -c:v libx264 -g 60 -bf 2 -x264-params aud=1:scenecut=0 -pix_fmt yuv420p -f h264 "$work/gop.h264"
python3 tests/cli/cut_midgop.py "$work/gop.h264" "$work/midgop.h264" 10 >"$work/midgop.counts"
read -r sent decodable <"$work/midgop.counts"
rc=0
with_timeout 60 "$bin/vtremote" decode --host "$addr" --codec h264 -i "$work/midgop.h264" \
  -o "$work/midgop.yuv" 2>"$work/midgop.err" || rc=$?
if [ "$rc" != 0 ]; then
  echo "FAIL h264 mid-GOP: decode failed (exit $rc): $(tail -n 3 "$work/midgop.err")"
  fail=1
else
  got=$(decoded_frames "$work/midgop.yuv")
  if [[ $got =~ ^[0-9]+$ ]] && [ "$got" -ge "$decodable" ] && [ "$got" -le "$sent" ]; then
    echo "ok   h264 mid-GOP: $got pictures from $sent packets ($decodable from the IDR on)"
  else
    echo "FAIL h264 mid-GOP: $got pictures, expected $decodable..$sent"
    fail=1
  fi
fi

echo "==== h264 without VUI reorder information"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=${sw}x${sh}:r=30:d=2" \
  -c:v libx264 -g 1 -pix_fmt yuv420p -f h264 "$work/novui.h264"
# The premise: no bitstream_restriction_flag = 1 in the SPS (trace_headers prints the syntax).
if ffmpeg -hide_banner -loglevel trace -i "$work/novui.h264" -c copy -bsf:v trace_headers -f null - 2>&1 |
  grep -q "bitstream_restriction_flag *1 = 1"; then
  echo "FAIL h264 no-VUI: libx264 wrote bitstream_restriction after all; the test stream is wrong"
  fail=1
fi
rc=0
with_timeout 60 "$bin/vtremote" decode --host "$addr" --codec h264 -i "$work/novui.h264" \
  -o "$work/novui.yuv" 2>"$work/novui.err" || rc=$?
got=$(decoded_frames "$work/novui.yuv" 2>/dev/null || echo none)
if [ "$rc" = 0 ] && [ "$got" = "$frames" ]; then
  echo "ok   h264 no-VUI: $got pictures"
else
  echo "FAIL h264 no-VUI: exit $rc, $got pictures (want $frames): $(tail -n 3 "$work/novui.err")"
  fail=1
fi
if [ -x "$bin/ffmpeg" ]; then
  # Lock-step, like the original client: one packet in flight, a picture expected back before
  # the next is sent. A daemon that holds pictures for a reorder depth of 16 stalls here.
  # (-fps_mode passthrough: count every decoded picture whatever its timestamp.)
  t0=$(now)
  rc=0
  with_timeout 30 "$bin/ffmpeg" -hide_banner -loglevel error -nostdin -c:v h264_videotoolbox_remote \
    -vt_remote_host "$addr" -vt_remote_inflight 1 -i "$work/novui.h264" -fps_mode passthrough \
    -f framecrc "$work/novui.crc" \
    2>"$work/novui-ff.err" || rc=$?
  secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  got=$(grep -vc '^#' "$work/novui.crc" 2>/dev/null || true)
  if [ "$rc" = 0 ] && [ "$got" = "$frames" ]; then
    echo "ok   h264 no-VUI, lock-step patched ffmpeg: $got pictures in ${secs}s"
  else
    echo "FAIL h264 no-VUI, lock-step patched ffmpeg: exit $rc, ${got:-0} pictures in ${secs}s (want $frames within 30 s): $(tail -n 3 "$work/novui-ff.err")"
    fail=1
  fi
else
  echo "::warning::$bin/ffmpeg is missing (make build): the lock-step decode was not run"
fi
exit "$fail"
