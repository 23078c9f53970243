#!/usr/bin/env python3
"""Runs the real clients against hostile_server.py, one scenario at a time; see run.sh.

    driver.py --bin BIN_DIR --work DIR    (DIR holds in.mp4, in.h264 and in.yuv, made by run.sh)

Every case must end with a non-zero exit that is not a signal, within the limit, with peak
RSS under the bound, and with a stderr that names the helper (127.0.0.1:PORT) and matches the
case's pattern. Each client run is killed after HOSTILE_KILL_S seconds so a hang fails the
case instead of the suite. Prints one line per case, then a table of time-to-fail.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# What the client must say, per scenario: one regex for both modes, or a dict per mode.
# Chosen from the messages the clients actually print; each names the failing message or
# field, not just "error". Matched case-insensitively against the whole stderr.
WRONG_DIRECTION = r"unexpected FRAME while waiting for PACKET"
PATTERNS = {
    "hello_ack_empty": r"decoding HELLO_ACK: HELLO_ACK payload truncated reading status",
    "hello_ack_truncated": r"connection closed by the server before HELLO_ACK",
    "http": r"unexpected non-vtremote bytes while waiting for HELLO_ACK: not a vtremote server",
    "configure_ack_empty": r"decoding CONFIGURE_ACK: CONFIGURE_ACK payload truncated reading status",
    "configure_ack_truncated": r"CONFIGURE_ACK payload truncated reading extradata: need 256 bytes",
    "oversized_frame": {"encode": WRONG_DIRECTION,
                        "decode": r"decoded FRAME: FRAME plane 0: 4320 rows, expected 240"},
    "wide_frame": {"encode": WRONG_DIRECTION,
                   "decode": r"decoded FRAME: FRAME plane 0: stride 65536 for 320-byte rows"},
    "short_plane": {"encode": WRONG_DIRECTION,
                    "decode": r"decoded FRAME: FRAME plane 0: 1000 data bytes, stride × rows needs 76800"},
    "plane_len_4g": r"FRAME payload truncated reading plane data: need 4294967295 bytes",
    "zstd_bomb": {"encode": WRONG_DIRECTION,
                  "decode": r"FRAME plane 0: zstd data of 32777 bytes does not decompress to exactly 76800 bytes"},
    "vtl_garbage": {"encode": WRONG_DIRECTION,
                    "decode": r"FRAME plane 0: vtl data of 65536 bytes does not decompress"},
    "lz4_bomb": {"encode": WRONG_DIRECTION,
                 "decode": r"FRAME plane 0: lz4 data of 1052698 bytes does not decompress to exactly 76800 bytes"},
    "header_len_4g": {"encode": r"PACKET message of 4294967295 bytes exceeds the limit",
                      "decode": r"FRAME message of 4294967295 bytes exceeds the limit"},
    "planes_255": r"FRAME field plane_count has invalid value 255",
    "packet_len_long": r"PACKET payload truncated reading data: need 1000000 bytes, 100 left",
    "packet_len_short": r"packet_len_short ends here",
    "output_flood": r"unexpected \d+ (PACKETs|FRAMEs) for \d+ (FRAMEs|PACKETs) sent",
    "reset": r"connection closed by the server",
    "stall": r"timed out after 1500 ms",
    # Either is right: the window times out, or the client counts the skipped messages.
    "junk": r"timed out after 1500 ms|unexpected \d+ messages in a row ending with message type 77",
    # Messages that keep arriving must not keep the wait alive.
    "junk_trickle": r"timed out after 1500 ms",
}
# Wire compression each scenario negotiates (None: the client's default, zstd).
COMPRESSION = {"zstd_bomb": "zstd", "lz4_bomb": "lz4", "short_plane": "none"}
CLIENTS = [("ffmpeg", "encode"), ("ffmpeg", "decode"), ("vtremote", "encode"), ("vtremote", "decode")]


# FFmpeg's CLI counts a decoder error per packet and exits 0 unless errors exceed
# -max_error_rate (2/3) of the packets: a helper that answers most packets before it fails is
# reported (an error line per packet) but is not fatal. Where the hostile server answers first
# and fails later, the decoder run adds -xerror, as scripts should (docs/troubleshooting.md).
FFMPEG_DECODE_EXTRA = {"output_flood": ["-xerror"]}


def command(client, mode, a, host, token, comp, scenario=None):
    ms = str(a.timeout_ms)
    if client == "ffmpeg":
        ff = [os.path.join(a.bin, "ffmpeg"), "-hide_banner", "-nostdin", "-y"]
        remote = ["-vt_remote_host", host, "-vt_remote_timeout_ms", ms, "-vt_remote_token", token]
        if comp:
            remote += ["-vt_remote_wire_compression", comp]
        if mode == "encode":
            return ff + ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=2", "-pix_fmt", "nv12",
                         "-c:v", "h264_videotoolbox_remote"] + remote + ["-f", "null", "-"]
        return ff + FFMPEG_DECODE_EXTRA.get(scenario, []) + ["-c:v", "h264_videotoolbox_remote"] + \
            remote + ["-i", os.path.join(a.work, "in.mp4"), "-f", "null", "-"]
    vt = [os.path.join(a.bin, "vtremote"), mode, "--host", host, "--token", token,
          "--timeout-ms", ms, "--codec", "h264"]
    if comp:
        vt += ["--compression", comp]
    if mode == "encode":
        return vt + ["--size", "320x240", "--fps", "30", "--pix-fmt", "nv12",
                     "-i", os.path.join(a.work, "in.yuv"), "-o", os.devnull]
    return vt + ["-i", os.path.join(a.work, "in.h264"), "-o", os.devnull]


def vm_hwm_kb(pid):
    """The process's own peak RSS (VmHWM, kB) from /proc; None when unavailable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def gnu_time():
    """/usr/bin/time if it is GNU time (-f/-o), else None."""
    t = "/usr/bin/time"
    if not os.access(t, os.X_OK):
        return None
    try:
        r = subprocess.run([t, "-f", "%M", "-o", os.devnull, "--", "true"], capture_output=True, timeout=10)
        return t if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


