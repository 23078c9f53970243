//! Byte-exact vectors from the spec's worked example (§13): what the original client and
//! server put on the wire. Both directions are checked: we decode their bytes and produce
//! the same bytes ourselves.

use vtremote_proto::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .filter(|t| !t.ends_with(':') && *t != "|")
        .map(|t| u8::from_str_radix(t, 16).unwrap())
        .collect()
}

fn decode_whole(bytes: &[u8]) -> Message {
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(&bytes[..HEADER_LEN]);
    let header = Header::decode(&h).unwrap();
    assert_eq!(header.len as usize, bytes.len() - HEADER_LEN);
    Message::decode(header.ty, bytes[HEADER_LEN..].to_vec()).unwrap()
}

const HELLO: &str = "
0000: 56 54 52 31 00 01 00 01 00 00 00 28 00 06 73 65
0010: 63 72 65 74 00 04 68 32 36 34 00 0f 66 66 6d 70
0020: 65 67 2d 76 74 72 65 6d 6f 74 65 00 07 38 2e 30
0030: 2e 67 69 74";

#[test]
fn hello_matches_spec_13_1() {
    let bytes = hex(HELLO);
    let msg = Message::Hello(Hello {
        token: "secret".into(),
        codec: "h264".into(),
        client_name: "ffmpeg-vtremote".into(),
        client_build: "8.0.git".into(),
    });
    assert_eq!(msg.to_bytes().unwrap(), bytes);
    assert_eq!(decode_whole(&bytes), msg);
}

const CONFIGURE: &str = "
0000: 56 54 52 31 00 01 00 03 00 00 00 3f 00 00 00 04
0010: 00 00 00 02 01 00 00 00 01 00 00 00 19 00 00 00
0020: 19 00 00 00 01 00 02 00 04 6d 6f 64 65 00 06 65
0030: 6e 63 6f 64 65 00 07 62 69 74 72 61 74 65 00 07
0040: 32 30 30 30 30 30 30 00 00 00 00";

#[test]
fn configure_matches_spec_13_2() {
    let bytes = hex(CONFIGURE);
    let msg = Message::Configure(Configure {
        width: 4,
        height: 2,
        pix_fmt: 1,
        time_base: (1, 25),
        framerate: (25, 1),
        options: vec![
            ("mode".into(), "encode".into()),
            ("bitrate".into(), "2000000".into()),
        ],
        extradata: vec![],
    });
    assert_eq!(msg.to_bytes().unwrap(), bytes);
    assert_eq!(decode_whole(&bytes), msg);
}

#[test]
fn configure_without_trailing_blocks_is_accepted_like_the_original_server() {
    let bytes = hex(CONFIGURE);
    // Fixed 25-byte prefix only.
    let c = Configure::decode(&bytes[HEADER_LEN..HEADER_LEN + 25]).unwrap();
    assert_eq!((c.width, c.height), (4, 2));
    assert!(c.options.is_empty() && c.extradata.is_empty());
}

const FRAME_NONE: &str = "
0000: 56 54 52 31 00 01 00 05 00 00 00 39 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01
0020: 02 00 00 00 04 00 00 00 02 00 00 00 08 10 20 30
0030: 40 50 60 70 80 00 00 00 04 00 00 00 01 00 00 00
0040: 04 60 a0 60 a0";

const FRAME_LZ4: &str = "
0000: 56 54 52 31 00 01 00 05 00 00 00 3b 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01
0020: 02 00 00 00 04 00 00 00 02 00 00 00 09 80 10 20
0030: 30 40 50 60 70 80 00 00 00 04 00 00 00 01 00 00
0040: 00 05 40 60 a0 60 a0";

const Y: [u8; 8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80];
const UV: [u8; 4] = [0x60, 0xa0, 0x60, 0xa0];

fn build_frame(kind: WireCompression) -> Vec<u8> {
    let planes = [
        PlaneSource {
            data: &Y,
            stride: 4,
            row_bytes: 4,
            rows: 2,
        },
        PlaneSource {
            data: &UV,
            stride: 4,
            row_bytes: 4,
            rows: 1,
        },
    ];
    let mut out = Vec::new();
    let mut c = PlaneCompressor::new(kind, PixelFormat::Nv12).unwrap();
    encode_frame(&mut out, 0, 1, 1, &planes, &[], &mut c, &mut Vec::new()).unwrap();
    out
}

#[test]
fn frame_matches_spec_13_3_uncompressed_and_lz4() {
    assert_eq!(build_frame(WireCompression::None), hex(FRAME_NONE));
    assert_eq!(build_frame(WireCompression::Lz4), hex(FRAME_LZ4));
}

#[test]
fn spec_frames_unpack_to_the_same_pixels_in_every_compression() {
    let geo = FrameGeometry::new(4, 2, PixelFormat::Nv12).unwrap();
    let zstd_frame = build_frame(WireCompression::Zstd);
    for (kind, bytes) in [
        (WireCompression::None, hex(FRAME_NONE)),
        (WireCompression::Lz4, hex(FRAME_LZ4)),
        (WireCompression::Zstd, zstd_frame),
    ] {
        let Message::Frame(f) = decode_whole(&bytes) else {
            panic!("not a frame")
        };
        assert!(f.force_keyframe());
        assert_eq!((f.pts, f.duration), (0, 1));
        let mut d = PlaneDecompressor::new(kind, PixelFormat::Nv12).unwrap();
        let mut scratch = [Vec::new(), Vec::new()];
        let [p0, p1] = f.unpack(&geo, &mut d, &mut scratch).unwrap();
        assert_eq!(p0.data, Y, "{kind}");
        assert_eq!(p1.data, UV, "{kind}");
    }
}

