//! The one error type of this crate. Every variant names the structure and field that was
//! wrong, and the sizes involved, so a refusal can be passed to a person unchanged.

/// Why a buffer could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The input ended inside a field.
    #[error("{what}: truncated at byte {offset}: need {needed} more byte(s), {available} left")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A length-prefixed NAL unit claims more bytes than the buffer holds.
    #[error("NAL unit at byte {offset}: length {length} exceeds the {available} byte(s) left")]
    NalLengthOverrun {
        offset: usize,
        length: usize,
        available: usize,
    },
    /// NAL length fields must be 1, 2 or 4 bytes (ISO/IEC 14496-15 §5.3.3.1.2).
    #[error("NAL length size {0} is invalid (must be 1, 2 or 4)")]
    InvalidNalLengthSize(u8),
    /// A NAL unit does not fit the chosen length-field size.
    #[error("NAL unit of {length} bytes does not fit a {nal_length_size}-byte length field")]
    NalTooLong { length: usize, nal_length_size: u8 },
    /// Non-empty data that contains no Annex B start code.
    #[error("no Annex B start code in {length} byte(s) of data")]
    NoStartCode { length: usize },
    /// A decoder configuration record with an unknown version.
    #[error("{record}: configurationVersion is {version}, expected 1")]
    BadConfigurationVersion { record: &'static str, version: u8 },
    /// A parameter set that must be present is not.
    #[error("no {kind} NAL unit found")]
    MissingParameterSet { kind: &'static str },
    /// A NAL unit in a record or parameter-set list has the wrong type.
    #[error("{context}: NAL unit type {nal_type} is not allowed here")]
    UnexpectedNalType { context: &'static str, nal_type: u8 },
    /// A list has more entries than its count field can express.
    #[error("{what}: {count} entries exceed the format's maximum of {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    /// A parameter-set field holds a value the standard forbids (or one we cannot represent).
    #[error("{codec} SPS: {field} = {value} is out of range (max {max})")]
    SpsValueOutOfRange {
        codec: &'static str,
        field: &'static str,
        value: u64,
        max: u64,
    },
    /// The SPS bit stream ended before `field` could be read.
    #[error("{codec} SPS: bit stream ends inside {field} (bit {bit_offset} of {bit_len})")]
    SpsTruncated {
        codec: &'static str,
        field: &'static str,
        bit_offset: usize,
        bit_len: usize,
    },
    /// Frame cropping / conformance window removes the whole picture.
    #[error(
        "{codec} SPS: cropping {crop_w}x{crop_h} leaves nothing of the coded {coded_w}x{coded_h}"
    )]
    CropTooLarge {
        codec: &'static str,
        coded_w: u32,
        coded_h: u32,
        crop_w: u32,
        crop_h: u32,
    },
}

pub type Result<T, E = MediaError> = std::result::Result<T, E>;
