#!/usr/bin/env python3
"""A misbehaving VTRemote v1 server, for testing that clients fail cleanly.

    hostile_server.py [--listen 127.0.0.1:0] [--scenario NAME] [--list]

Listens on loopback (port 0 picks a free one; the first line on stdout is
"hostile_server listening on HOST:PORT") and plays one misbehaving scenario per connection.
With --scenario every connection plays that one; otherwise the HELLO token chooses it, so one
server serves a whole test run: `-vt_remote_token zstd_bomb` (ffmpeg) or `--token zstd_bomb`
(vtremote). Anything after a '#' in the token is a tag that only appears in the log (the test
driver uses it to find its own connection). An unknown scenario gets HELLO_ACK status 2.

The server answers the handshake like a real helper until the stage under test, so the client
is really in that stage when the bad bytes arrive; streaming scenarios wait for the client's
first FRAME (encode) or PACKET (decode) first. After the hostile message it keeps the
connection open and reads (and discards) whatever the client sends: a client that ignores the
problem hangs instead of passing by accident. The FRAME scenarios are played in encode
sessions too, where a FRAME from the server is a wrong-direction message the client must
refuse (not decompress or allocate for).

One line per event goes to stdout, flushed:
    conn N token=T event=hello|configure|delivered|end ...
"delivered" is written just before the hostile bytes are sent; the test driver requires it to
prove the client reached the stage under test.

Byte layouts: spec/vtremote-v1.md (§1.2 header, §3 payloads, §4 compression). Python 3
standard library only; zstd and LZ4 data are built by hand (RLE blocks / match sequences).
"""

import argparse
import random
import socket
import struct
import sys
import threading
import time

MAGIC = 0x56545231
VERSION = 1
HELLO, HELLO_ACK, CONFIGURE, CONFIGURE_ACK, FRAME, PACKET, FLUSH, DONE, ERROR, PING, PONG = range(1, 12)
HEADER = struct.Struct(">IHHI")
NAMES = {1: "HELLO", 2: "HELLO_ACK", 3: "CONFIGURE", 4: "CONFIGURE_ACK", 5: "FRAME", 6: "PACKET",
         7: "FLUSH", 8: "DONE", 9: "ERROR", 10: "PING", 11: "PONG"}
NONE, LZ4, ZSTD, VTL = 0, 1, 2, 3
NV12, P010 = 1, 2
GIB = 1 << 30

# How long a hostile connection is held open after its bad message, at most.
HOLD_S = 60.0

SCENARIOS = {
    # handshake
    "hello_ack_empty": "HELLO_ACK with an empty payload (no status byte)",
    "hello_ack_truncated": "HELLO_ACK header announces 22 bytes, 7 arrive, then FIN",
    "http": "an HTTP/1.1 400 reply instead of HELLO_ACK, then FIN",
    "configure_ack_empty": "CONFIGURE_ACK with an empty payload (no status byte)",
    "configure_ack_truncated": "CONFIGURE_ACK whose extradata_len (256) runs past its 10-byte payload",
    # streaming, malformed output
    "oversized_frame": "FRAME claiming 4320 rows (stride 5120) in a 320x240 session",
    "wide_frame": "FRAME claiming a 65536-byte stride for 320-pixel rows",
    "short_plane": "uncompressed FRAME whose plane 0 carries 1000 bytes for stride x rows = 76800 "
                   "(the original client's heap over-read, spec §12.15)",
    "plane_len_4g": "FRAME whose plane 0 data_len is 0xFFFFFFFF (4 GiB)",
    "zstd_bomb": "FRAME whose plane 0 is 32 KiB of zstd claiming and expanding to 1 GiB",
    "lz4_bomb": "FRAME whose plane 0 is 1 MiB of LZ4 expanding to 256 MiB",
    "vtl_garbage": "offers +vtl in HELLO_ACK (so our clients ask for it), then a FRAME whose "
                   "VTL planes are 64 KiB of random bytes",
    "header_len_4g": "PACKET (encode) / FRAME (decode) header with length 0xFFFFFFFF",
    "planes_255": "FRAME with plane_count 255",
    "packet_len_long": "PACKET whose data_len (1000000) is larger than its payload",
    "packet_len_short": "3 PACKETs whose data_len is smaller than the payload (a DONE and a PACKET "
                        "hidden in the slack), then ERROR 5",
    "output_flood": "well-formed PACKETs (encode) / FRAMEs (decode) sent without end, far more "
                    "than the inputs, never DONE",
    # streaming, transport
    "reset": "3 inputs read, 2 valid outputs sent, then a TCP reset (SO_LINGER 0)",
    "stall": "handshake completes, then silence; the connection stays open",
    "junk": "a flood of well-formed messages of unknown type 77, never a useful reply",
    "junk_trickle": "a type 77 message and a PING every 50 ms, never a useful reply (keeps the "
                    "socket busy without ever answering)",
}


