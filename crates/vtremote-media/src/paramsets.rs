//! The parameter sets a decoder knows, keyed by NAL unit type and id.
//!
//! Streams repeat parameter sets in-band, often only some of them: a PPS in front of every
//! picture, an SPS on keyframes, a second PPS for another slice type. A parameter set replaces
//! the one of the same type and id and leaves every other one active (H.264 §7.4.1.2.1,
//! H.265 §7.4.2.4.2), so an in-band update is merged into what is known, and a decoder needs a
//! new format description only when the merged set differs from the one it has.

use std::collections::BTreeMap;

use crate::bits::{nal_to_rbsp, BitReader};
use crate::error::{MediaError, Result};
use crate::nal::{h264, hevc, nal_type};
use crate::sps::hevc_profile_tier_level;
use crate::Codec;

/// The id a parameter-set NAL unit (header included, emulation prevention present)
/// declares for itself; its type is in the header. Only the fields up to the id are read, so
/// a parameter set this crate cannot otherwise parse still merges by its id.
pub fn parameter_set_id(codec: Codec, nal: &[u8]) -> Result<u32> {
    let (context, header_len) = match codec {
        Codec::H264 => ("H.264", 1),
        Codec::Hevc => ("HEVC", 2),
    };
    if nal.len() <= header_len {
        return Err(MediaError::Truncated {
            what: "parameter set NAL unit",
            offset: 0,
            needed: header_len + 1,
            available: nal.len(),
        });
    }
    let rbsp = nal_to_rbsp(&nal[header_len..]);
    let r = &mut BitReader::new(&rbsp, context);
    match (codec, nal_type(codec, nal)) {
        (Codec::H264, h264::SPS) => {
            r.skip(24, "profile_idc/constraint_set_flags/level_idc")?;
            r.ue_max("seq_parameter_set_id", 31)
        }
        (Codec::H264, h264::SPS_EXT) => r.ue_max("seq_parameter_set_id", 31),
        (Codec::H264, h264::PPS) => r.ue_max("pic_parameter_set_id", 255),
        (Codec::Hevc, hevc::VPS) => Ok(r.bits(4, "vps_video_parameter_set_id")? as u32),
        (Codec::Hevc, hevc::SPS) => {
            r.skip(4, "sps_video_parameter_set_id")?;
            let max_sub_layers_minus1 = r.u8_bits(3, "sps_max_sub_layers_minus1")?;
            if max_sub_layers_minus1 > 6 {
                return Err(r.out_of_range(
                    "sps_max_sub_layers_minus1",
                    u64::from(max_sub_layers_minus1),
                    6,
                ));
            }
            r.skip(1, "sps_temporal_id_nesting_flag")?;
            hevc_profile_tier_level(r, max_sub_layers_minus1)?;
            r.ue_max("sps_seq_parameter_set_id", 15)
        }
        (Codec::Hevc, hevc::PPS) => r.ue_max("pps_pic_parameter_set_id", 63),
        (_, t) => Err(MediaError::UnexpectedNalType {
            context: "parameter set id",
            nal_type: t,
        }),
    }
}

/// Where a parameter set of this type goes in a format description: H.264 SPS, SPS
/// extension, PPS; HEVC VPS, SPS, PPS (the order VideoToolbox, avcC and hvcC use). None for
/// units that are not parameter sets.
fn rank(codec: Codec, nal: &[u8]) -> Option<u8> {
    match (codec, nal_type(codec, nal)) {
        (_, _) if nal.is_empty() => None,
        (Codec::H264, h264::SPS) | (Codec::Hevc, hevc::VPS) => Some(0),
        (Codec::H264, h264::SPS_EXT) | (Codec::Hevc, hevc::SPS) => Some(1),
        (Codec::H264, h264::PPS) | (Codec::Hevc, hevc::PPS) => Some(2),
        _ => None,
    }
}

/// What one [`ParameterSets::merge`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeOutcome {
    /// The merged set differs from the one before: a new or different unit arrived.
    pub changed: bool,
    /// Parameter sets whose id could not be read; they were left out.
    pub unreadable: usize,
}

/// The active parameter sets of one stream, at most one per (type, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterSets {
    codec: Codec,
    units: BTreeMap<(u8, u32), Vec<u8>>,
}

impl ParameterSets {
    pub fn new(codec: Codec) -> Self {
        ParameterSets {
            codec,
            units: BTreeMap::new(),
        }
    }

