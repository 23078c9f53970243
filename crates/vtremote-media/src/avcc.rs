//! AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1), the `avcC` box body:
//!
//! ```text
//! u8  configurationVersion = 1
//! u8  AVCProfileIndication, profile_compatibility, AVCLevelIndication
//! u8  0b111111 | lengthSizeMinusOne(2)
//! u8  0b111    | numOfSequenceParameterSets(5)   then {u16 length, SPS} × n
//! u8  numOfPictureParameterSets                   then {u16 length, PPS} × n
//! -- only for profile_idc 100, 110, 122, 144, and optional in practice:
//! u8  0b111111 | chroma_format(2)
//! u8  0b11111  | bit_depth_luma_minus8(3)
//! u8  0b11111  | bit_depth_chroma_minus8(3)
//! u8  numOfSequenceParameterSetExt                then {u16 length, SPS ext} × n
//! ```

use crate::annexb::{self, write_annexb};
use crate::error::{MediaError, Result};
use crate::nal::h264;
use crate::reader::{push_nal_u16, strip_box_header, Reader};
use crate::sps::parse_h264_sps;

/// The 5-bit SPS count field.
pub const MAX_SPS: usize = 31;
/// The 8-bit PPS / SPS-extension count fields.
pub const MAX_PPS: usize = 255;

/// The optional tail of a high-profile record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcHighProfileExt {
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub sps_ext: Vec<Vec<u8>>,
}

/// A parsed (or to-be-written) avcC record. NAL units are stored without length or start
/// code, with emulation prevention as in the bitstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcDecoderConfig {
    pub profile_idc: u8,
    pub profile_compatibility: u8,
    pub level_idc: u8,
    /// Bytes per NAL length field in samples: 1, 2 or 4.
    pub nal_length_size: u8,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
    pub high_profile_ext: Option<AvcHighProfileExt>,
}

/// Profiles for which the record has the chroma/bit-depth extension (14496-15 §5.3.3.1.2).
fn has_high_profile_ext(profile_idc: u8) -> bool {
    matches!(profile_idc, 100 | 110 | 122 | 144)
}

fn check_type(context: &'static str, nal: &[u8], expected: u8) -> Result<()> {
    let t = h264::nal_type(nal[0]);
    if t != expected {
        return Err(MediaError::UnexpectedNalType {
            context,
            nal_type: t,
        });
    }
    Ok(())
}

