//! Splits an Annex B elementary stream into access units, so a raw .h264/.hevc file can be
//! sent one picture per PACKET like a demuxer would.

use vtremote_proto::Codec;

/// NAL payloads (start codes stripped) with their offsets, in stream order.
fn nal_units(data: &[u8]) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        // Trailing zero of a 4-byte start code belongs to the next NAL's prefix.
        while end > s && data[end - 1] == 0 && k + 1 < starts.len() {
            end -= 1;
        }
        out.push((s, end));
    }
    out
}

/// Does this NAL begin a new access unit? (ITU-T H.264 §7.4.1.2.3, H.265 §7.4.2.4.4.)
fn starts_access_unit(codec: Codec, nal: &[u8], seen_vcl: bool) -> bool {
    if nal.is_empty() {
        return false;
    }
    match codec {
        Codec::H264 => {
            let ty = nal[0] & 0x1f;
            match ty {
                // Slice: first_mb_in_slice == 0 is ue(v) "1", i.e. the top bit set.
                1 | 5 => seen_vcl && nal.len() > 1 && nal[1] & 0x80 != 0,
                // AUD, SPS, PPS, SEI and 14..18 precede the first slice of a new AU.
                6 | 7 | 8 | 9 | 14..=18 => seen_vcl,
                _ => false,
            }
        }
        Codec::Hevc => {
            let ty = (nal[0] >> 1) & 0x3f;
            match ty {
                0..=31 => seen_vcl && nal.len() > 2 && nal[2] & 0x80 != 0,
                // VPS, SPS, PPS, AUD, prefix SEI, 41..44, 48..55.
                32..=35 | 39 | 41..=44 | 48..=55 => seen_vcl,
                _ => false,
            }
        }
    }
}

fn is_vcl(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        Codec::H264 => matches!(nal[0] & 0x1f, 1..=5),
        Codec::Hevc => (nal[0] >> 1) & 0x3f <= 31,
    }
}

/// Access units as Annex B byte ranges (4-byte start codes rewritten per NAL).
pub fn split_access_units(codec: Codec, data: &[u8]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut seen_vcl = false;
    for (s, e) in nal_units(data) {
        let nal = &data[s..e];
        if nal.is_empty() {
            continue;
        }
        if starts_access_unit(codec, nal, seen_vcl) {
            units.push(std::mem::take(&mut current));
            seen_vcl = false;
        }
        if is_vcl(codec, nal) {
            seen_vcl = true;
        }
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
    }
    if !current.is_empty() {
        units.push(current);
    }
    units
}

/// The VPS/SPS/PPS NALs of an access unit as Annex B: decoder extradata for a raw stream.
pub fn parameter_sets(codec: Codec, au: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (s, e) in nal_units(au) {
        let nal = &au[s..e];
        let is_ps = !nal.is_empty()
            && match codec {
                Codec::H264 => matches!(nal[0] & 0x1f, 7 | 8),
                Codec::Hevc => matches!((nal[0] >> 1) & 0x3f, 32..=34),
            };
        if is_ps {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
    out
}

/// True when the access unit holds an IDR/IRAP picture.
pub fn is_keyframe(codec: Codec, au: &[u8]) -> bool {
    nal_units(au).iter().any(|&(s, e)| {
        let nal = &au[s..e];
        !nal.is_empty()
            && match codec {
                Codec::H264 => nal[0] & 0x1f == 5,
                Codec::Hevc => (16..=23).contains(&((nal[0] >> 1) & 0x3f)),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_units_split_at_first_slice_and_parameter_sets() {
        // SPS, PPS, IDR slice (first_mb=0), slice (first_mb=0) of next picture.
        let stream = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 0, 1,
            0x41, 0x9a, 0x22,
        ];
        let aus = split_access_units(Codec::H264, &stream);
        assert_eq!(aus.len(), 2);
        assert!(is_keyframe(Codec::H264, &aus[0]));
        assert!(!is_keyframe(Codec::H264, &aus[1]));
        assert_eq!(aus[1], [0, 0, 0, 1, 0x41, 0x9a, 0x22]);
    }

    #[test]
    fn second_slice_of_a_picture_stays_in_its_unit() {
        // IDR slice first_mb=0, then IDR slice with first_mb != 0 (top bit clear).
        let stream = [0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x65, 0x40];
        assert_eq!(split_access_units(Codec::H264, &stream).len(), 1);
    }
}
