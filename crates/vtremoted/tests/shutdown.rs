//! SIGTERM reaches every session at once: the real daemon binary with a session in its
//! handshake, one configured but idle, and one streaming frames each get an ERROR saying
//! the daemon is stopping (or finish), and the daemon exits within its documented bound
//! (`registry::STOP_DEADLINE`, 5 s, plus the time to notice the signal).

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::spawn_daemon_binary;
use vtremote_proto::{
    encode_frame, Configure, FrameGeometry, Header, Hello, Message, PixelFormat, PlaneCompressor,
    PlaneSource, WireCompression, HEADER_LEN,
};

/// The daemon's stop deadline plus generous room for a loaded CI machine: a bound on
/// hanging, not a speed goal.
const EXIT_BOUND: Duration = Duration::from_secs(15);

fn start() -> (Child, SocketAddr) {
    spawn_daemon_binary(&["--no-tls", "--max-sessions", "4"])
}

fn send(s: &mut TcpStream, m: &Message) {
    s.write_all(&m.to_bytes().unwrap()).unwrap();
}

fn recv(s: &mut TcpStream) -> Option<Message> {
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).ok()?;
    let h = Header::decode(&h).ok()?;
    let mut p = vec![0u8; h.len as usize];
    s.read_exact(&mut p).ok()?;
    Message::decode(h.ty, p).ok()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn hello(s: &mut TcpStream) {
    send(
        s,
        &Message::Hello(Hello {
            token: String::new(),
            codec: "h264".into(),
            client_name: "shutdown-test".into(),
            client_build: "0".into(),
        }),
    );
    assert!(matches!(recv(s), Some(Message::HelloAck(_))));
}

fn geometry() -> FrameGeometry {
    FrameGeometry::new(64, 64, PixelFormat::Nv12).unwrap()
}

fn configure(s: &mut TcpStream) {
    let g = geometry();
    send(
        s,
        &Message::Configure(Configure {
            width: g.width,
            height: g.height,
            pix_fmt: 1,
            time_base: (1, 30),
            framerate: (30, 1),
            options: vec![("wire_compression".into(), "0".into())],
            extradata: vec![],
        }),
    );
    assert!(matches!(recv(s), Some(Message::ConfigureAck(_))));
}

fn frame(pts: i64) -> Vec<u8> {
    let g = geometry();
    let bufs = [0, 1].map(|i| vec![(pts * 7 % 251) as u8; g.row_bytes(i) * g.plane_rows(i)]);
    let planes = [0, 1].map(|i| PlaneSource {
        data: &bufs[i],
        stride: g.row_bytes(i),
        row_bytes: g.row_bytes(i),
        rows: g.plane_rows(i),
    });
    let mut out = Vec::new();
    let mut c = PlaneCompressor::new(WireCompression::None, PixelFormat::Nv12).unwrap();
    encode_frame(&mut out, pts, 1, 0, &planes, &[], &mut c, &mut Vec::new()).unwrap();
    out
}

/// Reads everything the daemon sends until it closes; returns the last message.
fn last_message(mut s: TcpStream) -> JoinHandle<Option<Message>> {
    std::thread::spawn(move || {
        let mut last = None;
        while let Some(m) = recv(&mut s) {
            last = Some(m);
        }
        last
    })
}

fn is_stop_error(m: &Option<Message>) -> bool {
    matches!(m, Some(Message::Error(e)) if e.message.contains("daemon shutting down"))
}

#[test]
fn sigterm_stops_handshaking_idle_and_streaming_sessions_with_an_error_and_exits_in_bound() {
    let (mut daemon, addr) = start();

    let mut before_hello = connect(addr);
    // Something must reach the daemon so that the session exists before the signal.
    before_hello.write_all(&[]).unwrap();
    let mut in_handshake = connect(addr);
    hello(&mut in_handshake);
    let mut idle = connect(addr);
    hello(&mut idle);
    configure(&mut idle);
    let mut streaming = connect(addr);
    hello(&mut streaming);
    configure(&mut streaming);

    let stop_writing = Arc::new(AtomicBool::new(false));
    let mut writer = streaming.try_clone().unwrap();
    let writing = {
        let stop = stop_writing.clone();
        std::thread::spawn(move || {
            let mut pts = 0;
            while !stop.load(Ordering::Acquire) && writer.write_all(&frame(pts)).is_ok() {
                pts += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            pts
        })
    };
    // Streaming for real: packets are coming back.
    assert!(matches!(recv(&mut streaming), Some(Message::Packet(_))));
    let readers = [before_hello, in_handshake, idle, streaming].map(last_message);

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > EXIT_BOUND {
            let _ = daemon.kill();
            panic!("daemon still running {EXIT_BOUND:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "daemon exit: {status}");
    stop_writing.store(true, Ordering::Release);
    assert!(writing.join().unwrap() > 0);

    let [before_hello, in_handshake, idle, streaming] = readers.map(|r| r.join().unwrap());
    // A connection that never said HELLO is not yet speaking the protocol: an ERROR or a
    // plain close are both fine for it.
    assert!(
        before_hello.is_none() || is_stop_error(&before_hello),
        "{before_hello:?}"
    );
    assert!(is_stop_error(&in_handshake), "handshake: {in_handshake:?}");
    assert!(is_stop_error(&idle), "idle: {idle:?}");
    assert!(
        is_stop_error(&streaming) || matches!(streaming, Some(Message::Done)),
        "streaming: {streaming:?}"
    );
}
