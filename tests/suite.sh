# shellcheck shell=bash
# Shared by the end-to-end suites that start helpers in the background, sourced after
# scripts/lib.sh from the repository root: a temporary folder $T, removed at exit (KEEP=1
# keeps it), the processes whose PIDs are in PIDS stopped at exit, and the ok/FAIL lines.
T="$(mktemp -d)"
PIDS=()
suite_cleanup() {
  local p
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap suite_cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
