#!/usr/bin/env bash
# Installs vtremoted as a launchd job on macOS: a per-user LaunchAgent by default, or a
# system-wide LaunchDaemon with --system. See dist/macos/README.md.
#
# Differences from the original installer (spec §9.3, §12.5): the token is never written into
# the plist; it goes into a 0600 file passed with --token-file. Every value written into the
# plist is XML-escaped, and arguments are validated before anything is touched.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
template="$here/vtremoted.plist.in"
prog=$(basename "$0")

usage() {
  cat <<EOF
Usage: $prog [options]

Installs vtremoted as a launchd job and starts it (RunAtLoad, KeepAlive).

Options:
  --bin PATH          vtremoted binary, absolute path (default /usr/local/bin/vtremoted)
  --listen ADDR:PORT  address to listen on (default 0.0.0.0:5555; [IPv6]:PORT works)
  --token T           shared secret; stored in a 0600 file next to the job's data and passed
                      with --token-file, never written into the plist
  --token-file F      use an existing token file (absolute path; first line is the token)
  --max-sessions N    most sessions at once (vtremoted's default when omitted)
  --log-level N       0 error, 1 info, 2 debug, 3 trace (default 1)
  --label L           launchd label (default dev.vtremote.vtremoted)
  --system            system-wide LaunchDaemon (/Library/LaunchDaemons, domain system;
                      run as root, e.g. with sudo) instead of a per-user LaunchAgent
                      (~/Library/LaunchAgents, domain gui/<uid>)
  --uninstall         stop the job and remove its plist (logs and token file are kept)
  --print             print the plist that would be installed and exit (changes nothing)
  -h, --help          this help

Files:
  agent:  ~/Library/LaunchAgents/<label>.plist, log ~/Library/Logs/vtremoted.log,
          token ~/Library/Application Support/vtremoted/token
  system: /Library/LaunchDaemons/<label>.plist, log /Library/Logs/vtremoted.log,
          token /Library/Application Support/vtremoted/token
EOF
}

die() {
  echo "$prog: $*" >&2
  exit 2
}

need_value() {
  # $1 option, $2 number of remaining arguments (including the option)
  [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"
}

bin=/usr/local/bin/vtremoted
listen=0.0.0.0:5555
token=
token_set=0
token_file=
max_sessions=
log_level=1
label=dev.vtremote.vtremoted
system=0
action=install

while [ $# -gt 0 ]; do
  case $1 in
    --bin) need_value "$1" $#; bin=$2; shift 2 ;;
    --bin=*) bin=${1#*=}; shift ;;
    --listen) need_value "$1" $#; listen=$2; shift 2 ;;
    --listen=*) listen=${1#*=}; shift ;;
    --token) need_value "$1" $#; token=$2; token_set=1; shift 2 ;;
    --token=*) token=${1#*=}; token_set=1; shift ;;
    --token-file) need_value "$1" $#; token_file=$2; shift 2 ;;
    --token-file=*) token_file=${1#*=}; shift ;;
    --max-sessions) need_value "$1" $#; max_sessions=$2; shift 2 ;;
    --max-sessions=*) max_sessions=${1#*=}; shift ;;
    --log-level) need_value "$1" $#; log_level=$2; shift 2 ;;
    --log-level=*) log_level=${1#*=}; shift ;;
    --label) need_value "$1" $#; label=$2; shift 2 ;;
    --label=*) label=${1#*=}; shift ;;
    --system) system=1; shift ;;
    --uninstall) action=uninstall; shift ;;
    --print) action=print; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# ---- Validation: everything is checked before anything is written. ----
has_control() {
  # True when $1 holds a control character (newline, tab, ...): not representable in a
  # plist string or a one-line token file.
  case $1 in *[[:cntrl:]]*) return 0 ;; esac
  return 1
}

for pair in "--bin:$bin" "--token-file:$token_file" "--label:$label" "--listen:$listen"; do
  has_control "${pair#*:}" && die "${pair%%:*} must not contain control characters (newline, tab, ...)"
done

case $label in
  '' | *[!A-Za-z0-9._-]* | .* ) die "--label '$label': use letters, digits, '.', '_' and '-' (reverse-DNS, e.g. dev.vtremote.vtremoted)" ;;
esac

