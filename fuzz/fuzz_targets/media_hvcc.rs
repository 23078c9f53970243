//! hvcC records (with or without box header) as CONFIGURE extradata: parsing, the
//! conversions the backends make, and parse → serialise → parse giving the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_media::hvcc::{self, HevcDecoderConfig};
use vtremote_media::{extradata, Codec};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut cfg) = HevcDecoderConfig::parse(data) {
        let annexb = cfg.to_annexb();
        if cfg.nal_units().all(vtremote_fuzz::is_clean_nal) {
            let units: Vec<&[u8]> = vtremote_media::annexb::nal_units(&annexb).collect();
            assert!(units.iter().copied().eq(cfg.nal_units()));
        }
        if let Ok(bytes) = cfg.to_bytes() {
            let again = HevcDecoderConfig::parse(&bytes).expect("a serialised hvcC parses");
            assert_eq!(again, cfg);
        }
        let _ = cfg.check_parameter_sets();
        cfg.set_parameter_set_completeness(false);
        let _ = cfg.to_bytes();
        let _ = HevcDecoderConfig::from_annexb(&annexb);
    }
    let _ = hvcc::record_to_annexb(data);
    let _ = extradata::to_annexb(Codec::Hevc, data);
    let _ = extradata::to_record(Codec::Hevc, data);
    let _ = extradata::nal_length_size(Codec::Hevc, data);
    let _ = extradata::parameter_sets(Codec::Hevc, data);
    let _ = extradata::record_for_stream(Codec::Hevc, data, false);
    if let Ok(info) = vtremote_media::stream_info_from_extradata(Codec::Hevc, data) {
        let _ = info.reorder_depth();
    }
});