class Result:
    def __init__(self):
        self.signal = None   # the signal that ended the client, if any
        self.code = None     # its exit code otherwise
        self.seconds = 0.0
        self.rss_kb = 0
        self.killed = False  # by us, after kill_s

    def describe(self):
        if self.killed:
            return "hung"
        return f"signal {self.signal}" if self.signal else f"exit {self.code}"


def run(cmd, stderr_path, kill_s, time_bin, work):
    """Runs cmd with stdin and stdout closed, stderr to stderr_path; kills its process group
    after kill_s. Peak RSS:
    * with GNU time, its %M: ru_maxrss of a child that time fork()ed, so exact;
    * otherwise wait4's ru_maxrss, which is never below this Python process's own high-water
      mark (~15 MB: exec keeps the forking process's), combined with the child's own VmHWM
      sampled every few ms; the larger is reported.
    A client killed here never reports to time; then the sampled VmHWM is all there is."""
    res = Result()
    rss_file = os.path.join(work, "rss.txt")
    full = [time_bin, "-f", "%M", "-o", rss_file, "--"] + cmd if time_bin else cmd
    with open(stderr_path, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                             start_new_session=True)
    hwm = 0
    watched = p.pid
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time_bin and watched == p.pid:  # sample the client, not time
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    watched = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        if watched != p.pid or not time_bin:
            hwm = max(hwm, vm_hwm_kb(watched) or 0)
        if time.monotonic() - t0 > kill_s:
            os.killpg(p.pid, signal.SIGKILL)
            _, status, ru = os.wait4(p.pid, 0)
            res.killed = True
            break
        time.sleep(0.004)
    res.seconds = time.monotonic() - t0
    p.returncode = -1  # reaped by wait4 above; keeps Popen from waiting again
    if os.WIFSIGNALED(status):
        res.signal = os.WTERMSIG(status)
    else:
        res.code = os.WEXITSTATUS(status)
    res.rss_kb = hwm if (time_bin and res.killed) else max(hwm, ru.ru_maxrss)
    if time_bin and not res.killed:
        try:
            lines = open(rss_file).read().split("\n")
            lines = [l for l in lines if l.strip()]
            res.rss_kb = int(lines[-1])
            m = re.search(r"terminated by signal (\d+)", " ".join(lines))
            if m:  # time exits 128 + signal; report what really happened
                res.signal, res.code = int(m.group(1)), None
        except (OSError, ValueError, IndexError):
            pass
    return res