#[test]
fn padded_source_rows_are_packed_tightly_on_the_wire() {
    let padded_y = [
        0x10, 0x20, 0x30, 0x40, 0xee, 0xee, 0x50, 0x60, 0x70, 0x80, 0xee, 0xee,
    ];
    let padded_uv = [0x60, 0xa0, 0x60, 0xa0, 0xee, 0xee];
    let planes = [
        PlaneSource {
            data: &padded_y,
            stride: 6,
            row_bytes: 4,
            rows: 2,
        },
        PlaneSource {
            data: &padded_uv,
            stride: 6,
            row_bytes: 4,
            rows: 1,
        },
    ];
    for kind in [WireCompression::None, WireCompression::Lz4] {
        let mut out = Vec::new();
        let mut c = PlaneCompressor::new(kind, PixelFormat::Nv12).unwrap();
        encode_frame(&mut out, 0, 1, 1, &planes, &[], &mut c, &mut Vec::new()).unwrap();
        assert_eq!(out, build_frame(kind));
    }
}

#[test]
fn server_replies_match_spec_13_4() {
    let hello_ack = hex("0000: 56 54 52 31 00 01 00 02 00 00 00 16 00 00 00 00
         0010: 00 02 00 04 68 32 36 34 00 04 68 65 76 63 00 04
         0020: 00 01");
    let msg = Message::HelloAck(HelloAck {
        status: HelloStatus::Accepted,
        server_name: String::new(),
        server_version: String::new(),
        codecs: vec!["h264".into(), "hevc".into()],
        max_sessions: 4,
        active_sessions: 1,
    });
    assert_eq!(msg.to_bytes().unwrap(), hello_ack);
    assert_eq!(decode_whole(&hello_ack), msg);

    let cack = hex("56 54 52 31 00 01 00 04 00 00 00 05 | 00 | 00 00 | 01 | 00");
    let msg = Message::ConfigureAck(ConfigureAck {
        status: 0,
        extradata: vec![],
        pix_fmt: 1,
        warnings: vec![],
    });
    assert_eq!(msg.to_bytes().unwrap(), cack);
    assert_eq!(decode_whole(&cack), msg);

    let packet = hex("0000: 56 54 52 31 00 01 00 06 00 00 00 26 00 00 00 00
         0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         0020: 00 00 00 00 00 00 00 01 00 00 00 06 00 00 00 01
         0030: 65 88");
    let msg = Message::Packet(Packet {
        pts: 0,
        dts: 0,
        duration: 0,
        flags: 1,
        data: vec![0, 0, 0, 1, 0x65, 0x88],
    });
    assert_eq!(msg.to_bytes().unwrap(), packet);
    assert_eq!(decode_whole(&packet), msg);

    for (m, ty) in [
        (Message::Flush, 7u8),
        (Message::Done, 8),
        (Message::Ping, 10),
        (Message::Pong, 11),
    ] {
        let b = m.to_bytes().unwrap();
        assert_eq!(b, [0x56, 0x54, 0x52, 0x31, 0, 1, 0, ty, 0, 0, 0, 0]);
        assert_eq!(decode_whole(&b), m);
    }

    // Our extension: SKIPPED (type 12) with a u32 count.
    let skipped = Message::Skipped(3);
    let b = skipped.to_bytes().unwrap();
    assert_eq!(
        b,
        [0x56, 0x54, 0x52, 0x31, 0, 1, 0, 12, 0, 0, 0, 4, 0, 0, 0, 3]
    );
    assert_eq!(decode_whole(&b), skipped);

    let error = hex("0000: 56 54 52 31 00 01 00 09 00 00 00 24 00 00 00 01
         0010: 00 1e 75 6e 73 75 70 70 6f 72 74 65 64 20 77 69
         0020: 72 65 5f 63 6f 6d 70 72 65 73 73 69 6f 6e 3d 33");
    let msg = Message::Error(ErrorMsg::new(
        ErrorCode::UnsupportedCompression,
        "unsupported wire_compression=3",
    ));
    assert_eq!(msg.to_bytes().unwrap(), error);
    assert_eq!(decode_whole(&error), msg);
}

#[test]
fn mock_style_error_without_length_prefix_still_shows_its_text() {
    let mut payload = 5u32.to_be_bytes().to_vec();
    payload.extend_from_slice(b"boom: bad things");
    let Message::Error(e) = Message::decode(MessageType::Error, payload).unwrap() else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::Internal);
    assert_eq!(e.message, "boom: bad things");
}

#[test]
fn overhead_constants_match_the_spec_layouts() {
    // 4x2 NV12 uncompressed: 8 luma + 4 chroma bytes of picture data in the whole message.
    let frame = build_frame(WireCompression::None);
    assert_eq!(frame.len() - Frame::message_overhead(2), 8 + 4);
    let mut packet = Vec::new();
    Packet::encode_message(&mut packet, 0, 0, 1, 1, &[0, 0, 0, 1, 0x65]);
    assert_eq!(packet.len() - Packet::MESSAGE_OVERHEAD, 5);
}
