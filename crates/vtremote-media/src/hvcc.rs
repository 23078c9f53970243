//! HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1), the `hvcC` box body:
//!
//! ```text
//! u8   configurationVersion = 1
//! u8   general_profile_space(2) general_tier_flag(1) general_profile_idc(5)
//! u32  general_profile_compatibility_flags
//! u48  general_constraint_indicator_flags
//! u8   general_level_idc
//! u16  0b1111 | min_spatial_segmentation_idc(12)
//! u8   0b111111 | parallelismType(2)
//! u8   0b111111 | chromaFormat(2)
//! u8   0b11111 | bitDepthLumaMinus8(3)
//! u8   0b11111 | bitDepthChromaMinus8(3)
//! u16  avgFrameRate
//! u8   constantFrameRate(2) numTemporalLayers(3) temporalIdNested(1) lengthSizeMinusOne(2)
//! u8   numOfArrays, then per array:
//!      u8 array_completeness(1) reserved(1) NAL_unit_type(6); u16 numNalus; {u16 len, NAL} × n
//! ```

use crate::annexb::{self, write_annexb};
use crate::error::{MediaError, Result};
use crate::nal::hevc;
use crate::reader::{push_nal_u16, strip_box_header, Reader};
use crate::sps::{parse_hevc_sps, HevcProfileTierLevel};

/// Size of the fixed part before the arrays.
pub const HEADER_LEN: usize = 23;

/// One array of NAL units of the same type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HvccArray {
    /// All units of this type are in the record (none in-band) when set.
    pub completeness: bool,
    pub nal_type: u8,
    pub nal_units: Vec<Vec<u8>>,
}

/// A parsed (or to-be-written) hvcC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcDecoderConfig {
    pub profile_tier_level: HevcProfileTierLevel,
    pub min_spatial_segmentation_idc: u16,
    pub parallelism_type: u8,
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub avg_frame_rate: u16,
    pub constant_frame_rate: u8,
    pub num_temporal_layers: u8,
    pub temporal_id_nested: bool,
    /// Bytes per NAL length field in samples: 1, 2 or 4.
    pub nal_length_size: u8,
    pub arrays: Vec<HvccArray>,
}

/// NAL types a record may carry (14496-15 §8.3.3.1.2: VPS, SPS, PPS, prefix/suffix SEI).
fn allowed_in_record(nal_type: u8) -> bool {
    matches!(
        nal_type,
        hevc::VPS | hevc::SPS | hevc::PPS | hevc::PREFIX_SEI | hevc::SUFFIX_SEI
    )
}

