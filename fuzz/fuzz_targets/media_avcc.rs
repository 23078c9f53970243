//! avcC records (with or without box header) as CONFIGURE extradata: parsing, the
//! conversions the backends make, and parse → serialise → parse giving the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_media::avcc::{self, AvcDecoderConfig};
use vtremote_media::{extradata, Codec};

fuzz_target!(|data: &[u8]| {
    if let Ok(cfg) = AvcDecoderConfig::parse(data) {
        let annexb = cfg.to_annexb();
        if cfg.parameter_sets().all(vtremote_fuzz::is_clean_nal) {
            let units: Vec<&[u8]> = vtremote_media::annexb::nal_units(&annexb).collect();
            assert!(units.iter().copied().eq(cfg.parameter_sets()));
        }
        if let Ok(bytes) = cfg.to_bytes() {
            let again = AvcDecoderConfig::parse(&bytes).expect("a serialised avcC parses");
            assert_eq!(again, cfg);
        }
        let _ = AvcDecoderConfig::from_annexb(&annexb);
    }
    let _ = avcc::record_to_annexb(data);
    let _ = extradata::to_annexb(Codec::H264, data);
    let _ = extradata::to_record(Codec::H264, data);
    let _ = extradata::nal_length_size(Codec::H264, data);
    let _ = extradata::parameter_sets(Codec::H264, data);
    let _ = extradata::record_for_stream(Codec::H264, data, true);
    if let Ok(info) = vtremote_media::stream_info_from_extradata(Codec::H264, data) {
        let _ = info.reorder_depth();
    }
});
