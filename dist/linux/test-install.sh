#!/usr/bin/env bash
# lint-macos-shell: linux-only
# Tests dist/linux/install.sh (what `make install` runs on Linux) without touching the
# system: staged installs into a temporary DESTDIR, and the enabling path against a stubbed
# systemctl in a temporary root (VTREMOTE_TEST_ROOT). Checks files, modes, the substituted
# binary path, that the unit passes `systemd-analyze verify` and keeps its hardening
# (`systemd-analyze security` exposure), and that DESTDIR never enables or starts anything.
# On macOS it has nothing to test and says so. Needs systemd-analyze (package systemd).
#   dist/linux/test-install.sh
set -euo pipefail
if [ "$(uname -s)" != Linux ]; then
  echo "test-install.sh (linux): skipped, not Linux"
  exit 0
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$(dirname "$here")")
install="$here/install.sh"
command -v systemd-analyze >/dev/null || {
  echo "test-install.sh: systemd-analyze is missing (apt-get install systemd)" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fails=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*" >&2
  fails=$((fails + 1))
}
mode_of() { stat -c %a "$1"; }

# systemctl records its calls: a staged install must make none.
stubs="$work/stubs"
calls="$work/calls"
mkdir -p "$stubs"
printf '#!/bin/sh\necho "systemctl $*" >>"%s"\n' "$calls" >"$stubs/systemctl"
chmod +x "$stubs/systemctl"

# run NAME [VAR=VALUE...] -- install.sh args: leaves $work/NAME.{out,err,rc}.
run() {
  local name=$1 rc=0 envs=()
  shift
  while [ "$1" != -- ]; do
    envs+=("$1")
    shift
  done
  shift
  : >"$calls"
  env PATH="$stubs:$PATH" ${envs[@]+"${envs[@]}"} "$install" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  echo "$rc" >"$work/$name.rc"
}
ok_run() {
  if [ "$(cat "$work/$1.rc")" != 0 ]; then
    fail "$1: exit $(cat "$work/$1.rc"): $(cat "$work/$1.err")"
    return 1
  fi
}

# verify_unit NAME UNIT PREFIX STAGE: ExecStart names PREFIX/bin/vtremoted, and the unit
# passes systemd-analyze verify with that binary present (a copy pointing into STAGE,
# where a stand-in executable lives: verify checks that ExecStart's file is executable).
verify_unit() {
  local name=$1 unit=$2 prefix=$3 stage=$4
  if ! grep -q "^ExecStart=$prefix/bin/vtremoted --listen 0.0.0.0:5555 --token-file \${CREDENTIALS_DIRECTORY}/token " "$unit"; then
    fail "$name: ExecStart: $(grep ^ExecStart= "$unit")"
    return
  fi
  mkdir -p "$stage$prefix/bin" "$work/$name-verify"
  printf '#!/bin/sh\n' >"$stage$prefix/bin/vtremoted"
  chmod +x "$stage$prefix/bin/vtremoted"
  sed "s|^ExecStart=$prefix/bin/vtremoted|ExecStart=$stage$prefix/bin/vtremoted|" "$unit" \
    >"$work/$name-verify/vtremoted.service"
  if ! systemd-analyze verify "$work/$name-verify/vtremoted.service" >"$work/$name.verify" 2>&1 ||
    [ -s "$work/$name.verify" ]; then
    fail "$name: systemd-analyze verify: $(cat "$work/$name.verify")"
    return
  fi
  pass "$name: unit at $unit runs $prefix/bin/vtremoted and verifies"
}