impl AvcDecoderConfig {
    /// Parses a record body, or a whole `avcC` box (8-byte header) holding one.
    ///
    /// Trailing bytes that are not a high-profile extension are ignored, as FFmpeg and
    /// VideoToolbox do: some muxers pad the box.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let data = strip_box_header(data, b"avcC");
        let mut r = Reader::new(data);
        let version = r.u8("avcC configurationVersion")?;
        if version != 1 {
            return Err(MediaError::BadConfigurationVersion {
                record: "avcC",
                version,
            });
        }
        let profile_idc = r.u8("avcC AVCProfileIndication")?;
        let profile_compatibility = r.u8("avcC profile_compatibility")?;
        let level_idc = r.u8("avcC AVCLevelIndication")?;
        let nal_length_size = (r.u8("avcC lengthSizeMinusOne")? & 0x03) + 1;
        if nal_length_size == 3 {
            return Err(MediaError::InvalidNalLengthSize(3));
        }
        let num_sps = r.u8("avcC numOfSequenceParameterSets")? & 0x1F;
        let mut sps = Vec::with_capacity(usize::from(num_sps));
        for _ in 0..num_sps {
            let nal = r.nal_u16("avcC sequenceParameterSetNALUnit")?;
            check_type("avcC SPS list", nal, h264::SPS)?;
            sps.push(nal.to_vec());
        }
        // The original client read past the buffer here when the record ended after the
        // SPS list; a missing count is an error.
        let num_pps = r.u8("avcC numOfPictureParameterSets")?;
        let mut pps = Vec::with_capacity(usize::from(num_pps));
        for _ in 0..num_pps {
            let nal = r.nal_u16("avcC pictureParameterSetNALUnit")?;
            check_type("avcC PPS list", nal, h264::PPS)?;
            pps.push(nal.to_vec());
        }
        let high_profile_ext = if has_high_profile_ext(profile_idc) && r.remaining() > 0 {
            let chroma_format_idc = r.u8("avcC chroma_format")? & 0x03;
            let bit_depth_luma = (r.u8("avcC bit_depth_luma_minus8")? & 0x07) + 8;
            let bit_depth_chroma = (r.u8("avcC bit_depth_chroma_minus8")? & 0x07) + 8;
            let n = r.u8("avcC numOfSequenceParameterSetExt")?;
            let mut sps_ext = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                let nal = r.nal_u16("avcC sequenceParameterSetExtNALUnit")?;
                check_type("avcC SPS extension list", nal, h264::SPS_EXT)?;
                sps_ext.push(nal.to_vec());
            }
            Some(AvcHighProfileExt {
                chroma_format_idc,
                bit_depth_luma,
                bit_depth_chroma,
                sps_ext,
            })
        } else {
            None
        };
        Ok(AvcDecoderConfig {
            profile_idc,
            profile_compatibility,
            level_idc,
            nal_length_size,
            sps,
            pps,
            high_profile_ext,
        })
    }

    /// Builds a record (4-byte NAL lengths) from the SPS, PPS and SPS-extension units in an
    /// Annex B buffer; other units are ignored and repeated identical units kept once.
    pub fn from_annexb(annexb: &[u8]) -> Result<Self> {
        let (mut sps, mut pps, mut sps_ext) = (Vec::new(), Vec::new(), Vec::new());
        for nal in annexb::nal_units(annexb) {
            let list: &mut Vec<Vec<u8>> = match h264::nal_type(nal[0]) {
                h264::SPS => &mut sps,
                h264::PPS => &mut pps,
                h264::SPS_EXT => &mut sps_ext,
                _ => continue,
            };
            if !list.iter().any(|known| known == nal) {
                list.push(nal.to_vec());
            }
        }
        let first = sps
            .first()
            .ok_or(MediaError::MissingParameterSet { kind: "H.264 SPS" })?;
        if pps.is_empty() {
            return Err(MediaError::MissingParameterSet { kind: "H.264 PPS" });
        }
        let parsed = parse_h264_sps(first)?;
        let high_profile_ext =
            has_high_profile_ext(parsed.profile_idc).then_some(AvcHighProfileExt {
                chroma_format_idc: parsed.chroma_format_idc,
                bit_depth_luma: parsed.bit_depth_luma,
                bit_depth_chroma: parsed.bit_depth_chroma,
                sps_ext,
            });
        let config = AvcDecoderConfig {
            profile_idc: parsed.profile_idc,
            profile_compatibility: parsed.constraint_flags,
            level_idc: parsed.level_idc,
            nal_length_size: 4,
            sps,
            pps,
            high_profile_ext,
        };
        config.check_counts()?;
        Ok(config)
    }

    fn check_counts(&self) -> Result<()> {
        let ext = self
            .high_profile_ext
            .as_ref()
            .map_or(0, |e| e.sps_ext.len());
        for (what, count, max) in [
            ("avcC SPS list", self.sps.len(), MAX_SPS),
            ("avcC PPS list", self.pps.len(), MAX_PPS),
            ("avcC SPS extension list", ext, MAX_PPS),
        ] {
            if count > max {
                return Err(MediaError::TooMany { what, count, max });
            }
        }
        Ok(())
    }

    /// Serialises the record body (no box header).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.check_counts()?;
        if !matches!(self.nal_length_size, 1 | 2 | 4) {
            return Err(MediaError::InvalidNalLengthSize(self.nal_length_size));
        }
        let mut out = vec![
            1,
            self.profile_idc,
            self.profile_compatibility,
            self.level_idc,
            0xFC | (self.nal_length_size - 1),
            0xE0 | self.sps.len() as u8,
        ];
        for nal in &self.sps {
            push_nal_u16(&mut out, nal)?;
        }
        out.push(self.pps.len() as u8);
        for nal in &self.pps {
            push_nal_u16(&mut out, nal)?;
        }
        if let Some(ext) = &self.high_profile_ext {
            out.push(0xFC | (ext.chroma_format_idc & 0x03));
            out.push(0xF8 | (ext.bit_depth_luma.saturating_sub(8) & 0x07));
            out.push(0xF8 | (ext.bit_depth_chroma.saturating_sub(8) & 0x07));
            out.push(ext.sps_ext.len() as u8);
            for nal in &ext.sps_ext {
                push_nal_u16(&mut out, nal)?;
            }
        }
        Ok(out)
    }

    /// All parameter sets in the order a decoder needs them: SPS, SPS extensions, PPS.
    pub fn parameter_sets(&self) -> impl Iterator<Item = &[u8]> {
        let ext = self.high_profile_ext.iter().flat_map(|e| e.sps_ext.iter());
        self.sps
            .iter()
            .chain(ext)
            .chain(self.pps.iter())
            .map(Vec::as_slice)
    }

    /// The parameter sets as Annex B with 4-byte start codes.
    pub fn to_annexb(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_annexb(&mut out, self.parameter_sets());
        out
    }
}

