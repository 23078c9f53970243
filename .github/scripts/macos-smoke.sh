#!/usr/bin/env bash
# End-to-end smoke test on a Mac: vtremoted (VideoToolbox backend) + the vtremote CLI.
# For each codec: encode 60 synthetic 1280x720 NV12 frames remotely, count the frames in the
# bitstream, decode it remotely and check the output size.
#
# GitHub's Apple Silicon runners are VMs without the media engine, so VideoToolbox may offer
# only software encoders. vtremote encode does not send allow_sw=1, so then the helper must
# refuse with an allow_sw error (checked), and the bitstream for the decode test comes from
# the local ffmpeg instead. On a Mac with a hardware encoder the full path runs.
set -euo pipefail
bin=${1:-target/release}
addr=127.0.0.1:5555
frames=60
w=1280
h=720
work=$(mktemp -d)
log="$work/vtremoted.log"

"$bin/vtremoted" --backend videotoolbox --list-codecs | tee "$work/codecs.txt"

"$bin/vtremoted" --backend videotoolbox --listen "$addr" --log-level 2 >"$log" 2>&1 &
daemon=$!
# shellcheck disable=SC2329 # invoked by the EXIT trap below
cleanup() {
  kill "$daemon" 2>/dev/null || true
  echo "---- vtremoted log ----"
  cat "$log" || true
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
exit "$fail"
