use crate::header::MessageType;

/// Everything that can be wrong with bytes claiming to be VTRemote v1.
///
/// Each variant names the field or message so a log line tells the user what was wrong
/// without a packet capture.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("bad magic 0x{0:08x} (expected 0x56545231 \"VTR1\"): not a vtremote peer")]
    BadMagic(u32),
    #[error("unsupported protocol version {0} (this build speaks version 1)")]
    UnsupportedVersion(u16),
    #[error("{ty} message of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        ty: MessageType,
        len: u32,
        limit: u32,
    },
    #[error("{ty} payload truncated reading {field}: need {need} bytes, {have} left")]
    Truncated {
        ty: MessageType,
        field: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{ty} field {field} is not valid UTF-8")]
    InvalidUtf8 {
        ty: MessageType,
        field: &'static str,
    },
    #[error("{ty} field {field} is {len} bytes, more than the 65535 a str16 can carry")]
    StringTooLong {
        ty: MessageType,
        field: &'static str,
        len: usize,
    },
    #[error("{ty} field {field} has invalid value {value}")]
    InvalidValue {
        ty: MessageType,
        field: &'static str,
        value: u64,
    },
    #[error("FRAME plane {plane}: {reason}")]
    BadPlane { plane: usize, reason: String },
    #[error("FRAME plane {plane}: {codec} data of {compressed} bytes does not decompress to exactly {expected} bytes: {reason}")]
    Decompress {
        plane: usize,
        codec: &'static str,
        compressed: usize,
        expected: usize,
        reason: String,
    },
    #[error("unknown wire_compression value {0} (0 none, 1 lz4, 2 zstd, 3 vtl)")]
    UnknownCompression(i64),
    #[error("unknown pixel format code {0} (1 nv12, 2 p010)")]
    UnknownPixelFormat(u8),
}