case $bin in
  /*) ;;
  *) die "--bin '$bin' must be an absolute path" ;;
esac

# ADDR:PORT with ADDR an IPv4 address, a host name or a bracketed IPv6 address.
if [[ $listen =~ ^(\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$ ]]; then
  port=${BASH_REMATCH[2]}
  if [ "$((10#$port))" -lt 1 ] || [ "$((10#$port))" -gt 65535 ]; then
    die "--listen '$listen': port must be 1..65535"
  fi
else
  die "--listen '$listen': expected ADDR:PORT, e.g. 0.0.0.0:5555 or [::]:5555"
fi

if [ -n "$max_sessions" ]; then
  [[ $max_sessions =~ ^[0-9]{1,5}$ ]] && [ "$((10#$max_sessions))" -ge 1 ] \
    && [ "$((10#$max_sessions))" -le 65535 ] \
    || die "--max-sessions '$max_sessions': expected a number 1..65535"
  max_sessions=$((10#$max_sessions))
fi

case $log_level in
  0 | 1 | 2 | 3) ;;
  error) log_level=0 ;;
  info) log_level=1 ;;
  debug) log_level=2 ;;
  trace) log_level=3 ;;
  *) die "--log-level '$log_level': expected 0..3 (error, info, debug, trace)" ;;
esac

if [ "$token_set" = 1 ] && [ -n "$token_file" ]; then
  die "--token and --token-file are mutually exclusive"
fi
if [ "$token_set" = 1 ] && has_control "$token"; then
  die "--token must not contain control characters (the token file holds one line)"
fi
if [ -n "$token_file" ]; then
  case $token_file in
    /*) ;;
    *) die "--token-file '$token_file' must be an absolute path (launchd has no working directory)" ;;
  esac
fi

# ---- Locations ----
if [ "$system" = 1 ]; then
  plist_dir=/Library/LaunchDaemons
  log_dir=/Library/Logs
  data_dir="/Library/Application Support/vtremoted"
  domain=system
else
  [ -n "${HOME:-}" ] || die "HOME is not set"
  has_control "$HOME" && die "HOME must not contain control characters"
  plist_dir="$HOME/Library/LaunchAgents"
  log_dir="$HOME/Library/Logs"
  data_dir="$HOME/Library/Application Support/vtremoted"
  domain="gui/$(id -u)"
fi
plist="$plist_dir/$label.plist"
log_file="$log_dir/vtremoted.log"
if [ "$token_set" = 1 ] && [ -n "$token" ]; then
  token_file="$data_dir/token"
fi

# ---- Plist generation ----
xml_escape() {
  # Character by character: no ${var//pat/rep}, whose replacement text is interpreted
  # differently across bash versions (patsub_replacement in 5.2 treats '&' specially).
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      '&') out+='&amp;' ;;
      '<') out+='&lt;' ;;
      '>') out+='&gt;' ;;
      '"') out+='&quot;' ;;
      "'") out+='&apos;' ;;
      *) out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

program_arguments() {
  local a
  local -a args=("$bin" --listen "$listen" --log-level "$log_level")
  [ -n "$max_sessions" ] && args+=(--max-sessions "$max_sessions")
  [ -n "$token_file" ] && args+=(--token-file "$token_file")
  for a in "${args[@]}"; do
    printf '    <string>%s</string>\n' "$(xml_escape "$a")"
  done
}

replace() {
  # replace LINE PLACEHOLDER VALUE: literal substitution via prefix/suffix removal.
  local line=$1 key=$2 value=$3
  while [[ $line == *"$key"* ]]; do
    line="${line%%"$key"*}$value${line#*"$key"}"
  done
  printf '%s' "$line"
}

render_plist() {
  [ -r "$template" ] || die "template $template not found (run install.sh from the source tree)"
  local line label_x log_x
  label_x=$(xml_escape "$label")
  log_x=$(xml_escape "$log_file")
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      *@PROGRAM_ARGUMENTS@*) program_arguments ;;
      *)
        line=$(replace "$line" @LABEL@ "$label_x")
        line=$(replace "$line" @LOG_FILE@ "$log_x")
        printf '%s\n' "$line"
        ;;
    esac
  done <"$template"
}

if [ "$action" = print ]; then
  render_plist
  exit 0
fi

# ---- Install / uninstall (macOS only) ----
[ "$(uname -s)" = Darwin ] || die "installing needs macOS (launchctl); use --print elsewhere"
if [ "$system" = 1 ] && [ "$(id -u)" != 0 ]; then
  die "--system needs root: sudo $0 --system ..."
fi
if [ "$system" = 0 ] && [ "$(id -u)" = 0 ]; then
  echo "$prog: warning: installing a LaunchAgent for root; did you mean --system?" >&2
fi

service="$domain/$label"

bootout() {
  # Not loaded is fine; launchctl's exit status for that varies across macOS versions.
  launchctl bootout "$service" 2>/dev/null || true
  # bootout returns before the process is gone; wait a little so bootstrap does not race it.
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    launchctl print "$service" >/dev/null 2>&1 || return 0
    sleep 0.5
  done
}

if [ "$action" = uninstall ]; then
  bootout
  rm -f "$plist"
  echo "Uninstalled $label ($service); removed $plist"
  echo "Kept: $log_file"
  [ -e "$data_dir/token" ] && echo "Kept: $data_dir/token (delete it if you no longer need the token)"
  exit 0
fi

[ -x "$bin" ] || die "--bin '$bin' is not an executable file (build it first: make build)"
if [ -n "$token_file" ] && [ "$token_set" = 0 ] && [ ! -r "$token_file" ]; then
  die "--token-file '$token_file' is not readable"
fi

mkdir -p "$plist_dir" "$log_dir"
if [ "$token_set" = 1 ] && [ -n "$token" ]; then
  (umask 077 && mkdir -p "$data_dir")
  chmod 0700 "$data_dir"
  tmp_token=$(mktemp "$data_dir/.token.XXXXXX")
  chmod 0600 "$tmp_token"
  printf '%s\n' "$token" >"$tmp_token"
  mv -f "$tmp_token" "$data_dir/token"
fi

tmp_plist=$(mktemp "$plist_dir/.$label.XXXXXX")
trap 'rm -f "$tmp_plist"' EXIT
render_plist >"$tmp_plist"
if command -v plutil >/dev/null 2>&1; then
  plutil -lint -s "$tmp_plist" || die "generated plist failed plutil -lint (a bug: please report)"
fi
chmod 0644 "$tmp_plist"
[ "$system" = 1 ] && chown root:wheel "$tmp_plist"
bootout
mv -f "$tmp_plist" "$plist"
trap - EXIT

launchctl bootstrap "$domain" "$plist" \
  || die "launchctl bootstrap $domain $plist failed (see: launchctl print $service)"
launchctl kickstart -k "$service" >/dev/null 2>&1 || true

echo "Installed $label ($service)"
echo "  plist:  $plist"
echo "  log:    $log_file"
[ -n "$token_file" ] && echo "  token:  $token_file"
echo "  status: launchctl print $service"
echo "  Bonjour name: $(scutil --get LocalHostName 2>/dev/null || echo '<LocalHostName>').local, port $port"
echo "  The Application Firewall may ask to allow incoming connections for vtremoted (README.md)."
