use crate::error::ProtoError;
use crate::header::MessageType;
use crate::reader::Reader;
use crate::writer::*;

/// HELLO (type 1, C→S), spec §3.1:
/// ```text
/// token str16 | codec str16 | client_name str16 | client_build str16
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    pub token: String,
    pub codec: String,
    pub client_name: String,
    pub client_build: String,
}

impl Hello {
    const TY: MessageType = MessageType::Hello;

    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Self::TY, payload);
        Ok(Hello {
            token: r.str16("token")?,
            codec: r.str16("codec")?,
            client_name: r.str16("client_name")?,
            client_build: r.str16("client_build")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        put_str16(out, Self::TY, "token", &self.token)?;
        put_str16(out, Self::TY, "codec", &self.codec)?;
        put_str16(out, Self::TY, "client_name", &self.client_name)?;
        put_str16(out, Self::TY, "client_build", &self.client_build)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloStatus {
    Accepted,
    /// Documented as 1 but never sent by the original server; ours sends it when full.
    Busy,
    AuthFailed,
    Other(u8),
}

impl HelloStatus {
    pub fn code(self) -> u8 {
        match self {
            HelloStatus::Accepted => 0,
            HelloStatus::Busy => 1,
            HelloStatus::AuthFailed => 2,
            HelloStatus::Other(c) => c,
        }
    }
    pub fn from_code(c: u8) -> Self {
        match c {
            0 => HelloStatus::Accepted,
            1 => HelloStatus::Busy,
            2 => HelloStatus::AuthFailed,
            c => HelloStatus::Other(c),
        }
    }
}

/// HELLO_ACK (type 2, S→C), spec §3.2:
/// ```text
/// status u8 | server_name str16 | server_version str16 | codec_count u8 | codecs str16… |
/// max_sessions u16 | active_sessions u16
/// ```
/// Everything after the status is optional for the original client, so a short ACK from an
/// unknown server decodes with defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloAck {
    pub status: HelloStatus,
    pub server_name: String,
    pub server_version: String,
    pub codecs: Vec<String>,
    pub max_sessions: u16,
    pub active_sessions: u16,
}

impl HelloAck {
    const TY: MessageType = MessageType::HelloAck;

    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Self::TY, payload);
        let status = HelloStatus::from_code(r.u8("status")?);
        let mut ack = HelloAck {
            status,
            server_name: String::new(),
            server_version: String::new(),
            codecs: Vec::new(),
            max_sessions: 0,
            active_sessions: 0,
        };
        // Best effort, as the original client: a truncated tail keeps what was read.
        let _ = (|| -> Result<(), ProtoError> {
            ack.server_name = r.str16("server_name")?;
            ack.server_version = r.str16("server_version")?;
            let n = r.u8("codec_count")?;
            for _ in 0..n {
                ack.codecs.push(r.str16("codecs")?);
            }
            ack.max_sessions = r.u16("max_sessions")?;
            ack.active_sessions = r.u16("active_sessions")?;
            Ok(())
        })();
        Ok(ack)
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        put_u8(out, self.status.code());
        put_str16(out, Self::TY, "server_name", &self.server_name)?;
        put_str16(out, Self::TY, "server_version", &self.server_version)?;
        let n = u8::try_from(self.codecs.len()).map_err(|_| ProtoError::InvalidValue {
            ty: Self::TY,
            field: "codec_count",
            value: self.codecs.len() as u64,
        })?;
        put_u8(out, n);
        for c in &self.codecs {
            put_str16(out, Self::TY, "codecs", c)?;
        }
        put_u16(out, self.max_sessions);
        put_u16(out, self.active_sessions);
        Ok(())
    }
}
