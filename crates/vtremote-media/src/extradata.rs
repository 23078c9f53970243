//! Codec extradata in whichever form a peer sends it: an avcC/hvcC record (with or without
//! its 8-byte box header) or Annex B parameter sets.

use crate::annexb;
use crate::error::Result;
use crate::{avcc, hvcc, Codec};

/// True when `bytes` is Annex B rather than a decoder configuration record. A record
/// starts with configurationVersion 1 (or an 8-byte box header whose size is non-zero in
/// its first three bytes for any real record), never with `00 00 01` / `00 00 00 01`.
pub fn is_annexb(bytes: &[u8]) -> bool {
    annexb::starts_with_start_code(bytes)
}

/// Converts extradata to Annex B parameter sets with 4-byte start codes. Empty input gives
/// empty output (parameter sets will come in-band).
pub fn to_annexb(codec: Codec, bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if is_annexb(bytes) {
        let mut out = Vec::with_capacity(bytes.len() + 8);
        annexb::write_annexb(&mut out, annexb::nal_units(bytes));
        return Ok(out);
    }
    match codec {
        Codec::H264 => avcc::record_to_annexb(bytes),
        Codec::Hevc => hvcc::record_to_annexb(bytes),
    }
}

/// Builds the avcC/hvcC record body (4-byte NAL lengths) from Annex B parameter sets.
pub fn annexb_to_record(codec: Codec, annexb: &[u8]) -> Result<Vec<u8>> {
    match codec {
        Codec::H264 => avcc::annexb_to_record(annexb),
        Codec::Hevc => hvcc::annexb_to_record(annexb),
    }
}

/// The record body to publish for a stream, from extradata in either form (a record such as
/// an encoder's own avcC/hvcC atom keeps its SEI arrays; Annex B keeps only VPS/SPS/PPS).
/// `repeated_in_band`: whether the stream also carries its parameter sets in-band, which
/// hvcC must declare with array_completeness 0 (ISO/IEC 14496-15 §8.3.3.1.2); avcC has no
/// such flag. Fails unless the record holds every parameter set a decoder needs.
pub fn record_for_stream(codec: Codec, bytes: &[u8], repeated_in_band: bool) -> Result<Vec<u8>> {
    match codec {
        Codec::H264 => {
            let config = if is_annexb(bytes) {
                avcc::AvcDecoderConfig::from_annexb(bytes)?
            } else {
                avcc::AvcDecoderConfig::parse(bytes)?
            };
            if config.sps.is_empty() {
                return Err(crate::MediaError::MissingParameterSet { kind: "H.264 SPS" });
            }
            if config.pps.is_empty() {
                return Err(crate::MediaError::MissingParameterSet { kind: "H.264 PPS" });
            }
            config.to_bytes()
        }
        Codec::Hevc => {
            let mut config = if is_annexb(bytes) {
                hvcc::HevcDecoderConfig::from_annexb(bytes)?
            } else {
                hvcc::HevcDecoderConfig::parse(bytes)?
            };
            config.check_parameter_sets()?;
            config.set_parameter_set_completeness(!repeated_in_band);
            config.to_bytes()
        }
    }
}

/// Returns a record body for extradata in either form: a record is re-serialised from its
/// parsed form (dropping any box header), Annex B is converted.
pub fn to_record(codec: Codec, bytes: &[u8]) -> Result<Vec<u8>> {
    if is_annexb(bytes) {
        return annexb_to_record(codec, bytes);
    }
    match codec {
        Codec::H264 => avcc::AvcDecoderConfig::parse(bytes)?.to_bytes(),
        Codec::Hevc => hvcc::HevcDecoderConfig::parse(bytes)?.to_bytes(),
    }
}

/// The NAL length size samples of this stream use: the record's, or 4 for Annex B (we
/// write 4-byte lengths when converting).
pub fn nal_length_size(codec: Codec, bytes: &[u8]) -> Result<u8> {
    if bytes.is_empty() || is_annexb(bytes) {
        return Ok(4);
    }
    Ok(match codec {
        Codec::H264 => avcc::AvcDecoderConfig::parse(bytes)?.nal_length_size,
        Codec::Hevc => hvcc::HevcDecoderConfig::parse(bytes)?.nal_length_size,
    })
}

/// The parameter-set NAL units (no start codes) of extradata in either form, in the order a
/// format description wants them.
pub fn parameter_sets(codec: Codec, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let annexb = to_annexb(codec, bytes)?;
    Ok(annexb::nal_units(&annexb)
        .filter(|nal| crate::nal::is_parameter_set(codec, nal))
        .map(<[u8]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_extradata_is_empty_annexb() {
        assert_eq!(to_annexb(Codec::H264, &[]), Ok(Vec::new()));
        assert_eq!(nal_length_size(Codec::Hevc, &[]), Ok(4));
    }

    #[test]
    fn three_byte_start_codes_are_normalised() {
        let annexb = [0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE];
        assert_eq!(
            to_annexb(Codec::H264, &annexb).unwrap(),
            [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE]
        );
    }
}
