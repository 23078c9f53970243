//! Tests against real libx264/libx265 output and the records FFmpeg's mp4 muxer wrote for
//! it (see fixtures/README.md).

use vtremote_media::annexb::{
    self, annexb_to_length_prefixed, length_prefixed_to_annexb, nal_units,
};
use vtremote_media::avcc::AvcDecoderConfig;
use vtremote_media::dts::DtsTracker;
use vtremote_media::hvcc::HevcDecoderConfig;
use vtremote_media::{
    extradata, nal, sps, stream_info_from_annexb, stream_info_from_extradata, Codec,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The parameter sets at the start of a stream, as Annex B with 4-byte start codes.
fn parameter_sets(codec: Codec, stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    annexb::write_annexb(
        &mut out,
        nal_units(stream)
            .take_while(|n| !nal::is_random_access(codec, n))
            .filter(|n| nal::is_parameter_set(codec, n)),
    );
    out
}

#[test]
fn h264_sps_dimensions_match_ffprobe() {
    for (name, w, h, chroma) in [
        ("h264_320x240_bf2.h264", 320, 240, 1),
        ("h264_318x238.h264", 318, 238, 1),
        ("h264_high422_320x240.h264", 320, 240, 2),
    ] {
        let info = stream_info_from_annexb(Codec::H264, &fixture(name)).unwrap();
        assert_eq!((info.width, info.height), (w, h), "{name}");
        assert_eq!(info.chroma_format_idc, chroma, "{name}");
        assert_eq!(
            (info.bit_depth_luma, info.bit_depth_chroma),
            (8, 8),
            "{name}"
        );
        assert_eq!(info.level_idc, 13, "{name}");
        assert_eq!(info.max_num_reorder_frames, Some(2), "{name}");
    }
    let high422 = stream_info_from_annexb(Codec::H264, &fixture("h264_high422_320x240.h264"));
    assert_eq!(high422.unwrap().profile_idc, 122);
}

#[test]
fn hevc_sps_dimensions_and_bit_depth_match_ffprobe() {
    let main10 =
        stream_info_from_annexb(Codec::Hevc, &fixture("hevc_320x240_main10.h265")).unwrap();
    assert_eq!((main10.width, main10.height), (320, 240));
    assert_eq!((main10.bit_depth_luma, main10.bit_depth_chroma), (10, 10));
    assert_eq!((main10.profile_idc, main10.level_idc), (2, 60));
    assert_eq!(main10.chroma_format_idc, 1);

    assert_eq!(main10.video_full_range, Some(false));

    let odd = stream_info_from_annexb(Codec::Hevc, &fixture("hevc_318x238.h265")).unwrap();
    assert_eq!((odd.width, odd.height), (318, 238));
    assert_eq!((odd.bit_depth_luma, odd.profile_idc), (8, 1));

    let sps_nal = nal_units(&fixture("hevc_318x238.h265"))
        .find(|n| nal::nal_type(Codec::Hevc, n) == nal::hevc::SPS)
        .unwrap()
        .to_vec();
    let parsed = sps::parse_hevc_sps(&sps_nal).unwrap();
    assert_eq!((parsed.coded_width, parsed.coded_height), (320, 240));
}

#[test]
fn avcc_built_from_annexb_matches_ffmpeg_byte_for_byte() {
    let stream = fixture("h264_318x238.h264");
    let ffmpeg_box = fixture("h264_318x238.avcC.box");
    let built =
        extradata::annexb_to_record(Codec::H264, &parameter_sets(Codec::H264, &stream)).unwrap();
    assert_eq!(built, ffmpeg_box[8..]);
}

#[test]
fn avcc_box_converts_to_the_streams_parameter_sets() {
    let stream = fixture("h264_318x238.h264");
    let ffmpeg_box = fixture("h264_318x238.avcC.box");
    let config = AvcDecoderConfig::parse(&ffmpeg_box).unwrap();
    assert_eq!(config.nal_length_size, 4);
    assert_eq!((config.sps.len(), config.pps.len()), (1, 1));
    assert_eq!(config.profile_idc, 100);
    let ext = config.high_profile_ext.as_ref().unwrap();
    assert_eq!((ext.chroma_format_idc, ext.bit_depth_luma), (1, 8));
    let annexb = parameter_sets(Codec::H264, &stream);
    assert_eq!(config.to_annexb(), annexb);
    // With and without the box header, through the codec-generic entry point.
    assert_eq!(
        extradata::to_annexb(Codec::H264, &ffmpeg_box).unwrap(),
        annexb
    );
    assert_eq!(
        extradata::to_annexb(Codec::H264, &ffmpeg_box[8..]).unwrap(),
        annexb
    );
    let info = stream_info_from_extradata(Codec::H264, &ffmpeg_box).unwrap();
    assert_eq!((info.width, info.height), (318, 238));
}

#[test]
fn hvcc_built_from_annexb_matches_ffmpeg_byte_for_byte() {
    let stream = fixture("hevc_320x240_main10.h265");
    let ffmpeg_record = fixture("hevc_320x240_main10.hvcC");
    let built =
        extradata::annexb_to_record(Codec::Hevc, &parameter_sets(Codec::Hevc, &stream)).unwrap();
    assert_eq!(built, ffmpeg_record);
}

#[test]
fn a_stream_with_in_band_parameter_sets_publishes_incomplete_hvcc_arrays() {
    let stream = fixture("hevc_320x240_main10.h265");
    let ffmpeg_record = fixture("hevc_320x240_main10.hvcC");
    // FFmpeg wrote this record for 'hvc1': every array complete.
    let hvc1 = HevcDecoderConfig::parse(&ffmpeg_record).unwrap();
    assert!(hvc1.arrays.iter().all(|a| a.completeness));
    for source in [ffmpeg_record.clone(), parameter_sets(Codec::Hevc, &stream)] {
        let in_band = extradata::record_for_stream(Codec::Hevc, &source, true).unwrap();
        let parsed = HevcDecoderConfig::parse(&in_band).unwrap();
        assert!(parsed.arrays.iter().all(|a| !a.completeness));
        assert_eq!(parsed.to_annexb(), hvc1.to_annexb(), "same units");
        assert_eq!(
            extradata::record_for_stream(Codec::Hevc, &source, false).unwrap(),
            ffmpeg_record
        );
    }
    // avcC has no completeness flag: the record passes unchanged.
    let avcc = &fixture("h264_318x238.avcC.box")[8..];
    assert_eq!(
        extradata::record_for_stream(Codec::H264, avcc, true).unwrap(),
        avcc
    );
    assert!(extradata::record_for_stream(Codec::H264, &avcc[..6], true).is_err());
}

#[test]
fn hvcc_record_converts_to_vps_sps_pps_in_array_order() {
    let stream = fixture("hevc_320x240_main10.h265");
    let record = HevcDecoderConfig::parse(&fixture("hevc_320x240_main10.hvcC")).unwrap();
    let types: Vec<u8> = record.arrays.iter().map(|a| a.nal_type).collect();
    assert_eq!(types, [32, 33, 34]);
    assert_eq!(record.nal_length_size, 4);
    assert_eq!((record.bit_depth_luma, record.chroma_format_idc), (10, 1));
    assert_eq!(record.to_annexb(), parameter_sets(Codec::Hevc, &stream));
    let info =
        stream_info_from_extradata(Codec::Hevc, &fixture("hevc_320x240_main10.hvcC")).unwrap();
    assert_eq!(
        (info.width, info.height, info.bit_depth_luma),
        (320, 240, 10)
    );
}

#[test]
fn records_round_trip_through_parse_and_serialise() {
    let avcc = &fixture("h264_318x238.avcC.box")[8..];
    assert_eq!(
        AvcDecoderConfig::parse(avcc).unwrap().to_bytes().unwrap(),
        avcc
    );
    let hvcc = fixture("hevc_320x240_main10.hvcC");
    assert_eq!(
        HevcDecoderConfig::parse(&hvcc).unwrap().to_bytes().unwrap(),
        hvcc
    );
    for (codec, name) in [
        (Codec::H264, "h264_high422_320x240.h264"),
        (Codec::Hevc, "hevc_318x238.h265"),
    ] {
        let ps = parameter_sets(codec, &fixture(name));
        let record = extradata::annexb_to_record(codec, &ps).unwrap();
        assert_eq!(extradata::to_annexb(codec, &record).unwrap(), ps, "{name}");
        assert_eq!(
            extradata::to_record(codec, &record).unwrap(),
            record,
            "{name}"
        );
    }
}

#[test]
fn whole_streams_round_trip_through_length_prefixed_form() {
    for name in [
        "h264_320x240_bf2.h264",
        "h264_318x238.h264",
        "hevc_320x240_main10.h265",
        "hevc_318x238.h265",
    ] {
        let stream = fixture(name);
        let units: Vec<&[u8]> = nal_units(&stream).collect();
        assert!(units.len() > 5, "{name}");
        for size in [2u8, 4] {
            let lp = annexb_to_length_prefixed(&stream, size).unwrap();
            let back = length_prefixed_to_annexb(&lp, size).unwrap();
            let again: Vec<&[u8]> = nal_units(&back).collect();
            assert_eq!(again, units, "{name}, {size}-byte lengths");
        }
    }
}

#[test]
fn every_truncated_record_is_an_error_or_a_valid_prefix() {
    let avcc = fixture("h264_318x238.avcC.box");
    let body = &avcc[8..];
    // The high-profile tail (last 4 bytes) is optional; without it the record still parses.
    let without_tail = body.len() - 4;
    for len in 0..body.len() {
        let result = AvcDecoderConfig::parse(&body[..len]);
        assert_eq!(
            result.is_ok(),
            len == without_tail,
            "avcC truncated to {len}: {result:?}"
        );
    }
    let hvcc = fixture("hevc_320x240_main10.hvcC");
    for len in 0..hvcc.len() {
        assert!(
            HevcDecoderConfig::parse(&hvcc[..len]).is_err(),
            "hvcC truncated to {len}"
        );
        assert!(extradata::to_annexb(Codec::Hevc, &hvcc[..len]).is_err() || len == 0);
    }
}

#[test]
fn every_truncated_sps_is_an_error_or_keeps_the_core_fields() {
    for (codec, name) in [
        (Codec::H264, "h264_318x238.h264"),
        (Codec::H264, "h264_high422_320x240.h264"),
        (Codec::Hevc, "hevc_320x240_main10.h265"),
    ] {
        let stream = fixture(name);
        let sps_type = match codec {
            Codec::H264 => nal::h264::SPS,
            Codec::Hevc => nal::hevc::SPS,
        };
        let sps_nal = nal_units(&stream)
            .find(|n| nal::nal_type(codec, n) == sps_type)
            .unwrap();
        let full = sps::stream_info_from_sps(codec, sps_nal).unwrap();
        let mut errors = 0;
        for len in 0..sps_nal.len() {
            match sps::stream_info_from_sps(codec, &sps_nal[..len]) {
                Err(_) => errors += 1,
                // Only the optional VUI may be missing from a prefix that still parses.
                Ok(info) => assert_eq!(
                    (info.width, info.height, info.bit_depth_luma),
                    (full.width, full.height, full.bit_depth_luma),
                    "{name} truncated to {len}"
                ),
            }
        }
        assert!(errors > 8, "{name}: only {errors} truncations failed");
    }
}

/// (pts, x264 dts) in decode order, 1/12800 time base, from the bf3 b-pyramid fixture.
fn pyramid_packets() -> Vec<(i64, i64)> {
    String::from_utf8(fixture("h264_bf3_pyramid_packets.csv"))
        .unwrap()
        .lines()
        .map(|line| {
            let mut f = line.split(',');
            let pts = f.next().unwrap().parse().unwrap();
            let dts = f.next().unwrap().parse().unwrap();
            (pts, dts)
        })
        .collect()
}

fn track(depth: usize, frame_duration: Option<i64>, pts: &[i64]) -> (Vec<(i64, i64)>, u64) {
    let mut t = DtsTracker::new(depth);
    if let Some(d) = frame_duration {
        t = t.with_frame_duration(d);
    }
    let mut out = Vec::new();
    for &p in pts {
        t.push(p, ());
        while let Some(p) = t.pop() {
            out.push((p.pts, p.dts));
        }
        assert!(t.pending() <= depth + 1);
    }
    while let Some(p) = t.flush() {
        out.push((p.pts, p.dts));
    }
    (out, t.late_violations())
}

fn assert_valid(out: &[(i64, i64)], input_len: usize) {
    assert_eq!(out.len(), input_len, "no packet dropped");
    assert!(
        out.windows(2).all(|w| w[0].1 < w[1].1),
        "DTS strictly increasing: {out:?}"
    );
    assert!(
        out.iter().all(|&(pts, dts)| dts <= pts),
        "DTS ≤ PTS: {out:?}"
    );
}

#[test]
fn dts_from_pts_equals_x264s_own_dts_on_a_b_pyramid() {
    // x264 (-bf 3 -b-pyramid normal) signals max_num_reorder_frames 2; one frame is 512 ticks.
    let packets = pyramid_packets();
    let pts: Vec<i64> = packets.iter().map(|p| p.0).collect();
    let (out, late) = track(2, Some(512), &pts);
    assert_eq!(late, 0);
    assert_eq!(out, packets);
}

#[test]
fn a_generous_depth_only_delays_the_timeline() {
    let packets = pyramid_packets();
    let pts: Vec<i64> = packets.iter().map(|p| p.0).collect();
    for depth in [3, 4, 8, 16] {
        let (out, late) = track(depth, None, &pts);
        assert_eq!(late, 0, "depth {depth}");
        assert_valid(&out, packets.len());
        let delay = packets[depth..]
            .iter()
            .zip(&out[depth..])
            .map(|(p, o)| p.1 - o.1)
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(delay.len(), 1, "constant delay at depth {depth}: {delay:?}");
    }
}

#[test]
fn a_too_small_depth_is_reported_not_dropped() {
    let packets = pyramid_packets();
    let pts: Vec<i64> = packets.iter().map(|p| p.0).collect();
    let (out, late) = track(1, None, &pts);
    assert_eq!(out.len(), packets.len());
    assert!(out.windows(2).all(|w| w[0].1 < w[1].1));
    assert!(late > 0);
}
