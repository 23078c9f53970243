//! Properties over arbitrary input: parsers never panic, conversions round-trip.

use proptest::prelude::*;
use vtremote_media::annexb::{self, annexb_to_length_prefixed, length_prefixed_to_annexb};
use vtremote_media::avcc::AvcDecoderConfig;
use vtremote_media::dts::DtsTracker;
use vtremote_media::hvcc::HevcDecoderConfig;
use vtremote_media::paramsets::{parameter_set_id, ParameterSets};
use vtremote_media::{extradata, sps, Codec};

proptest! {
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = AvcDecoderConfig::parse(&data);
        let _ = HevcDecoderConfig::parse(&data);
        for codec in [Codec::H264, Codec::Hevc] {
            let _ = extradata::to_annexb(codec, &data);
            let _ = extradata::annexb_to_record(codec, &data);
            let _ = sps::stream_info_from_sps(codec, &data);
            let _ = sps::stream_info_from_annexb(codec, &data);
            let _ = parameter_set_id(codec, &data);
            let _ = extradata::record_for_stream(codec, &data, true);
            ParameterSets::new(codec).merge(annexb::nal_units(&data));
        }
        for size in [1u8, 2, 4] {
            let _ = length_prefixed_to_annexb(&data, size);
            let _ = annexb_to_length_prefixed(&data, size);
        }
    }

    #[test]
    fn sps_with_valid_header_never_panics(body in proptest::collection::vec(any::<u8>(), 0..96)) {
        let mut h264 = vec![0x67];
        h264.extend_from_slice(&body);
        let _ = sps::parse_h264_sps(&h264);
        let mut hevc = vec![0x42, 0x01];
        hevc.extend_from_slice(&body);
        let _ = sps::parse_hevc_sps(&hevc);
    }

    #[test]
    fn damaged_hevc_sps_tails_never_panic(
        flips in proptest::collection::vec((0usize..239 * 8, any::<bool>()), 1..6),
        cut in 20usize..=239,
    ) {
        // Every branch of the SPS tail (scaling lists, RPS prediction, long-term refs, VUI),
        // with bits flipped and the end cut off.
        let mut nal = include_bytes!("fixtures/hevc_sps_all_branches.bin").to_vec();
        for (bit, set) in flips {
            if bit / 8 >= 2 {
                let mask = 0x80u8 >> (bit % 8);
                if set { nal[bit / 8] |= mask } else { nal[bit / 8] &= !mask }
            }
        }
        let _ = sps::parse_hevc_sps(&nal[..cut]);
        let _ = parameter_set_id(Codec::Hevc, &nal[..cut]);
    }

    #[test]
    fn nal_lists_round_trip(
        nals in proptest::collection::vec(proptest::collection::vec(1u8..=255, 1..64), 1..16),
        size in prop_oneof![Just(1u8), Just(2), Just(4)],
    ) {
        let mut annexb = Vec::new();
        annexb::write_annexb(&mut annexb, nals.iter().map(Vec::as_slice));
        let lp = annexb_to_length_prefixed(&annexb, size).unwrap();
        let back = length_prefixed_to_annexb(&lp, size).unwrap();
        prop_assert_eq!(&back, &annexb);
        let units: Vec<Vec<u8>> = annexb::nal_units(&back).map(<[u8]>::to_vec).collect();
        prop_assert_eq!(units, nals);
    }

    #[test]
    fn dts_is_monotonic_and_nothing_is_dropped(
        pts in proptest::collection::vec(-1000i64..1000, 0..64),
        depth in 0usize..20,
    ) {
        let mut t = DtsTracker::new(depth);
        let mut out = Vec::new();
        for (i, &p) in pts.iter().enumerate() {
            t.push(p, i);
            while let Some(x) = t.pop() { out.push(x); }
        }
        while let Some(x) = t.flush() { out.push(x); }
        prop_assert_eq!(out.iter().map(|x| x.payload).collect::<Vec<_>>(), (0..pts.len()).collect::<Vec<_>>());
        prop_assert!(out.windows(2).all(|w| w[0].dts < w[1].dts));
        let late = out.iter().filter(|x| x.dts > x.pts).count() as u64;
        prop_assert_eq!(late, t.late_violations());
    }

    #[test]
    fn shuffled_gops_within_the_window_give_dts_at_or_below_pts(
        gops in proptest::collection::vec(proptest::sample::select(vec![
            vec![0i64], vec![1, 0], vec![2, 0, 1], vec![3, 1, 0, 2], vec![3, 0, 1, 2], vec![3, 1, 2, 0],
        ]), 1..20),
    ) {
        // Decode order of mini-GOPs reordering at most 3 deep, the deepest possibly late in
        // the stream: the first packets must not be needed to learn the depth.
        let mut pts = Vec::new();
        let mut base = 0;
        for g in &gops {
            pts.extend(g.iter().map(|o| (base + o) * 10));
            base += g.len() as i64;
        }
        let mut t = DtsTracker::new(3).with_frame_duration(10);
        let mut out = Vec::new();
        for &p in &pts {
            t.push(p, ());
            while let Some(x) = t.pop() { out.push(x); }
        }
        while let Some(x) = t.flush() { out.push(x); }
        prop_assert_eq!(out.len(), pts.len());
        prop_assert!(out.windows(2).all(|w| w[0].dts < w[1].dts));
        prop_assert!(out.iter().all(|x| x.dts <= x.pts), "{:?}", out);
    }
}
