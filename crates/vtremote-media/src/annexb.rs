//! Annex B (ITU-T H.264/H.265 Annex B byte stream) ↔ length-prefixed NAL units
//! (ISO/IEC 14496-15 sample format, what VideoToolbox consumes and produces).

use crate::error::{MediaError, Result};

/// The 4-byte start code we always write: some Annex B consumers (MPEG-TS muxers, the
/// original client) only recognise the long form at the start of an access unit.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Iterator over the NAL units of an Annex B buffer.
///
/// Accepts 3- and 4-byte start codes. Bytes before the first start code are skipped (as
/// FFmpeg's parser does), trailing zero bytes of each unit are removed (a NAL unit never ends
/// in 0x00; they belong to the next start code or to `trailing_zero_8bits`), and empty units
/// between consecutive start codes are not yielded.
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Index of the first byte after the most recent start code (`data.len()` once exhausted).
    pos: usize,
}

/// Iterates the NAL units of `data` (see [`NalUnits`]).
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    let pos = find_start_code(data, 0).map_or(data.len(), |(_, end)| end);
    NalUnits { data, pos }
}

/// Finds the next `00 00 01` at or after `from`; returns (index of the first 0, index after the 1).
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= data.len() {
        // Skip ahead quickly: a start code's third byte is 1, its second is 0.
        match data[i + 2] {
            1 if data[i] == 0 && data[i + 1] == 0 => return Some((i, i + 3)),
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.data.len() {
            let start = self.pos;
            let (end, next) = match find_start_code(self.data, start) {
                Some((sc, after)) => (sc, after),
                None => (self.data.len(), self.data.len()),
            };
            self.pos = next;
            let mut unit = &self.data[start..end];
            while let [rest @ .., 0] = unit {
                unit = rest;
            }
            if !unit.is_empty() {
                return Some(unit);
            }
        }
        None
    }
}

/// True when `data` begins with a 3- or 4-byte start code.
pub fn starts_with_start_code(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 1]) || data.starts_with(&START_CODE)
}

fn check_length_size(nal_length_size: u8) -> Result<()> {
    match nal_length_size {
        1 | 2 | 4 => Ok(()),
        other => Err(MediaError::InvalidNalLengthSize(other)),
    }
}

/// Appends one NAL unit with a big-endian length prefix of `nal_length_size` bytes.
pub(crate) fn push_length_prefixed(
    out: &mut Vec<u8>,
    nal: &[u8],
    nal_length_size: u8,
) -> Result<()> {
    let too_long = || MediaError::NalTooLong {
        length: nal.len(),
        nal_length_size,
    };
    match nal_length_size {
        1 => out.push(u8::try_from(nal.len()).map_err(|_| too_long())?),
        2 => out.extend_from_slice(
            &u16::try_from(nal.len())
                .map_err(|_| too_long())?
                .to_be_bytes(),
        ),
        4 => out.extend_from_slice(
            &u32::try_from(nal.len())
                .map_err(|_| too_long())?
                .to_be_bytes(),
        ),
        other => return Err(MediaError::InvalidNalLengthSize(other)),
    }
    out.extend_from_slice(nal);
    Ok(())
}

/// Converts an Annex B buffer to length-prefixed NAL units.
///
/// Empty input gives empty output; non-empty input without any start code is an error
/// rather than an empty sample, so a caller that mixed up the two formats finds out.
pub fn annexb_to_length_prefixed(data: &[u8], nal_length_size: u8) -> Result<Vec<u8>> {
    check_length_size(nal_length_size)?;
    if data.is_empty() {
        return Ok(Vec::new());
    }
    if find_start_code(data, 0).is_none() {
        return Err(MediaError::NoStartCode { length: data.len() });
    }
    // Output is never longer than the input: each start code (≥ 3 bytes) becomes a length
    // field of ≤ 4 bytes, and only a 3-byte code can grow by one; reserve a little slack.
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 4);
    for nal in nal_units(data) {
        push_length_prefixed(&mut out, nal, nal_length_size)?;
    }
    Ok(out)
}

/// Iterator over length-prefixed NAL units; yields an error (once, then stops) on a
/// truncated length field or a length that runs past the buffer.
#[derive(Debug, Clone)]
pub struct LengthPrefixedNalUnits<'a> {
    data: &'a [u8],
    pos: usize,
    nal_length_size: u8,
    failed: bool,
}

