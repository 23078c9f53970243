#!/usr/bin/env bash
# Discovery end to end, on real mDNS between network namespaces this script creates:
#   A ── veth ── B   (10.231.77.1/24 and .2/24, private to the namespaces; no real
#                     interface is touched)
# (a) vtremoted in A advertises; `vtremote probe auto` and `encode --host auto` in B find and
#     use it; a helper on 127.0.0.1 is not announced to B; SIGTERM withdraws; --no-mdns is
#     silent; the TXT fingerprint guides first-use TLS.
# (b) Avahi (avahi-daemon on a private D-Bus) in B, holding UDP 5353 beside our client:
#     avahi-browse sees our helper, sees it leave on SIGTERM, and our client finds a service
#     Avahi publishes for a real vtremoted.
# Needs root and `ip netns`; skips (exit 0, with the reason) without them. Part (b) skips
# without avahi-daemon/avahi-utils/dbus-daemon (scripts/bootstrap installs them).
# lint-macos-shell: linux-only
set -euo pipefail
BIN="$(cd "${1:-build/bin}" && pwd)"
cd "$(dirname "$0")/../.."
. scripts/lib.sh

skip() { echo "skip - discovery suite: $*"; exit 0; }
[ "$(uname -s)" = Linux ] || skip "network namespaces are Linux only"
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces (run as root: sudo $0 $BIN)"
command -v ip >/dev/null 2>&1 || skip "no ip(8) (iproute2)"

