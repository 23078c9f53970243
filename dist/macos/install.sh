#!/usr/bin/env bash
# Installs vtremoted as a launchd job on macOS: a per-user LaunchAgent by default, or a
# system-wide LaunchDaemon with --system. See dist/macos/README.md.
#
# Differences from the original installer (spec §9.3, §12.5): the token is never written into
# the plist; it goes into a file passed with --token-file. Every value written into the plist
# is XML-escaped, and arguments are validated before anything is touched. A job that listens
# beyond loopback gets a token (generated, or kept from an earlier install) unless
# --allow-no-token says otherwise; the system daemon runs as an unprivileged user.
#
# Runs on macOS's /bin/bash 3.2 (see scripts/lint-macos-shell).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
template="$here/vtremoted.plist.in"
prog=$(basename "$0")
# Test hook (dist/macos/test-install.sh only): a directory standing in for / for the system
# paths (/Library/..., /Users), so the install logic can run against stubbed tools.
root=${VTREMOTE_TEST_ROOT:-}

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
  --allow-no-token    serve any client on a non-loopback --listen address. Without it, and
                      without --token/--token-file, a token is generated into the token file
                      below (an existing one is kept); loopback addresses need none
  --max-sessions N    most sessions at once (vtremoted's default when omitted)
  --log-level N       0 error, 1 info, 2 debug, 3 trace (default 1)
  --label L           launchd label (default dev.vtremote.vtremoted)
  --system            system-wide LaunchDaemon (/Library/LaunchDaemons, domain system;
                      run as root, e.g. with sudo) instead of a per-user LaunchAgent
                      (~/Library/LaunchAgents, domain gui/<uid>). Use it on a headless Mac:
                      a LaunchAgent needs someone logged in at the screen
  --user NAME         user the system daemon runs as (default nobody; --system only)
  --uninstall         stop the job and remove its plist (logs and token file are kept)
  --print             print the plist that would be installed and exit (changes nothing)
  -h, --help          this help

Files:
  agent:  ~/Library/LaunchAgents/<label>.plist, log ~/Library/Logs/vtremoted.log,
          token ~/Library/Application Support/vtremoted/token
  system: /Library/LaunchDaemons/<label>.plist, log /Library/Logs/vtremoted.log,
          token /Library/Application Support/vtremoted/token (readable by --user)
The agent and the system daemon of one label are never installed together: both would
listen on the same port.
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
allow_no_token=0
max_sessions=
log_level=1
label=dev.vtremote.vtremoted
system=0
user=
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
    --allow-no-token) allow_no_token=1; shift ;;
    --max-sessions) need_value "$1" $#; max_sessions=$2; shift 2 ;;
    --max-sessions=*) max_sessions=${1#*=}; shift ;;
    --log-level) need_value "$1" $#; log_level=$2; shift 2 ;;
    --log-level=*) log_level=${1#*=}; shift ;;
    --label) need_value "$1" $#; label=$2; shift 2 ;;
    --label=*) label=${1#*=}; shift ;;
    --system) system=1; shift ;;
    --user) need_value "$1" $#; user=$2; shift 2 ;;
    --user=*) user=${1#*=}; shift ;;
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
  listen_host=${BASH_REMATCH[1]}
  port=${BASH_REMATCH[2]}
  if [ "$((10#$port))" -lt 1 ] || [ "$((10#$port))" -gt 65535 ]; then
    die "--listen '$listen': port must be 1..65535"
  fi
else
  die "--listen '$listen': expected ADDR:PORT, e.g. 0.0.0.0:5555 or [::]:5555"
fi

if [ -n "$max_sessions" ]; then
  if ! [[ $max_sessions =~ ^[0-9]{1,5}$ ]] || [ "$((10#$max_sessions))" -lt 1 ] ||
    [ "$((10#$max_sessions))" -gt 65535 ]; then
    die "--max-sessions '$max_sessions': expected a number 1..65535"
  fi
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
if [ "$token_set" = 1 ] && [ -z "$token" ]; then
  die "--token '' is empty: give a token, or --allow-no-token to serve any client"
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
if [ "$allow_no_token" = 1 ] && { [ "$token_set" = 1 ] || [ -n "$token_file" ]; }; then
  die "--allow-no-token and a token (--token, --token-file) contradict each other"
fi

if [ -n "$user" ] && [ "$system" = 0 ]; then
  die "--user applies to the system daemon (--system); a LaunchAgent runs as you"
fi
[ "$system" = 1 ] && [ -z "$user" ] && user=nobody
case $user in
  '' ) ;;
  root ) die "--user root: the daemon parses network input; run it as an unprivileged user" ;;
  [A-Za-z_]*) case $user in *[!A-Za-z0-9_.-]*) die "--user '$user': not a user name" ;; esac ;;
  *) die "--user '$user': not a user name" ;;
esac

# Loopback-only addresses need no token: nothing else can connect.
case $listen_host in
  127.* | localhost | '[::1]') loopback=1 ;;
  *) loopback=0 ;;
esac

# ---- Locations ----
if [ "$system" = 1 ]; then
  plist_dir="$root/Library/LaunchDaemons"
  log_dir="$root/Library/Logs"
  data_dir="$root/Library/Application Support/vtremoted"
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
# The token file this installer writes: from --token, or generated (kept if it exists) when
# the job listens beyond loopback without --token-file or --allow-no-token.
generate_token=0
if [ "$token_set" = 1 ]; then
  token_file="$data_dir/token"
