//! Why a session ended early, and the ERROR it owes the client.

use vtremote_proto::{ErrorCode, ErrorMsg, ProtoError};

use crate::backend::BackendError;
use crate::message_io::WireError;

/// `reply` is the ERROR we owe the client, if any (none when the client is gone).
#[derive(Debug)]
pub struct SessionError {
    pub reply: Option<ErrorMsg>,
    pub message: String,
    /// The client was refused for its token (HELLO_ACK said so; no ERROR follows).
    pub auth_failed: bool,
}

impl SessionError {
    pub fn reply(code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        SessionError {
            reply: Some(ErrorMsg::new(code, message.clone())),
            message,
            auth_failed: false,
        }
    }
    pub fn silent(message: impl Into<String>) -> Self {
        SessionError {
            reply: None,
            message: message.into(),
            auth_failed: false,
        }
    }
    /// Refused for its token; HELLO_ACK already told the client.
    pub fn auth_failed(message: impl Into<String>) -> Self {
        SessionError {
            auth_failed: true,
            ..SessionError::silent(message)
        }
    }
    /// What every session still running gets when the daemon stops (SIGTERM/SIGINT).
    pub fn shutting_down() -> Self {
        SessionError::reply(ErrorCode::Internal, "daemon shutting down")
    }
    /// The ERROR code this session ends with, if it owes one (for tests and logs).
    pub fn code(&self) -> Option<ErrorCode> {
        self.reply.as_ref().map(|r| r.code)
    }
}

impl From<WireError> for SessionError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Protocol(p) => protocol_error(p),
            other => SessionError::silent(other.to_string()),
        }
    }
}

pub fn protocol_error(p: ProtoError) -> SessionError {
    SessionError::reply(ErrorCode::BadRequest, format!("protocol violation: {p}"))
}

impl From<BackendError> for SessionError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Unsupported { option, reason } => SessionError::reply(
                ErrorCode::UnsupportedConfig,
                format!("unsupported {option}: {reason}"),
            ),
            BackendError::Failed(m) => SessionError::reply(ErrorCode::Internal, m),
        }
    }
}