T="$(mktemp -d)"
NSA="vtrdisc-a-$$"
NSB="vtrdisc-b-$$"
VA="vtrda$$"
VB="vtrdb$$"
PIDS=()
cleanup() {
  local p
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NSA" 2>/dev/null || true
  ip netns del "$NSB" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/*.log; do [ -e "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}
pass() { echo "ok - $*"; }

ip netns add "$NSA" 2>/dev/null || skip "cannot create a network namespace (ip netns add failed)"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
ip -n "$NSA" addr add 10.231.77.1/24 dev "$VA"
ip -n "$NSB" addr add 10.231.77.2/24 dev "$VB"
for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up
# Not for background jobs: `inB cmd &` would give the subshell's id, not the command's.
inA() { ip netns exec "$NSA" "$@"; }
inB() { ip netns exec "$NSB" "$@"; }

# The client's first-use records stay in this test's folder.
export VTREMOTE_KNOWN_HELPERS="$T/known_helpers"
# Back-to-back browses are answered at the responder's pace (RFC 6762 §6: about 1.1 s in,
# docs/scaling.md); a longer window keeps a loaded machine from missing them. The default
# window is what the last check uses.
export VTREMOTE_DISCOVERY_MS=3000
echo "discovery-token" >"$T/token"

# Starts a vtremoted in namespace $1 (other arguments: its flags) and waits until it listens;
# DPID is its process id. `ip netns exec` execs, so the id is the daemon's own.
start_in() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$BIN/vtremoted" "$@" >"$log" 2>&1 &
  DPID=$!
  PIDS+=("$DPID")
  for _ in $(seq 1 300); do
    grep -q "^vtremoted listening on" "$log" && return 0
    kill -0 "$DPID" 2>/dev/null || fail "vtremoted $* exited at start"
    sleep 0.1
  done
  fail "vtremoted $* did not start listening"
}
# Stops a daemon with SIGTERM and waits for it: it must exit by itself.
stop_pid() {
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || fail "vtremoted exited $rc on SIGTERM"
}

# --- (a) two namespaces ---------------------------------------------------------------
start_in "$NSA" "$T/a.log" --listen 0.0.0.0:5555 --token-file "$T/token" --state-dir "$T/state-a"
A_PID=$DPID
FP="$("$BIN/vtremoted" --fingerprint --state-dir "$T/state-a")"
grep -q "mDNS: advertising .*fp=$FP" "$T/a.log" || fail "advertisement log line lacks fp=$FP"
pass "helper in A advertises _vtremote._tcp with its fingerprint in TXT"

out="$(inB "$BIN/vtremote" probe auto --token-file "$T/token" 2>"$T/probe.log")" \
  || fail "probe auto in B: $out"
grep -q "^10\.231\.77\.1:5555 .*vtremoted.*codecs h264" <<<"$out" || fail "probe auto in B: $out"
grep -q "127\.0\.0\.1" <<<"$out" && fail "B was told A's loopback address: $out"
pass "probe auto in B finds A's helper: $(head -n1 <<<"$out")"

ffmpeg -v error -y -f lavfi -i testsrc2=s=320x240:r=30:d=1 -pix_fmt nv12 -f rawvideo "$T/in.yuv"
inB "$BIN/vtremote" encode --host auto --token-file "$T/token" --codec h264 --size 320x240 --fps 30 \
  --pix-fmt nv12 --bitrate 1M --gop 30 -i "$T/in.yuv" -o "$T/out.h264" 2>"$T/encode.log" \
  || fail "encode --host auto in B"
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/out.h264")
[ "$n" = 30 ] || fail "encode --host auto: $n frames, want 30"
ffmpeg -v error -xerror -i "$T/out.h264" -f null - || fail "encode --host auto: output does not decode"
pass "encode --host auto in B: 30 frames that decode"

# TLS without a pin: the advertised fingerprint is expected, then recorded as first use.
inB "$BIN/vtremote" probe auto --tls --token-file "$T/token" >"$T/tls.out" 2>"$T/tls.log" \
  || fail "probe auto --tls: $(cat "$T/tls.out")"
grep -q "10.231.77.1:5555 $FP" "$T/known_helpers" || fail "first use not recorded: $(cat "$T/known_helpers" 2>&1)"
pass "probe auto --tls: TLS to the advertised fingerprint, recorded as first use"
# A forged advertisement (another fingerprint) loses against the record.
OTHER_FP="$("$BIN/vtremoted" --fingerprint --state-dir "$T/other-key")"
printf '10.231.77.1:5555 %s\n' "$OTHER_FP" >"$T/known_helpers"
rc=0
err="$(inB "$BIN/vtremote" probe auto --tls --token-file "$T/token" 2>&1)" || rc=$?
if [ "$rc" != 1 ] || ! grep -q "fingerprint is $FP, not the expected .*recorded in" <<<"$err"; then
  fail "record vs presented fingerprint: rc=$rc $err"
fi
pass "a recorded fingerprint wins over what is advertised"
rm -f "$T/known_helpers"

# A helper on loopback is announced on loopback only.
start_in "$NSA" "$T/a-lo.log" --listen 127.0.0.1:5556 --no-tls --state-dir "$T/state-a"
LO_PID=$DPID
out="$(inA "$BIN/vtremote" probe auto --token-file "$T/token" 2>&1)" || fail "probe auto in A: $out"
grep -q "^127\.0\.0\.1:5556 .*vtremoted" <<<"$out" || fail "probe auto in A misses the loopback helper: $out"
out="$(inB "$BIN/vtremote" probe auto --token-file "$T/token" 2>&1)" || fail "probe auto in B: $out"
grep -q ":5556" <<<"$out" && fail "a helper on 127.0.0.1 was announced to B: $out"
pass "a helper listening on 127.0.0.1 is found in its namespace only"
stop_pid "$LO_PID"

# --- (b) Avahi ------------------------------------------------------------------------
# Starts avahi-daemon in B with config $1, logging to $2; AVAHI is its process id. It keeps
# its pid file in /run/avahi-daemon: a private mount namespace gives it a private one, so a
# system Avahi (if any) is neither disturbed nor in the way.
start_avahi() {
  # shellcheck disable=SC2016 # $1 is the inner shell's
  ip netns exec "$NSB" unshare --mount sh -c 'mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && exec avahi-daemon -f "$1" --no-drop-root --no-chroot --no-rlimits --no-proc-title' \
    sh "$1" >"$2" 2>&1 &
  AVAHI=$!
  PIDS+=("$AVAHI")
  for _ in $(seq 1 100); do grep -q "Server startup complete" "$2" && break; sleep 0.1; done
  grep -q "Server startup complete" "$2" || fail "avahi-daemon -f $1 did not start"
}
if ! command -v avahi-daemon >/dev/null 2>&1 || ! command -v avahi-browse >/dev/null 2>&1 \
  || ! command -v dbus-daemon >/dev/null 2>&1; then
  echo "skip - Avahi part: avahi-daemon, avahi-utils or dbus-daemon missing (./scripts/bootstrap installs them)"
else
  # A bus of our own: Avahi's clients (avahi-browse, avahi-publish) reach the daemon over
  # D-Bus, and the machine's system bus may not exist or may not be ours to use.
  cat >"$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
  dbus-daemon --config-file="$T/bus.conf" --nofork >"$T/dbus.log" 2>&1 &
  PIDS+=("$!")
  export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/bus"
  for _ in $(seq 1 100); do [ -S "$T/bus" ] && break; sleep 0.1; done
  # Its own host name, IPv4 only, nothing of its own published: only what the test adds.
  cat >"$T/avahi.conf" <<EOF
[server]
host-name=vtr-avahi-$$
use-ipv4=yes
use-ipv6=no
allow-interfaces=$VB
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-aaaa-on-ipv4=no
publish-hinfo=no
publish-workstation=no
EOF
  start_avahi "$T/avahi.conf" "$T/avahi.log"
  inB ss -ulpn 2>/dev/null | grep -q "avahi-daemon" || fail "avahi-daemon holds no UDP socket in B"

  # Avahi sees our helper (resolved: address, port, TXT).
  out="$(inB avahi-browse --resolve --terminate --parsable _vtremote._tcp 2>&1)" || true
  grep -q "^=;$VB;IPv4;.*;_vtremote._tcp;local;.*;10\.231\.77\.1;5555;.*\"fp=$FP\"" <<<"$out" \
    || fail "avahi-browse does not resolve our helper: $out"
  if ! grep -q '"codecs=h264' <<<"$out" || ! grep -q '"auth=token"' <<<"$out"; then
    fail "avahi-browse TXT: $out"
  fi
  pass "avahi-browse resolves our helper with its TXT: $(grep '^=' <<<"$out" | head -n1)"

  # Our client works beside Avahi, which holds UDP 5353 in the same namespace.
  out="$(inB "$BIN/vtremote" probe auto --token-file "$T/token" 2>&1)" || fail "probe auto beside Avahi: $out"
  grep -q "^10\.231\.77\.1:5555 .*vtremoted" <<<"$out" || fail "probe auto beside Avahi: $out"
  pass "probe auto in B beside avahi-daemon (both on UDP 5353) finds A's helper"

  # Our client finds what Avahi publishes: a real vtremoted in B that does not advertise.
  # The record's fingerprint is not the helper's: a forged hint must fail first-use TLS.
  start_in "$NSB" "$T/b.log" --listen 10.231.77.2:5557 --no-mdns --token-file "$T/token" --state-dir "$T/state-b"
  B_PID=$DPID
  ip netns exec "$NSB" avahi-publish --service "published by avahi $$" _vtremote._tcp 5557 txtvers=1 proto=1 codecs=h264 \
    auth=token "fp=$OTHER_FP" >"$T/publish.log" 2>&1 &
  PUBLISH=$!
  PIDS+=("$PUBLISH")
  for _ in $(seq 1 100); do grep -q "Established" "$T/publish.log" && break; sleep 0.1; done
  grep -q "Established" "$T/publish.log" || fail "avahi-publish did not establish its service"
  out="$(inA "$BIN/vtremote" probe auto --token-file "$T/token" 2>&1)" || fail "probe auto in A: $out"
  grep -q "^10\.231\.77\.2:5557 .*vtremoted" <<<"$out" || fail "probe auto in A misses Avahi's service: $out"
  pass "probe auto in A finds the service avahi-daemon in B publishes"
  out="$(inA "$BIN/vtremote" probe auto --tls --token-file "$T/token" 2>&1)" || fail "probe auto --tls in A: $out"
  grep -q "^10\.231\.77\.2:5557 .*fingerprint is .*, not the expected $OTHER_FP advertised over mDNS" <<<"$out" \
    || fail "a helper whose key differs from its advertisement was accepted: $out"
  grep -q "10.231.77.2:5557" "$T/known_helpers" && fail "the mismatching helper was recorded"
  rm -f "$T/known_helpers"
  pass "first-use TLS refuses a helper whose key is not the advertised fingerprint"
  kill "$PUBLISH"
  wait "$PUBLISH" 2>/dev/null || true
  stop_pid "$B_PID"

  # SIGTERM: the goodbye reaches a browser that saw the helper (Avahi prints "-" lines).
  ip netns exec "$NSB" avahi-browse --parsable _vtremote._tcp >"$T/watch.log" 2>&1 &
  WATCH=$!
  PIDS+=("$WATCH")
  for _ in $(seq 1 100); do grep -q '^+;.*vtremoted\\032on' "$T/watch.log" && break; sleep 0.1; done
  grep -q '^+;.*vtremoted\\032on' "$T/watch.log" || fail "avahi-browse never listed the helper"
  stop_pid "$A_PID"
  grep -q "mDNS: withdrew" "$T/a.log" || fail "the helper did not withdraw on SIGTERM"
  # Goodbye packets are sent before the helper exits; Avahi reports them within a second
  # (RFC 6762 §10.1). The loop is bounded by the count, not asserted on time.
  for _ in $(seq 1 50); do grep -q '^-;.*vtremoted\\032on' "$T/watch.log" && break; sleep 0.1; done
  grep -q '^-;.*vtremoted\\032on' "$T/watch.log" || fail "avahi-browse never saw the goodbye: $(cat "$T/watch.log")"
  pass "SIGTERM withdraws the advertisement (avahi-browse: $(grep '^-;.*vtremoted\\032on' "$T/watch.log"))"
  A_PID=""
  # What Avahi published for the helper in B must not answer the last check.
  kill "$AVAHI"
  wait "$AVAHI" 2>/dev/null || true

  # An Avahi that keeps UDP 5353 to itself: a clear error, not a silent empty browse.
  sed -e 's/^enable-dbus=yes/enable-dbus=no/' -e 's/^\[server\]/[server]\ndisallow-other-stacks=yes/' \
    "$T/avahi.conf" >"$T/avahi-alone.conf"
  start_avahi "$T/avahi-alone.conf" "$T/avahi-alone.log"
  rc=0
  err="$(inB "$BIN/vtremote" probe auto 2>&1)" || rc=$?
  [ "$rc" = 1 ] || fail "probe auto beside an exclusive Avahi: exit $rc: $err"
  grep -q "UDP 5353 is held by an mDNS responder that does not share it.*disallow-other-stacks=no" <<<"$err" \
    || fail "exclusive Avahi message: $err"
  pass "Avahi with disallow-other-stacks=yes: probe auto says so"
  kill "$AVAHI"
  wait "$AVAHI" 2>/dev/null || true
fi

# --- nothing to find --------------------------------------------------------------------
[ -n "${A_PID:-}" ] && stop_pid "$A_PID"
start_in "$NSA" "$T/a-quiet.log" --listen 0.0.0.0:5555 --no-mdns --no-tls --allow-no-token
QUIET_PID=$DPID
rc=0
err="$(inB env -u VTREMOTE_DISCOVERY_MS "$BIN/vtremote" probe auto 2>&1)" || rc=$?
[ "$rc" = 1 ] || fail "probe auto with nothing advertised: exit $rc: $err"
grep -q "no helper answered mDNS browse for _vtremote._tcp within 1.5 s on interfaces .*$VB (10.231.77.2)" <<<"$err" \
  || fail "nothing-found message: $err"
pass "--no-mdns helper is not found; the error says so: $(grep -o 'no helper answered[^(]*' <<<"$err" | head -n1)"
stop_pid "$QUIET_PID"
echo "discovery: all checks passed"
