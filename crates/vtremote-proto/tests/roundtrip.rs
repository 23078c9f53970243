//! Property tests: every message survives encode → decode, and no byte string makes the
//! decoder panic.

use proptest::prelude::*;
use vtremote_proto::*;

fn s16() -> impl Strategy<Value = String> {
    "[a-z0-9._ -]{0,40}"
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (s16(), s16(), s16(), s16()).prop_map(|(token, codec, client_name, client_build)| {
            Message::Hello(Hello {
                token,
                codec,
                client_name,
                client_build,
            })
        }),
        (
            0u8..3,
            s16(),
            s16(),
            prop::collection::vec(s16(), 0..5),
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(st, n, v, codecs, m, a)| Message::HelloAck(HelloAck {
                status: HelloStatus::from_code(st),
                server_name: n,
                server_version: v,
                codecs,
                max_sessions: m,
                active_sessions: a,
            })),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<(u32, u32, u32, u32)>(),
            prop::collection::vec((s16(), s16()), 0..10),
            prop::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(w, h, p, (a, b, c, d), options, extradata)| {
                Message::Configure(Configure {
                    width: w,
                    height: h,
                    pix_fmt: p,
                    time_base: (a, b),
                    framerate: (c, d),
                    options,
                    extradata,
                })
            }),
        (
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..300),
            any::<u8>(),
            prop::collection::vec(s16(), 0..4)
        )
            .prop_map(|(status, extradata, pix_fmt, warnings)| {
                Message::ConfigureAck(ConfigureAck {
                    status,
                    extradata,
                    pix_fmt,
                    warnings,
                })
            }),
        (
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(pts, dts, duration, flags, data)| Message::Packet(Packet {
                pts,
                dts,
                duration,
                flags,
                data
            })),
        (any::<u32>(), s16())
            .prop_map(|(c, m)| Message::Error(ErrorMsg::new(ErrorCode::from_code(c), m))),
        Just(Message::Flush),
        Just(Message::Done),
        Just(Message::Ping),
        Just(Message::Pong),
        any::<u32>().prop_map(Message::Skipped),
    ]
}

fn split(bytes: &[u8]) -> (Header, Vec<u8>) {
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(&bytes[..HEADER_LEN]);
    (Header::decode(&h).unwrap(), bytes[HEADER_LEN..].to_vec())
}

proptest! {
    #[test]
    fn messages_round_trip(msg in message()) {
        let bytes = msg.to_bytes().unwrap();
        let (h, payload) = split(&bytes);
        prop_assert_eq!(h.len as usize, payload.len());
        prop_assert_eq!(Message::decode(h.ty, payload).unwrap(), msg);
    }

    #[test]
    fn frames_round_trip_through_every_compression(
        w in 1u32..40, h in 1u32..40, p010 in any::<bool>(), seed in any::<u8>(),
        pad in 0usize..9, kind in 0i64..3, sd in prop::collection::vec(any::<u8>(), 0..20)
    ) {
        let fmt = if p010 { PixelFormat::P010 } else { PixelFormat::Nv12 };
        let geo = FrameGeometry::new(w, h, fmt).unwrap();
        let kind = WireCompression::from_code(kind).unwrap();
        let bufs: Vec<Vec<u8>> = (0..2).map(|p| {
            let stride = geo.row_bytes(p) + pad;
            (0..stride * geo.plane_rows(p)).map(|i| (i as u8).wrapping_mul(seed)).collect()
        }).collect();
        let sources: Vec<PlaneSource> = (0..2).map(|p| PlaneSource {
            data: &bufs[p], stride: geo.row_bytes(p) + pad, row_bytes: geo.row_bytes(p),
            rows: geo.plane_rows(p),
        }).collect();
        let side = if sd.is_empty() { vec![] } else { vec![SideData { ty: 1, data: sd }] };
        let mut out = Vec::new();
        let mut c = PlaneCompressor::new(kind, geo.pix_fmt).unwrap();
        encode_frame(&mut out, 7, 1, 0, &sources, &side, &mut c, &mut Vec::new()).unwrap();
        let (hdr, payload) = split(&out);
        prop_assert!(Limits::with_geometry(&geo).check(&hdr).is_ok());
        let Message::Frame(f) = Message::decode(hdr.ty, payload).unwrap() else { panic!() };
        prop_assert_eq!(&f.side_data, &side);
        let mut d = PlaneDecompressor::new(kind, geo.pix_fmt).unwrap();
        let mut scratch = [Vec::new(), Vec::new()];
        let planes = f.unpack(&geo, &mut d, &mut scratch).unwrap();
        for p in 0..2 {
            let rb = geo.row_bytes(p);
            for row in 0..geo.plane_rows(p) {
                let s = row * (rb + pad);
                prop_assert_eq!(&planes[p].data[row * rb..(row + 1) * rb], &bufs[p][s..s + rb]);
            }
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic(ty in 1u16..13, payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::decode(MessageType::from_u16(ty), payload);
    }

    #[test]
    fn truncated_messages_are_errors_not_panics(msg in message(), cut in any::<prop::sample::Index>()) {
        let bytes = msg.to_bytes().unwrap();
        let (h, payload) = split(&bytes);
        let cut = cut.index(payload.len() + 1);
        let _ = Message::decode(h.ty, payload[..cut].to_vec());
    }
}
