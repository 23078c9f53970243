//! Client sessions for a vtremote helper.
//!
//! One [`EncodeSession`] or [`DecodeSession`] is one TCP connection to `vtremoted` (or the
//! original Swift daemon: only plain v1 is spoken unless the server is ours). The caller's
//! thread only copies planes into a wire buffer; compression and socket writes happen on a
//! writer thread and reads on a reader thread, so a full in-flight window of frames is on
//! the wire while the helper encodes.
//!
//! [`RemoteEncoder`] and [`RemoteDecoder`] are what an application holds for a whole job:
//! they reconnect after a reset (a seek), sum the counters over every connection, print the
//! summary line and hand each input's cookie back with its output. The C ABI (feature
//! `capi`) and the `vtremote` CLI are both built on them; [`Settings`] reads the C ABI's
//! key/value options.
//!
//! The API maps onto FFmpeg's send/receive model: `send_*` returns
//! [`ClientError::WouldBlock`] when the window is full (call `receive_*`), and `receive_*`
//! returns [`Received::Again`] when nothing is ready yet (call `send_*`).

#![warn(clippy::undocumented_unsafe_blocks)]

mod config;
mod connection;
mod decode;
mod discover;
mod encode;
mod error;
mod failover;
mod flow;
mod ledger;
mod log;
mod options;
mod pipeline;
mod pool;
mod reorder;
mod resettable;
mod settings;
mod stats;
mod tls;
mod totals;

#[cfg(feature = "capi")]
pub mod capi;

pub use config::{
    token_from_file, ClientConfig, DecoderParams, EncoderParams, ServerInfo, Tls,
    DEFAULT_FAILOVER_WAIT, DEFAULT_INFLIGHT, DEFAULT_PORT, DISCOVERY_MS_ENV, TOKEN_ENV,
};
pub use decode::{DecodeSession, InputPacket, OutputFrame};
pub use encode::{EncodeSession, InputFrame, OutputPacket};
pub use error::ClientError;
pub use log::{LogLevel, Logger};
pub use resettable::{Refused, RemoteDecoder, RemoteEncoder};
pub use settings::{SettingError, Settings};
pub use stats::SessionStats;
pub use totals::{summary_line, SessionKind};
pub use vtremote_proto::{Codec, PixelFormat, PlaneSource, SideData, WireCompression};

/// Result of a non-blocking receive.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<T> {
    Item(T),
    /// Nothing ready: send more input first.
    Again,
    /// The server finished the stream (DONE).
    Eof,
}

impl<T> Received<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Received<U> {
        match self {
            Received::Item(t) => Received::Item(f(t)),
            Received::Again => Received::Again,
            Received::Eof => Received::Eof,
        }
    }
}

/// Probes a helper: connect, HELLO, read HELLO_ACK, close without configuring.
pub fn probe(config: &ClientConfig, codec: Codec) -> Result<ServerInfo, ClientError> {
    connection::probe(config, codec)
}

/// The helpers a `host` value names: a comma-separated list, and every address of a name
/// that resolves to several (a pool); a single helper as given.
pub fn pool_members(host: &str) -> Vec<String> {
    pool::members(host)
}

/// Probes every helper `config.host` names (for `auto`, every address mDNS finds), in
/// parallel: (member, answer) in order. A browse that finds nothing is one failed answer.
pub fn probe_pool(
    config: &ClientConfig,
    codec: Codec,
) -> Vec<(String, Result<ServerInfo, ClientError>)> {
    match pool::member_configs(config) {
        Ok(members) => pool::ask_all(&members, codec),
        Err(e) => vec![(config.host.clone(), Err(e))],
    }
}

/// Whether `host` asks for discovery (`auto`) rather than naming helpers.
pub fn is_discovery(host: &str) -> bool {
    discover::is_auto(host)
}
