//! The C ABI driven the way FFmpeg drives it, against an in-process v1 server that speaks
//! only what the spec describes (no extensions).
//!
//! `sessions.rs`: encode and decode loops, reset, cookies and the log callback.
//! `hostile.rs`: every entry point with hostile arguments, on unopened and open sessions.
//! `drift.rs`: the header against the exported functions, and the struct layouts.

// Every unsafe block in these tests calls the C ABI as a C caller would, with buffers the
// test owns or with deliberately hostile arguments: the ABI's contract is what is under
// test, so a comment per call would only repeat it.
#![allow(clippy::undocumented_unsafe_blocks)]

mod drift;
mod hostile;
mod sessions;

use super::*;
use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::{ptr, thread};
use vtremote_proto::{
    encode_frame, ConfigureAck, Header, HelloAck, HelloStatus, Message, Packet, PixelFormat,
    PlaneCompressor, WireCompression, HEADER_LEN,
};

/// What the fake server saw, for assertions.
#[derive(Debug, Default)]
struct Seen {
    options: Vec<(String, String)>,
    extradata: Vec<u8>,
    frames: Vec<(i64, u32)>,
    packets: usize,
    flushes: usize,
}

fn read_msg(sock: &mut TcpStream) -> Option<Message> {
    let mut h = [0u8; HEADER_LEN];
    sock.read_exact(&mut h).ok()?;
    let h = Header::decode(&h).ok()?;
    let mut payload = vec![0; h.len as usize];
    sock.read_exact(&mut payload).ok()?;
    Message::decode(h.ty, payload).ok()
}

fn write_msg(sock: &mut TcpStream, m: &Message) {
    sock.write_all(&m.to_bytes().unwrap()).unwrap();
}

fn avcc_record() -> Vec<u8> {
    let boxed = include_bytes!("../../../../vtremote-media/tests/fixtures/h264_318x238.avcC.box");
    assert_eq!(&boxed[4..8], b"avcC");
    boxed[8..].to_vec()
}

/// A plain v1 server for one connection. `token`: required token, if any.
fn fake_server(token: Option<&'static str>) -> (String, thread::JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (addr, thread::spawn(move || serve_one(&listener, token)))
}

/// The same server for `n` connections in turn (a session that resets reconnects).
fn fake_server_for(n: usize) -> (String, thread::JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || (0..n).map(|_| serve_one(&listener, None)).collect());
    (addr, handle)
}

fn serve_one(listener: &TcpListener, token: Option<&'static str>) -> Seen {
    let mut seen = Seen::default();
    let (mut sock, _) = listener.accept().unwrap();
    let Some(Message::Hello(hello)) = read_msg(&mut sock) else {
        return seen;
    };
    let ok = token.is_none_or(|t| hello.token == t);
    write_msg(
        &mut sock,
        &Message::HelloAck(HelloAck {
            status: if ok {
                HelloStatus::Accepted
            } else {
                HelloStatus::AuthFailed
            },
            server_name: String::new(),
            server_version: String::new(),
            codecs: vec!["h264".into(), "hevc".into()],
            max_sessions: 4,
            active_sessions: 1,
        }),
    );
    if !ok {
        return seen;
    }
    let Some(Message::Configure(cfg)) = read_msg(&mut sock) else {
        return seen;
    };
    seen.options = cfg.options.clone();
    seen.extradata = cfg.extradata.clone();
    let decode = cfg.option("mode") == Some("decode");
    let wc = cfg
        .option("wire_compression")
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(WireCompression::None, |c| {
            WireCompression::from_code(c).unwrap()
        });
    let mut compressor = PlaneCompressor::new(wc, PixelFormat::Nv12).unwrap();
    write_msg(
        &mut sock,
        &Message::ConfigureAck(ConfigureAck {
            status: 0,
            extradata: if decode { Vec::new() } else { avcc_record() },
            pix_fmt: cfg.pix_fmt,
            warnings: Vec::new(),
        }),
    );
    let pix = PixelFormat::from_wire_code(cfg.pix_fmt).unwrap();
    while let Some(m) = read_msg(&mut sock) {
        match m {
            Message::Frame(f) => {
                seen.frames.push((f.pts, f.flags));
                let mut out = Vec::new();
                Packet::encode_message(
                    &mut out,
                    f.pts,
                    f.pts,
                    0,
                    f.flags & 1,
                    &[0, 0, 0, 1, 0x65, 0x88],
                );
                sock.write_all(&out).unwrap();
            }
            Message::Packet(p) => {
                seen.packets += 1;
                let fill = *p.data.last().unwrap_or(&0);
                let planes: Vec<Vec<u8>> = (0..2)
                    .map(|i| {
                        vec![fill; pix.row_bytes(i, cfg.width) * pix.plane_rows(i, cfg.height)]
                    })
                    .collect();
                let src: Vec<PlaneSource> = (0..2)
                    .map(|i| PlaneSource {
                        data: &planes[i],
                        stride: pix.row_bytes(i, cfg.width),
                        row_bytes: pix.row_bytes(i, cfg.width),
                        rows: pix.plane_rows(i, cfg.height),
                    })
                    .collect();
                let mut out = Vec::new();
                encode_frame(
                    &mut out,
                    p.pts,
                    0,
                    0,
                    &src,
                    &[],
                    &mut compressor,
                    &mut Vec::new(),
                )
                .unwrap();
                sock.write_all(&out).unwrap();
            }
            Message::Flush => {
                seen.flushes += 1;
                write_msg(&mut sock, &Message::Done);
                let _ = sock.shutdown(std::net::Shutdown::Write);
            }
            _ => {}
        }
    }
    seen
}