def log(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


# ---------------------------------------------------------------------------------------------
# Encoding helpers

def msg(ty, payload=b"", length=None):
    return HEADER.pack(MAGIC, VERSION, ty, len(payload) if length is None else length) + payload


def str16(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def hello_ack(status=0, extensions=()):
    entries = ["h264", "hevc"] + ["+" + e for e in extensions]
    return (struct.pack(">B", status) + str16("hostile test server") + str16("0")
            + struct.pack(">B", len(entries)) + b"".join(str16(e) for e in entries)
            + struct.pack(">HH", 4, 1))


def configure_ack(pix_fmt, warning):
    return struct.pack(">BHBB", 0, 0, pix_fmt, 1) + str16(warning)


def packet(pts, data, data_len=None, flags=1, trailer=b""):
    n = len(data) if data_len is None else data_len
    return struct.pack(">qqqII", pts, pts, 0, flags, n) + data + trailer


def frame(pts, planes, plane_count=None):
    """planes: [(stride, rows, wire_bytes[, data_len])]"""
    out = struct.pack(">qqIB", pts, 1, 0, len(planes) if plane_count is None else plane_count)
    for p in planes:
        stride, rows, data = p[0], p[1], p[2]
        n = p[3] if len(p) > 3 else len(data)
        out += struct.pack(">III", stride, rows, n) + data
    return out


def error(code, text):
    return struct.pack(">I", code) + str16(text)


def zstd_rle(byte, n, declare_size=True, block=128 * 1024):
    """One zstd frame of RLE blocks decoding to n copies of byte (RFC 8878 §3.1.1)."""
    out = struct.pack("<I", 0xFD2FB528)
    if declare_size:  # Single_Segment: Window_Size = Frame_Content_Size, no window descriptor
        if n < 256:
            out += bytes([0x20, n])
        elif n - 256 < 65536:
            out += bytes([0x60]) + struct.pack("<H", n - 256)
        elif n < 1 << 32:
            out += bytes([0xA0]) + struct.pack("<I", n)
        else:
            out += bytes([0xE0]) + struct.pack("<Q", n)
    else:  # no content size; window 2^(10+7) = 128 KiB
        out += bytes([0x00, 7 << 3])
    block = min(block, 128 * 1024, n)
    left = n
    while left:
        size = min(block, left)
        left -= size
        hdr = (1 if left == 0 else 0) | (1 << 1) | (size << 3)  # Last_Block, Block_Type RLE
        out += struct.pack("<I", hdr)[:3] + bytes([byte])
    return out


def _lz4_len(n):
    """LZ4 length extension bytes for a value that overflowed its 4-bit nibble (n >= 15)."""
    n -= 15
    return b"\xff" * (n // 255) + bytes([n % 255])


def lz4_rle(byte, n):
    """A raw LZ4 block decoding to n copies of byte: 1 literal, one overlapping match at
    offset 1, and the 5 trailing literals the format requires."""
    if n < 13:
        return (bytes([min(n, 15) << 4]) + (_lz4_len(n) if n >= 15 else b"") + bytes([byte]) * n)
    ml = n - 1 - 5  # match length
    ext = ml - 4
    token = (1 << 4) | min(ext, 15)
    out = bytes([token, byte]) + struct.pack("<H", 1) + (_lz4_len(ext) if ext >= 15 else b"")
    return out + bytes([5 << 4]) + bytes([byte]) * 5


def compress(kind, byte, n):
    if kind == ZSTD:
        return zstd_rle(byte, n)
    if kind == LZ4:
        return lz4_rle(byte, n)
    return bytes([byte]) * n


# ---------------------------------------------------------------------------------------------
# Decoding helpers

class Closed(Exception):
    pass


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise Closed()
        buf += chunk
    return bytes(buf)


def read_msg(sock):
    magic, version, ty, length = HEADER.unpack(recv_exact(sock, HEADER.size))
    if magic != MAGIC or version != VERSION:
        raise ValueError(f"bad header magic=0x{magic:08x} version={version}")
    if length > 64 << 20:
        raise ValueError(f"{NAMES.get(ty, ty)} of {length} bytes is too large")
    return ty, recv_exact(sock, length)


class Cursor:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def take(self, n):
        if self.pos + n > len(self.b):
            raise ValueError("truncated")
        s = self.b[self.pos:self.pos + n]
        self.pos += n
        return s

    def u(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt)))[0]

    def s16(self):
        return self.take(self.u("H")).decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------

class Conn:
    counter = 0
    lock = threading.Lock()

    def __init__(self, sock, fixed):
        with Conn.lock:
            Conn.counter += 1
            self.n = Conn.counter
        self.sock, self.fixed = sock, fixed
        self.token = "-"
        self.scenario = fixed
        self.mode = "?"
        self.inputs = 0
        self.input_pts = []
        self.cond = threading.Condition()
        self.closed = False
        self.stop = False
        self.flush = False

    def log(self, event, *rest):
        log(f"conn {self.n} token={self.token} event={event}", *rest)

    # ---- client input, read on a separate thread once streaming ----
    def recv_exact(self, n):
        """recv_exact for the reader thread: the socket has a short timeout so that `stop`
        is noticed; a timeout never loses the bytes of a half-read message."""
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                if self.stop:
                    raise Closed()
                continue
            if not chunk:
                raise Closed()
            buf += chunk
        return bytes(buf)

    def reader(self):
        want = FRAME if self.mode == "encode" else PACKET
        try:
            while not self.stop:
                magic, version, ty, length = HEADER.unpack(self.recv_exact(HEADER.size))
                if magic != MAGIC or version != VERSION or length > 64 << 20:
                    raise ValueError("bad header from the client")
                payload = self.recv_exact(length)
                with self.cond:
                    if ty == want:
                        self.inputs += 1
                        if len(payload) >= 8:
                            self.input_pts.append(struct.unpack(">q", payload[:8])[0])
                    elif ty == FLUSH:
                        self.flush = True
                    self.cond.notify_all()
        except (Closed, OSError, ValueError, struct.error):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def start_reader(self):
        self.sock.settimeout(0.2)
        self.reader_thread = threading.Thread(target=self.reader, daemon=True)
        self.reader_thread.start()

    def stop_reader(self):
        self.stop = True
        self.reader_thread.join()

    def wait_inputs(self, k, timeout=30.0):
        with self.cond:
            self.cond.wait_for(lambda: self.inputs >= k or self.closed, timeout)
            return self.inputs >= k

    def wait_closed(self, timeout=HOLD_S):
        with self.cond:
            self.cond.wait_for(lambda: self.closed, timeout)
            return self.closed

    def send(self, data, deadline_s=10.0):
        """sendall that survives the short socket timeout without splitting a message, and
        gives up when the client has gone or stopped reading for deadline_s."""
        view = memoryview(data)
        deadline = time.monotonic() + deadline_s
        while view:
            try:
                n = self.sock.send(view)
            except socket.timeout:
                if self.closed or time.monotonic() > deadline:
                    raise Closed()
                continue
            view = view[n:]

    # ---- the session ----
    def run(self):
        reason = "done"
        try:
            reason = self.session() or "done"
        except Closed:
            reason = "client closed"
        except (OSError, ValueError, struct.error) as e:
            reason = f"{type(e).__name__}: {e}"
        finally:
            self.log("end", f"reason={reason!r}", f"inputs={self.inputs}")
            try:
                self.sock.close()
            except OSError:
                pass

    def session(self):
        s = self.sock
        s.settimeout(30)
        ty, payload = read_msg(s)
        if ty != HELLO:
            return f"first message was {NAMES.get(ty, ty)}, not HELLO"
        c = Cursor(payload)
        self.token = c.s16() or "-"
        codec = c.s16()
        client = c.s16()
        if not self.fixed:
            self.scenario = self.token.split("#", 1)[0]
        self.log("hello", f"scenario={self.scenario}", f"codec={codec}", f"client={client!r}")
        sc = self.scenario
        if sc not in SCENARIOS:
            self.send(msg(HELLO_ACK, hello_ack(status=2)))
            return f"unknown scenario {sc!r} (HELLO_ACK status 2 sent)"

        # ---- HELLO_ACK stage ----
        if sc == "hello_ack_empty":
            self.log("delivered", "HELLO_ACK length 0")
            self.send(msg(HELLO_ACK))
            return self.hold()
        if sc == "hello_ack_truncated":
            full = hello_ack()
            self.log("delivered", f"HELLO_ACK header says {len(full)} bytes, 7 sent, then FIN")
            self.send(msg(HELLO_ACK, full[:7], length=len(full)))
            s.shutdown(socket.SHUT_WR)
            return self.hold()
        if sc == "http":
            body = b"<html><head><title>400 Bad Request</title></head><body>Bad Request</body></html>\n"
            reply = (b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
            self.log("delivered", "HTTP/1.1 400 Bad Request")
            self.send(reply)
            s.shutdown(socket.SHUT_WR)
            return self.hold()
        self.send(msg(HELLO_ACK, hello_ack(extensions=("vtl",) if sc == "vtl_garbage" else ())))

        # ---- CONFIGURE ----
        ty, payload = read_msg(s)
        if ty != CONFIGURE:
            return f"second message was {NAMES.get(ty, ty)}, not CONFIGURE"
        c = Cursor(payload)
        self.width, self.height, self.pix_fmt = c.u("I"), c.u("I"), c.u("B")
        c.take(16)
        opts = {}
        for _ in range(c.u("H")):
            k = c.s16()
            opts[k] = c.s16()
        self.mode = opts.get("mode", "encode")
        try:
            self.compression = int(opts.get("wire_compression", "0"))
        except ValueError:
            self.compression = NONE
        self.log("configure", f"mode={self.mode}", f"size={self.width}x{self.height}",
                 f"pix_fmt={self.pix_fmt}", f"wire_compression={self.compression}")
        if sc == "configure_ack_empty":
            self.log("delivered", "CONFIGURE_ACK length 0")
            self.send(msg(CONFIGURE_ACK))
            return self.hold()
        if sc == "configure_ack_truncated":
            # status 0, extradata_len 256, then only 7 of those bytes
            self.log("delivered", "CONFIGURE_ACK extradata_len 256 in a 10-byte payload")
            self.send(msg(CONFIGURE_ACK, struct.pack(">BH", 0, 256) + b"\x01\x64\x00\x1f\xff\xe1\x00"))
            return self.hold()
        need = {"zstd_bomb": ZSTD, "lz4_bomb": LZ4, "short_plane": NONE, "vtl_garbage": VTL}.get(sc)
        if need is not None and self.compression != need:
            self.send(msg(ERROR, error(3, f"hostile server: scenario {sc} needs wire_compression={need}, "
                                          f"the client asked for {self.compression}")))
            return "wrong wire_compression for this scenario"
        self.send(msg(CONFIGURE_ACK, configure_ack(self.pix_fmt, f"hostile test server playing {sc}")))

        # ---- streaming ----
        self.start_reader()
        return getattr(self, "play_" + sc)()

    def hold(self):
        """Keeps the connection open, discarding input, until the client goes away."""
        self.sock.settimeout(HOLD_S)
        deadline = time.monotonic() + HOLD_S
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return "client closed"
        except OSError as e:
            return f"client gone ({type(e).__name__})"
        return "hold time over"

    def held(self):
        return "client closed" if self.wait_closed() else "hold time over"

    def first_input(self):
        if not self.wait_inputs(1):
            raise Closed()

    # geometry of the configured picture
    def row_bytes(self):
        return self.width * (2 if self.pix_fmt == P010 else 1)

    def rows(self, plane):
        return self.height if plane == 0 else (self.height + 1) // 2

    def good_output(self, i):
        """One well-formed output message: a PACKET (encode) or a grey FRAME (decode)."""
        pts = self.input_pts[i] if i < len(self.input_pts) else i
        if self.mode == "encode":
            return msg(PACKET, packet(pts, b"\x00\x00\x00\x01\x65\x88\x84\x00\x33\xff"))
        rb = self.row_bytes()
        planes = [(rb, self.rows(p), compress(self.compression, 0x80, rb * self.rows(p))) for p in (0, 1)]
        return msg(FRAME, frame(pts, planes))

    # ---- scenarios ----
    def play_oversized_frame(self):
        self.first_input()
        planes = [(5120, 4320, b"\x80" * 65536), (5120, 2160, b"\x80" * 32768)]
        self.log("delivered", "FRAME plane 0 stride 5120 rows 4320, plane 1 stride 5120 rows 2160")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_wide_frame(self):
        self.first_input()
        planes = [(0x10000, self.rows(0), b"\x80" * 65536), (0x10000, self.rows(1), b"\x80" * 32768)]
        self.log("delivered", "FRAME plane 0 stride 65536, plane 1 stride 65536")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_short_plane(self):
        self.first_input()
        rb = self.row_bytes()
        planes = [(rb, self.rows(0), b"\x80" * 1000), (rb, self.rows(1), b"\x80" * (rb * self.rows(1)))]
        self.log("delivered", f"uncompressed FRAME plane 0: 1000 bytes for {rb}x{self.rows(0)}")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_plane_len_4g(self):
        self.first_input()
        rb = self.row_bytes()
        planes = [(rb, self.rows(0), b"\x80" * 4096, 0xFFFFFFFF)]
        body = frame(0, planes, plane_count=2)
        self.log("delivered", f"FRAME plane 0 data_len 0xFFFFFFFF in a {len(body)}-byte payload")
        self.send(msg(FRAME, body))
        return self.held()

    def play_zstd_bomb(self):
        self.first_input()
        rb = self.row_bytes()
        bomb = zstd_rle(0, GIB)
        planes = [(rb, self.rows(0), bomb), (rb, self.rows(1), zstd_rle(0x80, rb * self.rows(1)))]
        self.log("delivered", f"FRAME plane 0 zstd {len(bomb)} bytes -> 1 GiB")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_lz4_bomb(self):
        self.first_input()
        rb = self.row_bytes()
        bomb = lz4_rle(0, 256 << 20)
        planes = [(rb, self.rows(0), bomb), (rb, self.rows(1), lz4_rle(0x80, rb * self.rows(1)))]
        self.log("delivered", f"FRAME plane 0 lz4 {len(bomb)} bytes -> 256 MiB")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_vtl_garbage(self):
        self.first_input()
        rb = self.row_bytes()
        rnd = random.Random(7)
        planes = [(rb, self.rows(p), bytes(rnd.getrandbits(8) for _ in range(65536))) for p in (0, 1)]
        self.log("delivered", "FRAME with 64 KiB of random bytes as each VTL plane")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_header_len_4g(self):
        self.first_input()
        ty = PACKET if self.mode == "encode" else FRAME
        self.log("delivered", f"{NAMES[ty]} header length 0xFFFFFFFF")
        self.send(HEADER.pack(MAGIC, VERSION, ty, 0xFFFFFFFF) + b"\x00" * 64)
        return self.held()

    def play_planes_255(self):
        self.first_input()
        rb = self.row_bytes()
        planes = [(rb, self.rows(0), b"")] * 255
        self.log("delivered", "FRAME plane_count 255")
        self.send(msg(FRAME, frame(0, planes)))
        return self.held()

    def play_packet_len_long(self):
        self.first_input()
        self.log("delivered", "PACKET data_len 1000000 with 100 data bytes")
        self.send(msg(PACKET, packet(0, b"\x00\x00\x00\x01\x65" + b"\x88" * 95, data_len=1000000)))
        return self.held()

    def play_packet_len_short(self):
        # data_len 6, then slack that holds a whole DONE message and a PACKET: a client that
        # framed messages by data_len instead of the header would see DONE and stop early.
        smuggled = msg(DONE) + msg(PACKET, packet(99, b"\x00\x00\x00\x01\x65\x88"))
        for i in range(3):
            if not self.wait_inputs(i + 1):
                raise Closed()
            pts = self.input_pts[i] if i < len(self.input_pts) else i
            if i == 0:
                self.log("delivered", "PACKET data_len 6 with 6 + 62 slack bytes (x3)")
            self.send(msg(PACKET, packet(pts, b"\x00\x00\x00\x01\x65\x88", trailer=smuggled)))
        self.send(msg(ERROR, error(5, "hostile server: packet_len_short ends here "
                                      "(3 PACKETs with slack after data_len were sent)")))
        return self.held()

    def play_output_flood(self):
        self.first_input()
        self.log("delivered", "endless well-formed outputs, ~2000/s")
        sent = 0
        deadline = time.monotonic() + HOLD_S
        while time.monotonic() < deadline and not self.closed:
            try:
                self.send(b"".join(self.good_output(sent + i) for i in range(20)), deadline_s=HOLD_S)
            except (Closed, OSError):
                break
            sent += 20
            time.sleep(0.01)
        return f"client gone after {sent} outputs for {self.inputs} inputs"

    def play_reset(self):
        if not self.wait_inputs(3):
            raise Closed()
        for i in range(2):
            self.send(self.good_output(i))
        self.log("delivered", "2 good outputs, then RST")
        self.stop_reader()  # a thread blocked on the socket would delay the RST
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        return "reset sent"

    def play_stall(self):
        self.log("delivered", "handshake done; silence from now on")
        return self.held()

    def play_junk(self):
        batch = b"".join(msg(77, struct.pack(">I", i) + b"junk" * 3) for i in range(512))
        self.log("delivered", "flood of type 77 messages")
        sent = 0
        deadline = time.monotonic() + HOLD_S
        while time.monotonic() < deadline and not self.closed:
            try:
                # a client that stopped reading is waited for until it goes away
                self.send(batch, deadline_s=HOLD_S)
            except (Closed, OSError):
                break
            sent += 512
            time.sleep(0.002)
        return f"client gone after {sent} junk messages"

    def play_junk_trickle(self):
        self.log("delivered", "type 77 + PING every 50 ms")
        sent = 0
        deadline = time.monotonic() + HOLD_S
        while time.monotonic() < deadline and not self.closed:
            try:
                self.send(msg(77, b"tick") + msg(PING))
            except (Closed, OSError):
                break
            sent += 1
            time.sleep(0.05)
        return f"client gone after {sent} ticks"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1:0)")
    ap.add_argument("--scenario", help="play this scenario on every connection (default: the HELLO token picks)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    a = ap.parse_args()
    if a.list:
        for k, v in SCENARIOS.items():
            print(f"{k:24} {v}")
        return 0
    if a.scenario and a.scenario not in SCENARIOS:
        ap.error(f"unknown scenario {a.scenario!r}; --list shows them")
    host, port = a.listen.rsplit(":", 1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(16)
    h, p = srv.getsockname()[:2]
    log(f"hostile_server listening on {h}:{p}")
    while True:
        c, _ = srv.accept()
        threading.Thread(target=Conn(c, a.scenario).run, daemon=True).start()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
