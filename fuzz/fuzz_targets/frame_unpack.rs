//! FRAME unpacking with each plane decompressor (none, lz4, zstd, VTL) for a small
//! configured geometry: `Frame::decode` then `Frame::unpack`, several frames per input so the
//! VTL chain (inter pictures predicting from the previous frame) is exercised. Input layout:
//! fuzz/src/lib.rs `frame_header` + FRAME payloads as records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_fuzz::{parse_frame_header, records, FRAME_HEADER_LEN};
use vtremote_proto::{Frame, FrameGeometry, PlaneDecompressor};

fuzz_target!(|data: &[u8]| {
    if data.len() < FRAME_HEADER_LEN {
        return;
    }
    let (kind, pix, w, h) = parse_frame_header(&data[..FRAME_HEADER_LEN]);
    let geometry = FrameGeometry::new(w, h, pix).unwrap();
    let mut dec = PlaneDecompressor::new(kind, pix).unwrap();
    let mut scratch: [Vec<u8>; 2] = Default::default();
    let limit = geometry.max_frame_payload() as usize;
    for payload in records(&data[FRAME_HEADER_LEN..]).take(8) {
        if payload.len() > limit {
            continue; // Limits::check refuses it before the payload is read
        }
        let Ok(frame) = Frame::decode(payload.to_vec()) else {
            continue;
        };
        if let Ok(views) = frame.unpack(&geometry, &mut dec, &mut scratch) {
            for (i, v) in views.iter().enumerate() {
                assert!(v.stride >= geometry.row_bytes(i));
                assert_eq!(v.data.len(), v.stride * v.rows);
            }
        }
    }
});
