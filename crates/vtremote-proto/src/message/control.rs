use crate::error::ProtoError;
use crate::header::MessageType;
use crate::reader::Reader;
use crate::writer::*;

/// ERROR codes: 1 is the only one the original server sends; 2–5 are the documented table
/// (spec §3.9) that this implementation actually uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    UnsupportedCompression,
    Busy,
    UnsupportedConfig,
    BadRequest,
    Internal,
    Other(u32),
}

impl ErrorCode {
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::UnsupportedCompression => 1,
            ErrorCode::Busy => 2,
            ErrorCode::UnsupportedConfig => 3,
            ErrorCode::BadRequest => 4,
            ErrorCode::Internal => 5,
            ErrorCode::Other(c) => c,
        }
    }
    pub fn from_code(c: u32) -> Self {
        match c {
            1 => ErrorCode::UnsupportedCompression,
            2 => ErrorCode::Busy,
            3 => ErrorCode::UnsupportedConfig,
            4 => ErrorCode::BadRequest,
            5 => ErrorCode::Internal,
            c => ErrorCode::Other(c),
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::UnsupportedCompression => "unsupported wire compression",
            ErrorCode::Busy => "server busy",
            ErrorCode::UnsupportedConfig => "unsupported configuration",
            ErrorCode::BadRequest => "bad request",
            ErrorCode::Internal => "internal server error",
            ErrorCode::Other(_) => "error",
        }
    }
}

/// ERROR (type 9, S→C), spec §3.9: `code u32 | message str16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMsg {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorMsg {
    const TY: MessageType = MessageType::Error;

    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorMsg {
            code,
            message: message.into(),
        }
    }

    /// Never fails: the original mock sends the text without its length prefix, and an ERROR
    /// is worth showing even when malformed (spec §3.9).
    pub fn decode(payload: &[u8]) -> Self {
        let mut r = Reader::new(Self::TY, payload);
        let code = match r.u32("code") {
            Ok(c) => ErrorCode::from_code(c),
            Err(_) => ErrorCode::Other(0),
        };
        let rest = &payload[payload.len().min(4)..];
        let message = match Reader::new(Self::TY, rest).str16("message") {
            Ok(m) if 2 + m.len() == rest.len() => m,
            _ => String::from_utf8_lossy(rest).into_owned(),
        };
        ErrorMsg { code, message }
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        put_u32(out, self.code.code());
        // Truncate rather than fail: an error report must always be sendable.
        let mut msg = self.message.as_str();
        while msg.len() > u16::MAX as usize {
            let mut cut = u16::MAX as usize;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg = &msg[..cut];
        }
        put_str16(out, Self::TY, "message", msg)
    }
}

impl std::fmt::Display for ErrorMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server error {} ({}): {}",
            self.code.code(),
            self.code.describe(),
            self.message
        )
    }
}
