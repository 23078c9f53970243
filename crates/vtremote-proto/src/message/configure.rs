use crate::error::ProtoError;
use crate::header::MessageType;
use crate::reader::Reader;
use crate::writer::*;

/// CONFIGURE (type 3, C→S), spec §3.3:
/// ```text
/// width u32 | height u32 | pix_fmt u8 | tb_num u32 | tb_den u32 | fr_num u32 | fr_den u32 |
/// option_count u16 | (key str16, value str16)… | extradata bytes32
/// ```
/// `pix_fmt` stays a raw code here: refusing an unknown one is the session's decision and
/// deserves an ERROR naming it, not a parse failure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Configure {
    pub width: u32,
    pub height: u32,
    pub pix_fmt: u8,
    pub time_base: (u32, u32),
    pub framerate: (u32, u32),
    /// In wire order, duplicates kept (the consumer applies "last wins").
    pub options: Vec<(String, String)>,
    pub extradata: Vec<u8>,
}

impl Configure {
    const TY: MessageType = MessageType::Configure;

    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Self::TY, payload);
        let mut c = Configure {
            width: r.u32("width")?,
            height: r.u32("height")?,
            pix_fmt: r.u8("pix_fmt")?,
            time_base: (r.u32("time_base_num")?, r.u32("time_base_den")?),
            framerate: (r.u32("framerate_num")?, r.u32("framerate_den")?),
            ..Configure::default()
        };
        // Both trailing blocks are optional for the original server (spec §3.3).
        if r.remaining() >= 2 {
            let n = r.u16("option_count")?;
            for _ in 0..n {
                let key = r.str16_lossy("option key")?;
                let value = r.str16_lossy("option value")?;
                if let (Some(k), Some(v)) = (key, value) {
                    c.options.push((k, v));
                }
            }
        }
        if r.remaining() >= 4 {
            c.extradata = r.bytes32("extradata")?.to_vec();
        }
        Ok(c)
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        put_u32(out, self.width);
        put_u32(out, self.height);
        put_u8(out, self.pix_fmt);
        put_u32(out, self.time_base.0);
        put_u32(out, self.time_base.1);
        put_u32(out, self.framerate.0);
        put_u32(out, self.framerate.1);
        let n = u16::try_from(self.options.len()).map_err(|_| ProtoError::InvalidValue {
            ty: Self::TY,
            field: "option_count",
            value: self.options.len() as u64,
        })?;
        put_u16(out, n);
        for (k, v) in &self.options {
            put_str16(out, Self::TY, "option key", k)?;
            put_str16(out, Self::TY, "option value", v)?;
        }
        put_bytes32(out, &self.extradata);
        Ok(())
    }

    /// The value of `key`, last occurrence winning like the original server.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// CONFIGURE_ACK (type 4, S→C), spec §3.4:
/// ```text
/// status u8 | extradata_len u16 | extradata | pix_fmt u8 | warning_count u8 | warnings str16…
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigureAck {
    pub status: u8,
    /// Encode mode: the avcC/hvcC record (not Annex B).
    pub extradata: Vec<u8>,
    pub pix_fmt: u8,
    pub warnings: Vec<String>,
}

impl ConfigureAck {
    const TY: MessageType = MessageType::ConfigureAck;

    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Self::TY, payload);
        let status = r.u8("status")?;
        let mut ack = ConfigureAck {
            status,
            ..Default::default()
        };
        if r.remaining() == 0 {
            return Ok(ack);
        }
        let n = r.u16("extradata_len")? as usize;
        ack.extradata = r.take(n, "extradata")?.to_vec();
        if r.remaining() >= 1 {
            ack.pix_fmt = r.u8("pix_fmt")?;
        }
        if r.remaining() >= 1 {
            let count = r.u8("warning_count")?;
            for _ in 0..count {
                ack.warnings.push(r.str16("warnings")?);
            }
        }
        Ok(ack)
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        put_u8(out, self.status);
        // The original server clamps and desynchronises the stream here (spec §12.3).
        let n = u16::try_from(self.extradata.len()).map_err(|_| ProtoError::InvalidValue {
            ty: Self::TY,
            field: "extradata_len",
            value: self.extradata.len() as u64,
        })?;
        put_u16(out, n);
        out.extend_from_slice(&self.extradata);
        put_u8(out, self.pix_fmt);
        let count = self.warnings.len().min(u8::MAX as usize);
        put_u8(out, count as u8);
        for w in &self.warnings[..count] {
            let mut w = w.as_str();
            if w.len() > 1024 {
                let mut cut = 1024;
                while !w.is_char_boundary(cut) {
                    cut -= 1;
                }
                w = &w[..cut];
            }
            put_str16(out, Self::TY, "warnings", w)?;
        }
        Ok(())
    }
}
