//! The VTL decoder on arbitrary bytes for a given plane shape: every picture must decode
//! or give an error, never panic, never write outside the output picture (guard bytes
//! around it; AddressSanitizer too when built with it). Several pictures per input so inter
//! pictures meet a reference. Input layout: fuzz/src/lib.rs `vtl_header` + pictures as records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_fuzz::{parse_vtl_header, records, Guarded, VTL_HEADER_LEN};
use vtremote_vtl::PlaneDecoder;

fuzz_target!(|data: &[u8]| {
    if data.len() < VTL_HEADER_LEN {
        return;
    }
    let p = parse_vtl_header(&data[..VTL_HEADER_LEN]);
    let mut dec = PlaneDecoder::new(p.shape);
    assert!(dec.set_isa(p.dec_isa));
    dec.set_threads(p.threads);
    let mut out = Guarded::new(p.shape.bytes());
    for wire in records(&data[VTL_HEADER_LEN..]).take(6) {
        let _ = dec.decode(wire, out.inner());
        out.check();
    }
    // A picture buffer of the wrong size is an error, not a panic.
    let mut short = vec![0u8; p.shape.bytes().saturating_sub(1)];
    if p.shape.bytes() > 0 {
        assert!(dec.decode(&data[VTL_HEADER_LEN..], &mut short).is_err());
    }
});
