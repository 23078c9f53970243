#!/usr/bin/env python3
"""Checks the video stream of a file with ffprobe; exits non-zero naming the first problem.

    check_stream.py FFPROBE FILE [--codec C] [--frames N] [--fps F] [--gop G]
                    [--keyframe-at I ...] [--bitrate BPS --tolerance 0.2]
                    [--bframes yes|no] [--profile P] [--pix-fmt F] [--audio-packets N]

Packets come from the container (no decoding); --bframes decodes to read picture types.
"""
import argparse
import json
import subprocess
import sys


def probe(ffprobe, path, *args):
    out = subprocess.run([ffprobe, "-v", "error", "-of", "json", *args, path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ffprobe")
    ap.add_argument("file")
    ap.add_argument("--codec")
    ap.add_argument("--frames", type=int)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--gop", type=int)
    ap.add_argument("--keyframe-at", type=int, action="append", default=[])
    ap.add_argument("--bitrate", type=float)
    ap.add_argument("--tolerance", type=float, default=0.2)
    ap.add_argument("--bframes", choices=["yes", "no"])
    ap.add_argument("--profile")
    ap.add_argument("--pix-fmt")
    ap.add_argument("--audio-packets", type=int)
    a = ap.parse_args()

    streams = probe(a.ffprobe, a.file, "-show_streams")["streams"]
    video = [s for s in streams if s["codec_type"] == "video"]
    if len(video) != 1:
        fail(f"{a.file}: {len(video)} video streams")
    v = video[0]
    if a.codec and v["codec_name"] != a.codec:
        fail(f"{a.file}: codec {v['codec_name']}, want {a.codec}")
    if a.profile and v.get("profile") != a.profile:
        fail(f"{a.file}: profile {v.get('profile')}, want {a.profile}")
    if a.pix_fmt and v.get("pix_fmt") != a.pix_fmt:
        fail(f"{a.file}: pix_fmt {v.get('pix_fmt')}, want {a.pix_fmt}")

    pkts = probe(a.ffprobe, a.file, "-select_streams", "v:0", "-show_packets")["packets"]
    n = len(pkts)
    if a.frames is not None and n != a.frames:
        fail(f"{a.file}: {n} video packets, want {a.frames}")

    # Frame index of each packet from its pts, relative to the first picture.
    pts = [float(p["pts_time"]) for p in pkts if p.get("pts_time") not in (None, "N/A")]
    if len(pts) != n:
        fail(f"{a.file}: {n - len(pts)} packets without pts")
    t0 = min(pts)
    index = [round((t - t0) * a.fps) for t in pts]
    if sorted(index) != list(range(n)):
        fail(f"{a.file}: presentation times are not one per frame at {a.fps} fps")
    keys = sorted(i for i, p in zip(index, pkts) if "K" in p.get("flags", ""))
    if a.gop:
        want = list(range(0, n, a.gop))
        if keys != want:
            fail(f"{a.file}: keyframes at {keys}, want {want}")
    for k in a.keyframe_at:
        if k not in keys:
            fail(f"{a.file}: no keyframe at frame {k} (keyframes at {keys})")

    # DTS: strictly increasing where the container has them (Matroska stores none for the
    # first reordered packets), and never after the pts.
    dts = [(float(p["dts_time"]), float(p["pts_time"])) for p in pkts if p.get("dts_time") not in (None, "N/A")]
    if n - len(dts) > 2:
        fail(f"{a.file}: {n - len(dts)} packets without dts")
    for (d0, _), (d1, _) in zip(dts, dts[1:]):
        if d1 <= d0:
            fail(f"{a.file}: dts not strictly increasing ({d0} then {d1})")
    for d, p in dts:
        if p + 1e-9 < d:
            fail(f"{a.file}: pts {p} < dts {d}")

    if a.bitrate:
        size = sum(int(p["size"]) for p in pkts)
        rate = size * 8 / (n / a.fps)
        if abs(rate - a.bitrate) > a.tolerance * a.bitrate:
            fail(f"{a.file}: {rate / 1e6:.2f} Mb/s, want {a.bitrate / 1e6:.2f} ±{a.tolerance:.0%}")

    if a.bframes:
        frames = probe(a.ffprobe, a.file, "-select_streams", "v:0", "-show_entries", "frame=pict_type")["frames"]
        b = sum(1 for f in frames if f.get("pict_type") == "B")
        if a.bframes == "yes" and b == 0:
            fail(f"{a.file}: no B-frames")
        if a.bframes == "no" and b:
            fail(f"{a.file}: {b} B-frames")

    if a.audio_packets is not None:
        audio = probe(a.ffprobe, a.file, "-select_streams", "a:0", "-show_entries", "packet=size")["packets"]
        if len(audio) != a.audio_packets:
            fail(f"{a.file}: {len(audio)} audio packets, want {a.audio_packets}")

    desc = f"{v['codec_name']} {v.get('profile')} {v.get('pix_fmt')} {n} frames, keyframes {keys[:6]}"
    if a.bitrate:
        desc += f", {rate / 1e6:.2f} Mb/s"
    print(desc)


if __name__ == "__main__":
    main()