elif [ -z "$token_file" ] && [ "$loopback" = 0 ] && [ "$allow_no_token" = 0 ]; then
  token_file="$data_dir/token"
  generate_token=1
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
  [ "$allow_no_token" = 1 ] && args+=(--allow-no-token)
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
      *@USER_NAME@*)
        # launchd.plist(5): UserName applies to the system domain only.
        if [ -n "$user" ]; then
          printf '  <key>UserName</key>\n  <string>%s</string>\n' "$(xml_escape "$user")"
        fi
        ;;
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
if [ -n "$token_file" ] && [ "$token_set" = 0 ] && [ "$generate_token" = 0 ]; then
  [ -r "$token_file" ] || die "--token-file '$token_file' is not readable"
  # vtremoted reads an empty first line as "no token", and then refuses to listen beyond
  # loopback: launchd would restart it every 10 s.
  if [ "$loopback" = 0 ] && [ -z "$(head -n 1 "$token_file")" ]; then
    die "--token-file '$token_file': the first line (the token) is empty"
  fi
fi

# One job per label and port: an agent and a system daemon of the same label would both
# bind $listen, and the loser would be restarted by launchd every ThrottleInterval.
if [ "$system" = 1 ]; then
  [ -n "$(id -gn "$user" 2>/dev/null)" ] || die "--user '$user': no such user"
  others=""
  for f in "$root"/Users/*/Library/LaunchAgents/"$label.plist"; do
    [ -e "$f" ] && others="$others  $f"$'\n'
  done
  if [ -n "$others" ]; then
    die "a per-user LaunchAgent $label is installed; it and the system daemon would both listen on
port $port. Remove it first (as its user: $here/install.sh --uninstall):
$others"
  fi
else
  if [ -e "$root/Library/LaunchDaemons/$label.plist" ]; then
    die "the system daemon $label is installed (/Library/LaunchDaemons/$label.plist); a LaunchAgent
would fight it for port $port. Keep that one, or remove it first: sudo $here/install.sh --system --uninstall"
  fi
  # gui/<uid> exists only while the user is logged in at the screen (or via Screen Sharing).
  # Over ssh to a headless Mac there is none, and `launchctl bootstrap gui/<uid>` fails with
  # an unhelpful I/O error.
  if ! launchctl print "$domain" >/dev/null 2>&1; then
    die "no GUI login session for $(id -un) (launchd has no $domain domain: logged in over ssh with
nobody at the screen?). A LaunchAgent runs only inside a GUI login; for a headless Mac install the
system daemon instead: sudo $0 --system [your other options]"
  fi
fi

mkdir -p "$plist_dir" "$log_dir"
write_token() { # write_token VALUE: atomically, mode 0600 (0640 root:<user's group> for --system)
  local tmp
  tmp=$(mktemp "$data_dir/.token.XXXXXX")
  chmod 0600 "$tmp"
  printf '%s\n' "$1" >"$tmp"
  if [ "$system" = 1 ]; then
    chown "root:$(id -gn "$user")" "$tmp"
    chmod 0640 "$tmp"
  fi
  mv -f "$tmp" "$data_dir/token"
}
if [ "$token_set" = 1 ] || [ "$generate_token" = 1 ]; then
  if [ "$system" = 1 ]; then
    # Root's directory; the daemon (as $user) reads the token through its group.
    mkdir -p "$data_dir"
    chmod 0755 "$data_dir"
  else
    (umask 077 && mkdir -p "$data_dir")
    chmod 0700 "$data_dir"
  fi
  if [ "$token_set" = 1 ]; then
    write_token "$token"
  elif [ -s "$data_dir/token" ] && [ -n "$(head -n 1 "$data_dir/token")" ]; then
    echo "$prog: keeping the token in $data_dir/token (clients already have it)"
    [ "$system" = 1 ] && chown "root:$(id -gn "$user")" "$data_dir/token" && chmod 0640 "$data_dir/token"
  else
    # 24 random bytes as hex; od is in every base system.
    write_token "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    echo "$prog: generated a token into $data_dir/token: clients pass it with -vt_remote_token"
  fi
elif [ "$system" = 1 ] && [ -n "$token_file" ] && command -v sudo >/dev/null 2>&1 &&
  ! sudo -u "$user" test -r "$token_file" 2>/dev/null; then
  echo "$prog: warning: $user cannot read $token_file; the daemon will not start until it can" >&2
fi
if [ "$system" = 1 ]; then
  # launchd may open the log as the job's user: make it that user's file.
  touch "$log_file"
  chown "$user" "$log_file"
  chmod 0644 "$log_file"
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

# launchctl(1): once disabled (launchctl disable, kept across reboots) a service "cannot be
# loaded in the specified domain until it is once again enabled".
launchctl enable "$service" 2>/dev/null || true
launchctl bootstrap "$domain" "$plist" \
  || die "launchctl bootstrap $domain $plist failed (see: launchctl print $service; the log $log_file)"
launchctl kickstart -k "$service" >/dev/null 2>&1 || true

echo "Installed $label ($service)"
echo "  plist:  $plist"
echo "  log:    $log_file"
[ -n "$user" ] && echo "  runs as: $user"
if [ -n "$token_file" ]; then
  echo "  token:  $token_file"
  if [ "$system" = 1 ]; then
    echo "          clients: -vt_remote_token \"\$(sudo cat '$token_file')\" (copy it to each client)"
  else
    echo "          clients: -vt_remote_token \"\$(cat '$token_file')\" (copy it to each client)"
  fi
elif [ "$loopback" = 0 ]; then
  echo "  token:  none (--allow-no-token): any client that reaches port $port may use this Mac"
fi
echo "  status: launchctl print $service"
echo "  Bonjour name: $(scutil --get LocalHostName 2>/dev/null || echo '<LocalHostName>').local, port $port"
echo "  The Application Firewall may ask to allow incoming connections for vtremoted (README.md)."
