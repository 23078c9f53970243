#!/usr/bin/env bash
# Tests dist/macos/install.sh without touching launchd. First --print and argument
# validation; then whole installs against stubbed macOS tools (uname, id, launchctl, chown,
# sudo first on PATH) into a temporary HOME and a temporary system root (VTREMOTE_TEST_ROOT),
# so nothing is installed for real, on Linux or on a Mac. Needs bash (3.2 is enough) and
# python3 (xml.etree + plistlib, no plutil).
#   dist/macos/test-install.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
install="$here/install.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; fails=$((fails + 1)); }

# A HOME with XML-special characters: it ends up in the log path and the token-file path.
hostile_home="$work/h&o<m>e\"'"
mkdir -p "$hostile_home"

# check NAME EXPECTED_ARGV_JSON LABEL LOG_FILE FORBIDDEN USER -- install.sh args...
# Parses the printed plist with xml.etree (well-formed) and plistlib (a valid plist), and
# compares ProgramArguments, Label, log paths and UserName ("" = absent) with what the
# arguments ask for.
check() {
  local name=$1 expected=$2 label=$3 log=$4 forbidden=$5 user=$6
  shift 7
  local out="$work/$name.plist"
  if ! HOME="$hostile_home" "$install" --print "$@" >"$out" 2>"$work/$name.err"; then
    fail "$name: install.sh --print failed: $(cat "$work/$name.err")"
    return
  fi
  if python3 - "$out" "$expected" "$label" "$log" "$forbidden" "$user" <<'PY'; then
import json, plistlib, sys, xml.etree.ElementTree as ET
path, expected, label, log, forbidden, user = sys.argv[1:]
raw = open(path, "rb").read()
ET.fromstring(raw)  # well-formed XML, raises otherwise
p = plistlib.loads(raw, fmt=plistlib.FMT_XML)
errors = []
want = json.loads(expected)
if p.get("ProgramArguments") != want:
    errors.append(f"ProgramArguments {p.get('ProgramArguments')!r} != {want!r}")
if p.get("Label") != label:
    errors.append(f"Label {p.get('Label')!r} != {label!r}")
for k in ("StandardOutPath", "StandardErrorPath"):
    if p.get(k) != log:
        errors.append(f"{k} {p.get(k)!r} != {log!r}")
if p.get("UserName") != (user or None):
    errors.append(f"UserName {p.get('UserName')!r} != {user or None!r}")
if p.get("RunAtLoad") is not True or p.get("KeepAlive") is not True:
    errors.append("RunAtLoad/KeepAlive not true")
if forbidden and forbidden.encode() in raw:
    errors.append(f"secret {forbidden!r} appears in the plist")
if b"--token\x3c" in raw or any(a == "--token" for a in p.get("ProgramArguments", [])):
    errors.append("--token passed on the command line")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY
    pass "$name"
  else
    fail "$name (plist: $out)"
    cat "$out" >&2
  fi
}

json() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@"; }

agent_log="$hostile_home/Library/Logs/vtremoted.log"
agent_token="$hostile_home/Library/Application Support/vtremoted/token"
system_token='/Library/Application Support/vtremoted/token'
hostile_bin="/opt/a&b/<vt>\"q'/vtremoted"

# Beyond loopback and no token given: the job gets the token file (generated at install).
check defaults "$(json /usr/local/bin/vtremoted --listen 0.0.0.0:5555 --log-level 1 \
  --token-file "$agent_token")" \
  dev.vtremote.vtremoted "$agent_log" "" "" --

check hostile-token "$(json "$hostile_bin" --listen '[::1]:6000' --log-level 2 --max-sessions 8 \
  --token-file "$agent_token")" \
  my.label-x "$agent_log" 'a<b&"c' "" -- \
  --token 'a<b&"c' --bin "$hostile_bin" --listen '[::1]:6000' --log-level debug \
  --max-sessions 8 --label my.label-x

check system "$(json /usr/local/bin/vtremoted --listen 127.0.0.1:5555 --log-level 0 \
  --token-file "$system_token")" \
  dev.vtremote.vtremoted /Library/Logs/vtremoted.log 'sekrit]]>&' nobody -- \
  --system --token 'sekrit]]>&' --listen 127.0.0.1:5555 --log-level 0

# What `sudo make install` runs: an unprivileged user, a token.
check system-defaults "$(json /usr/local/bin/vtremoted --listen 0.0.0.0:5555 --log-level 1 \
  --token-file "$system_token")" \
  dev.vtremote.vtremoted /Library/Logs/vtremoted.log "" nobody -- --system

check system-user "$(json /usr/local/bin/vtremoted --listen '[::]:5555' --log-level 1 \
  --allow-no-token)" \
  dev.vtremote.vtremoted /Library/Logs/vtremoted.log "" _vtremote -- \
  --system --user _vtremote --listen '[::]:5555' --allow-no-token

