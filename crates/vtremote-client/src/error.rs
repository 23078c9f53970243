use vtremote_proto::{ErrorMsg, ProtoError};

/// Every failure names the helper it happened with and, where it helps, what was in flight.
/// Causes are part of the message (`cause` fields are deliberately not `source`s), so a
/// plain `to_string()` — all a C caller sees — tells the whole story once.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{host}: cannot resolve host name: {cause}")]
    Resolve { host: String, cause: std::io::Error },
    #[error("{host}: connection refused (is vtremoted running and listening on that port?)")]
    Refused { host: String },
    #[error("{host}: cannot connect: {cause}")]
    Connect { host: String, cause: std::io::Error },
    #[error("{host}: timed out after {ms} ms {what}")]
    Timeout {
        host: String,
        ms: u128,
        what: &'static str,
    },
    #[error("{host}: authentication failed (wrong or missing token)")]
    AuthFailed { host: String },
    #[error("{host}: server busy ({active} of {max} sessions in use)")]
    Busy { host: String, active: u16, max: u16 },
    #[error("{host}: {error}")]
    Server { host: String, error: ErrorMsg },
    #[error("{host}: {what}: {cause}")]
    Protocol {
        host: String,
        what: String,
        cause: ProtoError,
    },
    #[error("{host}: unexpected {got} while waiting for {expected}: not a vtremote server, or an incompatible one")]
    Unexpected {
        host: String,
        got: String,
        expected: &'static str,
    },
    #[error("{host}: I/O error {what}: {cause}")]
    Io {
        host: String,
        what: &'static str,
        cause: std::io::Error,
    },
    #[error("{host}: connection closed by the server {what}")]
    Closed { host: String, what: &'static str },
    #[error("{host}: the helper's TLS fingerprint is {presented}, not the expected {expected}{source_note}: another machine is answering, or the helper's key changed (`vtremoted --fingerprint` on the helper prints its own)")]
    TlsFingerprint {
        host: String,
        expected: String,
        presented: String,
        /// Where the expected one came from, when not from the caller.
        source_note: String,
    },
    #[error("{host}: TLS handshake failed: {cause} (a helper that speaks TLS is a vtremoted with TLS; the original daemon and helpers before it speak only plain v1)")]
    Tls { host: String, cause: String },
    #[error("{cause}")]
    Discovery {
        cause: String,
        /// The browse worked and nobody answered (a helper may be restarting), as opposed
        /// to mDNS being unusable here.
        nothing_found: bool,
    },
    #[error("{pool}: no helper in the pool can take the session: {reasons}")]
    NoHelper { pool: String, reasons: String },
    #[error("{pool}: lost the helper ({lost}) and {outcome}")]
    Failover {
        pool: String,
        lost: String,
        outcome: String,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The in-flight window is full: receive before sending more.
    #[error("in-flight window full; receive before sending more")]
    WouldBlock,
}

impl ClientError {
    pub(crate) fn io(host: &str, what: &'static str, source: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match source.kind() {
            WouldBlock | TimedOut => ClientError::Timeout {
                host: host.into(),
                ms: 0,
                what,
            },
            UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
                ClientError::Closed {
                    host: host.into(),
                    what,
                }
            }
            _ => ClientError::Io {
                host: host.into(),
                what,
                cause: source,
            },
        }
    }
}

/// A clonable summary of a reader/writer thread failure, handed to the caller's thread.
pub(crate) fn clone_error(e: &ClientError) -> ClientError {
    match e {
        ClientError::Resolve { host, cause } => ClientError::Resolve {
            host: host.clone(),
            cause: std::io::Error::new(cause.kind(), cause.to_string()),
        },
        ClientError::Refused { host } => ClientError::Refused { host: host.clone() },
        ClientError::TlsFingerprint {
            host,
            expected,
            presented,
            source_note,
        } => ClientError::TlsFingerprint {
            host: host.clone(),
            expected: expected.clone(),
            presented: presented.clone(),
            source_note: source_note.clone(),
        },
        ClientError::NoHelper { pool, reasons } => ClientError::NoHelper {
            pool: pool.clone(),
            reasons: reasons.clone(),
        },
        ClientError::Tls { host, cause } => ClientError::Tls {
            host: host.clone(),
            cause: cause.clone(),
        },
        ClientError::Discovery {
            cause,
            nothing_found,
        } => ClientError::Discovery {
            cause: cause.clone(),
            nothing_found: *nothing_found,
        },
        ClientError::Connect { host, cause } => ClientError::Connect {
            host: host.clone(),
            cause: std::io::Error::new(cause.kind(), cause.to_string()),
        },
        ClientError::Timeout { host, ms, what } => ClientError::Timeout {
            host: host.clone(),
            ms: *ms,
            what,
        },
        ClientError::AuthFailed { host } => ClientError::AuthFailed { host: host.clone() },
        ClientError::Busy { host, active, max } => ClientError::Busy {
            host: host.clone(),
            active: *active,
            max: *max,
        },
        ClientError::Server { host, error } => ClientError::Server {
            host: host.clone(),
            error: error.clone(),
        },
        ClientError::Protocol { host, what, cause } => ClientError::Protocol {
            host: host.clone(),
            what: what.clone(),
            cause: cause.clone(),
        },
        ClientError::Unexpected {
            host,
            got,
            expected,
        } => ClientError::Unexpected {
            host: host.clone(),
            got: got.clone(),
            expected,
        },
        ClientError::Io { host, what, cause } => ClientError::Io {
            host: host.clone(),
            what,
            cause: std::io::Error::new(cause.kind(), cause.to_string()),
        },
        ClientError::Closed { host, what } => ClientError::Closed {
            host: host.clone(),
            what,
        },
        ClientError::Failover {
            pool,
            lost,
            outcome,
        } => ClientError::Failover {
            pool: pool.clone(),
            lost: lost.clone(),
            outcome: outcome.clone(),
        },
        ClientError::InvalidArgument(s) => ClientError::InvalidArgument(s.clone()),
        ClientError::WouldBlock => ClientError::WouldBlock,
    }
}
