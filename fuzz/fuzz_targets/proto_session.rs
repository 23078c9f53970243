//! The daemon's read path on a raw client byte stream: header, size limits, payload,
//! message decoding, CONFIGURE options and geometry, then FRAME unpacking with the
//! negotiated plane decompressor (crates/vtremoted/src/wire.rs `read_message` and the
//! CONFIGURE/FRAME handling of session.rs, without sockets). Messages are accepted in any
//! order so that every decoder is reachable; the state machine itself is not modelled here
//! (docs/fuzzing.md).
//!
//! Also checks that decoding is stable: re-encoding a decoded HELLO, CONFIGURE, FRAME,
//! PACKET or SKIPPED and decoding it again gives the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_proto::{
    ConfigureOptions, FrameGeometry, Header, Limits, Message, MessageType, PixelFormat,
    PlaneDecompressor, HEADER_LEN,
};

/// Frames larger than this are not unpacked: a 16384x16384 CONFIGURE is legal and makes the
/// daemon allocate ~1 GiB per FRAME, which is by design and only slows the fuzzer down.
const MAX_UNPACK_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut limits = Limits::default();
    let mut session: Option<(FrameGeometry, PlaneDecompressor)> = None;
    let mut scratch: [Vec<u8>; 2] = Default::default();
    let mut rest = data;
    while rest.len() >= HEADER_LEN {
        let (h, tail) = rest.split_at(HEADER_LEN);
        let Ok(header) = Header::decode(h.try_into().unwrap()) else {
            return;
        };
        if limits.check(&header).is_err() {
            return;
        }
        let len = header.len as usize;
        if tail.len() < len {
            return; // the daemon would wait, then time out
        }
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let Ok(msg) = Message::decode(header.ty, payload.to_vec()) else {
            return; // the daemon ends the session on a decode error
        };
        check_stable(&msg);
        match &msg {
            Message::Configure(c) => {
                let Ok(options) = ConfigureOptions::parse(&c.options) else {
                    return;
                };
                let Some(pix) = PixelFormat::from_wire_code(c.pix_fmt) else {
                    return;
                };
                let Ok(geometry) = FrameGeometry::new(c.width, c.height, pix) else {
                    return;
                };
                limits = Limits::with_geometry(&geometry);
                let decompressor = PlaneDecompressor::new(options.wire_compression, pix).unwrap();
                session = Some((geometry, decompressor));
                // What the backends do with the extradata.
                for codec in [vtremote_media::Codec::H264, vtremote_media::Codec::Hevc] {
                    let _ = vtremote_media::extradata::to_annexb(codec, &c.extradata);
                    let _ = vtremote_media::stream_info_from_extradata(codec, &c.extradata);
                }
            }
            Message::Frame(f) => {
                let Some((geometry, decompressor)) = session.as_mut() else {
                    continue;
                };
                if u64::from(geometry.width) * u64::from(geometry.height) > MAX_UNPACK_PIXELS {
                    continue;
                }
                if let Ok(views) = f.unpack(geometry, decompressor, &mut scratch) {
                    for v in views {
                        assert_eq!(v.data.len(), v.stride * v.rows);
                    }
                }
            }
            _ => {}
        }
    }
});

fn check_stable(msg: &Message) {
    if !matches!(
        msg.ty(),
        MessageType::Hello
            | MessageType::Configure
            | MessageType::Frame
            | MessageType::Packet
            | MessageType::Skipped
    ) {
        return;
    }
    let bytes = msg.to_bytes().expect("a decoded message re-encodes");
    let header = Header::decode(bytes[..HEADER_LEN].try_into().unwrap()).unwrap();
    assert_eq!(header.len as usize, bytes.len() - HEADER_LEN);
    let again = Message::decode(header.ty, bytes[HEADER_LEN..].to_vec()).expect("re-decodes");
    match (&again, msg) {
        // A FRAME keeps its payload buffer, trailing bytes included (tolerated like the
        // original peers do); compare what it means.
        (Message::Frame(a), Message::Frame(b)) => {
            assert_eq!(
                (a.pts, a.duration, a.flags, &a.planes.len(), &a.side_data),
                (b.pts, b.duration, b.flags, &b.planes.len(), &b.side_data)
            );
            for i in 0..a.planes.len() {
                assert_eq!(
                    (a.planes[i].stride, a.planes[i].rows, a.plane_data(i)),
                    (b.planes[i].stride, b.planes[i].rows, b.plane_data(i))
                );
            }
        }
        _ => assert_eq!(&again, msg),
    }
}
