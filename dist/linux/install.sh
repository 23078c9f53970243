#!/usr/bin/env bash
# lint-macos-shell: linux-only
# Installs vtremoted as a systemd service on Linux (what `make install` runs there, after
# the binaries): the hardened unit from dist/linux/vtremoted.service with the binary path
# of this PREFIX, and a generated token in /etc/vtremoted.token (0600) unless one exists.
# With DESTDIR set (a staged install for a package) it only writes files; otherwise, when
# systemd runs, it enables the service and (re)starts it so a new binary takes over.
#
#   dist/linux/install.sh --prefix /usr/local [--unitdir /etc/systemd/system]
#   DESTDIR=/tmp/stage dist/linux/install.sh --prefix /usr --unitdir /usr/lib/systemd/system
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=$(basename "$0")
# Test hook (dist/linux/test-install.sh only): a directory standing in for / when DESTDIR is
# empty, so the enabling path runs against a stubbed systemctl without touching the system.
root=${VTREMOTE_TEST_ROOT:-}
destdir=${DESTDIR:-}
prefix=/usr/local
unitdir=/etc/systemd/system
token_path=/etc/vtremoted.token

die() {
  echo "$prog: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix=$2; shift ;;
    --unitdir) [ $# -ge 2 ] || die "--unitdir needs a value"; unitdir=$2; shift ;;
    -h | --help) sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
case $prefix in /*) ;; *) die "--prefix must be an absolute path: $prefix" ;; esac
case $unitdir in /*) ;; *) die "--unitdir must be an absolute path: $unitdir" ;; esac
# The unit names the binary on its ExecStart line: a path with spaces or sed/escape
# characters would need quoting there, and no real prefix has them.
case $prefix in *[!A-Za-z0-9_./+-]*) die "--prefix has characters a unit's ExecStart cannot take: $prefix" ;; esac

base=${destdir:-$root}
unit="$base$unitdir/vtremoted.service"
token="$base$token_path"

install -d "$base$unitdir"
sed "s|/usr/local/bin/vtremoted|$prefix/bin/vtremoted|" "$here/vtremoted.service" >"$unit.tmp"
grep -q "^ExecStart=$prefix/bin/vtremoted " "$unit.tmp" || die "could not set the binary path in $unit"
chmod 0644 "$unit.tmp"
mv "$unit.tmp" "$unit"
echo "$prog: installed $unit (ExecStart=$prefix/bin/vtremoted)"

# The token: the one clients already have is kept; otherwise a new one, readable by root
# only (systemd hands the service a copy through LoadCredential).
if [ -s "$token" ]; then
  echo "$prog: keeping the token in $token"
  if [ -n "$(find "$token" -perm /077)" ]; then
    chmod 0600 "$token"
    echo "$prog: $token was readable by others: now 0600"
  fi
else
  install -d "$(dirname "$token")"
  (
    umask 077
    od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$token.tmp"
    echo >>"$token.tmp"
  )
  mv "$token.tmp" "$token"
  echo "$prog: generated a token in $token (clients need it: -vt_remote_token_file)"
fi

if [ -n "$destdir" ]; then
  echo "$prog: DESTDIR set: nothing enabled or started"
  exit 0
fi
if [ ! -d "$root/run/systemd/system" ]; then
  echo "$prog: systemd is not running here: enable the service yourself (systemctl enable --now vtremoted)"
  exit 0
fi
systemctl daemon-reload
systemctl enable vtremoted.service
systemctl restart vtremoted.service
echo "$prog: vtremoted is running (systemctl status vtremoted; journalctl -u vtremoted)"