# --- A staged install (what a package build does): files only, nothing started.
stage="$work/stage"
run staged DESTDIR="$stage" -- --prefix /opt/vt
if ok_run staged; then
  unit="$stage/etc/systemd/system/vtremoted.service"
  token="$stage/etc/vtremoted.token"
  verify_unit staged "$unit" /opt/vt "$stage"
  tok=$(cat "$token" 2>/dev/null || true)
  if [ "$(mode_of "$unit")" != 644 ]; then
    fail "staged: unit mode $(mode_of "$unit")"
  elif [ "$(mode_of "$token")" != 600 ] || ! [[ $tok =~ ^[0-9a-f]{48}$ ]]; then
    fail "staged: token mode $(mode_of "$token"), content '$tok'"
  else
    pass "staged: unit 0644, generated token 0600 of 48 hex digits"
  fi
  if [ -s "$calls" ]; then
    fail "staged: systemctl called with DESTDIR set: $(cat "$calls")"
  else
    pass "staged: DESTDIR set, systemctl never called"
  fi

  # A second install keeps the token clients already have, and closes a too-open one.
  chmod 0644 "$token"
  run again DESTDIR="$stage" -- --prefix /opt/vt
  if ok_run again; then
    if [ "$(cat "$token")" != "$tok" ]; then
      fail "again: the token changed"
    elif [ "$(mode_of "$token")" != 600 ]; then
      fail "again: a 0644 token was left $(mode_of "$token")"
    else
      pass "reinstall keeps the token and makes it 0600 again"
    fi
  fi

  # Hardening stays: the old unit scored 8.3 (EXPOSED); this one must stay under 2.5.
  if systemd-analyze security --offline=yes --threshold=25 "$work/staged-verify/vtremoted.service" \
    >"$work/security" 2>&1; then
    pass "security: $(grep -o 'Overall exposure level.*' "$work/security")"
  else
    fail "security: exposure above 2.5: $(tail -1 "$work/security")"
  fi
fi

# --- A package's unit directory.
run pkg DESTDIR="$work/pkg" -- --prefix /usr --unitdir /usr/lib/systemd/system
ok_run pkg && verify_unit pkg "$work/pkg/usr/lib/systemd/system/vtremoted.service" /usr "$work/pkg"

# --- Installing for real (stubbed): reload, enable, restart, in that order.
sysroot="$work/root"
mkdir -p "$sysroot/run/systemd/system"
run live VTREMOTE_TEST_ROOT="$sysroot" -- --prefix /usr/local
if ok_run live; then
  want=$'systemctl daemon-reload\nsystemctl enable vtremoted.service\nsystemctl restart vtremoted.service'
  if [ "$(cat "$calls")" != "$want" ]; then
    fail "live: systemctl calls: $(cat "$calls")"
  elif [ ! -s "$sysroot/etc/vtremoted.token" ]; then
    fail "live: no token in the root"
  else
    pass "live (stubbed): token written, then daemon-reload, enable, restart"
  fi
fi

# --- No systemd running (a container, a chroot): files, and a note instead of systemctl.
rm -rf "$sysroot/run"
run no-systemd VTREMOTE_TEST_ROOT="$sysroot" -- --prefix /usr/local
if ok_run no-systemd; then
  if [ -s "$calls" ] || ! grep -q "systemd is not running" "$work/no-systemd.out"; then
    fail "no-systemd: calls '$(cat "$calls")', output $(cat "$work/no-systemd.out")"
  else
    pass "no systemd running: nothing called, says how to enable"
  fi
fi

# --- Refusals, before anything is written.
refused() {
  local name=$1
  shift
  run "bad-$name" DESTDIR="$work/bad" -- "$@"
  if [ "$(cat "$work/bad-$name.rc")" = 0 ] || [ -e "$work/bad" ]; then
    fail "bad-$name: accepted $*"
  else
    pass "refused $*: $(cat "$work/bad-$name.err")"
  fi
}
refused relative --prefix usr
refused quote --prefix "/opt/a'b"
refused space --prefix "/opt/a b"
refused unitdir --prefix /usr --unitdir lib/systemd
refused unknown --frobnicate

# --- The Makefile hands PREFIX, DESTDIR and SYSTEMD_UNITDIR to install.sh on Linux.
recipe=$(make -s -n -C "$repo" install PREFIX=/opt/p DESTDIR=/stage SYSTEMD_UNITDIR=/u 2>&1 || true)
if grep -q 'DESTDIR="/stage" dist/linux/install.sh --prefix "/opt/p" --unitdir "/u"' <<<"$recipe"; then
  pass "make install runs dist/linux/install.sh with PREFIX, DESTDIR and SYSTEMD_UNITDIR"
else
  fail "make -n install: no dist/linux/install.sh line: $recipe"
fi

if [ "$fails" != 0 ]; then
  echo "test-install.sh (linux): $fails failure(s)" >&2
  exit 1
fi
echo "test-install.sh (linux): all passed"