/// Iterates length-prefixed NAL units. `nal_length_size` must be 1, 2 or 4.
pub fn length_prefixed_nal_units(
    data: &[u8],
    nal_length_size: u8,
) -> Result<LengthPrefixedNalUnits<'_>> {
    check_length_size(nal_length_size)?;
    Ok(LengthPrefixedNalUnits {
        data,
        pos: 0,
        nal_length_size,
        failed: false,
    })
}

impl<'a> Iterator for LengthPrefixedNalUnits<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Result<&'a [u8]>> {
        if self.failed || self.pos >= self.data.len() {
            return None;
        }
        let size = usize::from(self.nal_length_size);
        let rest = &self.data[self.pos..];
        if rest.len() < size {
            self.failed = true;
            return Some(Err(MediaError::Truncated {
                what: "NAL length field",
                offset: self.pos,
                needed: size,
                available: rest.len(),
            }));
        }
        let length = rest[..size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let body = &rest[size..];
        if length > body.len() {
            self.failed = true;
            return Some(Err(MediaError::NalLengthOverrun {
                offset: self.pos,
                length,
                available: body.len(),
            }));
        }
        self.pos += size + length;
        Some(Ok(&body[..length]))
    }
}

/// Converts length-prefixed NAL units to Annex B with 4-byte start codes.
///
/// Zero-length units are dropped rather than rejected: they carry nothing, and some muxers
/// write them as padding.
pub fn length_prefixed_to_annexb(data: &[u8], nal_length_size: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 4);
    for nal in length_prefixed_nal_units(data, nal_length_size)? {
        let nal = nal?;
        if !nal.is_empty() {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(nal);
        }
    }
    Ok(out)
}

/// Appends `nals` to `out` as Annex B with 4-byte start codes.
pub fn write_annexb<'n>(out: &mut Vec<u8>, nals: impl IntoIterator<Item = &'n [u8]>) {
    for nal in nals {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 0,
        ];
        let units: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4]]);
    }

    #[test]
    fn leading_garbage_and_empty_units_are_skipped() {
        let data = [9, 9, 0, 0, 1, 0, 0, 1, 0x09, 0xF0];
        let units: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(units, vec![&[0x09, 0xF0][..]]);
    }

    #[test]
    fn round_trip_with_each_length_size() {
        let annexb = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3];
        for size in [1u8, 2, 4] {
            let lp = annexb_to_length_prefixed(&annexb, size).unwrap();
            let back = length_prefixed_to_annexb(&lp, size).unwrap();
            assert_eq!(back, [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3]);
        }
    }

    #[test]
    fn bad_length_sizes_are_rejected() {
        for size in [0u8, 3, 5, 255] {
            assert_eq!(
                annexb_to_length_prefixed(&[0, 0, 1, 0x65], size),
                Err(MediaError::InvalidNalLengthSize(size))
            );
            assert!(length_prefixed_to_annexb(&[0, 0, 0, 1, 0x65], size).is_err());
        }
    }

    #[test]
    fn oversized_nal_does_not_fit_one_byte_length() {
        let mut annexb = vec![0, 0, 1];
        annexb.extend_from_slice(&[0x41; 300]);
        assert_eq!(
            annexb_to_length_prefixed(&annexb, 1),
            Err(MediaError::NalTooLong {
                length: 300,
                nal_length_size: 1
            })
        );
    }

    #[test]
    fn overrunning_length_is_an_error() {
        assert_eq!(
            length_prefixed_to_annexb(&[0, 0, 0, 5, 0x65, 1], 4),
            Err(MediaError::NalLengthOverrun {
                offset: 0,
                length: 5,
                available: 2
            })
        );
        assert!(matches!(
            length_prefixed_to_annexb(&[0, 0, 0, 1, 0x65, 0, 0], 4),
            Err(MediaError::Truncated {
                needed: 4,
                available: 2,
                ..
            })
        ));
    }

    #[test]
    fn data_without_start_code_is_an_error() {
        assert_eq!(
            annexb_to_length_prefixed(&[1, 2, 3, 4], 4),
            Err(MediaError::NoStartCode { length: 4 })
        );
        assert_eq!(annexb_to_length_prefixed(&[], 4), Ok(Vec::new()));
    }
}
