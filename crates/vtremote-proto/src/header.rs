//! The 12-byte message header (spec §1.2) and the message type numbers (§2).

use crate::error::ProtoError;
use std::fmt;

/// ASCII "VTR1".
pub const MAGIC: u32 = 0x5654_5231;
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 12;

/// Message type numbers of v1. Unknown numbers are kept, not rejected: the original peers
/// read and discard them after the handshake (spec §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Hello,
    HelloAck,
    Configure,
    ConfigureAck,
    Frame,
    Packet,
    Flush,
    Done,
    Error,
    Ping,
    Pong,
    /// Our extension (type 12): packets that produced no picture (docs/protocol.md).
    Skipped,
    Unknown(u16),
}

impl MessageType {
    pub fn from_u16(v: u16) -> MessageType {
        match v {
            1 => MessageType::Hello,
            2 => MessageType::HelloAck,
            3 => MessageType::Configure,
            4 => MessageType::ConfigureAck,
            5 => MessageType::Frame,
            6 => MessageType::Packet,
            7 => MessageType::Flush,
            8 => MessageType::Done,
            9 => MessageType::Error,
            10 => MessageType::Ping,
            11 => MessageType::Pong,
            12 => MessageType::Skipped,
            other => MessageType::Unknown(other),
        }
    }

    pub fn to_u16(self) -> u16 {
        match self {
            MessageType::Hello => 1,
            MessageType::HelloAck => 2,
            MessageType::Configure => 3,
            MessageType::ConfigureAck => 4,
            MessageType::Frame => 5,
            MessageType::Packet => 6,
            MessageType::Flush => 7,
            MessageType::Done => 8,
            MessageType::Error => 9,
            MessageType::Ping => 10,
            MessageType::Pong => 11,
            MessageType::Skipped => 12,
            MessageType::Unknown(v) => v,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            MessageType::Hello => "HELLO",
            MessageType::HelloAck => "HELLO_ACK",
            MessageType::Configure => "CONFIGURE",
            MessageType::ConfigureAck => "CONFIGURE_ACK",
            MessageType::Frame => "FRAME",
            MessageType::Packet => "PACKET",
            MessageType::Flush => "FLUSH",
            MessageType::Done => "DONE",
            MessageType::Error => "ERROR",
            MessageType::Ping => "PING",
            MessageType::Pong => "PONG",
            MessageType::Skipped => "SKIPPED",
            MessageType::Unknown(v) => return write!(f, "message type {v}"),
        };
        f.write_str(name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ty: MessageType,
    /// Payload length, header excluded.
    pub len: u32,
}

impl Header {
    pub fn new(ty: MessageType, len: u32) -> Header {
        Header { ty, len }
    }

    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, ProtoError> {
        let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if magic != MAGIC {
            return Err(ProtoError::BadMagic(magic));
        }
        let version = u16::from_be_bytes([bytes[4], bytes[5]]);
        if version != VERSION {
            return Err(ProtoError::UnsupportedVersion(version));
        }
        let ty = MessageType::from_u16(u16::from_be_bytes([bytes[6], bytes[7]]));
        let len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        Ok(Header { ty, len })
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        out[4..6].copy_from_slice(&VERSION.to_be_bytes());
        out[6..8].copy_from_slice(&self.ty.to_u16().to_be_bytes());
        out[8..12].copy_from_slice(&self.len.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_every_type() {
        for v in 0..=12u16 {
            let h = Header::new(MessageType::from_u16(v), 0x0102_0304);
            assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        }
    }

    #[test]
    fn bad_magic_is_named() {
        let mut b = Header::new(MessageType::Ping, 0).encode();
        b[0] = b'G';
        let err = Header::decode(&b).unwrap_err();
        assert_eq!(err, ProtoError::BadMagic(0x4754_5231));
        assert!(err.to_string().contains("not a vtremote peer"));
    }

    #[test]
    fn other_version_is_refused() {
        let mut b = Header::new(MessageType::Ping, 0).encode();
        b[5] = 2;
        assert_eq!(
            Header::decode(&b).unwrap_err(),
            ProtoError::UnsupportedVersion(2)
        );
    }
}