    /// Merges `units` (NAL units without start codes; anything that is not a parameter set
    /// is ignored): each replaces the known unit of its type and id.
    pub fn merge<'a>(&mut self, units: impl IntoIterator<Item = &'a [u8]>) -> MergeOutcome {
        let mut outcome = MergeOutcome::default();
        for nal in units {
            let Some(rank) = rank(self.codec, nal) else {
                continue;
            };
            let Ok(id) = parameter_set_id(self.codec, nal) else {
                outcome.unreadable += 1;
                continue;
            };
            match self.units.get(&(rank, id)) {
                Some(known) if known.as_slice() == nal => {}
                _ => {
                    self.units.insert((rank, id), nal.to_vec());
                    outcome.changed = true;
                }
            }
        }
        outcome
    }

    /// At least one of each kind a decoder needs: SPS and PPS, plus a VPS for HEVC.
    pub fn is_complete(&self) -> bool {
        let has = |rank: u8| self.units.keys().any(|&(r, _)| r == rank);
        match self.codec {
            Codec::H264 => has(0) && has(2),
            Codec::Hevc => has(0) && has(1) && has(2),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Every unit in format-description order (by kind, then id).
    pub fn units(&self) -> impl Iterator<Item = &[u8]> {
        self.units.values().map(Vec::as_slice)
    }

    /// The SPS with the lowest id, which describes the picture when there is only one.
    pub fn first_sps(&self) -> Option<&[u8]> {
        let sps_rank = match self.codec {
            Codec::H264 => 0,
            Codec::Hevc => 1,
        };
        self.units
            .iter()
            .find(|((rank, _), _)| *rank == sps_rank)
            .map(|(_, nal)| nal.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libx264 64×64 Baseline SPS (id 0), from sps.rs's tests.
    const SPS0: &[u8] = &[
        0x67, 0x42, 0xC0, 0x0A, 0xD9, 0x04, 0x26, 0xC0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00,
        0x00, 0x03, 0x00, 0xC8, 0x3C, 0x48, 0x99, 0x20,
    ];
    /// PPS id 0 (ue "1") and id 1 (ue "010"), each with one more payload bit.
    const PPS0: &[u8] = &[0x68, 0xCE, 0x3C, 0x80];
    const PPS0_OTHER: &[u8] = &[0x68, 0xC8, 0x3C, 0x80];
    const PPS1: &[u8] = &[0x68, 0x5E, 0x3C, 0x80];

    fn known() -> ParameterSets {
        let mut ps = ParameterSets::new(Codec::H264);
        ps.merge([SPS0, PPS0]);
        ps
    }

    #[test]
    fn ids_come_from_the_unit_itself() {
        assert_eq!(parameter_set_id(Codec::H264, SPS0), Ok(0));
        assert_eq!(parameter_set_id(Codec::H264, PPS0), Ok(0));
        assert_eq!(parameter_set_id(Codec::H264, PPS1), Ok(1));
        // HEVC VPS id 0 and PPS id 0 (x265's).
        assert_eq!(
            parameter_set_id(Codec::Hevc, &[0x40, 0x01, 0x0C, 0x01]),
            Ok(0)
        );
        assert_eq!(
            parameter_set_id(Codec::Hevc, &[0x44, 0x01, 0xC1, 0x72]),
            Ok(0)
        );
        assert!(parameter_set_id(Codec::H264, &[0x65, 0x88]).is_err());
        assert!(parameter_set_id(Codec::H264, &[0x68]).is_err());
    }

    #[test]
    fn a_repeated_pps_alone_changes_nothing() {
        let mut ps = known();
        let before = ps.clone();
        assert_eq!(ps.merge([PPS0]), MergeOutcome::default());
        assert_eq!(ps, before);
        assert!(ps.is_complete());
    }

    #[test]
    fn a_new_id_is_added_and_a_known_id_replaced() {
        let mut ps = known();
        assert!(ps.merge([PPS1]).changed);
        assert_eq!(ps.units().collect::<Vec<_>>(), [SPS0, PPS0, PPS1]);
        assert!(ps.merge([PPS0_OTHER]).changed);
        assert_eq!(ps.units().collect::<Vec<_>>(), [SPS0, PPS0_OTHER, PPS1]);
    }

    #[test]
    fn order_is_sps_before_pps_whatever_the_arrival() {
        let mut ps = ParameterSets::new(Codec::H264);
        assert!(!ps.is_complete());
        ps.merge([PPS0, &[0x06, 0x05][..], SPS0]);
        assert_eq!(ps.units().collect::<Vec<_>>(), [SPS0, PPS0]);
        assert_eq!(ps.first_sps(), Some(SPS0));
    }

    #[test]
    fn unreadable_units_are_counted_not_merged() {
        let mut ps = known();
        let outcome = ps.merge([&[0x68][..], &[0x68, 0x00, 0x00][..]]);
        assert_eq!(outcome.unreadable, 2);
        assert!(!outcome.changed);
    }
}
