#!/usr/bin/env bash
# Hostile-server tests: the real clients (patched ffmpeg's h264_videotoolbox_remote encoder and
# decoder, and `vtremote encode`/`vtremote decode`) against tests/hostile/hostile_server.py, a
# server on 127.0.0.1 that answers the handshake and then misbehaves: malformed or oversized
# messages, compression bombs, lying length fields, HTTP instead of VTR1, a TCP reset, a stall,
# a flood of junk. Every case must fail cleanly: non-zero exit (no signal), within the timeout
# plus a margin, peak RSS under 400 MB, and a message naming the helper and the problem.
#
#   tests/hostile/run.sh [BIN_DIR]        (default build/bin: ffmpeg, vtremote)
#
# Environment: HOSTILE_ONLY=REGEX runs the cases whose "client mode scenario" label matches
# (e.g. HOSTILE_ONLY='decode .*bomb'), HOSTILE_SKIP=REGEX leaves matching ones out,
# HOSTILE_TIMEOUT_MS (1500), HOSTILE_LIMIT_S (timeout + 6.5 s), HOSTILE_KILL_S (10: hard kill
# of a hanging client), HOSTILE_RSS_MB (400), HOSTILE_NO_GNU_TIME=1 (measure RSS without
# /usr/bin/time), VERBOSE=1 prints the message each client gave, KEEP=1 keeps the work
# directory (stderr of every run, server log). The server alone: hostile_server.py --list.
set -euo pipefail
BIN="$(cd "${1:-build/bin}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
T="$(mktemp -d)"
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for b in "$BIN/ffmpeg" "$BIN/vtremote"; do [ -x "$b" ] || fail "$b is missing (run make ffmpeg-test)"; done
command -v ffmpeg >/dev/null || fail "the system ffmpeg (with libx264) is needed to make the test input"

# Inputs: 2 s of 320x240 at 30 fps as H.264 in mp4 (ffmpeg decoder), as Annex B (vtremote
# decode) and as raw NV12 (vtremote encode; the ffmpeg encoder reads lavfi directly).
ffmpeg -v error -nostdin -f lavfi -i testsrc2=s=320x240:r=30:d=2 -c:v libx264 -pix_fmt yuv420p -g 30 \
  "$T/in.mp4" || fail "cannot make the H.264 input with the system ffmpeg (libx264 missing?)"
ffmpeg -v error -nostdin -i "$T/in.mp4" -c copy -bsf:v h264_mp4toannexb -f h264 "$T/in.h264" || fail "annexb input"
"$BIN/ffmpeg" -v error -nostdin -f lavfi -i testsrc2=s=320x240:r=30:d=2 -pix_fmt nv12 -f rawvideo "$T/in.yuv" ||
  fail "raw nv12 input"

python3 "$HERE/driver.py" --bin "$BIN" --work "$T"
