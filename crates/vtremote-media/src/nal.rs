//! NAL unit type numbers and classification for H.264 (ITU-T H.264 Table 7-1) and HEVC
//! (ITU-T H.265 Table 7-1).

use crate::Codec;

/// H.264: the type is the low 5 bits of the one-byte NAL header.
pub mod h264 {
    pub const SLICE: u8 = 1;
    pub const IDR: u8 = 5;
    pub const SEI: u8 = 6;
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
    pub const END_OF_SEQUENCE: u8 = 10;
    pub const END_OF_STREAM: u8 = 11;
    pub const FILLER: u8 = 12;
    pub const SPS_EXT: u8 = 13;

    /// The NAL unit type of a unit whose first byte is `header`.
    pub fn nal_type(header: u8) -> u8 {
        header & 0x1F
    }

    /// SPS, PPS or SPS extension: what an avcC record and a format description carry.
    pub fn is_parameter_set(nal_type: u8) -> bool {
        matches!(nal_type, SPS | PPS | SPS_EXT)
    }

    /// An IDR slice: decoding can start here.
    pub fn is_idr(nal_type: u8) -> bool {
        nal_type == IDR
    }

    /// Coded slice data (types 1–5).
    pub fn is_vcl(nal_type: u8) -> bool {
        (1..=5).contains(&nal_type)
    }
}

/// HEVC: the type is bits 1..7 of the first byte of the two-byte NAL header.
pub mod hevc {
    pub const TRAIL_N: u8 = 0;
    pub const BLA_W_LP: u8 = 16;
    pub const IDR_W_RADL: u8 = 19;
    pub const IDR_N_LP: u8 = 20;
    pub const CRA_NUT: u8 = 21;
    /// Last of the reserved IRAP types (22, 23); slices are 0..=31.
    pub const RSV_IRAP_23: u8 = 23;
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
    pub const EOS: u8 = 36;
    pub const EOB: u8 = 37;
    pub const FD: u8 = 38;
    pub const PREFIX_SEI: u8 = 39;
    pub const SUFFIX_SEI: u8 = 40;

    /// The NAL unit type of a unit whose first byte is `header`.
    pub fn nal_type(header: u8) -> u8 {
        (header >> 1) & 0x3F
    }

    /// VPS, SPS or PPS.
    pub fn is_parameter_set(nal_type: u8) -> bool {
        matches!(nal_type, VPS | SPS | PPS)
    }

    /// Intra random access point (BLA, IDR, CRA and the reserved IRAP types 22–23).
    pub fn is_irap(nal_type: u8) -> bool {
        (BLA_W_LP..=RSV_IRAP_23).contains(&nal_type)
    }

    /// An IDR picture (with or without leading pictures).
    pub fn is_idr(nal_type: u8) -> bool {
        matches!(nal_type, IDR_W_RADL | IDR_N_LP)
    }

    /// Coded slice data (types 0–31).
    pub fn is_vcl(nal_type: u8) -> bool {
        nal_type < VPS
    }
}

/// The NAL unit type of `nal` (0 for an empty unit, which no caller treats as special).
pub fn nal_type(codec: Codec, nal: &[u8]) -> u8 {
    match (codec, nal.first()) {
        (_, None) => 0,
        (Codec::H264, Some(&b)) => h264::nal_type(b),
        (Codec::Hevc, Some(&b)) => hevc::nal_type(b),
    }
}

/// True for the parameter sets a decoder configuration record carries.
pub fn is_parameter_set(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    !nal.is_empty()
        && match codec {
            Codec::H264 => h264::is_parameter_set(t),
            Codec::Hevc => hevc::is_parameter_set(t),
        }
}

/// True for a unit decoding can start from: an H.264 IDR slice or an HEVC IRAP slice.
pub fn is_random_access(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    !nal.is_empty()
        && match codec {
            Codec::H264 => h264::is_idr(t),
            Codec::Hevc => hevc::is_irap(t),
        }
}

/// True for coded slice data: H.264 types 1–5, HEVC types 0–31. Only these carry a
/// picture; everything else (parameter sets, SEI, delimiters, filler) is side information.
pub fn is_vcl(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    !nal.is_empty()
        && match codec {
            Codec::H264 => h264::is_vcl(t),
            Codec::Hevc => hevc::is_vcl(t),
        }
}

/// True when an Annex B access unit holds at least one slice, i.e. a picture to decode.
pub fn access_unit_has_vcl(codec: Codec, annexb: &[u8]) -> bool {
    crate::annexb::nal_units(annexb).any(|nal| is_vcl(codec, nal))
}

/// True when an Annex B access unit contains a random-access slice.
pub fn access_unit_is_random_access(codec: Codec, annexb: &[u8]) -> bool {
    crate::annexb::nal_units(annexb).any(|nal| is_random_access(codec, nal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_types_come_from_the_low_five_bits() {
        assert_eq!(nal_type(Codec::H264, &[0x67]), h264::SPS);
        assert_eq!(nal_type(Codec::H264, &[0x68]), h264::PPS);
        assert_eq!(nal_type(Codec::H264, &[0x65]), h264::IDR);
        assert!(is_parameter_set(Codec::H264, &[0x67]));
        assert!(is_random_access(Codec::H264, &[0x25]));
        assert!(!is_random_access(Codec::H264, &[0x41]));
    }

    #[test]
    fn hevc_types_come_from_bits_one_to_six() {
        assert_eq!(nal_type(Codec::Hevc, &[0x40, 0x01]), hevc::VPS);
        assert_eq!(nal_type(Codec::Hevc, &[0x42, 0x01]), hevc::SPS);
        assert_eq!(nal_type(Codec::Hevc, &[0x44, 0x01]), hevc::PPS);
        assert_eq!(nal_type(Codec::Hevc, &[0x26, 0x01]), hevc::IDR_W_RADL);
        assert!(is_random_access(Codec::Hevc, &[0x2A, 0x01])); // CRA
        assert!(!is_random_access(Codec::Hevc, &[0x02, 0x01])); // TRAIL_R
        assert!(!is_parameter_set(Codec::Hevc, &[]));
    }

    #[test]
    fn only_slices_count_as_picture_data() {
        let sps_pps_sei = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x06, 0x05,
        ];
        assert!(!access_unit_has_vcl(Codec::H264, &sps_pps_sei));
        let with_slice = [&sps_pps_sei[..], &[0, 0, 1, 0x65, 0x88]].concat();
        assert!(access_unit_has_vcl(Codec::H264, &with_slice));
        // HEVC: VPS + prefix SEI only, then a TRAIL_R slice.
        assert!(!access_unit_has_vcl(
            Codec::Hevc,
            &[0, 0, 1, 0x40, 0x01, 0, 0, 1, 0x4E, 0x01]
        ));
        assert!(access_unit_has_vcl(
            Codec::Hevc,
            &[0, 0, 1, 0x02, 0x01, 0xAF]
        ));
        assert!(!is_vcl(Codec::H264, &[]));
    }
}
