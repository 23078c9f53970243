#!/usr/bin/env bash
# Tests dist/macos/install.sh without macOS: only --print and argument validation run, so
# nothing is installed. Needs bash and python3 (xml.etree + plistlib, no plutil).
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

# check NAME EXPECTED_ARGV_JSON LOG_FILE FORBIDDEN -- install.sh args...
# Parses the printed plist with xml.etree (well-formed) and plistlib (a valid plist), and
# compares ProgramArguments, Label and log paths with what the arguments ask for.
check() {
  local name=$1 expected=$2 label=$3 log=$4 forbidden=$5
  shift 6
  local out="$work/$name.plist"
  if ! HOME="$hostile_home" "$install" --print "$@" >"$out" 2>"$work/$name.err"; then
    fail "$name: install.sh --print failed: $(cat "$work/$name.err")"
    return
  fi
  if python3 - "$out" "$expected" "$label" "$log" "$forbidden" <<'PY'; then
import json, plistlib, sys, xml.etree.ElementTree as ET
path, expected, label, log, forbidden = sys.argv[1:]
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
hostile_bin="/opt/a&b/<vt>\"q'/vtremoted"

check defaults "$(json /usr/local/bin/vtremoted --listen 0.0.0.0:5555 --log-level 1)" \
  dev.vtremote.vtremoted "$agent_log" "" --

check hostile-token "$(json "$hostile_bin" --listen '[::1]:6000' --log-level 2 --max-sessions 8 \
  --token-file "$agent_token")" \
  my.label-x "$agent_log" 'a<b&"c' -- \
  --token 'a<b&"c' --bin "$hostile_bin" --listen '[::1]:6000' --log-level debug \
  --max-sessions 8 --label my.label-x

check system "$(json /usr/local/bin/vtremoted --listen 127.0.0.1:5555 --log-level 0 \
  --token-file '/Library/Application Support/vtremoted/token')" \
  dev.vtremote.vtremoted /Library/Logs/vtremoted.log 'sekrit]]>&' -- \
  --system --token 'sekrit]]>&' --listen 127.0.0.1:5555 --log-level 0

check token-file "$(json /usr/local/bin/vtremoted --listen host.local:5555 --log-level 1 \
  --token-file "/etc/vt&<>.token")" \
  dev.vtremote.vtremoted "$agent_log" "" -- \
  --token-file "/etc/vt&<>.token" --listen host.local:5555

check empty-token "$(json /usr/local/bin/vtremoted --listen 0.0.0.0:5555 --log-level 1)" \
  dev.vtremote.vtremoted "$agent_log" "" -- --token ''

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
expect_fail token-file-relative "absolute path" -- --print --token-file token.txt
expect_fail bin-relative "absolute path" -- --print --bin vtremoted
expect_fail label-markup "--label" -- --print --label 'a<b'
expect_fail label-slash "--label" -- --print --label ../evil
expect_fail max-sessions "--max-sessions" -- --print --max-sessions 0
expect_fail max-sessions-text "--max-sessions" -- --print --max-sessions lots
expect_fail log-level "--log-level" -- --print --log-level 9
expect_fail missing-value "--bin needs a value" -- --print --bin
expect_fail unknown "unknown argument" -- --print --frobnicate

help_out=$("$install" --help)
case $help_out in
  *--uninstall*--print*) pass "--help" ;;
  *) fail "--help lacks the options" ;;
esac

if [ "$(uname -s)" != Darwin ]; then
  expect_fail not-macos "needs macOS" -- --listen 127.0.0.1:5555
fi

if [ "$fails" != 0 ]; then
  echo "test-install.sh: $fails failure(s)" >&2
  exit 1
fi
echo "test-install.sh: all passed"
