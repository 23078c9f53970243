//! End to end: the real daemon (libavcodec backend) on 127.0.0.1 driven by the real client.
//! Outputs are checked by decoding them with a reference decoder, never by exit codes.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use vtremote_client::{
    ClientConfig, ClientError, Codec, DecodeSession, DecoderParams, EncodeSession, EncoderParams,
    InputPacket, PixelFormat, Received, WireCompression,
};
use vtremote_proto::{FrameGeometry, Header, HelloAck, HelloStatus, Message};

fn check_encode(
    codec: Codec,
    fmt: PixelFormat,
    wc: WireCompression,
    options: &[(&str, &str)],
) -> Vec<u8> {
    let d = start_daemon(None, 4);
    let g = FrameGeometry::new(320, 240, fmt).unwrap();
    let (stream, packets, inputs) = remote_encode(&client(d.addr, wc), codec, g, options);
    assert_eq!(packets.len(), FRAMES as usize, "one packet per frame");
    assert!(packets[0].keyframe, "stream starts with a keyframe");
    for w in packets.windows(2) {
        assert!(
            w[1].dts > w[0].dts,
            "dts strictly increasing: {} then {}",
            w[0].dts,
            w[1].dts
        );
    }
    for p in &packets {
        assert!(p.pts >= p.dts, "pts {} < dts {}", p.pts, p.dts);
        assert!(
            p.data.starts_with(&[0, 0, 0, 1]),
            "Annex B with 4-byte start codes"
        );
    }
    let forced = packets
        .iter()
        .find(|p| p.pts == 17)
        .expect("pts 17 came back");
    assert!(forced.keyframe, "forced keyframe honoured");
    let dir = tmpdir(&format!("{codec}-{fmt}-{wc}"));
    let path = dir.join(format!("out.{codec}"));
    std::fs::write(&path, &stream).unwrap();
    let decoded = reference_decode(&path, fmt);
    let fb = g.tight_frame_bytes();
    assert_eq!(
        decoded.len(),
        fb * FRAMES as usize,
        "reference decoder sees {FRAMES} frames"
    );
    for (n, input) in inputs.iter().enumerate() {
        let psnr = luma_psnr(&g, input, &decoded[n * fb..(n + 1) * fb]);
        assert!(psnr >= 35.0, "frame {n}: PSNR {psnr:.1} dB < 35");
    }
    stream
}

#[test]
fn h264_nv12_encode_decodes_with_reference_decoder() {
    check_encode(
        Codec::H264,
        PixelFormat::Nv12,
        WireCompression::Zstd,
        &[("bitrate", "2000000")],
    );
}

#[test]
fn h264_with_b_frames_keeps_dts_valid() {
    check_encode(
        Codec::H264,
        PixelFormat::Nv12,
        WireCompression::Lz4,
        &[("bitrate", "2000000"), ("max_b_frames", "2")],
    );
}

#[test]
fn hevc_nv12_encode_decodes_with_reference_decoder() {
    check_encode(
        Codec::Hevc,
        PixelFormat::Nv12,
        WireCompression::None,
        &[("bitrate", "2000000")],
    );
}

#[test]
fn hevc_p010_main10_encode_decodes_with_reference_decoder() {
    check_encode(
        Codec::Hevc,
        PixelFormat::P010,
        WireCompression::Zstd,
        &[("bitrate", "2000000"), ("profile", "2")],
    );
}

fn remote_decode(
    cfg: &ClientConfig,
    codec: Codec,
    g: FrameGeometry,
    packets: &[vtremote_client::OutputPacket],
    extradata: Vec<u8>,
) -> Vec<u8> {
    let params = DecoderParams {
        codec,
        width: g.width,
        height: g.height,
        pix_fmt: g.pix_fmt,
        time_base: (1, 30),
        extradata,
        options: vec![],
    };
    let mut s = DecodeSession::connect(cfg, &params).expect("decode session");
    let mut out = Vec::new();
    for p in packets {
        let pkt = InputPacket {
            pts: p.pts,
            dts: p.dts,
            duration: 1,
            keyframe: p.keyframe,
            data: &p.data,
        };
        loop {
            match s.send_packet(&pkt) {
                Ok(()) => break,
                Err(ClientError::WouldBlock) => {
                    if let Received::Item(f) = s.receive_frame().unwrap() {
                        out.push(f);
                    }
                }
                Err(e) => panic!("send_packet: {e}"),
            }
        }
        while let Received::Item(f) = s.receive_frame().unwrap() {
            out.push(f);
        }
    }
    s.send_eof().unwrap();
    loop {
        match s.receive_frame().unwrap() {
            Received::Item(f) => out.push(f),
            Received::Eof => break,
            Received::Again => {}
        }
    }
    let mut bytes = Vec::new();
    for (i, f) in out.iter().enumerate() {
        assert_eq!(
            (f.width, f.height, f.pix_fmt),
            (g.width, g.height, g.pix_fmt)
        );
        if i > 0 {
            assert!(f.pts > out[i - 1].pts, "display order");
        }
        bytes.extend_from_slice(&f.planes[0]);
        bytes.extend_from_slice(&f.planes[1]);
    }
    bytes
}

