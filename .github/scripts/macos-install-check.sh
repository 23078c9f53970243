#!/usr/bin/env bash
# Checks `make install` on a Mac after `make build` (CI; run from the checkout).
#
#   .github/scripts/macos-install-check.sh staged DIR   make install DESTDIR=DIR, then check
#                                                        the files and libvtremote's install name
#   .github/scripts/macos-install-check.sh system       sudo make install for real: the system
#                                                        LaunchDaemon must run as nobody with a
#                                                        generated token, and a program linked
#                                                        with pkg-config must load the installed
#                                                        library after the build tree moved; then
#                                                        uninstall. Changes this Mac: CI only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
pass() { echo "ok   $*"; }
prefix=/usr/local
lib="$prefix/lib/libvtremote.0.dylib"
tmp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}

case ${1:-} in
  staged)
    stage=${2:?staged needs a directory}
    make install DESTDIR="$stage"
    for f in bin/vtremoted bin/vtremote bin/ffmpeg bin/ffprobe include/vtremote.h lib/libvtremote.a \
      lib/libvtremote.0.dylib lib/libvtremote.dylib lib/pkgconfig/vtremote.pc; do
      [ -e "$stage$prefix/$f" ] || fail "make install DESTDIR=$stage did not install $prefix/$f"
    done
    [ "$(readlink "$stage$lib" 2>/dev/null || true)" = "" ] || fail "$lib should be the file, not a link"
    [ "$(readlink "$stage$prefix/lib/libvtremote.dylib")" = libvtremote.0.dylib ] ||
      fail "libvtremote.dylib does not point to libvtremote.0.dylib"
    id=$(otool -D "$stage$lib" | tail -n 1)
    [ "$id" = "$lib" ] || fail "install name of the staged library is '$id', want $lib"
    codesign --verify --strict "$stage$lib" || fail "the staged library's signature is invalid"
    grep -qx "prefix=$prefix" "$stage$prefix/lib/pkgconfig/vtremote.pc" || fail "vtremote.pc prefix"
    if [ -e "$stage/Library/LaunchDaemons" ] || [ -e "$HOME/Library/LaunchAgents/dev.vtremote.vtremoted.plist" ]; then
      fail "make install with DESTDIR installed a launchd job"
    fi
    pass "make install DESTDIR: files, install name $id, valid ad-hoc signature, no launchd job"
    ;;
  system)
    label=dev.vtremote.vtremoted
    token_file="/Library/Application Support/vtremoted/token"
    sudo make install
    # shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap below
    uninstall() { sudo dist/macos/install.sh --system --uninstall || true; }
    trap uninstall EXIT
    sudo launchctl print "system/$label" | sed -n '1,/^$/p;/state =/p;/pid =/p' || fail "the job is not loaded"
    token=$(sudo head -n 1 "$token_file") || fail "no token file $token_file"
    [[ $token =~ ^[0-9a-f]{48}$ ]] || fail "the generated token is not 48 hex digits"
    [ "$(sudo stat -f %Sp "$token_file")" = "-rw-r-----" ] || fail "token file mode $(sudo stat -f %Sp "$token_file")"
    ok=0
    for _ in $(seq 1 50); do
      if build/bin/vtremote probe 127.0.0.1:5555 --token "$token" >"$tmp/probe.out" 2>&1; then ok=1; break; fi
      sleep 0.2
    done
    [ "$ok" = 1 ] || {
      sudo tail -n 20 /Library/Logs/vtremoted.log >&2 || true
      fail "the LaunchDaemon does not answer on 127.0.0.1:5555: $(cat "$tmp/probe.out")"
    }
    pass "LaunchDaemon answers with the generated token: $(head -n 1 "$tmp/probe.out")"
    rc=0
    err=$(build/bin/vtremote probe 127.0.0.1:5555 2>&1) || rc=$?
    if [ "$rc" != 1 ] || ! grep -q "authentication failed" <<<"$err"; then
      fail "a probe without the token: exit $rc: $err"
    fi
    pass "LaunchDaemon refuses a client without the token"
    user=$(ps -o user= -p "$(pgrep -x vtremoted | head -n 1)" | tr -d ' ')
    [ "$user" = nobody ] || fail "the daemon runs as '$user', want nobody"
    pass "LaunchDaemon runs as nobody"
    # A program linked against the installed library loads it after the build tree is gone.
    # shellcheck disable=SC2046 # pkg-config's flags are separate words
    cc -std=c99 -Wall -o "$tmp/capi_smoke" tests/ffmpeg/capi_smoke.c \
      $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs vtremote)
    otool -L "$tmp/capi_smoke" | grep -qF "$lib" || fail "capi_smoke does not load $lib: $(otool -L "$tmp/capi_smoke")"
    mv build build.moved
    rc=0
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    with_timeout 30 "$tmp/capi_smoke" --refused "127.0.0.1:$port" || rc=$?
    mv build.moved build
    [ "$rc" = 0 ] || fail "capi_smoke linked with pkg-config failed (exit $rc) once build/ moved"
    pass "a program linked with pkg-config --libs vtremote runs from $lib after build/ moved"
    uninstall
    trap - EXIT
    if build/bin/vtremote probe 127.0.0.1:5555 --token "$token" >/dev/null 2>&1; then fail "still serving after --uninstall"; fi
    pass "dist/macos/install.sh --system --uninstall stopped the daemon"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
    ;;
esac
