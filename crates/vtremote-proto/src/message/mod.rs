//! Typed v1 messages: one file per kind, each with `decode` (from a payload) and `encode`
//! (to a payload). [`Message`] ties them to the header's type number.

mod configure;
mod control;
mod frame;
mod hello;
mod packet;

pub use configure::{Configure, ConfigureAck};
pub use control::{ErrorCode, ErrorMsg};
pub use frame::{encode_frame, Frame, Plane, PlaneSource, PlaneView, SideData};
pub use hello::{Hello, HelloAck, HelloStatus};
pub use packet::Packet;

use crate::error::ProtoError;
use crate::header::{Header, MessageType, HEADER_LEN};

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Hello(Hello),
    HelloAck(HelloAck),
    Configure(Configure),
    ConfigureAck(ConfigureAck),
    Frame(Frame),
    Packet(Packet),
    Flush,
    Done,
    Error(ErrorMsg),
    Ping,
    Pong,
    /// Decode mode, server to client, only to a client that asked for it in CONFIGURE
    /// (`vtr_skip_notices`): this many more packets will produce no picture.
    Skipped(u32),
    /// A type number v1 does not define; its payload has been skipped.
    Unknown(u16),
}

impl Message {
    pub fn ty(&self) -> MessageType {
        match self {
            Message::Hello(_) => MessageType::Hello,
            Message::HelloAck(_) => MessageType::HelloAck,
            Message::Configure(_) => MessageType::Configure,
            Message::ConfigureAck(_) => MessageType::ConfigureAck,
            Message::Frame(_) => MessageType::Frame,
            Message::Packet(_) => MessageType::Packet,
            Message::Flush => MessageType::Flush,
            Message::Done => MessageType::Done,
            Message::Error(_) => MessageType::Error,
            Message::Ping => MessageType::Ping,
            Message::Pong => MessageType::Pong,
            Message::Skipped(_) => MessageType::Skipped,
            Message::Unknown(t) => MessageType::Unknown(*t),
        }
    }

    /// Decodes a payload whose header has already passed [`crate::Limits::check`].
    /// Takes ownership so FRAME and PACKET keep the payload buffer instead of copying it.
    pub fn decode(ty: MessageType, payload: Vec<u8>) -> Result<Message, ProtoError> {
        Ok(match ty {
            MessageType::Hello => Message::Hello(Hello::decode(&payload)?),
            MessageType::HelloAck => Message::HelloAck(HelloAck::decode(&payload)?),
            MessageType::Configure => Message::Configure(Configure::decode(&payload)?),
            MessageType::ConfigureAck => Message::ConfigureAck(ConfigureAck::decode(&payload)?),
            MessageType::Frame => Message::Frame(Frame::decode(payload)?),
            MessageType::Packet => Message::Packet(Packet::decode(payload)?),
            // Receivers ignore payload bytes of the empty messages (spec §3.8).
            MessageType::Flush => Message::Flush,
            MessageType::Done => Message::Done,
            MessageType::Ping => Message::Ping,
            MessageType::Pong => Message::Pong,
            MessageType::Error => Message::Error(ErrorMsg::decode(&payload)),
            MessageType::Skipped => {
                let mut r = crate::reader::Reader::new(MessageType::Skipped, &payload);
                Message::Skipped(r.u32("count")?)
            }
            MessageType::Unknown(t) => Message::Unknown(t),
        })
    }

    /// Appends header and payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        let start = begin(out);
        match self {
            Message::Hello(m) => m.encode(out)?,
            Message::HelloAck(m) => m.encode(out)?,
            Message::Configure(m) => m.encode(out)?,
            Message::ConfigureAck(m) => m.encode(out)?,
            Message::Frame(m) => m.encode(out),
            Message::Packet(m) => m.encode(out),
            Message::Error(m) => m.encode(out)?,
            Message::Skipped(n) => crate::writer::put_u32(out, *n),
            Message::Flush
            | Message::Done
            | Message::Ping
            | Message::Pong
            | Message::Unknown(_) => {}
        }
        finish(out, start, self.ty());
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, ProtoError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// Reserves the header; [`finish`] fills it once the payload length is known.
pub(crate) fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    start
}

pub(crate) fn finish(out: &mut [u8], start: usize, ty: MessageType) {
    let len = (out.len() - start - HEADER_LEN) as u32;
    out[start..start + HEADER_LEN].copy_from_slice(&Header::new(ty, len).encode());
}