/// avcC record (with or without box header) → Annex B parameter sets.
pub fn record_to_annexb(data: &[u8]) -> Result<Vec<u8>> {
    Ok(AvcDecoderConfig::parse(data)?.to_annexb())
}

/// Annex B parameter sets → avcC record body.
pub fn annexb_to_record(annexb: &[u8]) -> Result<Vec<u8>> {
    AvcDecoderConfig::from_annexb(annexb)?.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AvcDecoderConfig {
        AvcDecoderConfig {
            profile_idc: 66,
            profile_compatibility: 0xC0,
            level_idc: 30,
            nal_length_size: 4,
            sps: vec![vec![0x67, 0x42, 0xC0, 0x1E, 0xAA]],
            pps: vec![vec![0x68, 0xCE, 0x3C, 0x80]],
            high_profile_ext: None,
        }
    }

    #[test]
    fn record_round_trips() {
        let bytes = sample().to_bytes().unwrap();
        assert_eq!(AvcDecoderConfig::parse(&bytes).unwrap(), sample());
        assert_eq!(
            sample().to_annexb(),
            [0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, 0xAA, 0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80]
        );
    }

    #[test]
    fn missing_pps_count_is_truncation_not_overread() {
        let bytes = sample().to_bytes().unwrap();
        let without_pps = &bytes[..6 + 2 + 5];
        assert_eq!(
            AvcDecoderConfig::parse(without_pps),
            Err(MediaError::Truncated {
                what: "avcC numOfPictureParameterSets",
                offset: 13,
                needed: 1,
                available: 0
            })
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for len in 0..bytes.len() {
            assert!(AvcDecoderConfig::parse(&bytes[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn three_byte_lengths_and_other_versions_are_rejected() {
        let mut bytes = sample().to_bytes().unwrap();
        bytes[4] = 0xFE;
        assert_eq!(
            AvcDecoderConfig::parse(&bytes),
            Err(MediaError::InvalidNalLengthSize(3))
        );
        bytes[0] = 0;
        assert!(matches!(
            AvcDecoderConfig::parse(&bytes),
            Err(MediaError::BadConfigurationVersion { version: 0, .. })
        ));
    }

    #[test]
    fn pps_in_sps_list_is_rejected() {
        let mut config = sample();
        config.sps = config.pps.clone();
        let bytes = config.to_bytes().unwrap();
        assert_eq!(
            AvcDecoderConfig::parse(&bytes),
            Err(MediaError::UnexpectedNalType {
                context: "avcC SPS list",
                nal_type: 8
            })
        );
    }
}
