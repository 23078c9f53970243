//! Hostile clients against the real daemon binary over real TCP: each case gets the right
//! ERROR code with a message naming the problem, or a clean close; meanwhile a well-behaved
//! encode runs and must come out bit-exact with a run made without the suite, and the
//! daemon's peak memory must stay under a stated bound.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use vtremote_client::{Codec, WireCompression};
use vtremote_proto::{
    Configure, ErrorCode, FrameGeometry, Header, Hello, HelloStatus, Message, MessageType, Packet,
    PixelFormat, HEADER_LEN, MAGIC,
};

const MAX_SESSIONS: usize = 4;
const IDLE_MS: u64 = 1500;
/// The daemon's peak resident memory over the whole suite (4 sessions of small pictures,
/// decode pictures queued for a client that never reads, 1000 connections): what it may
/// use, with room; the point is that nothing grows with what clients announce or send.
const PEAK_RSS_BOUND_KB: u64 = 200 * 1024;

struct Daemon {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Daemon {
    let (max, idle) = (MAX_SESSIONS.to_string(), IDLE_MS.to_string());
    let (child, addr) = spawn_daemon_binary(&[
        "--no-tls",
        "--max-sessions",
        &max,
        "--idle-timeout-ms",
        &idle,
        "--log-level",
        "0",
    ]);
    Daemon { child, addr }
}

/// The suite loads a 2-core machine: the well-behaved clients wait longer than usual.
fn patient(addr: SocketAddr, wc: WireCompression) -> vtremote_client::ClientConfig {
    let mut c = client(addr, wc);
    c.timeout = Duration::from_secs(30);
    c
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn header(ty: u16, len: u32) -> Vec<u8> {
    let mut h = MAGIC.to_be_bytes().to_vec();
    h.extend_from_slice(&1u16.to_be_bytes());
    h.extend_from_slice(&ty.to_be_bytes());
    h.extend_from_slice(&len.to_be_bytes());
    h
}

fn msg(m: Message) -> Vec<u8> {
    m.to_bytes().unwrap()
}

fn hello() -> Vec<u8> {
    msg(Message::Hello(Hello {
        token: String::new(),
        codec: "h264".into(),
        client_name: "hostile".into(),
        client_build: "0".into(),
    }))
}

fn configure_with(w: u32, h: u32, pix: u8, options: &[(&str, &str)]) -> Vec<u8> {
    msg(Message::Configure(Configure {
        width: w,
        height: h,
        pix_fmt: pix,
        time_base: (1, 30),
        framerate: (30, 1),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        extradata: vec![],
    }))
}

/// 64x64 NV12 with the given CONFIGURE options (wire_compression 0 unless given).
fn configure(options: &[(&str, &str)]) -> Vec<u8> {
    let mut o = vec![("wire_compression", "0")];
    o.extend_from_slice(options);
    configure_with(64, 64, 1, &o)
}

/// A FRAME payload with the given plane records (stride, rows, data).
fn frame(planes: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&0i64.to_be_bytes());
    p.extend_from_slice(&1i64.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.push(planes.len() as u8);
    for (stride, rows, data) in planes {
        p.extend_from_slice(&stride.to_be_bytes());
        p.extend_from_slice(&rows.to_be_bytes());
        p.extend_from_slice(&(data.len() as u32).to_be_bytes());
        p.extend_from_slice(data);
    }
    let mut m = header(5, p.len() as u32);
    m.extend(p);
    m
}

fn good_planes() -> Vec<(u32, u32, Vec<u8>)> {
    vec![(64, 64, vec![16; 64 * 64]), (64, 32, vec![128; 64 * 32])]
}

#[derive(Debug)]
enum Expect {
    /// ERROR with this code, its message containing the text.
    Error(ErrorCode, &'static str),
    /// The daemon closes (maybe after HELLO_ACK/CONFIGURE_ACK) without an ERROR.
    Close,
    /// The session ends normally.
    Done,
    /// Accepted with a CONFIGURE_ACK warning containing the text (the original daemon, too,
    /// reads a bad value as its default; ours says so).
    Warned(&'static str),
}

/// Sends `steps`, then reads everything until the daemon closes (bounded), and checks the
/// last message against `expect`.
fn run_case(addr: SocketAddr, name: &str, steps: &[Vec<u8>], expect: Expect) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for step in steps {
        if s.write_all(step).is_err() {
            break; // the daemon may already have refused and closed
        }
    }
    let mut last = None;
    let t0 = Instant::now();
    loop {
        let mut h = [0u8; HEADER_LEN];
        if s.read_exact(&mut h).is_err() {
            break;
        }
        let Ok(head) = Header::decode(&h) else { break };
        let mut p = vec![0u8; head.len as usize];
        if s.read_exact(&mut p).is_err() {
            break;
        }
        let m = Message::decode(head.ty, p).unwrap();
        let done = matches!(m, Message::Done);
        last = Some(m);
        if done {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{name}: no end");
    }
    match (&expect, &last) {
        (Expect::Error(code, text), Some(Message::Error(e))) => {
            assert_eq!(e.code, *code, "{name}: {}", e.message);
            assert!(
                e.message.contains(text),
                "{name}: {:?} lacks {text:?}",
                e.message
            );
        }
        (Expect::Close, None)
        | (Expect::Close, Some(Message::HelloAck(_)))
        | (Expect::Close, Some(Message::ConfigureAck(_))) => {}
        (Expect::Done, Some(Message::Done)) => {}
        (Expect::Warned(text), Some(Message::ConfigureAck(a))) => {
            assert!(
                a.warnings.iter().any(|w| w.contains(text)),
                "{name}: {:?}",
                a.warnings
            );
        }
        _ => panic!("{name}: expected {expect:?}, got {last:?}"),
    }
}

fn zstd_bomb() -> Vec<u8> {
    // 64 MiB of zeros compress to a few KiB: far more than a 64x64 plane.
    zstd_compress(&vec![0u8; 64 << 20])
}

fn zstd_compress(data: &[u8]) -> Vec<u8> {
    let mut c =
        vtremote_proto::PlaneCompressor::new(WireCompression::Zstd, PixelFormat::Nv12).unwrap();
    let mut out = Vec::new();
    c.compress_plane(0, data, 64, true, &mut out).unwrap();
    out
}

fn cases(addr: SocketAddr) {
    use ErrorCode::*;
    let h = hello;
    let c = configure;
    let bad_magic = {
        let mut b = hello();
        b[0] = b'X';
        b
    };
    let bad_version = {
        let mut b = hello();
        b[5] = 9;
        b
    };
    let table: Vec<(&str, Vec<Vec<u8>>, Expect)> = vec![
        (
            "bad magic",
            vec![bad_magic],
            Expect::Error(BadRequest, "magic"),
        ),
        (
            "bad version",
            vec![bad_version],
            Expect::Error(BadRequest, "version"),
        ),
        (
            "unknown type first",
            vec![header(99, 0)],
            Expect::Error(BadRequest, "first message must be HELLO"),
        ),
        (
            "PING before HELLO",
            vec![header(10, 0)],
            Expect::Error(BadRequest, "first message must be HELLO"),
        ),
        (
            "HELLO of length 0",
            vec![header(1, 0)],
            Expect::Error(BadRequest, "HELLO"),
        ),
        (
            "length 0xFFFFFFFF",
            vec![header(1, u32::MAX)],
            Expect::Error(BadRequest, "HELLO"),
        ),
        (
            "truncated HELLO then close",
            vec![hello()[..20].to_vec()],
            Expect::Close,
        ),
        (
            "FRAME before CONFIGURE",
            vec![h(), frame(&good_planes())],
            Expect::Error(BadRequest, "FRAME"),
        ),
        (
            "CONFIGURE twice",
            vec![h(), c(&[]), c(&[])],
            Expect::Error(BadRequest, "CONFIGURE after the handshake"),
        ),
        (
            "HELLO twice",
            vec![h(), h()],
            Expect::Error(BadRequest, "second message must be CONFIGURE"),
        ),
        (
            "plane count 0",
            vec![h(), c(&[]), frame(&[])],
            Expect::Error(BadRequest, "plane"),
        ),
        (
            "plane count 5",
            vec![
                h(),
                c(&[]),
                frame(&[
                    good_planes()[0].clone(),
                    good_planes()[1].clone(),
                    (1, 1, vec![0]),
                    (1, 1, vec![0]),
                    (1, 1, vec![0]),
                ]),
            ],
            Expect::Error(BadRequest, "plane"),
        ),
        (
            "stride below width",
            vec![
                h(),
                c(&[]),
                frame(&[(32, 64, vec![0; 32 * 64]), good_planes()[1].clone()]),
            ],
            Expect::Error(BadRequest, "stride"),
        ),
        (
            "plane bytes past the message",
            vec![h(), c(&[]), {
                let mut f = frame(&good_planes());
                let at = HEADER_LEN + 21 + 8;
                f[at..at + 4].copy_from_slice(&(1u32 << 30).to_be_bytes());
                f
            }],
            Expect::Error(BadRequest, ""),
        ),
        (
            "rows disagree with the geometry",
            vec![
                h(),
                c(&[]),
                frame(&[(64, 63, vec![0; 64 * 63]), good_planes()[1].clone()]),
            ],
            Expect::Error(BadRequest, "rows"),
        ),
        (
            "plane shorter than its rows",
            vec![
                h(),
                c(&[]),
                frame(&[(64, 64, vec![0; 100]), good_planes()[1].clone()]),
            ],
            Expect::Error(BadRequest, "plane"),
        ),
        (
            "huge width",
            vec![h(), configure_with(100_000, 64, 1, &[])],
            Expect::Error(UnsupportedConfig, "size"),
        ),
        (
            "zero height",
            vec![h(), configure_with(64, 0, 1, &[])],
            Expect::Error(UnsupportedConfig, "size"),
        ),
        (
            "odd size for a software encoder",
            vec![h(), configure_with(63, 63, 1, &[])],
            Expect::Error(UnsupportedConfig, "even"),
        ),
        (
            "unknown pix_fmt",
            vec![h(), configure_with(64, 64, 9, &[])],
            Expect::Error(UnsupportedConfig, "pix_fmt"),
        ),
        (
            "p010 for h264 encode",
            vec![h(), configure_with(64, 64, 2, &[])],
            Expect::Error(UnsupportedConfig, "p010"),
        ),
        (
            "unknown codec",
            vec![
                msg(Message::Hello(Hello {
                    token: String::new(),
                    codec: "av1".into(),
                    client_name: "x".into(),
                    client_build: "0".into(),
                })),
                c(&[]),
            ],
            Expect::Error(UnsupportedConfig, "av1"),
        ),
        (
            "invalid option value",
            vec![h(), c(&[("bitrate", "lots")])],
            Expect::Warned("bitrate=\"lots\""),
        ),
        (
            "option value out of range",
            vec![h(), c(&[("profile", "12345")])],
            Expect::Error(UnsupportedConfig, "profile"),
        ),
        (
            "unknown wire_compression",
            vec![h(), configure_with(64, 64, 1, &[("wire_compression", "7")])],
            Expect::Error(UnsupportedCompression, "wire_compression=7"),
        ),
        (
            "corrupt zstd plane",
            vec![
                h(),
                configure_with(64, 64, 1, &[("wire_compression", "2")]),
                frame(&[
                    (64, 64, vec![0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]),
                    (64, 32, zstd_compress(&[128; 64 * 32])),
                ]),
            ],
            Expect::Error(BadRequest, "plane"),
        ),
        (
            "zstd plane that would expand past the frame",
            vec![
                h(),
                configure_with(64, 64, 1, &[("wire_compression", "2")]),
                frame(&[
                    (64, 64, zstd_bomb()),
                    (64, 32, zstd_compress(&[128; 64 * 32])),
                ]),
            ],
            Expect::Error(BadRequest, "plane"),
        ),
        (
            "corrupt VTL plane",
            vec![
                h(),
                configure_with(64, 64, 1, &[("wire_compression", "3")]),
                frame(&[(64, 64, vec![0xff; 40]), (64, 32, vec![0xff; 40])]),
            ],
            Expect::Error(BadRequest, ""),
        ),
        (
            "PACKET garbage in decode mode",
            vec![
                h(),
                c(&[("mode", "decode")]),
                msg(Message::Packet(Packet {
                    pts: 0,
                    dts: 0,
                    duration: 1,
                    flags: 1,
                    data: vec![0, 0, 0, 1, 0x65, 0xff, 0x00, 0x13],
                })),
                msg(Message::Flush),
            ],
            Expect::Error(Internal, "decode"),
        ),
        (
            "FLUSH right after CONFIGURE",
            vec![h(), c(&[]), msg(Message::Flush)],
            Expect::Done,
        ),
        (
            "client vanishing mid-frame",
            vec![h(), c(&[]), frame(&good_planes())[..3000].to_vec()],
            Expect::Close,
        ),
        (
            "HELLO at the 64 KiB bound",
            vec![msg(Message::Hello(Hello {
                token: "t".repeat(60_000),
                codec: "h264".into(),
                client_name: "x".into(),
                client_build: "0".into(),
            }))],
            Expect::Close,
        ),
        (
            "HELLO_ACK sent by a client",
            vec![h(), header(2, 0)],
            Expect::Error(BadRequest, "HELLO_ACK payload truncated"),
        ),
    ];
    for (name, steps, expect) in table {
        run_case(addr, name, &steps, expect);
    }
}

/// A header promising a payload, then one byte at a time: dropped after the idle timeout.
fn slowloris(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&header(1, 100)).unwrap();
    let t0 = Instant::now();
    while s.write_all(b"x").is_ok() {
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "slowloris client kept"
        );
        let mut probe = [0u8; 1];
        s.set_nonblocking(true).unwrap();
        let closed = matches!(s.read(&mut probe), Ok(0));
        s.set_nonblocking(false).unwrap();
        if closed {
            break;
        }
    }
}

fn idle_connection(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(s.read(&mut buf), Ok(0) | Err(_)),
        "idle connection kept"
    );
}

fn many_connections(addr: SocketAddr) {
    for _ in 0..1000 {
        drop(TcpStream::connect(addr).unwrap());
    }
}

/// A decode client that sends pictures' worth of packets and never reads: the daemon must
/// stop reading (TCP backpressure), not buffer decoded pictures without bound.
fn never_reads(addr: SocketAddr) -> TcpStream {
    let g = FrameGeometry::new(320, 240, PixelFormat::Nv12).unwrap();
    let cfg = patient(addr, WireCompression::None);
    let (stream, _, _) = remote_encode(&cfg, Codec::H264, g, &[]);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&hello()).unwrap();
    s.write_all(&configure_with(
        320,
        240,
        1,
        &[("mode", "decode"), ("wire_compression", "0")],
    ))
    .unwrap();
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let packet = msg(Message::Packet(Packet {
        pts: 0,
        dts: 0,
        duration: 1,
        flags: 1,
        data: stream,
    }));
    // Thousands of pictures: stops when TCP pushes back.
    for _ in 0..5000 {
        if s.write_all(&packet).is_err() {
            break;
        }
    }
    s
}

