//! The original C FFmpeg client (spec §3, §5, §10) emulated byte for byte against our
//! daemon: its option list, padded linesize strides, floor(h/2) chroma rows, window of 16,
//! FLUSH repeated after DONE, lock-step decode. If these pass, the unchanged fork works.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use vtremote_proto::{
    encode_frame, Configure, Frame, FrameGeometry, Header, Hello, Message, Packet, PixelFormat,
    PlaneCompressor, PlaneDecompressor, PlaneSource, WireCompression, HEADER_LEN,
};

fn send(s: &mut TcpStream, m: &Message) {
    s.write_all(&m.to_bytes().unwrap()).unwrap();
}

fn recv(s: &mut TcpStream) -> Message {
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).expect("message header");
    let h = Header::decode(&h).unwrap();
    let mut p = vec![0u8; h.len as usize];
    s.read_exact(&mut p).unwrap();
    Message::decode(h.ty, p).unwrap()
}

fn handshake(
    addr: std::net::SocketAddr,
    codec: &str,
    configure: Configure,
) -> (TcpStream, Message) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap(); // vt_remote_timeout_ms default
    send(
        &mut s,
        &Message::Hello(Hello {
            token: String::new(),
            codec: codec.into(),
            client_name: "ffmpeg-vtremote".into(),
            client_build: "8.0.git".into(),
        }),
    );
    let Message::HelloAck(ack) = recv(&mut s) else {
        panic!("HELLO_ACK")
    };
    assert_eq!(ack.status.code(), 0);
    send(&mut s, &Message::Configure(configure));
    let ack = recv(&mut s);
    (s, ack)
}

