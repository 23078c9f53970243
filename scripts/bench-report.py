#!/usr/bin/env python3
"""Turns the tab-separated records the bench scripts collect into Markdown and JSON.

    bench-report.py bandwidth RECORDS.tsv OUT.md OUT.json [--wall S] [--command CMD]
    bench-report.py runs      RECORDS.tsv OUT.md OUT.json --kind overhead|ceiling [--command CMD]

bandwidth: one row per (content, size, fps, codec), client->daemon bytes per second of
video for each mode, daemon->client, and the larger of the two (what a link must carry).
runs: medians of repeated timed runs (overhead and ceiling benches; see those scripts).
Units: MB/s = 10^6 bytes per second (of video for bandwidth, of wall time for runs).
"""

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time

MODES = ["none", "lz4", "zstd", "vtl"]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "os": "%s %s" % (platform.system(), platform.release()),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def fail(msg):
    sys.stderr.write("bench-report: %s\n" % msg)
    sys.exit(1)


def raw_bytes_per_second(size, pix_fmt, fps):
    w, h = (int(v) for v in size.split("x"))
    sample = 2 if pix_fmt == "p010" else 1
    chroma = ((w + 1) // 2) * 2 * ((h + 1) // 2)
    return (w * h + chroma) * sample * fps


def mb(v):
    return "%.2f" % (v / 1e6) if v < 10e6 else "%.1f" % (v / 1e6)


def bandwidth(args):
    records = read_tsv(args.records)
    if not records:
        fail("%s holds no runs" % args.records)
    rows = []
    for r in records:
        media = float(r["media_s"])
        if media <= 0:
            fail("%s: media_s %r is not positive" % (args.records, r["media_s"]))
        bin_, bout = int(r["bytes_in"]), int(r["bytes_out"])
        fps = float(r["fps"])
        rows.append(
            {
                "content": r["content"],
                "size": r["size"],
                "fps": fps,
                "codec": r["codec"],
                "pix_fmt": r["pix_fmt"],
                "mode": r["mode"],
                "session_compression": r["session_compression"],
                "backend": r["backend"],
                "frames": int(r["frames"]),
                "media_s": media,
                "bytes_in": bin_,
                "bytes_out": bout,
                "client_to_daemon_Bps": bin_ / media,
                "daemon_to_client_Bps": bout / media,
                "max_Bps": max(bin_, bout) / media,
                "raw_Bps": raw_bytes_per_second(r["size"], r["pix_fmt"], fps),
                "wall_s": float(r["wall_s"]),
            }
        )
    groups = {}
    order = []
    for row in rows:
        key = (row["content"], row["size"], row["fps"], row["codec"])
        if key not in groups:
            groups[key] = {}
            order.append(key)
        groups[key][row["mode"]] = row
    lines = [
        "MB/s per second of video (10^6 bytes); c→d = client to daemon (raw pictures, "
        "compressed as the mode says), d→c = daemon to client (the bitstream, never "
        "compressed; shown as the largest over the four modes), MAX = the larger direction, "
        "what the link must carry. raw = uncompressed picture bytes.",
        "",
        "| content | size | fps | codec | raw | c→d none | c→d lz4 | c→d zstd | c→d vtl | d→c "
        "| MAX none | MAX lz4 | MAX zstd | MAX vtl |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    spread = 0.0
    fallbacks = []
    for key in order:
        g = groups[key]
        any_row = next(iter(g.values()))
        cells = []
        for m in MODES:
            cells.append(mb(g[m]["client_to_daemon_Bps"]) if m in g else "—")
        outs = [g[m]["daemon_to_client_Bps"] for m in MODES if m in g]
        if len(outs) > 1 and min(outs) > 0:
            spread = max(spread, max(outs) / min(outs) - 1)
        cells.append(mb(max(outs)))
        for m in MODES:
            cells.append(mb(g[m]["max_Bps"]) if m in g else "—")
        for m in MODES:
            if m in g and g[m]["session_compression"] != m:
                fallbacks.append("%s %s@%g %s: asked %s, got %s" % (key[0], key[1], key[2], key[3], m, g[m]["session_compression"]))
        codec = "H.264 NV12" if key[3] == "h264" else "HEVC P010"
        content = "BBB" if key[0] == "bbb" else key[0]
        lines.append(
            "| %s | %s | %g | %s | %s | %s |"
            % (content, key[1], key[2], codec, mb(any_row["raw_Bps"]), " | ".join(cells))
        )
    lines.append("")
    lines.append(
        "d→c differs between modes of one row by at most %.1f%% (encoder timing); "
        "backend(s): %s." % (spread * 100, ", ".join(sorted({r["backend"] for r in rows})))
    )
    if fallbacks:
        lines.append("")
        lines.append("Compression the helper chose instead of the one asked: " + "; ".join(fallbacks))
    if args.wall is not None:
        lines.append("")
        lines.append("%d sessions, %.0f s wall in all." % (len(rows), args.wall))
    write(args, "\n".join(lines) + "\n", {"unit": "bytes per second of video", "rows": rows})


def runs(args):
    """Medians per (label) of timed runs; see bench-overhead and bench-ceiling."""
    records = read_tsv(args.records)
    if not records:
        fail("%s holds no runs" % args.records)
    numeric = [k for k in records[0] if k not in ("label", "run", "note")]
    labels = []
    by = {}
    for r in records:
        if r["label"] not in by:
            by[r["label"]] = []
            labels.append(r["label"])
        by[r["label"]].append(r)
    summary = []
    for label in labels:
        rs = by[label]
        entry = {"label": label, "runs": len(rs), "note": rs[0].get("note", "")}
        for k in numeric:
            vals = [float(r[k]) for r in rs if r[k] not in ("", "n/a")]
            entry[k] = statistics.median(vals) if vals else None
            entry[k + "_all"] = vals
        summary.append(entry)
    if args.kind == "overhead":
        md = overhead_md(summary)
    else:
        md = ceiling_md(summary)
    write(args, md, {"kind": args.kind, "medians": summary, "records": records})


def fmt(v, digits=2):
    return "—" if v is None else ("%%.%df" % digits) % v


def overhead_md(summary):
    base = next((s for s in summary if s["label"] == "local"), None)
    if base is None:
        fail("no 'local' runs to compare against")
    lines = [
        "| run | wall s (median) | ratio to local | wall s, each run | client CPU s | daemon CPU s | total CPU s |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for s in summary:
        ratio = s["wall_s"] / base["wall_s"]
        lines.append(
            "| %s | %.2f | **%.2f** | %s | %s | %s | %s |"
            % (
                s["label"] + (" (" + s["note"] + ")" if s["note"] else ""),
                s["wall_s"],
                ratio,
                " / ".join("%.2f" % v for v in s["wall_s_all"]),
                fmt(s["client_cpu_s"]),
                fmt(s["daemon_cpu_s"]),
                fmt((s["client_cpu_s"] or 0) + (s["daemon_cpu_s"] or 0)),
            )
        )
        s["ratio_to_local"] = ratio
    return "\n".join(lines) + "\n"


def ceiling_md(summary):
    lines = [
        "| case | frames/s (median) | each run | MB/s raw pictures | client CPU ms/frame | daemon CPU ms/frame | wire MB/frame |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for s in summary:
        frames = s["frames"]
        lines.append(
            "| %s | **%.1f** | %s | %.0f | %.1f | %.1f | %.2f |"
            % (
                s["label"],
                s["fps"],
                " / ".join("%.1f" % v for v in s["fps_all"]),
                s["fps"] * s["raw_frame_bytes"] / 1e6,
                s["client_cpu_s"] * 1000 / frames,
                s["daemon_cpu_s"] * 1000 / frames,
                s["bytes_in"] / frames / 1e6,
            )
        )
    return "\n".join(lines) + "\n"


def write(args, md, payload):
    payload = dict(payload)
    payload["date"] = time.strftime("%Y-%m-%d")
    payload["machine"] = machine()
    if args.command:
        payload["command"] = args.command
    if getattr(args, "wall", None) is not None:
        payload["wall_s"] = args.wall
    with open(args.md, "w") as f:
        f.write(md)
    with open(args.json, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["bandwidth", "runs"])
    p.add_argument("records")
    p.add_argument("md")
    p.add_argument("json")
    p.add_argument("--wall", type=float)
    p.add_argument("--kind", choices=["overhead", "ceiling"])
    p.add_argument("--command")
    args = p.parse_args()
    if args.what == "bandwidth":
        bandwidth(args)
    else:
        if not args.kind:
            fail("runs needs --kind")
        runs(args)


if __name__ == "__main__":
    main()