impl HevcDecoderConfig {
    /// Parses a record body, or a whole `hvcC` box (8-byte header) holding one.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let data = strip_box_header(data, b"hvcC");
        let mut r = Reader::new(data);
        let version = r.u8("hvcC configurationVersion")?;
        // Pre-standard x265/ffmpeg files wrote version 0 with the same layout; FFmpeg and
        // VideoToolbox accept them, so do we.
        if version > 1 {
            return Err(MediaError::BadConfigurationVersion {
                record: "hvcC",
                version,
            });
        }
        let b = r.u8("hvcC general_profile_space/tier/profile_idc")?;
        let compat = r.take(4, "hvcC general_profile_compatibility_flags")?;
        let constraint = r.take(6, "hvcC general_constraint_indicator_flags")?;
        let profile_tier_level = HevcProfileTierLevel {
            profile_space: b >> 6,
            tier_flag: b & 0x20 != 0,
            profile_idc: b & 0x1F,
            profile_compatibility_flags: u32::from_be_bytes([
                compat[0], compat[1], compat[2], compat[3],
            ]),
            constraint_indicator_flags: constraint
                .iter()
                .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
            level_idc: r.u8("hvcC general_level_idc")?,
        };
        let min_spatial_segmentation_idc = r.u16("hvcC min_spatial_segmentation_idc")? & 0x0FFF;
        let parallelism_type = r.u8("hvcC parallelismType")? & 0x03;
        let chroma_format_idc = r.u8("hvcC chromaFormat")? & 0x03;
        let bit_depth_luma = (r.u8("hvcC bitDepthLumaMinus8")? & 0x07) + 8;
        let bit_depth_chroma = (r.u8("hvcC bitDepthChromaMinus8")? & 0x07) + 8;
        let avg_frame_rate = r.u16("hvcC avgFrameRate")?;
        let b = r.u8("hvcC lengthSizeMinusOne")?;
        let nal_length_size = (b & 0x03) + 1;
        if nal_length_size == 3 {
            return Err(MediaError::InvalidNalLengthSize(3));
        }
        let num_arrays = r.u8("hvcC numOfArrays")?;
        let mut arrays = Vec::with_capacity(usize::from(num_arrays));
        for _ in 0..num_arrays {
            let t = r.u8("hvcC array NAL_unit_type")?;
            let nal_type = t & 0x3F;
            let count = r.u16("hvcC numNalus")?;
            // Each unit needs ≥ 3 bytes (length + 1), so a count larger than that cannot be
            // honest; capping the reservation keeps a 4-byte input from reserving megabytes.
            let mut nal_units = Vec::with_capacity(usize::from(count).min(r.remaining() / 3));
            for _ in 0..count {
                let nal = r.nal_u16("hvcC nalUnit")?;
                let actual = hevc::nal_type(nal[0]);
                if !allowed_in_record(actual) {
                    return Err(MediaError::UnexpectedNalType {
                        context: "hvcC array",
                        nal_type: actual,
                    });
                }
                nal_units.push(nal.to_vec());
            }
            arrays.push(HvccArray {
                completeness: t & 0x80 != 0,
                nal_type,
                nal_units,
            });
        }
        Ok(HevcDecoderConfig {
            profile_tier_level,
            min_spatial_segmentation_idc,
            parallelism_type,
            chroma_format_idc,
            bit_depth_luma,
            bit_depth_chroma,
            avg_frame_rate,
            constant_frame_rate: b >> 6,
            num_temporal_layers: (b >> 3) & 0x07,
            temporal_id_nested: b & 0x04 != 0,
            nal_length_size,
            arrays,
        })
    }

    /// Builds a record (4-byte NAL lengths) from the VPS, SPS and PPS units of an Annex B
    /// buffer. Profile, level, chroma format, bit depths and temporal layering come from the
    /// first SPS. min_spatial_segmentation_idc, parallelismType and the frame-rate fields
    /// are left 0 ("unknown"), which every reader accepts; FFmpeg writes the same values
    /// whenever the VUI does not restrict segmentation. SEI units are not copied: they are
    /// per-stream metadata, not needed to configure a decoder.
    pub fn from_annexb(annexb: &[u8]) -> Result<Self> {
        let mut arrays: Vec<HvccArray> = [hevc::VPS, hevc::SPS, hevc::PPS]
            .into_iter()
            .map(|nal_type| HvccArray {
                completeness: true,
                nal_type,
                nal_units: Vec::new(),
            })
            .collect();
        for nal in annexb::nal_units(annexb) {
            let idx = match hevc::nal_type(nal[0]) {
                hevc::VPS => 0,
                hevc::SPS => 1,
                hevc::PPS => 2,
                _ => continue,
            };
            let list = &mut arrays[idx].nal_units;
            if !list.iter().any(|known| known == nal) {
                list.push(nal.to_vec());
            }
        }
        for (array, kind) in arrays.iter().zip(["HEVC VPS", "HEVC SPS", "HEVC PPS"]) {
            if array.nal_units.is_empty() {
                return Err(MediaError::MissingParameterSet { kind });
            }
        }
        let sps = parse_hevc_sps(&arrays[1].nal_units[0])?;
        let config = HevcDecoderConfig {
            profile_tier_level: sps.profile_tier_level,
            min_spatial_segmentation_idc: 0,
            parallelism_type: 0,
            chroma_format_idc: sps.chroma_format_idc,
            bit_depth_luma: sps.bit_depth_luma,
            bit_depth_chroma: sps.bit_depth_chroma,
            avg_frame_rate: 0,
            constant_frame_rate: 0,
            num_temporal_layers: sps.max_sub_layers,
            temporal_id_nested: sps.temporal_id_nesting,
            nal_length_size: 4,
            arrays,
        };
        config.check_counts()?;
        Ok(config)
    }

    fn check_counts(&self) -> Result<()> {
        if self.arrays.len() > usize::from(u8::MAX) {
            return Err(MediaError::TooMany {
                what: "hvcC arrays",
                count: self.arrays.len(),
                max: usize::from(u8::MAX),
            });
        }
        for array in &self.arrays {
            if array.nal_units.len() > usize::from(u16::MAX) {
                return Err(MediaError::TooMany {
                    what: "hvcC NAL units in one array",
                    count: array.nal_units.len(),
                    max: usize::from(u16::MAX),
                });
            }
        }
        Ok(())
    }

    /// Serialises the record body (no box header), version 1.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.check_counts()?;
        if !matches!(self.nal_length_size, 1 | 2 | 4) {
            return Err(MediaError::InvalidNalLengthSize(self.nal_length_size));
        }
        // An HEVC SPS may say 16 bits (bit_depth_*_minus8 = 8), which hvcC's 3-bit fields
        // cannot hold: writing `& 0x07` would declare an 8-bit stream.
        for (field, depth) in [
            (
                "bit_depth_luma (hvcC bitDepthLumaMinus8)",
                self.bit_depth_luma,
            ),
            (
                "bit_depth_chroma (hvcC bitDepthChromaMinus8)",
                self.bit_depth_chroma,
            ),
        ] {
            if !(8..=15).contains(&depth) {
                return Err(MediaError::SpsValueOutOfRange {
                    codec: "HEVC",
                    field,
                    value: u64::from(depth),
                    max: 15,
                });
            }
        }
        let ptl = &self.profile_tier_level;
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        out.push(1);
        out.push(
            (ptl.profile_space & 0x03) << 6
                | u8::from(ptl.tier_flag) << 5
                | (ptl.profile_idc & 0x1F),
        );
        out.extend_from_slice(&ptl.profile_compatibility_flags.to_be_bytes());
        out.extend_from_slice(&ptl.constraint_indicator_flags.to_be_bytes()[2..]);
        out.push(ptl.level_idc);
        out.extend_from_slice(
            &(0xF000 | (self.min_spatial_segmentation_idc & 0x0FFF)).to_be_bytes(),
        );
        out.push(0xFC | (self.parallelism_type & 0x03));
        out.push(0xFC | (self.chroma_format_idc & 0x03));
        out.push(0xF8 | (self.bit_depth_luma.saturating_sub(8) & 0x07));
        out.push(0xF8 | (self.bit_depth_chroma.saturating_sub(8) & 0x07));
        out.extend_from_slice(&self.avg_frame_rate.to_be_bytes());
        out.push(
            (self.constant_frame_rate & 0x03) << 6
                | (self.num_temporal_layers & 0x07) << 3
                | u8::from(self.temporal_id_nested) << 2
                | (self.nal_length_size - 1),
        );
        out.push(self.arrays.len() as u8);
        for array in &self.arrays {
            out.push(u8::from(array.completeness) << 7 | (array.nal_type & 0x3F));
            out.extend_from_slice(&(array.nal_units.len() as u16).to_be_bytes());
            for nal in &array.nal_units {
                push_nal_u16(&mut out, nal)?;
            }
        }
        Ok(out)
    }

    /// Sets array_completeness of the VPS, SPS and PPS arrays. 1 promises that no unit of
    /// that type is in the stream (the only value 'hvc1' allows); a stream that repeats its
    /// parameter sets in-band must write 0, as 'hev1' does (ISO/IEC 14496-15 §8.3.3.1.2,
    /// §8.4.1). SEI arrays keep their flag.
    pub fn set_parameter_set_completeness(&mut self, complete: bool) {
        for array in &mut self.arrays {
            if hevc::is_parameter_set(array.nal_type) {
                array.completeness = complete;
            }
        }
    }

    /// Fails unless the record holds a VPS, an SPS and a PPS.
    pub fn check_parameter_sets(&self) -> Result<()> {
        for (nal_type, kind) in [
            (hevc::VPS, "HEVC VPS"),
            (hevc::SPS, "HEVC SPS"),
            (hevc::PPS, "HEVC PPS"),
        ] {
            let present = self
                .arrays
                .iter()
                .any(|a| a.nal_type == nal_type && !a.nal_units.is_empty());
            if !present {
                return Err(MediaError::MissingParameterSet { kind });
            }
        }
        Ok(())
    }

    /// Every NAL unit of every array, in record order.
    pub fn nal_units(&self) -> impl Iterator<Item = &[u8]> {
        self.arrays
            .iter()
            .flat_map(|a| a.nal_units.iter().map(Vec::as_slice))
    }

    /// The record's NAL units as Annex B with 4-byte start codes, in array order.
    pub fn to_annexb(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_annexb(&mut out, self.nal_units());
        out
    }
}

