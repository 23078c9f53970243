//! Splits an Annex B elementary stream into access units, so a raw .h264/.hevc file can be
//! sent one picture per PACKET like a demuxer would. NAL parsing is vtremote-media's; only
//! the access-unit boundary rule lives here.

use vtremote_media::annexb::{nal_units, write_annexb};
use vtremote_media::nal::{self, h264, hevc, nal_type};
use vtremote_media::Codec;

fn is_slice(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => h264::is_vcl(t),
        Codec::Hevc => hevc::is_vcl(t),
    }
}

/// Does this NAL begin a new access unit? (ITU-T H.264 §7.4.1.2.3, H.265 §7.4.2.4.4.)
fn starts_access_unit(codec: Codec, nal: &[u8], seen_slice: bool) -> bool {
    if !seen_slice {
        return false;
    }
    match codec {
        Codec::H264 => match nal_type(codec, nal) {
            // Slice: first_mb_in_slice == 0 is ue(v) "1", i.e. the top bit set.
            1 | 5 => nal.len() > 1 && nal[1] & 0x80 != 0,
            // AUD, SPS, PPS, SEI and 14..18 precede the first slice of a new AU.
            6..=9 | 14..=18 => true,
            _ => false,
        },
        Codec::Hevc => match nal_type(codec, nal) {
            // first_slice_segment_in_pic_flag is the first bit after the 2-byte header.
            0..=31 => nal.len() > 2 && nal[2] & 0x80 != 0,
            // VPS, SPS, PPS, AUD, prefix SEI, 41..44, 48..55.
            32..=35 | 39 | 41..=44 | 48..=55 => true,
            _ => false,
        },
    }
}

/// Access units as Annex B (4-byte start codes).
pub fn split_access_units(codec: Codec, data: &[u8]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut seen_slice = false;
    for nal in nal_units(data).filter(|n| !n.is_empty()) {
        if starts_access_unit(codec, nal, seen_slice) {
            units.push(std::mem::take(&mut current));
            seen_slice = false;
        }
        seen_slice |= is_slice(codec, nal);
        write_annexb(&mut current, [nal]);
    }
    if !current.is_empty() {
        units.push(current);
    }
    units
}

/// The parameter-set NALs of an access unit as Annex B: decoder extradata for a raw stream.
pub fn parameter_sets(codec: Codec, au: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_annexb(
        &mut out,
        nal_units(au).filter(|n| nal::is_parameter_set(codec, n)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_media::nal::access_unit_is_random_access;

    #[test]
    fn h264_units_split_at_first_slice_and_parameter_sets() {
        // SPS, PPS, IDR slice (first_mb=0), slice (first_mb=0) of next picture.
        let stream = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 0, 1,
            0x41, 0x9a, 0x22,
        ];
        let aus = split_access_units(Codec::H264, &stream);
        assert_eq!(aus.len(), 2);
        assert!(access_unit_is_random_access(Codec::H264, &aus[0]));
        assert!(!access_unit_is_random_access(Codec::H264, &aus[1]));
        assert_eq!(aus[1], [0, 0, 0, 1, 0x41, 0x9a, 0x22]);
        assert_eq!(
            parameter_sets(Codec::H264, &aus[0]),
            [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce]
        );
    }

    #[test]
    fn second_slice_of_a_picture_stays_in_its_unit() {
        // IDR slice first_mb=0, then IDR slice with first_mb != 0 (top bit clear).
        let stream = [0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x65, 0x40];
        assert_eq!(split_access_units(Codec::H264, &stream).len(), 1);
    }
}