def server_events(log_path, token):
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            return [l.rstrip("\n") for l in f if f" token={token} " in l]
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    env = os.environ
    a.timeout_ms = int(env.get("HOSTILE_TIMEOUT_MS", "1500"))
    limit_s = float(env.get("HOSTILE_LIMIT_S", a.timeout_ms / 1000 + 6.5))
    kill_s = float(env.get("HOSTILE_KILL_S", max(10.0, limit_s + 2)))
    rss_limit_mb = float(env.get("HOSTILE_RSS_MB", "400"))
    only = re.compile(env.get("HOSTILE_ONLY", "."))
    skip = re.compile(env["HOSTILE_SKIP"]) if env.get("HOSTILE_SKIP") else None
    verbose = env.get("VERBOSE", "0") == "1"
    if a.timeout_ms != 1500:  # the stall/junk patterns name the timeout
        for k in ("stall", "junk", "junk_trickle"):
            PATTERNS[k] = PATTERNS[k].replace("1500 ms", f"{a.timeout_ms} ms")

    log_path = os.path.join(a.work, "server.log")
    srv = subprocess.Popen([sys.executable, os.path.join(HERE, "hostile_server.py"), "--listen", "127.0.0.1:0"],
                           stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    host = None
    for _ in range(200):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            m = re.search(r"listening on (\S+)", f.read())
        if m:
            host = m.group(1)
            break
        if srv.poll() is not None:
            break
        time.sleep(0.025)
    if not host:
        print("FAIL: hostile_server.py did not start:\n" + open(log_path).read(), file=sys.stderr)
        return 1
    print(f"# hostile server on {host}; client timeout {a.timeout_ms} ms, limit {limit_s:g} s, "
          f"kill after {kill_s:g} s, rss limit {rss_limit_mb:g} MB")
    time_bin = None if env.get("HOSTILE_NO_GNU_TIME") == "1" else gnu_time()
    if not time_bin:
        print("# no GNU /usr/bin/time: rss is wait4's ru_maxrss, which cannot go below this "
              "driver's own ~15 MB (apt-get install time for exact figures)")

    results = {}  # (scenario, client, mode) -> (ok, seconds, text)
    failures = 0
    t_start = time.monotonic()
    n = 0
    try:
        for scenario, pattern in PATTERNS.items():
            for client, mode in CLIENTS:
                label = f"{client} {mode} {scenario}"
                if not only.search(label) or (skip and skip.search(label)):
                    continue
                n += 1
                token = f"{scenario}#{n}"
                pat = pattern[mode] if isinstance(pattern, dict) else pattern
                cmd = command(client, mode, a, host, token, COMPRESSION.get(scenario), scenario)
                err_path = os.path.join(a.work, f"{n:02d}-{client}-{mode}-{scenario}.err")
                r = run(cmd, err_path, kill_s, time_bin, a.work)
                dt, rss_mb = r.seconds, r.rss_kb / 1024
                with open(err_path, encoding="utf-8", errors="replace") as f:
                    err = f.read()
                problems = []
                if r.killed:
                    problems.append(f"hung: killed after {kill_s:g} s")
                elif r.signal:
                    problems.append(f"crashed: killed by signal {r.signal}")
                elif r.code == 0:
                    problems.append("exited 0")
                elif client == "vtremote" and r.code >= 128:
                    problems.append(f"exit code {r.code}")
                if not r.killed and dt > limit_s:
                    problems.append(f"took {dt:.2f} s, limit {limit_s:g} s")
                if rss_mb > rss_limit_mb:
                    problems.append(f"peak RSS {rss_mb:.0f} MB > {rss_limit_mb:g} MB")
                m = re.search(pat, err, re.I)
                if not r.killed:  # a hung client has said nothing yet; "hung" is the story
                    if host not in err:
                        problems.append(f"stderr does not name {host}")
                    if not m:
                        problems.append(f"stderr lacks /{pat}/")
                if re.search(r"panicked at|RUST_BACKTRACE|Assertion .* failed", err):
                    problems.append("stderr shows a panic or assertion")
                # The client must have reached the stage under test: the server logs
                # "delivered" just before the hostile bytes go out.
                ev = []
                for _ in range(40):
                    ev = server_events(log_path, token)
                    if any(" event=delivered" in e for e in ev):
                        break
                    time.sleep(0.025)
                if not any(" event=delivered" in e for e in ev):
                    problems.append("the server never delivered the scenario (client stopped earlier): "
                                    + ("; ".join(e.split(" event=", 1)[1] for e in ev) or "no connection"))
                rc_text = r.describe()
                if problems:
                    failures += 1
                    results[(scenario, client, mode)] = (False, dt, rc_text)
                    print(f"FAIL - {label} {dt:.2f}s rss={rss_mb:.0f}MB: {'; '.join(problems)} ({rc_text})")
                    # the last lines, without FFmpeg's progress lines
                    tail = [l for l in err.strip().splitlines()
                            if l.strip() and not re.match(r"\s*(frame|size)=", l)][-6:]
                    for l in tail:
                        print(f"    | {l[:300]}")
                else:
                    results[(scenario, client, mode)] = (True, dt, rc_text)
                    line = f"ok - {label} {dt:.2f}s rss={rss_mb:.0f}MB"
                    if verbose:
                        msg_line = next(l for l in err.splitlines() if m.group(0) in l)
                        line += f" ({rc_text}) # {msg_line.strip()[:200]}"
                    print(line, flush=True)
                sys.stdout.flush()
    finally:
        srv.terminate()
        srv.wait()

    total = time.monotonic() - t_start
    cols = [(c, m) for c, m in CLIENTS if any(k[1:] == (c, m) for k in results)]
    print()
    print(f"Time to fail in seconds (client timeout {a.timeout_ms} ms, limit {limit_s:g} s; "
          f"FAIL marks a failed case, 'hung' one killed after {kill_s:g} s):")
    head = f"| {'case':<24}|" + "".join(f" {c + ' ' + m:>15} |" for c, m in cols)
    print(head)
    print("|" + "-" * 25 + "|" + "".join("-" * 17 + "|" for _ in cols))
    for scenario in PATTERNS:
        if not any(k[0] == scenario for k in results):
            continue
        row = f"| {scenario:<24}|"
        for c, m in cols:
            r = results.get((scenario, c, m))
            if r is None:
                cell = "-"
            elif r[0]:
                cell = f"{r[1]:.2f}"
            else:
                cell = f"FAIL {r[1]:.2f}" + (" hung" if r[2] == "hung" else "")
            row += f" {cell:>15} |"
        print(row)
    print()
    print(f"tests/hostile: {len(results) - failures} of {len(results)} cases passed in {total:.0f}s")
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main())
