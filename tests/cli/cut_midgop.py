#!/usr/bin/env python3
"""Cuts an H.264 Annex B stream so that it starts mid-GOP, as a live MPEG-TS feed or a cut
file does: parameter sets, then the pictures from access unit SKIP on, whose references are
missing, until the next IDR. Needs access unit delimiters (x264 `aud=1`) to split pictures.

    cut_midgop.py IN.h264 OUT.h264 SKIP     prints: pictures kept, pictures from the IDR on
"""
import sys
data = open(sys.argv[1], "rb").read()
skip = int(sys.argv[3])
# NAL units: split at 00 00 01 start codes (a 4-byte code's extra zero ends the previous unit).
pos, starts = 0, []
while True:
    i = data.find(b"\x00\x00\x01", pos)
    if i < 0:
        break
    starts.append(i + 3)
    pos = i + 3
nals = []
for k, s in enumerate(starts):
    e = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
    nal = data[s:e].rstrip(b"\x00")
    nals.append((nal[0] & 0x1F, nal))
aus = []
for t, nal in nals:
    if t == 9 or not aus:
        aus.append([])
    aus[-1].append((t, nal))
params = [nal for t, nal in aus[0] if t in (7, 8)]
kept = aus[skip:]
types = lambda au: {t for t, _ in au}
assert 5 not in types(kept[0]), "access unit %d is an IDR: not mid-GOP" % skip
idr = next(i for i, au in enumerate(kept) if 5 in types(au))
out = []
for i, au in enumerate(kept):
    for t, nal in au:
        out.append(nal)
        if i == 0 and t == 9:
            out.extend(params)  # AUD, SPS, PPS, then the first kept picture
open(sys.argv[2], "wb").write(b"".join(b"\x00\x00\x00\x01" + n for n in out))
print(len(kept), len(kept) - idr)  # pictures sent; pictures from the IDR on
