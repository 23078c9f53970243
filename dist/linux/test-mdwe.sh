#!/usr/bin/env bash
# lint-macos-shell: linux-only
# The systemd unit sets MemoryDenyWriteExecute=yes: no memory that is writable and
# executable, no making memory executable later. A codec library that generates code at
# run time would crash or fail to open under it, and only on installed helpers. This runs
# vtremoted under the kernel's own form of that rule (prctl PR_SET_MDWE, Linux 6.3+,
# inherited across exec) and encodes H.264 and HEVC and decodes both through it.
#   dist/linux/test-mdwe.sh BIN      (BIN holds vtremoted and vtremote)
set -euo pipefail
if [ "$(uname -s)" != Linux ]; then
  echo "test-mdwe.sh: skipped, not Linux"
  exit 0
fi
bin=$(cd "${1:?usage: $0 BIN}" && pwd)
work=$(mktemp -d)
daemon=""
cleanup() {
  [ -z "$daemon" ] || kill "$daemon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Runs argv under PR_SET_MDWE(PR_MDWE_REFUSE_EXEC_GAIN); exit 77 where the kernel lacks it.
cat >"$work/mdwe.py" <<'PY'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    e = ctypes.get_errno()
    print("PR_SET_MDWE: %s" % os.strerror(e), file=sys.stderr)
    sys.exit(77 if e == errno.EINVAL else 1)
os.execv(sys.argv[1], sys.argv[1:])
PY
mdwe() { python3 "$work/mdwe.py" "$@"; }

# The rule must be in force after exec, or this test proves nothing.
rc=0
mdwe "$(command -v python3)" -c '
import mmap, sys
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    sys.exit(0)
sys.exit("a writable+executable mapping was allowed")' 2>"$work/check.err" || rc=$?
if [ "$rc" = 77 ]; then
  echo "test-mdwe.sh: skipped: this kernel has no PR_SET_MDWE ($(uname -r); needs 6.3+)"
  exit 0
elif [ "$rc" != 0 ]; then
  echo "test-mdwe.sh: FAIL: the rule is not in force after exec: $(cat "$work/check.err")" >&2
  exit 1
fi

# 24 frames of 320x240 NV12 with moving content (the encoders' motion search runs).
python3 - "$work/in.yuv" <<'PY'
import sys
w, h = 320, 240
with open(sys.argv[1], "wb") as f:
    for n in range(24):
        f.write(bytes((x + y + 4 * n) & 0xFF for y in range(h) for x in range(w)))
        f.write(bytes((128 + x - n) & 0xFF for y in range(h // 2) for x in range(w)))
PY
frame_bytes=$((320 * 240 * 3 / 2))

: >"$work/daemon.out" # exists before the daemon writes to it: polled below
mdwe "$bin/vtremoted" --listen 127.0.0.1:0 --no-tls --max-sessions 2 >"$work/daemon.out" 2>"$work/daemon.err" &
daemon=$!
port=""
for _ in $(seq 50); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/daemon.out")
  [ -n "$port" ] && break
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "test-mdwe.sh: FAIL: vtremoted did not start under MDWE: $(cat "$work/daemon.err")" >&2
  exit 1
fi

fails=0
for codec in h264 hevc; do
  if ! "$bin/vtremote" encode --host "127.0.0.1:$port" --codec "$codec" --size 320x240 --fps 25 \
    --pix-fmt nv12 -i "$work/in.yuv" -o "$work/out.$codec" >"$work/$codec.log" 2>&1 ||
    ! "$bin/vtremote" decode --host "127.0.0.1:$port" --codec "$codec" -i "$work/out.$codec" \
      -o "$work/back.$codec.yuv" >>"$work/$codec.log" 2>&1; then
    echo "FAIL $codec under MDWE: $(tail -3 "$work/$codec.log")" >&2
    fails=$((fails + 1))
  elif [ "$(wc -c <"$work/back.$codec.yuv")" != $((24 * frame_bytes)) ]; then
    echo "FAIL $codec under MDWE: decoded $(wc -c <"$work/back.$codec.yuv") bytes, want 24 frames" >&2
    fails=$((fails + 1))
  else
    backends=$(sed -n "s/.* mode=\([a-z]*\) codec=$codec .* backend=\([^ ]*\) .*/\1 \2/p" "$work/daemon.err" | tr '\n' ' ')
    echo "ok   $codec under MDWE: ${backends% }"
  fi
done
if ! kill -0 "$daemon" 2>/dev/null; then
  echo "FAIL vtremoted died under MDWE: $(tail -3 "$work/daemon.err")" >&2
  fails=$((fails + 1))
fi
[ "$fails" = 0 ] || exit 1
echo "test-mdwe.sh: all passed"