fn original_encode(codec: &str, fmt: PixelFormat, wc: u8, width: u32, height: u32) {
    let d = start_daemon(None, 4);
    let g = FrameGeometry::new(width, height, fmt).unwrap();
    let mut options = vec![("mode", "encode".to_string())];
    if wc > 0 {
        options.push(("wire_compression", wc.to_string()));
    }
    options.extend([
        ("bitrate", "1000000".to_string()),
        ("gop", "12".to_string()),
        ("flags", "4194304".to_string()),
        ("entropy", "0".to_string()),
        ("realtime", "0".to_string()),
        (
            "a53_cc",
            if codec == "h264" { "1" } else { "0" }.to_string(),
        ),
    ]);
    if codec == "hevc" {
        options.push(("max_slice_bytes", "0".into()));
    }
    let configure = Configure {
        width,
        height,
        pix_fmt: fmt.wire_code(),
        time_base: (1, 25),
        framerate: (25, 1),
        options: options
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        extradata: vec![],
    };
    let (mut s, ack) = handshake(d.addr, codec, configure);
    let Message::ConfigureAck(ack) = ack else {
        panic!("CONFIGURE_ACK, got {ack:?}")
    };
    assert_eq!(ack.status, 0);
    assert_eq!(ack.pix_fmt, fmt.wire_code());
    // The original client converts this avcC/hvcC to Annex B; it needs ≥ 23 bytes for HEVC.
    assert!(
        ack.extradata.len() >= 7 && ack.extradata[0] == 1,
        "a configuration record"
    );
    if codec == "hevc" {
        assert!(ack.extradata.len() >= 23);
    }
    let mut compressor =
        PlaneCompressor::new(WireCompression::from_code(wc as i64).unwrap()).unwrap();
    let frames = 40u32;
    let window = 16;
    let mut in_flight = 0;
    let mut packets = Vec::new();
    let luma = g.row_bytes(0) * g.plane_rows(0);
    for n in 0..frames {
        let pic = synthetic_frame(&g, n);
        // FFmpeg linesize: row bytes rounded up to 64; chroma rows floor(h/2) (§5.6).
        let linesize = |p: usize| g.row_bytes(p).div_ceil(64) * 64;
        let rows = [height as usize, height as usize / 2];
        let planes: Vec<Vec<u8>> = (0..2)
            .map(|p| {
                let base = if p == 0 { 0 } else { luma };
                let mut v = vec![0u8; linesize(p) * rows[p]];
                for r in 0..rows[p] {
                    let rb = g.row_bytes(p);
                    v[r * linesize(p)..r * linesize(p) + rb]
                        .copy_from_slice(&pic[base + r * rb..base + (r + 1) * rb]);
                }
                v
            })
            .collect();
        // The original sends linesize as stride with the padding included: build that
        // by declaring row_bytes = stride.
        let sources = [0, 1].map(|p| PlaneSource {
            data: &planes[p],
            stride: linesize(p),
            row_bytes: linesize(p),
            rows: rows[p],
        });
        let mut bytes = Vec::new();
        encode_frame(
            &mut bytes,
            n as i64,
            1,
            0,
            &sources,
            &[],
            &mut compressor,
            &mut Vec::new(),
        )
        .unwrap();
        if in_flight >= window {
            let Message::Packet(p) = recv(&mut s) else {
                panic!("PACKET")
            };
            packets.push(p);
            in_flight -= 1;
        }
        s.write_all(&bytes).unwrap();
        in_flight += 1;
    }
    // Draining: FLUSH on each drain call, then again after DONE (spec §12.16).
    send(&mut s, &Message::Flush);
    send(&mut s, &Message::Flush);
    loop {
        match recv(&mut s) {
            Message::Packet(p) => packets.push(p),
            Message::Done => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    send(&mut s, &Message::Flush);
    // Graceful close: EOF, not a reset, after our trailing FLUSH.
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    assert!(r.is_ok(), "connection closed gracefully, got {r:?}");
    assert!(rest.is_empty());
    assert_eq!(packets.len(), frames as usize, "one PACKET per FRAME");
    for w in packets.windows(2) {
        assert!(w[1].dts > w[0].dts);
    }
    // Decodable: Annex B parameter sets from the record + packets.
    let mcodec = if codec == "h264" {
        vtremote_media::Codec::H264
    } else {
        vtremote_media::Codec::Hevc
    };
    let mut stream = vtremote_media::extradata::to_annexb(mcodec, &ack.extradata).unwrap();
    for p in &packets {
        stream.extend_from_slice(&p.data);
    }
    let dir = tmpdir(&format!("orig-{codec}-{fmt}-{wc}"));
    let path = dir.join("out.bit");
    std::fs::write(&path, &stream).unwrap();
    let decoded = reference_decode(&path, fmt);
    assert_eq!(decoded.len(), g.tight_frame_bytes() * frames as usize);
}

#[test]
fn original_client_h264_encode_with_zstd() {
    original_encode("h264", PixelFormat::Nv12, 2, 320, 240);
}

#[test]
fn original_client_h264_encode_with_lz4_odd_height() {
    original_encode("h264", PixelFormat::Nv12, 1, 320, 182);
}

#[test]
fn original_client_hevc_encode_uncompressed() {
    original_encode("hevc", PixelFormat::Nv12, 0, 320, 240);
}

#[test]
fn original_client_hevc_p010_encode_with_zstd() {
    original_encode("hevc", PixelFormat::P010, 2, 320, 240);
}

#[test]
fn original_client_lock_step_decode_gets_a_frame_per_packet() {
    let d = start_daemon(None, 4);
    let g = FrameGeometry::new(320, 240, PixelFormat::Nv12).unwrap();
    // Make a stream with the system encoder (no B-frames, like a typical camera/x264 baseline).
    let dir = tmpdir("orig-decode");
    let raw = dir.join("in.yuv");
    let mut all = Vec::new();
    for n in 0..20 {
        all.extend(synthetic_frame(&g, n));
    }
    std::fs::write(&raw, &all).unwrap();
    let h264 = dir.join("in.h264");
    let st = std::process::Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "nv12", "-s", "320x240", "-i",
        ])
        .arg(&raw)
        .args(["-c:v", "libx264", "-bf", "0", "-g", "10"])
        .arg(&h264)
        .status()
        .unwrap();
    assert!(st.success());
    let data = std::fs::read(&h264).unwrap();
    let info = vtremote_media::stream_info_from_annexb(vtremote_media::Codec::H264, &data).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    let mut aus: Vec<Vec<u8>> = Vec::new();
    // Split at slice NALs with first_mb_in_slice == 0 (x264 emits one slice per picture here).
    let mut cur = Vec::new();
    for nal in vtremote_media::annexb::nal_units(&data) {
        let ty = nal[0] & 0x1f;
        if matches!(ty, 1 | 5 | 7) && cur.iter().any(|&(t, _): &(u8, &[u8])| t == 1 || t == 5) {
            aus.push(
                cur.iter()
                    .flat_map(|(_, n): &(u8, &[u8])| [&[0u8, 0, 0, 1][..], n].concat())
                    .collect(),
            );
            cur.clear();
        }
        cur.push((ty, nal));
    }
    aus.push(
        cur.iter()
            .flat_map(|(_, n)| [&[0u8, 0, 0, 1][..], n].concat())
            .collect(),
    );
    assert_eq!(aus.len(), 20);
    let extradata: Vec<u8> = aus[0][..].to_vec();
    let configure = Configure {
        width: 320,
        height: 240,
        pix_fmt: 1,
        time_base: (0, 1),
        framerate: (0, 0),
        options: vec![
            ("mode".into(), "decode".into()),
            ("wire_compression".into(), "2".into()),
        ],
        extradata,
    };
    let (mut s, ack) = handshake(d.addr, "h264", configure);
    assert!(matches!(ack, Message::ConfigureAck(_)), "{ack:?}");
    let mut dec = PlaneDecompressor::new(WireCompression::Zstd).unwrap();
    let mut frames = 0;
    for (n, au) in aus.iter().enumerate() {
        send(
            &mut s,
            &Message::Packet(Packet {
                pts: n as i64,
                dts: n as i64,
                duration: 0,
                flags: 0,
                data: au.clone(),
            }),
        );
        // Lock-step: one FRAME per PACKET, promptly (the original waits up to 5 s otherwise).
        let t0 = std::time::Instant::now();
        let Message::Frame(f) = recv(&mut s) else {
            panic!("FRAME")
        };
        assert!(t0.elapsed() < Duration::from_secs(2), "answered promptly");
        assert_eq!(f.pts, n as i64);
        check_frame(&f, &g, &mut dec);
        frames += 1;
    }
    send(&mut s, &Message::Flush);
    assert!(matches!(recv(&mut s), Message::Done));
    assert_eq!(frames, 20);
}

fn check_frame(f: &Frame, g: &FrameGeometry, dec: &mut PlaneDecompressor) {
    // The original client copies `rows` rows into a frame of the configured size: the
    // daemon must never send more than the configured geometry.
    let mut scratch = [Vec::new(), Vec::new()];
    let planes = f
        .unpack(g, dec, &mut scratch)
        .expect("planes fit the configured geometry");
    assert_eq!(planes[0].rows, 240);
    assert_eq!(planes[1].rows, 120);
}
