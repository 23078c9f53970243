use crate::error::ProtoError;
use crate::header::MessageType;
use crate::reader::Reader;
use crate::writer::*;

/// PACKET (type 6, both directions), spec §3.7:
/// ```text
/// pts i64 | dts i64 | duration i64 | flags u32 | data_len u32 | data (Annex B)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Packet {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub flags: u32,
    pub data: Vec<u8>,
}

impl Packet {
    const TY: MessageType = MessageType::Packet;
    pub const FLAG_KEYFRAME: u32 = 1;
    pub const FIXED_LEN: usize = 32;
    /// Bytes of a whole PACKET message (header included) besides its data.
    pub const MESSAGE_OVERHEAD: usize = crate::HEADER_LEN + Self::FIXED_LEN;

    pub fn is_keyframe(&self) -> bool {
        self.flags & Self::FLAG_KEYFRAME != 0
    }

    pub fn decode(mut payload: Vec<u8>) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Self::TY, &payload);
        let pts = r.i64("pts")?;
        let dts = r.i64("dts")?;
        let duration = r.i64("duration")?;
        let flags = r.u32("flags")?;
        let n = r.u32("data_len")? as usize;
        r.take(n, "data")?;
        // Reuse the payload allocation for the data instead of copying it out.
        payload.truncate(Self::FIXED_LEN + n);
        payload.drain(..Self::FIXED_LEN);
        Ok(Packet {
            pts,
            dts,
            duration,
            flags,
            data: payload,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_packet_fields(
            out,
            self.pts,
            self.dts,
            self.duration,
            self.flags,
            &self.data,
        );
    }
}

/// Writes a PACKET payload straight from borrowed data (no intermediate [`Packet`]).
pub(crate) fn encode_packet_fields(
    out: &mut Vec<u8>,
    pts: i64,
    dts: i64,
    duration: i64,
    flags: u32,
    data: &[u8],
) {
    put_i64(out, pts);
    put_i64(out, dts);
    put_i64(out, duration);
    put_u32(out, flags);
    put_bytes32(out, data);
}

impl Packet {
    /// Appends a whole PACKET message (header included) built from borrowed data.
    pub fn encode_message(
        out: &mut Vec<u8>,
        pts: i64,
        dts: i64,
        duration: i64,
        flags: u32,
        data: &[u8],
    ) {
        let start = super::begin(out);
        encode_packet_fields(out, pts, dts, duration, flags, data);
        super::finish(out, start, MessageType::Packet);
    }
}
