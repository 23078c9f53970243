//! VTL encode → decode is bit-exact: pictures built from the input, coded with one kernel
//! set and decoded with another (scalar, SSE2, AVX2 where the CPU has them), restart or
//! inter as the input says. Input layout: fuzz/src/lib.rs `vtl_header`, then per picture a
//! record: first byte bit 0 = restart, bit 1 = repeat the previous picture with this
//! record's bytes written over its start, else the bytes are tiled over the picture.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_fuzz::{parse_vtl_header, records, VTL_HEADER_LEN};
use vtremote_vtl::{PlaneDecoder, PlaneEncoder, SampleFormat};

fuzz_target!(|data: &[u8]| {
    if data.len() < VTL_HEADER_LEN {
        return;
    }
    let p = parse_vtl_header(&data[..VTL_HEADER_LEN]);
    let s = p.shape;
    let mut enc = PlaneEncoder::new(s);
    assert!(enc.set_isa(p.enc_isa));
    enc.set_threads(p.threads);
    let mut dec = PlaneDecoder::new(s);
    assert!(dec.set_isa(p.dec_isa));
    let mut prev = vec![0u8; s.bytes()];
    let mut out = vec![0u8; s.bytes()];
    let mut wire = Vec::new();
    for rec in records(&data[VTL_HEADER_LEN..]).take(4) {
        let Some((&ctl, body)) = rec.split_first() else {
            continue;
        };
        let mut pic = prev.clone();
        if ctl & 2 != 0 {
            let n = body.len().min(pic.len());
            pic[..n].copy_from_slice(&body[..n]);
        } else if !body.is_empty() {
            for (o, b) in pic.iter_mut().zip(body.iter().cycle()) {
                *o = *b;
            }
        }
        if s.format == SampleFormat::P010 && !p.dirty_p010 {
            for lo in pic.iter_mut().step_by(2) {
                *lo &= 0xC0;
            }
        }
        wire.clear();
        enc.encode(&pic, ctl & 1 != 0, &mut wire)
            .expect("a picture of the right size encodes");
        dec.decode(&wire, &mut out)
            .expect("what the encoder wrote decodes");
        assert!(out == pic, "VTL round trip is not bit-exact ({s:?})");
        prev = pic;
    }
});