fn check_remote_decode(codec: Codec, fmt: PixelFormat, options: &[(&str, &str)]) {
    let d = start_daemon(None, 4);
    let g = FrameGeometry::new(320, 240, fmt).unwrap();
    let cfg = client(d.addr, WireCompression::Zstd);
    let (stream, packets, _) = remote_encode(&cfg, codec, g, options);
    let dir = tmpdir(&format!("dec-{codec}-{fmt}"));
    let path = dir.join("in.bit");
    std::fs::write(&path, &stream).unwrap();
    let local = reference_decode(&path, fmt);
    let extradata = {
        let params_len = stream.len() - packets.iter().map(|p| p.data.len()).sum::<usize>();
        stream[..params_len].to_vec()
    };
    let remote = remote_decode(&cfg, codec, g, &packets, extradata);
    assert_eq!(remote.len(), local.len(), "same number of frames");
    assert!(
        remote == local,
        "remote decode is frame-exact with a local libavcodec decode"
    );
}

#[test]
fn remote_h264_decode_matches_local_decode_exactly() {
    check_remote_decode(Codec::H264, PixelFormat::Nv12, &[("max_b_frames", "2")]);
}

#[test]
fn remote_hevc_p010_decode_matches_local_decode_exactly() {
    check_remote_decode(Codec::Hevc, PixelFormat::P010, &[("profile", "2")]);
}

#[test]
fn repeated_wrong_tokens_from_one_address_are_slowed_then_forgiven() {
    let d = start_daemon(Some("s3cret"), 4);
    let mut cfg = client(d.addr, WireCompression::Lz4);
    let status = |cfg: &ClientConfig| vtremote_client::probe(cfg, Codec::H264).map(|_| ());
    cfg.token = "guess".into();
    // Five free failures, then the sixth starts a one-second wait.
    for _ in 0..6 {
        assert!(matches!(status(&cfg), Err(ClientError::AuthFailed { .. })));
    }
    cfg.token = "s3cret".into();
    assert!(
        matches!(status(&cfg), Err(ClientError::AuthFailed { .. })),
        "the right token is not even checked during the wait"
    );
    std::thread::sleep(Duration::from_millis(1200));
    status(&cfg).expect("the wait is over and the right token works");
    // Success cleared the record: one wrong token costs nothing again.
    cfg.token = "guess".into();
    assert!(status(&cfg).is_err());
    cfg.token = "s3cret".into();
    status(&cfg).expect("no wait after a single failure");
}

#[test]
fn wrong_token_is_refused_and_daemon_keeps_serving() {
    let d = start_daemon(Some("s3cret"), 4);
    let (_s, m) = raw_hello(d.addr, "guess");
    let Message::HelloAck(HelloAck { status, .. }) = m else {
        panic!("expected HELLO_ACK, got {m:?}")
    };
    assert_eq!(status, HelloStatus::AuthFailed);
    let mut cfg = client(d.addr, WireCompression::Lz4);
    cfg.token = "nope".into();
    let err = vtremote_client::probe(&cfg, Codec::H264).unwrap_err();
    assert!(matches!(err, ClientError::AuthFailed { .. }), "{err}");
    assert!(
        err.to_string().contains(&d.addr.to_string()),
        "error names the host: {err}"
    );
    cfg.token = "s3cret".into();
    let g = FrameGeometry::new(128, 96, PixelFormat::Nv12).unwrap();
    let (_, packets, _) = remote_encode(&cfg, Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize);
}