/// HELLO and its answer; `None` when the daemon closed the connection first (right after a
/// connection flood it closes new ones until the flood's threads have ended).
fn say_hello(addr: SocketAddr) -> Option<(TcpStream, Message)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.write_all(&hello()).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).ok()?;
    let head = Header::decode(&h).ok()?;
    let mut p = vec![0u8; head.len as usize];
    s.read_exact(&mut p).ok()?;
    Some((s, Message::decode(head.ty, p).ok()?))
}

fn busy_beyond_max(addr: SocketAddr) {
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while held.len() < MAX_SESSIONS {
        assert!(
            Instant::now() < deadline,
            "could not fill the daemon's sessions"
        );
        match say_hello(addr) {
            Some((s, Message::HelloAck(a))) if a.status == HelloStatus::Accepted => held.push(s),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    run_case(
        addr,
        "max-sessions + 1",
        &[hello()],
        Expect::Error(ErrorCode::Busy, "busy: 4 of 4"),
    );
}

#[test]
fn hostile_clients_get_named_errors_while_a_good_encode_stays_bit_exact() {
    let g = FrameGeometry::new(320, 240, PixelFormat::Nv12).unwrap();
    let options = [("realtime", "0"), ("max_b_frames", "0")];
    // The baseline, with nothing else going on.
    let baseline_daemon = start();
    let baseline = remote_encode(
        &patient(baseline_daemon.addr, WireCompression::Zstd),
        Codec::H264,
        g,
        &options,
    )
    .0;
    drop(baseline_daemon);

    let d = start();
    let addr = d.addr;
    let good = std::thread::spawn(move || {
        remote_encode(
            &patient(addr, WireCompression::Zstd),
            Codec::H264,
            g,
            &options,
        )
        .0
    });
    cases(addr);
    let stalled = never_reads(addr);
    slowloris(addr);
    idle_connection(addr);
    many_connections(addr);
    drop(stalled);
    let during = good.join().unwrap();
    busy_beyond_max(addr);
    assert!(
        during == baseline,
        "the concurrent encode differs from the baseline"
    );
    // Still serving after all that, once the sessions just closed have given their slots back.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(say_hello(addr), Some((_, Message::HelloAck(a))) if a.status == HelloStatus::Accepted)
    {
        assert!(Instant::now() < deadline, "slots never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, packets, _) = remote_encode(&patient(addr, WireCompression::Vtl), Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize);
    let peak = peak_rss_kb(d.child.id());
    assert!(
        peak > 0 && peak < PEAK_RSS_BOUND_KB,
        "daemon peak RSS {peak} kB (bound {PEAK_RSS_BOUND_KB} kB)"
    );
    eprintln!("hostile clients: daemon peak RSS {peak} kB");
}

#[test]
fn message_type_numbers_used_here_match_the_protocol() {
    assert_eq!(MessageType::Hello.to_u16(), 1);
    assert_eq!(MessageType::Frame.to_u16(), 5);
    assert_eq!(MessageType::Ping.to_u16(), 10);
}
