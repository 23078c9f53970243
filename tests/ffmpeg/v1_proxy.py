#!/usr/bin/env python3
"""A TCP proxy that makes vtremoted look like the original Swift daemon and checks that the
client speaks plain VTRemote v1 (spec/vtremote-v1.md) to it.

    v1_proxy.py LISTEN_PORT UPSTREAM_HOST:PORT REPORT_FILE

* HELLO_ACK is rewritten to the original server's exact 22-byte body (empty server name and
  version, codecs h264+hevc, max 4 / active 1), so the client cannot learn it is talking to
  vtremoted and must not negotiate anything.
* Every client message is parsed with the spec's layouts; anything the original server would
  reject or not understand is recorded as a violation: a type outside 1..11 or one the client
  never sends (2, 4, 8, 9), HELLO not first, CONFIGURE not second, PING before CONFIGURE_ACK,
  more than one CONFIGURE, a FRAME without exactly 2 planes, a PACKET shorter than its fixed
  part, truncated payloads, or a CONFIGURE option whose key is neither a spec §6.1/§6.2 key
  nor a `vtr_*` extension key (the original server ignores unknown keys by construction).
* The report file gets one line per connection: `conn N ok` or `conn N violation: ...`, plus
  `conn N options: k=v,...`.
"""
import socket
import struct
import sys
import threading

MAGIC = 0x56545231
SPEC_KEYS = {
    "mode", "wire_compression", "bitrate", "maxrate", "gop", "max_b_frames", "flags",
    "global_quality", "qmin", "qmax", "profile", "level", "entropy", "allow_sw", "require_sw",
    "realtime", "frames_before", "frames_after", "prio_speed", "power_efficient", "spatial_aq",
    "max_ref_frames", "max_slice_bytes", "constant_bit_rate", "alpha_quality", "color_range",
    "colorspace", "color_primaries", "color_trc", "sar_num", "sar_den", "a53_cc",
}
ORIGINAL_HELLO_ACK_TAIL = bytes.fromhex("00000000" "02" "0004") + b"h264" + bytes.fromhex("0004") + b"hevc" + bytes.fromhex("00040001")

lock = threading.Lock()


def report(path, line):
    with lock, open(path, "a") as f:
        f.write(line + "\n")


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_message(sock):
    head = read_exact(sock, 12)
    if head is None:
        return None
    magic, version, ty, length = struct.unpack(">IHHI", head)
    payload = read_exact(sock, length) if length else b""
    if payload is None:
        return None
    return magic, version, ty, head, payload


def str16(p, off):
    (n,) = struct.unpack_from(">H", p, off)
    off += 2
    if off + n > len(p):
        raise ValueError("str16 runs past the payload")
    return p[off:off + n].decode("utf-8"), off + n


def check_configure(p):
    if len(p) < 25:
        raise ValueError(f"CONFIGURE of {len(p)} bytes < 25")
    off = 25
    (count,) = struct.unpack_from(">H", p, off)
    off += 2
    opts = []
    for _ in range(count):
        k, off = str16(p, off)
        v, off = str16(p, off)
        opts.append((k, v))
    (ed,) = struct.unpack_from(">I", p, off)
    if off + 4 + ed > len(p):
        raise ValueError("CONFIGURE extradata runs past the payload")
    return opts


def check_frame(p):
    if len(p) < 21:
        raise ValueError(f"FRAME of {len(p)} bytes < 21")
    planes = p[20]
    if planes != 2:
        raise ValueError(f"FRAME with {planes} planes")
    off = 21
    for _ in range(planes):
        stride, height, n = struct.unpack_from(">III", p, off)
        off += 12 + n
        if off > len(p):
            raise ValueError("FRAME plane runs past the payload")


def client_to_server(conn_id, client, upstream, report_path, state):
    count = 0
    violations = []
    try:
        while True:
            m = read_message(client)
            if m is None:
                break
            magic, version, ty, head, payload = m
            count += 1
            try:
                if magic != MAGIC or version != 1:
                    raise ValueError(f"bad header magic={magic:#x} version={version}")
                if count == 1 and ty != 1:
                    raise ValueError(f"first message is type {ty}, not HELLO")
                if count == 2 and ty != 3:
                    raise ValueError(f"second message is type {ty}, not CONFIGURE")
                if ty in (2, 4, 8, 9) or ty < 1 or ty > 11:
                    raise ValueError(f"client sent message type {ty}")
                if ty == 1 and count != 1:
                    raise ValueError("second HELLO")
                if ty == 3:
                    if count != 2:
                        raise ValueError("second CONFIGURE")
                    opts = check_configure(payload)
                    report(report_path, f"conn {conn_id} options: " + ",".join(f"{k}={v}" for k, v in opts))
                    bad = [k for k, _ in opts if k not in SPEC_KEYS and not k.startswith("vtr_")]
                    if bad:
                        raise ValueError(f"CONFIGURE keys outside the spec: {bad}")
                    if opts and opts[0] != ("mode", opts[0][1]):
                        raise ValueError("mode is not the first CONFIGURE option")
                if ty == 10 and not state.get("configured"):
                    raise ValueError("PING before CONFIGURE_ACK")
                if ty == 5:
                    check_frame(payload)
                if ty == 6 and len(payload) < 32:
                    raise ValueError(f"PACKET of {len(payload)} bytes < 32")
            except (ValueError, struct.error, UnicodeDecodeError) as e:
                violations.append(str(e))
            upstream.sendall(head + payload)
    except OSError:
        pass
    finally:
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    report(report_path, f"conn {conn_id} " + ("ok" if not violations else "violation: " + "; ".join(violations[:5])))


def server_to_client(upstream, client, state):
    try:
        while True:
            m = read_message(upstream)
            if m is None:
                break
            magic, version, ty, head, payload = m
            if ty == 2 and payload:
                # Exactly what the original daemon sends (spec §3.2), status preserved.
                payload = payload[:1] + ORIGINAL_HELLO_ACK_TAIL
                head = struct.pack(">IHHI", magic, version, ty, len(payload))
            if ty == 4:
                state["configured"] = True
            client.sendall(head + payload)
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    port, upstream_addr, report_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host, up_port = upstream_addr.rsplit(":", 1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    print(f"v1 proxy listening on 127.0.0.1:{srv.getsockname()[1]}", flush=True)
    conn_id = 0
    while True:
        client, _ = srv.accept()
        conn_id += 1
        upstream = socket.create_connection((host, int(up_port)))
        state = {}
        threading.Thread(target=client_to_server, args=(conn_id, client, upstream, report_path, state), daemon=True).start()
        threading.Thread(target=server_to_client, args=(upstream, client, state), daemon=True).start()


if __name__ == "__main__":
    main()
