//! A pool of helpers named in `host`: the session opens on the least loaded member that
//! answers, skipping full and unreachable ones, and says which it chose.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use vtremote_client::{
    ClientError, Codec, EncodeSession, EncoderParams, LogLevel, Logger, PixelFormat,
    WireCompression,
};
use vtremote_proto::FrameGeometry;

fn params() -> EncoderParams {
    let g = FrameGeometry::new(64, 64, PixelFormat::Nv12).unwrap();
    encoder_params(Codec::H264, g, &[])
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_least_loaded_member_is_chosen_and_full_or_dead_ones_are_skipped() {
    let full = start_daemon(None, 1);
    let busy = start_daemon(None, 4);
    let idle = start_daemon(None, 4);
    // `full` at its limit, `busy` with one session of four.
    let _hold_full = EncodeSession::connect(&client(full.addr, WireCompression::Zstd), &params())
        .expect("session on the full helper");
    let _hold_busy = EncodeSession::connect(&client(busy.addr, WireCompression::Zstd), &params())
        .expect("session on the busy helper");
    let dead = format!("127.0.0.1:{}", free_port());

    let pool = format!("{},{dead},{},{}", full.addr, busy.addr, idle.addr);
    let mut cfg = client(full.addr, WireCompression::Zstd);
    cfg.host = pool.clone();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    cfg.log = Logger::new(move |_: LogLevel, m: &str| seen.lock().unwrap().push(m.to_string()));
    let g = FrameGeometry::new(64, 64, PixelFormat::Nv12).unwrap();
    let (_, packets, _) = remote_encode(&cfg, Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize);
    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains(&format!("using {} (0 of 4 sessions in use)", idle.addr)),
        "{log}"
    );
    assert!(
        log.contains(&dead) && log.contains("busy"),
        "skips named: {log}"
    );
}

#[test]
fn a_pool_with_nobody_to_serve_names_every_member_and_why() {
    let full = start_daemon(None, 1);
    let _hold = EncodeSession::connect(&client(full.addr, WireCompression::Zstd), &params())
        .expect("session");
    let dead = format!("127.0.0.1:{}", free_port());
    let mut cfg = client(full.addr, WireCompression::Zstd);
    cfg.host = format!("{},{dead}", full.addr);
    let e = EncodeSession::connect(&cfg, &params())
        .err()
        .expect("no helper");
    assert!(matches!(e, ClientError::NoHelper { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&full.addr.to_string()) && text.contains("busy"),
        "{text}"
    );
    assert!(text.contains(&dead) && text.contains("refused"), "{text}");
}