check token-file "$(json /usr/local/bin/vtremoted --listen host.local:5555 --log-level 1 \
  --token-file "/etc/vt&<>.token")" \
  dev.vtremote.vtremoted "$agent_log" "" "" -- \
  --token-file "/etc/vt&<>.token" --listen host.local:5555

check allow-no-token "$(json /usr/local/bin/vtremoted --listen 0.0.0.0:5555 --log-level 1 \
  --allow-no-token)" \
  dev.vtremote.vtremoted "$agent_log" "" "" -- --allow-no-token

# Loopback only: nothing else can connect, so no token and no flag.
check loopback "$(json /usr/local/bin/vtremoted --listen 127.0.0.1:5555 --log-level 1)" \
  dev.vtremote.vtremoted "$agent_log" "" "" -- --listen 127.0.0.1:5555
check localhost "$(json /usr/local/bin/vtremoted --listen localhost:5555 --log-level 1)" \
  dev.vtremote.vtremoted "$agent_log" "" "" -- --listen localhost:5555

# expect_fail NAME MESSAGE_SUBSTRING -- args...: must exit non-zero, say why on stderr and
# print nothing on stdout.
expect_fail() {
  local name=$1 msg=$2
  shift 3
  local rc=0
  HOME="$hostile_home" "$install" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [ "$rc" = 0 ]; then
    fail "$name: accepted $*"
  elif ! grep -qF -- "$msg" "$work/$name.err"; then
    fail "$name: message '$(cat "$work/$name.err")' lacks '$msg'"
  elif [ -s "$work/$name.out" ]; then
    fail "$name: printed a plist despite the error"
  else
    pass "$name: $(head -1 "$work/$name.err")"
  fi
}

expect_fail listen-markup "expected ADDR:PORT" -- --print --listen '0.0.0.0:5555"/><string>x'
expect_fail listen-no-port "expected ADDR:PORT" -- --print --listen 0.0.0.0
expect_fail listen-port-range "port must be 1..65535" -- --print --listen 0.0.0.0:70000
expect_fail listen-newline "control characters" -- --print --listen $'0.0.0.0:5555\n'
expect_fail token-newline "control characters" -- --print --token $'a\nb'
expect_fail token-and-file "mutually exclusive" -- --print --token a --token-file /x
expect_fail empty-token "is empty" -- --print --token ''
expect_fail allow-and-token "contradict" -- --print --token a --allow-no-token
expect_fail token-file-relative "absolute path" -- --print --token-file token.txt
expect_fail bin-relative "absolute path" -- --print --bin vtremoted
expect_fail label-markup "--label" -- --print --label 'a<b'
expect_fail label-slash "--label" -- --print --label ../evil
expect_fail max-sessions "--max-sessions" -- --print --max-sessions 0
expect_fail max-sessions-text "--max-sessions" -- --print --max-sessions lots
expect_fail log-level "--log-level" -- --print --log-level 9
expect_fail missing-value "--bin needs a value" -- --print --bin
expect_fail unknown "unknown argument" -- --print --frobnicate
expect_fail user-without-system "--system" -- --print --user nobody
expect_fail user-root "unprivileged" -- --print --system --user root
expect_fail user-markup "not a user name" -- --print --system --user 'a<b'

help_out=$("$install" --help)
case $help_out in
  *--allow-no-token*--user*--uninstall*--print*) pass "--help" ;;
  *) fail "--help lacks the options" ;;
esac

if [ "$(uname -s)" != Darwin ]; then
  expect_fail not-macos "needs macOS" -- --listen 127.0.0.1:5555
fi

# ---------------------------------------------------------------------------------------
# Whole installs against stubbed macOS tools. launchctl records its calls; FAKE_NO_GUI=1
# takes gui/<uid> away (ssh to a headless Mac), FAKE_BOOTSTRAP_RC makes bootstrap fail,
# FAKE_UID=0 is root.
stubs="$work/stubs"
calls="$work/calls"
mkdir -p "$stubs"
cat >"$stubs/uname" <<'STUB'
#!/bin/sh
if [ "${1:-}" = -s ]; then echo Darwin; else exec /usr/bin/env PATH=/usr/bin:/bin uname "$@"; fi
STUB
cat >"$stubs/id" <<'STUB'
#!/bin/sh
case "$*" in
  -u) echo "${FAKE_UID:-501}" ;;
  -un) echo fakeuser ;;
  "-gn nobody") echo nobody ;;
  "-gn _vtremote") echo _vtremote ;;
  *) exit 1 ;;
