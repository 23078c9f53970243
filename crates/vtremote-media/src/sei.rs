//! ATSC A/53 closed captions as an SEI NAL unit, for encoders that take captions as side
//! data but cannot embed them themselves (VideoToolbox; the same bytes FFmpeg's own
//! `ff_alloc_a53_sei` produces for videotoolboxenc).
//!
//! Layout (ITU-T H.264 D.1.6 / H.265 D.2.6 `user_data_registered_itu_t_t35`, ATSC A/53 Part 4):
//! ```text
//! country 0xB5 | provider 0x0031 | "GA94" | type 0x03 |
//! 0x40 | cc_count (process_cc_data_flag set) | em_data 0x00 | cc_data (3 × cc_count) | 0xFF
//! ```

use std::collections::BTreeMap;

use crate::annexb::{nal_units, write_annexb};
use crate::error::{MediaError, Result};
use crate::nal::{h264, hevc, nal_type};
use crate::Codec;

/// cc_count is a 5-bit field.
pub const MAX_CC_COUNT: usize = 31;
const PAYLOAD_TYPE_USER_DATA_REGISTERED: u8 = 4;
const H264_SEI: u8 = 6;
const HEVC_PREFIX_SEI: u8 = 39;

/// Builds the SEI NAL unit (no start code, emulation prevention applied) carrying `cc_data`
/// (triplets as in FFmpeg's `AV_FRAME_DATA_A53_CC`).
pub fn a53_cc_sei(codec: Codec, cc_data: &[u8]) -> Result<Vec<u8>> {
    if cc_data.is_empty() || !cc_data.len().is_multiple_of(3) {
        return Err(MediaError::SpsValueOutOfRange {
            codec: "A53",
            field: "cc_data length (a multiple of 3)",
            value: cc_data.len() as u64,
            max: (MAX_CC_COUNT * 3) as u64,
        });
    }
    let count = cc_data.len() / 3;
    if count > MAX_CC_COUNT {
        return Err(MediaError::TooMany {
            what: "A53 cc_data triplets",
            count,
            max: MAX_CC_COUNT,
        });
    }
    let mut payload = vec![0xB5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03];
    payload.push(0x40 | count as u8);
    payload.push(0x00);
    payload.extend_from_slice(cc_data);
    payload.push(0xFF);

    let mut rbsp = vec![PAYLOAD_TYPE_USER_DATA_REGISTERED];
    let mut size = payload.len();
    while size >= 255 {
        rbsp.push(0xFF);
        size -= 255;
    }
    rbsp.push(size as u8);
    rbsp.extend_from_slice(&payload);
    rbsp.push(0x80); // rbsp_trailing_bits

    let mut nal = match codec {
        Codec::H264 => vec![H264_SEI],
        // forbidden_zero 0, type 39, layer 0, temporal_id_plus1 1.
        Codec::Hevc => vec![HEVC_PREFIX_SEI << 1, 0x01],
    };
    add_emulation_prevention(&rbsp, &mut nal);
    Ok(nal)
}

/// Appends `rbsp` to `out`, inserting 0x03 wherever two zero bytes would otherwise be
/// followed by a byte ≤ 3 (H.264 7.4.1 / H.265 7.4.2).
fn add_emulation_prevention(rbsp: &[u8], out: &mut Vec<u8>) {
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(0x03);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
}

/// Returns `access_unit` (Annex B) with `sei` inserted before its first coded slice, where
/// SEI belongs (after AUD and parameter sets). Without a slice it is appended.
pub fn insert_before_first_slice(codec: Codec, access_unit: &[u8], sei: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(access_unit.len() + sei.len() + 4);
    let mut inserted = false;
    for nal in nal_units(access_unit) {
        if !inserted && !nal.is_empty() && is_slice(codec, nal) {
            write_annexb(&mut out, [sei]);
            inserted = true;
        }
        write_annexb(&mut out, [nal]);
    }
    if !inserted {
        write_annexb(&mut out, [sei]);
    }
    out
}

/// Captions waiting for their picture's output: encoders take pictures in display order and
/// return them later (possibly reordered), so the cc_data is kept by pts until then.
#[derive(Debug)]
pub struct CaptionQueue {
    codec: Codec,
    pending: BTreeMap<i64, Vec<u8>>,
}

/// More captions waiting than any encoder holds pictures means an output went missing; the
/// oldest is dropped so memory stays bounded.
const MAX_PENDING_CAPTIONS: usize = 64;

impl CaptionQueue {
    pub fn new(codec: Codec) -> Self {
        CaptionQueue {
            codec,
            pending: BTreeMap::new(),
        }
    }

