//! Annex B and length-prefixed NAL unit helpers, SPS parsing, parameter-set tracking and
//! caption SEI insertion on arbitrary access units. First byte: codec and NAL length size
//! (fuzz/src/lib.rs `media_selector`); the rest is the access unit.
//!
//! Checks: Annex B → length-prefixed → Annex B keeps the NAL units.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtremote_media::annexb::{self, nal_units};
use vtremote_media::{avcc, hvcc, nal, paramsets, sei, sps, Codec};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, au)) = data.split_first() else {
        return;
    };
    let (codec, nls) = vtremote_fuzz::media_selector(sel);
    let units: Vec<&[u8]> = nal_units(au).collect();
    assert!(units.iter().all(|u| !u.is_empty() && u.last() != Some(&0)));

    if let Ok(lp) = annexb::annexb_to_length_prefixed(au, nls) {
        let back = annexb::length_prefixed_to_annexb(&lp, nls).expect("our own output parses");
        let again: Vec<&[u8]> = nal_units(&back).collect();
        assert_eq!(again, units, "Annex B → length-prefixed → Annex B");
    }
    if let Ok(it) = annexb::length_prefixed_nal_units(au, nls) {
        for u in it {
            if u.is_err() {
                break;
            }
        }
    }
    let _ = annexb::length_prefixed_to_annexb(au, nls);

    let _ = nal::access_unit_has_vcl(codec, au);
    let _ = nal::access_unit_is_random_access(codec, au);
    let mut sets = paramsets::ParameterSets::new(codec);
    let _ = sets.merge(units.iter().copied());
    let _ = (sets.is_complete(), sets.first_sps().map(<[u8]>::len));
    for u in &units {
        let _ = nal::nal_type(codec, u);
        let _ = paramsets::parameter_set_id(codec, u);
        let _ = vtremote_media::nal_to_rbsp(u);
        match codec {
            Codec::H264 => {
                let _ = sps::parse_h264_sps(u);
            }
            Codec::Hevc => {
                let _ = sps::parse_hevc_sps(u);
            }
        }
    }
    let _ = vtremote_media::stream_info_from_annexb(codec, au);
    match codec {
        Codec::H264 => {
            if let Ok(c) = avcc::AvcDecoderConfig::from_annexb(au) {
                if let Ok(b) = c.to_bytes() {
                    assert_eq!(avcc::AvcDecoderConfig::parse(&b).as_ref(), Ok(&c));
                }
            }
        }
        Codec::Hevc => {
            if let Ok(c) = hvcc::HevcDecoderConfig::from_annexb(au) {
                if let Ok(b) = c.to_bytes() {
                    assert_eq!(hvcc::HevcDecoderConfig::parse(&b).as_ref(), Ok(&c));
                }
            }
        }
    }
    let _ = vtremote_media::extradata::annexb_to_record(codec, au);

    // Captions: the access unit's tail as cc_data, inserted before the first slice.
    let cc = &au[au.len() / 2..];
    if let Ok(seinal) = sei::a53_cc_sei(codec, cc) {
        let out = sei::insert_before_first_slice(codec, au, &seinal);
        assert!(nal_units(&out).any(|u| u == seinal.as_slice()) || seinal.is_empty());
    }
    let mut q = sei::CaptionQueue::new(codec);
    q.remember(1, cc);
    let _ = q.apply_or_pass(1, au.to_vec());
});