esac
STUB
cat >"$stubs/launchctl" <<'STUB'
#!/bin/sh
echo "launchctl $*" >>"$STUB_CALLS"
case "$1" in
  print)
    case "$2" in
      gui/*/* | system/*) exit 113 ;; # a service: not loaded
      gui/*)
        if [ "${FAKE_NO_GUI:-0}" = 1 ]; then echo "Could not find domain for $2" >&2; exit 113; fi ;;
    esac ;;
  bootstrap) exit "${FAKE_BOOTSTRAP_RC:-0}" ;;
esac
exit 0
STUB
cat >"$stubs/chown" <<'STUB'
#!/bin/sh
echo "chown $*" >>"$STUB_CALLS"
STUB
cat >"$stubs/sudo" <<'STUB'
#!/bin/sh
echo "sudo $*" >>"$STUB_CALLS"
if [ "$1" = -u ]; then shift 2; fi
exec "$@"
STUB
chmod +x "$stubs/uname" "$stubs/id" "$stubs/launchctl" "$stubs/chown" "$stubs/sudo"
fakebin="$work/bin/vtremoted"
mkdir -p "$work/bin"
printf '#!/bin/sh\n' >"$fakebin"
chmod +x "$fakebin"
sysroot="$work/root"

# mac_install NAME HOME [VAR=VALUE...] -- install.sh args: runs install.sh with the stubs
# first on PATH; leaves $work/NAME.{out,err,rc,calls}.
mac_install() {
  local name=$1 home=$2 rc=0 envs=()
  shift 2
  while [ "$1" != -- ]; do
    envs+=("$1")
    shift
  done
  shift
  mkdir -p "$home"
  : >"$calls"
  env PATH="$stubs:$PATH" HOME="$home" STUB_CALLS="$calls" VTREMOTE_TEST_ROOT="$sysroot" \
    ${envs[@]+"${envs[@]}"} "$install" --bin "$fakebin" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  echo "$rc" >"$work/$name.rc"
  cp "$calls" "$work/$name.calls"
}
mode_of() { python3 -c 'import os, sys; print(oct(os.stat(sys.argv[1]).st_mode & 0o777)[2:])' "$1"; }
# plist_args PLIST: its ProgramArguments, one per line, then UserName=...
plist_args() {
  python3 -c 'import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
print("\n".join(p["ProgramArguments"]))
print("UserName=%s" % p.get("UserName"))' "$1"
}
# before FILE A B: the first line containing A comes before the first containing B.
before() {
  awk -v a="$2" -v b="$3" 'index($0, a) && !sa { sa = NR } index($0, b) && !sb { sb = NR }
    END { exit !(sa && sb && sa < sb) }' "$1"
}
# expect_rc NAME RC: true when $work/NAME.rc is RC, else a failure.
expect_rc() {
  local got
  got=$(cat "$work/$1.rc")
  [ "$got" = "$2" ] && return 0
  fail "$1: exit $got, want $2: $(cat "$work/$1.err")"
  return 1
}
# expect_msg NAME TEXT PASS_MESSAGE: stderr of NAME contains TEXT.
expect_msg() {
  if grep -qF -- "$2" "$work/$1.err"; then pass "$3"; else fail "$1: message lacks '$2': $(cat "$work/$1.err")"; fi
}

label=dev.vtremote.vtremoted
h1="$work/home1"
agent_plist="$h1/Library/LaunchAgents/$label.plist"
tokf="$h1/Library/Application Support/vtremoted/token"
mac_install agent "$h1" -- --listen 0.0.0.0:5555
tok=""
if expect_rc agent 0; then
  args=$(plist_args "$agent_plist")
  tok=$(cat "$tokf" 2>/dev/null || true)
  if ! grep -qxF -- "$tokf" <<<"$args" || ! grep -qx UserName=None <<<"$args"; then
    fail "agent: plist arguments: $args"
  elif ! [[ $tok =~ ^[0-9a-f]{48}$ ]]; then
    fail "agent: generated token '$tok' is not 48 hex digits"
  elif [ "$(mode_of "$tokf")" != 600 ] || [ "$(mode_of "$(dirname "$tokf")")" != 700 ]; then
    fail "agent: token mode $(mode_of "$tokf"), directory $(mode_of "$(dirname "$tokf")")"
  elif ! before "$work/agent.calls" "launchctl enable gui/501/$label" "launchctl bootstrap gui/501 $agent_plist"; then
    fail "agent: no launchctl enable before bootstrap: $(cat "$work/agent.calls")"
  elif ! grep -q "generated a token" "$work/agent.out"; then
    fail "agent: output does not say a token was generated: $(cat "$work/agent.out")"
  else
    pass "macOS (stubbed) agent: generated 0600 token, launchctl enable before bootstrap gui/501"
  fi
fi

mac_install agent-again "$h1" -- --listen 0.0.0.0:5555
if expect_rc agent-again 0; then
  if [ -n "$tok" ] && [ "$(cat "$tokf")" = "$tok" ] && grep -q "keeping the token" "$work/agent-again.out"; then
    pass "macOS (stubbed) reinstall keeps the token clients already have"
  else
    fail "agent-again: the token changed: $(cat "$work/agent-again.out")"
  fi
fi

mac_install agent-open "$h1" -- --allow-no-token
if expect_rc agent-open 0; then
  args=$(plist_args "$agent_plist")
  if grep -qx -- --allow-no-token <<<"$args" && ! grep -q -- --token-file <<<"$args"; then
    pass "macOS (stubbed) --allow-no-token: passed on to vtremoted, no token file"
  else
    fail "agent-open: plist arguments: $args"
  fi
fi

h2="$work/home2"
mac_install headless "$h2" FAKE_NO_GUI=1 -- --listen 0.0.0.0:5555
if expect_rc headless 2; then
  if [ -e "$h2/Library" ] || grep -q bootstrap "$work/headless.calls"; then
    fail "headless: wrote files or bootstrapped before refusing"
  else
    expect_msg headless "no GUI login session" \
      "macOS (stubbed) no GUI session (ssh to a headless Mac): refused before writing anything"
    expect_msg headless "--system" "macOS (stubbed) no GUI session: points to --system"
  fi
fi

mac_install bootstrap-fails "$h1" FAKE_BOOTSTRAP_RC=5 -- --listen 127.0.0.1:5555
expect_rc bootstrap-fails 2 &&
  expect_msg bootstrap-fails "launchctl print gui/501/$label" \
    "macOS (stubbed) a failing bootstrap names launchctl print"

mkdir -p "$sysroot/Library/LaunchDaemons"
touch "$sysroot/Library/LaunchDaemons/$label.plist"
mac_install agent-vs-daemon "$work/home3" -- --listen 0.0.0.0:5555
expect_rc agent-vs-daemon 2 &&
  expect_msg agent-vs-daemon "--system --uninstall" \
    "macOS (stubbed) agent refused while the system daemon of the label is installed"
rm -f "$sysroot/Library/LaunchDaemons/$label.plist"

mkdir -p "$sysroot/Users/alice/Library/LaunchAgents"
touch "$sysroot/Users/alice/Library/LaunchAgents/$label.plist"
mac_install daemon-vs-agent "$work/roothome" FAKE_UID=0 -- --system
expect_rc daemon-vs-agent 2 &&
  expect_msg daemon-vs-agent "Users/alice/Library/LaunchAgents/$label.plist" \
    "macOS (stubbed) system daemon refused while a user's agent of the label is installed"
rm -f "$sysroot/Users/alice/Library/LaunchAgents/$label.plist"

sys_plist="$sysroot/Library/LaunchDaemons/$label.plist"
sys_tok="$sysroot/Library/Application Support/vtremoted/token"
mac_install daemon "$work/roothome" FAKE_UID=0 -- --system
if expect_rc daemon 0; then
  args=$(plist_args "$sys_plist")
  if ! grep -qx UserName=nobody <<<"$args" || ! grep -qxF -- "$sys_tok" <<<"$args"; then
    fail "daemon: plist arguments: $args"
  elif [ "$(mode_of "$sys_tok")" != 640 ] || [ "$(mode_of "$(dirname "$sys_tok")")" != 755 ]; then
    fail "daemon: token mode $(mode_of "$sys_tok"), directory $(mode_of "$(dirname "$sys_tok")")"
  elif ! grep -q "^chown root:nobody .*token" "$work/daemon.calls" ||
    ! grep -q "^chown nobody .*/Library/Logs/vtremoted.log" "$work/daemon.calls"; then
    fail "daemon: token/log not handed to nobody: $(cat "$work/daemon.calls")"
  elif ! before "$work/daemon.calls" "launchctl enable system/$label" "launchctl bootstrap system $sys_plist"; then
    fail "daemon: no launchctl enable before bootstrap: $(cat "$work/daemon.calls")"
  else
    pass "macOS (stubbed) system daemon: runs as nobody, token 0640 root:nobody, enable before bootstrap"
  fi
fi

: >"$work/empty.token"
mac_install empty-token-file "$h1" -- --token-file "$work/empty.token"
expect_rc empty-token-file 2 &&
  expect_msg empty-token-file "is empty" "macOS (stubbed) a token file with an empty first line is refused"

mac_install daemon-no-user "$work/roothome" FAKE_UID=0 -- --system --user nosuchuser
expect_rc daemon-no-user 2 &&
  expect_msg daemon-no-user "no such user" "macOS (stubbed) --user that does not exist is refused"


if [ "$fails" != 0 ]; then
  echo "test-install.sh: $fails failure(s)" >&2
  exit 1
fi
echo "test-install.sh: all passed"