    /// Remembers `cc_data` for the picture submitted with `pts`.
    pub fn remember(&mut self, pts: i64, cc_data: &[u8]) {
        if cc_data.is_empty() {
            return;
        }
        self.pending.insert(pts, cc_data.to_vec());
        if self.pending.len() > MAX_PENDING_CAPTIONS {
            self.pending.pop_first();
        }
    }

    /// The output access unit for `pts`, with its captions inserted if it has any.
    /// Malformed cc_data is an error naming the problem; the caller decides whether to warn.
    pub fn apply(&mut self, pts: i64, access_unit: Vec<u8>) -> Result<Vec<u8>> {
        match self.pending.remove(&pts) {
            Some(cc) => {
                let nal = a53_cc_sei(self.codec, &cc)?;
                Ok(insert_before_first_slice(self.codec, &access_unit, &nal))
            }
            None => Ok(access_unit),
        }
    }

    /// Like [`apply`](Self::apply), but malformed captions never cost the picture: the access
    /// unit comes back unchanged, with the reason the captions were left out.
    pub fn apply_or_pass(
        &mut self,
        pts: i64,
        access_unit: Vec<u8>,
    ) -> (Vec<u8>, Option<MediaError>) {
        let Some(cc) = self.pending.remove(&pts) else {
            return (access_unit, None);
        };
        match a53_cc_sei(self.codec, &cc) {
            Ok(nal) => (
                insert_before_first_slice(self.codec, &access_unit, &nal),
                None,
            ),
            Err(e) => (access_unit, Some(e)),
        }
    }
}

fn is_slice(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => h264::is_vcl(t),
        Codec::Hevc => hevc::is_vcl(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_sei_matches_ffmpeg_layout() {
        let nal = a53_cc_sei(Codec::H264, &[0xFC, 0x94, 0x2C]).unwrap();
        assert_eq!(
            nal,
            [
                0x06, 0x04, 14, 0xB5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03, 0x41, 0x00, 0xFC,
                0x94, 0x2C, 0xFF, 0x80
            ]
        );
    }

    #[test]
    fn hevc_sei_uses_the_prefix_sei_header() {
        let nal = a53_cc_sei(Codec::Hevc, &[0xFC, 0x80, 0x80]).unwrap();
        assert_eq!(&nal[..2], &[0x4E, 0x01]);
    }

    #[test]
    fn zero_runs_get_emulation_prevention() {
        let nal = a53_cc_sei(Codec::H264, &[0xFC, 0x00, 0x00, 0xFC, 0x00, 0x01]).unwrap();
        // No 00 00 0x (x ≤ 3) sequence may remain after the header.
        assert!(!nal[1..]
            .windows(3)
            .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3));
    }

    #[test]
    fn malformed_captions_never_cost_the_picture() {
        let mut q = CaptionQueue::new(Codec::H264);
        q.remember(7, &[1, 2]);
        let au = vec![0, 0, 0, 1, 0x65, 0x88];
        let (out, err) = q.apply_or_pass(7, au.clone());
        assert_eq!(out, au);
        assert!(err.is_some());
        assert_eq!(q.apply_or_pass(8, au.clone()), (au, None));
    }

    #[test]
    fn bad_cc_data_is_refused() {
        assert!(a53_cc_sei(Codec::H264, &[]).is_err());
        assert!(a53_cc_sei(Codec::H264, &[1, 2]).is_err());
        assert!(a53_cc_sei(Codec::H264, &[0xFC; 3 * 32]).is_err());
        assert!(a53_cc_sei(Codec::H264, &[0xFC; 3 * 31]).is_ok());
    }

    #[test]
    fn queue_inserts_by_pts_and_stays_bounded() {
        let mut q = CaptionQueue::new(Codec::H264);
        q.remember(5, &[0xFC, 0x94, 0x2C]);
        let au = vec![0, 0, 0, 1, 0x65, 0x88];
        assert_eq!(q.apply(4, au.clone()).unwrap(), au);
        let with = q.apply(5, au.clone()).unwrap();
        assert!(with.len() > au.len() && with.ends_with(&au[4..]));
        assert_eq!(q.apply(5, au.clone()).unwrap(), au, "used once");
        for pts in 0..1000 {
            q.remember(pts, &[0xFC, 0x80, 0x80]);
        }
        assert!(q.pending.len() <= MAX_PENDING_CAPTIONS);
        q.remember(2000, &[1, 2]);
        assert!(q.apply(2000, au).is_err(), "malformed cc_data is reported");
    }

    #[test]
    fn sei_goes_after_parameter_sets_and_before_the_slice() {
        let au = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 0x88,
        ];
        let out = insert_before_first_slice(Codec::H264, &au, &[0x06, 0x04]);
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x06, 0x04, 0, 0, 0, 1,
                0x65, 0x88
            ]
        );
    }
}