#[test]
fn busy_daemon_says_so_with_counts_and_recovers() {
    let d = start_daemon(None, 1);
    let cfg = client(d.addr, WireCompression::None);
    let g = FrameGeometry::new(128, 96, PixelFormat::Nv12).unwrap();
    let params = encoder_params(Codec::H264, g, &[]);
    let first = EncodeSession::connect(&cfg, &params).unwrap();
    let (mut s, m) = raw_hello(d.addr, "");
    let Message::HelloAck(ack) = m else {
        panic!("{m:?}")
    };
    assert_eq!(ack.status, HelloStatus::Busy);
    assert_eq!((ack.active_sessions, ack.max_sessions), (1, 1));
    let Some(Message::Error(e)) = read_msg(&mut s) else {
        panic!("ERROR follows a busy HELLO_ACK")
    };
    assert_eq!(e.code, vtremote_proto::ErrorCode::Busy);
    assert!(e.message.contains("1 of 1"), "{}", e.message);
    let err = EncodeSession::connect(&cfg, &params).err().expect("busy");
    assert!(
        matches!(
            err,
            ClientError::Busy {
                active: 1,
                max: 1,
                ..
            }
        ),
        "{err}"
    );
    drop(first);
    std::thread::sleep(Duration::from_millis(300));
    let (_, packets, _) = remote_encode(&cfg, Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize);
}

#[test]
fn garbage_client_gets_an_error_and_daemon_keeps_serving() {
    let d = start_daemon(None, 4);
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let Some(Message::Error(e)) = read_msg(&mut s) else {
        panic!("expected ERROR")
    };
    assert_eq!(e.code, vtremote_proto::ErrorCode::BadRequest);
    assert!(e.message.contains("bad magic"), "{}", e.message);
    // A huge unauthenticated length is refused without allocating it.
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&Header::new(vtremote_proto::MessageType::Hello, u32::MAX).encode())
        .unwrap();
    let Some(Message::Error(e)) = read_msg(&mut s) else {
        panic!("expected ERROR")
    };
    assert!(e.message.contains("exceeds the limit"), "{}", e.message);
    let g = FrameGeometry::new(128, 96, PixelFormat::Nv12).unwrap();
    let (_, packets, _) =
        remote_encode(&client(d.addr, WireCompression::Zstd), Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize);
}

#[test]
fn unsupported_configuration_is_refused_naming_the_option() {
    let d = start_daemon(None, 4);
    let cfg = client(d.addr, WireCompression::None);
    let mut params = EncoderParams {
        codec: Codec::H264,
        width: 128,
        height: 96,
        pix_fmt: PixelFormat::Nv12,
        time_base: (1, 30),
        framerate: (30, 1),
        options: vec![("profile".into(), "12345".into())],
    };
    let err = EncodeSession::connect(&cfg, &params)
        .err()
        .expect("refused");
    assert!(matches!(err, ClientError::Server { .. }), "{err}");
    assert!(err.to_string().contains("profile"), "{err}");
    params.options = vec![("wire_compression".into(), "3".into())];
    params.width = 0;
    let err = EncodeSession::connect(&cfg, &params)
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("size") || err.to_string().contains("0x96"),
        "{err}"
    );
}

#[test]
fn ping_after_configure_gets_pong() {
    let d = start_daemon(None, 4);
    let (mut s, _) = raw_hello(d.addr, "");
    let configure = vtremote_proto::Configure {
        width: 64,
        height: 64,
        pix_fmt: 1,
        time_base: (1, 25),
        framerate: (25, 1),
        options: vec![("mode".into(), "encode".into())],
        extradata: vec![],
    };
    s.write_all(&Message::Configure(configure).to_bytes().unwrap())
        .unwrap();
    assert!(matches!(read_msg(&mut s), Some(Message::ConfigureAck(_))));
    s.write_all(&Message::Ping.to_bytes().unwrap()).unwrap();
    assert_eq!(read_msg(&mut s), Some(Message::Pong));
    s.write_all(&Message::Flush.to_bytes().unwrap()).unwrap();
    assert_eq!(read_msg(&mut s), Some(Message::Done));
}

#[test]
fn silent_and_trickling_clients_are_dropped_after_the_idle_timeout() {
    let d = start_daemon_with_idle(None, 4, Duration::from_millis(400));
    let t0 = std::time::Instant::now();
    let mut silent = TcpStream::connect(d.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    // Dropped without a reply: read returns EOF well before our 5 s guard.
    assert!(matches!(silent.read(&mut buf), Ok(0) | Err(_)));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "idle client dropped promptly"
    );
    // A header promising a payload that never comes (slowloris) is dropped too.
    let mut trickle = TcpStream::connect(d.addr).unwrap();
    trickle
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    trickle
        .write_all(&Header::new(vtremote_proto::MessageType::Hello, 100).encode())
        .unwrap();
    let t1 = std::time::Instant::now();
    assert!(matches!(trickle.read(&mut buf), Ok(0) | Err(_)));
    assert!(t1.elapsed() < Duration::from_secs(3));
    let g = FrameGeometry::new(64, 64, PixelFormat::Nv12).unwrap();
    let (_, packets, _) = remote_encode(&client(d.addr, WireCompression::Lz4), Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize, "others are still served");
}