/// hvcC record (with or without box header) → Annex B.
pub fn record_to_annexb(data: &[u8]) -> Result<Vec<u8>> {
    Ok(HevcDecoderConfig::parse(data)?.to_annexb())
}

/// Annex B VPS/SPS/PPS → hvcC record body.
pub fn annexb_to_record(annexb: &[u8]) -> Result<Vec<u8>> {
    HevcDecoderConfig::from_annexb(annexb)?.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HevcDecoderConfig {
        HevcDecoderConfig {
            profile_tier_level: HevcProfileTierLevel {
                profile_space: 0,
                tier_flag: false,
                profile_idc: 2,
                profile_compatibility_flags: 0x2000_0000,
                constraint_indicator_flags: 0x9000_0000_0000,
                level_idc: 60,
            },
            min_spatial_segmentation_idc: 0,
            parallelism_type: 0,
            chroma_format_idc: 1,
            bit_depth_luma: 10,
            bit_depth_chroma: 10,
            avg_frame_rate: 0,
            constant_frame_rate: 0,
            num_temporal_layers: 1,
            temporal_id_nested: true,
            nal_length_size: 4,
            arrays: vec![
                HvccArray {
                    completeness: true,
                    nal_type: hevc::VPS,
                    nal_units: vec![vec![0x40, 0x01, 0x0C]],
                },
                HvccArray {
                    completeness: false,
                    nal_type: hevc::PREFIX_SEI,
                    nal_units: vec![vec![0x4E, 0x01, 0x05], vec![0x4E, 0x01, 0x06]],
                },
            ],
        }
    }

    #[test]
    fn record_round_trips() {
        let bytes = sample().to_bytes().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 3 + 5 + 3 + 5 + 5);
        assert_eq!(HevcDecoderConfig::parse(&bytes).unwrap(), sample());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().to_bytes().unwrap();
        for len in 0..bytes.len() {
            assert!(
                HevcDecoderConfig::parse(&bytes[..len]).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn huge_nalu_count_does_not_allocate_before_failing() {
        let mut bytes = sample().to_bytes().unwrap()[..HEADER_LEN].to_vec();
        bytes[HEADER_LEN - 1] = 1;
        bytes.extend_from_slice(&[0xA0, 0xFF, 0xFF]);
        assert!(matches!(
            HevcDecoderConfig::parse(&bytes),
            Err(MediaError::Truncated {
                what: "hvcC nalUnit",
                ..
            })
        ));
    }

    #[test]
    fn completeness_changes_for_parameter_sets_only() {
        let mut config = sample();
        config.set_parameter_set_completeness(false);
        assert!(!config.arrays[0].completeness, "VPS");
        assert!(!config.arrays[1].completeness, "SEI keeps its flag");
        config.arrays[1].completeness = true;
        config.set_parameter_set_completeness(true);
        assert!(config.arrays.iter().all(|a| a.completeness));
        assert_eq!(
            config.check_parameter_sets(),
            Err(MediaError::MissingParameterSet { kind: "HEVC SPS" })
        );
    }

    /// Found by fuzz target media_annexb: a 16-bit SPS (bit_depth_luma_minus8 = 8, legal in
    /// HEVC) became a record declaring 8 bits, because hvcC's field has 3 bits.
    #[test]
    fn sixteen_bit_sps_is_refused_not_written_as_eight_bit() {
        let annexb = [
            0, 0, 1, 0x40, 0, 0, 1, 0x42, 0x01, 0x01, 0x02, 0x20, 0x00, 0x03, 0x00, 0x90, 0x30,
            0x00, 0x00, 0x00, 0x00, 0x3C, 0xA0, 0x0A, 0x08, 0x0B, 0x00, 0x96, 0x56, 0x49, 0x00,
            0x00, 0x01, 0x44,
        ];
        let config = HevcDecoderConfig::from_annexb(&annexb).unwrap();
        assert_eq!(config.bit_depth_luma, 16);
        let err = config.to_bytes().unwrap_err();
        assert!(
            matches!(
                err,
                MediaError::SpsValueOutOfRange {
                    value: 16,
                    max: 15,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("bitDepthLumaMinus8"), "{err}");
        assert!(annexb_to_record(&annexb).is_err());
        let mut ok = sample();
        ok.bit_depth_chroma = 15;
        assert!(ok.to_bytes().is_ok());
        ok.bit_depth_chroma = 7;
        assert!(ok.to_bytes().is_err());
    }

    #[test]
    fn slice_in_array_is_rejected() {
        let mut config = sample();
        config.arrays[0].nal_units[0] = vec![0x26, 0x01, 0xAF];
        let bytes = config.to_bytes().unwrap();
        assert_eq!(
            HevcDecoderConfig::parse(&bytes),
            Err(MediaError::UnexpectedNalType {
                context: "hvcC array",
                nal_type: hevc::IDR_W_RADL
            })
        );
    }
}