fn set(s: *mut VtremoteSession, k: &str, v: &str) -> VtremoteStatus {
    let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
    unsafe { vtremote_session_set_option(s, k.as_ptr(), v.as_ptr()) }
}

fn last_error(s: *mut VtremoteSession) -> String {
    unsafe { CStr::from_ptr(vtremote_session_last_error(s)) }
        .to_string_lossy()
        .into_owned()
}

fn encoder(host: &str, w: u32, h: u32) -> *mut VtremoteSession {
    let s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
    assert!(!s.is_null());
    for (k, v) in [
        ("host", host),
        ("codec", "h264"),
        ("width", &w.to_string()),
        ("height", &h.to_string()),
        ("pix_fmt", "nv12"),
        ("time_base", "1/30"),
        ("framerate", "30/1"),
        ("timeout_ms", "2000"),
        ("inflight", "4"),
        ("bitrate", "4000000"),
        ("gop", "60"),
        ("qmin", "-1"),
        ("colorspace", "2"),
        ("wire_compression", "lz4"),
    ] {
        assert_eq!(set(s, k, v), St::Ok, "{k}={v}: {}", last_error(s));
    }
    s
}

/// A session of `mode` for `host`, `width` × `height` pixels, not opened.
fn configured(mode: c_int, host: &str, width: &str, height: &str) -> *mut VtremoteSession {
    let s = vtremote_session_new(mode);
    assert!(!s.is_null());
    for (k, v) in [
        ("host", host),
        ("codec", "h264"),
        ("width", width),
        ("height", height),
        ("pix_fmt", "nv12"),
        ("time_base", "1/30"),
        ("timeout_ms", "500"),
    ] {
        assert_eq!(set(s, k, v), St::Ok, "{k}={v}: {}", last_error(s));
    }
    s
}

/// A failure with its sentence, the handle still usable (a caught panic would say
/// `Internal` and poison it).
#[track_caller]
fn assert_refused(s: *mut VtremoteSession, st: VtremoteStatus, needle: &str) {
    assert_eq!(st, St::InvalidArgument, "{}", last_error(s));
    let msg = last_error(s);
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

#[track_caller]
fn assert_not_open(s: *mut VtremoteSession, st: VtremoteStatus) {
    assert_refused(s, st, "not open");
}

fn empty_packet() -> VtremotePacket {
    VtremotePacket {
        data: ptr::null(),
        size: 0,
        pts: 0,
        dts: 0,
        duration: 0,
        flags: 0,
    }
}

fn empty_picture() -> VtremotePicture {
    VtremotePicture {
        pts: 0,
        duration: 0,
        width: 0,
        height: 0,
        pix_fmt: 0,
        data: [ptr::null(); 2],
        linesize: [0; 2],
    }
}
