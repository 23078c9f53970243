use std::time::Duration;
use vtremote_proto::{Codec, PixelFormat, WireCompression};

use crate::log::Logger;

pub const DEFAULT_PORT: u16 = 5555;
/// The original client's default window (`vt_remote_inflight`).
pub const DEFAULT_INFLIGHT: u32 = 16;
/// The original client's default (`vt_remote_timeout_ms`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
/// How long a job whose helper failed waits for one to take over: long enough for a
/// restarted helper (launchd, systemd, a Kubernetes pod) to come back.
pub const DEFAULT_FAILOVER_WAIT: Duration = Duration::from_secs(15);

/// How to reach a helper and how to talk to it; shared by encode and decode sessions.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port`, `host` (port 5555), or `[v6addr]:port`.
    pub host: String,
    pub token: String,
    /// Bounds connect, every blocking read and every write.
    pub timeout: Duration,
    pub client_name: String,
    pub client_build: String,
    /// What the caller asks for; a session uses `ServerInfo::usable_compression` of it.
    pub wire_compression: WireCompression,
    /// Frames (encode) or packets (decode) on the wire before the caller must receive.
    pub inflight: u32,
    /// Where the session's own log lines go (default: `tracing`).
    pub log: Logger,
    pub tls: Tls,
    /// Whether a job goes on with another helper (or the same one back) when its helper
    /// dies mid-stream; costs keeping the inputs whose outputs the caller has not got.
    pub failover: bool,
    /// How long a takeover may wait for a helper to accept the session.
    pub failover_wait: Duration,
    /// How long host `auto` browses mDNS for helpers.
    pub discovery_window: Duration,
    /// The fingerprint a discovered member advertised in its TXT record: expected when
    /// neither a pin nor a first-use record says otherwise (docs/security.md).
    pub(crate) advertised_fingerprint: Option<vtremote_tls::Fingerprint>,
    /// A pool member to leave out: the one a takeover replaces because it misbehaved.
    pub(crate) avoid: Option<String>,
}

/// Encryption of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tls {
    /// Plain VTRemote v1: what the original helper speaks.
    #[default]
    Off,
    /// TLS 1.3 to a helper with this certificate fingerprint (`vtremoted --fingerprint`);
    /// `None` trusts the fingerprint recorded for this host on first use
    /// (`vtremote_tls::KnownHelpers`).
    On(Option<vtremote_tls::Fingerprint>),
}

/// The environment variable a token comes from when none is given: unlike a command-line
/// option, the environment is not visible to other users in `ps`.
pub const TOKEN_ENV: &str = "VTREMOTE_TOKEN";

/// The environment variable that sets how long host `auto` browses, in milliseconds (kept
/// within 1300..=10000, `vtremote_discovery::MIN_WINDOW` says why): one place that reaches
/// FFmpeg, the CLI and any other client alike.
pub const DISCOVERY_MS_ENV: &str = "VTREMOTE_DISCOVERY_MS";

fn discovery_window() -> Duration {
    std::env::var(DISCOVERY_MS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(vtremote_discovery::DEFAULT_WINDOW)
}

/// A token file's first line, without its line ending.
pub fn token_from_file(path: &std::path::Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().next().unwrap_or("").trim_end().to_string())
}

impl ClientConfig {
    pub fn new(host: impl Into<String>) -> Self {
        ClientConfig {
            host: host.into(),
            token: std::env::var(TOKEN_ENV).unwrap_or_default(),
            timeout: DEFAULT_TIMEOUT,
            client_name: "vtremote-client".into(),
            client_build: env!("CARGO_PKG_VERSION").into(),
            // Falls back to zstd, the original client's default, where the helper does not
            // offer VTL (`usable_compression`).
            wire_compression: WireCompression::Vtl,
            inflight: DEFAULT_INFLIGHT,
            log: Logger::default(),
            tls: Tls::Off,
            failover: true,
            failover_wait: DEFAULT_FAILOVER_WAIT,
            discovery_window: discovery_window(),
            advertised_fingerprint: None,
            avoid: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EncoderParams {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub pix_fmt: PixelFormat,
    pub time_base: (u32, u32),
    pub framerate: (u32, u32),
    /// CONFIGURE options (spec §6.1 keys) other than `mode` and `wire_compression`, which
    /// the session writes itself.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct DecoderParams {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    /// Output format wanted.
    pub pix_fmt: PixelFormat,
    pub time_base: (u32, u32),
    /// Container extradata (avcC/hvcC or Annex B parameter sets), sent as-is.
    pub extradata: Vec<u8>,
    pub options: Vec<(String, String)>,
}

/// What HELLO_ACK said about the helper.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    /// The resolved address actually connected to.
    pub address: String,
    pub name: String,
    pub version: String,
    pub codecs: Vec<String>,
    /// Extensions the helper offers: HELLO_ACK codec-list entries that start with `+`
    /// (docs/protocol.md, "Extensions"), without the `+`.
    pub features: Vec<String>,
    pub max_sessions: u16,
    pub active_sessions: u16,
}

impl ServerInfo {
    /// Our daemon fills HELLO_ACK's strings; the original sends them empty.
    pub fn is_vtremoted_rs(&self) -> bool {
        self.name.starts_with("vtremoted")
    }

    pub fn offers(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// The compression to use when `requested` was asked for: a mode the helper does not
    /// offer falls back to zstd, which every helper speaks (the original refuses codes it
    /// does not know with ERROR 1).
    pub fn usable_compression(&self, requested: WireCompression) -> WireCompression {
        if requested.is_v1() || self.offers(requested.name()) {
            requested
        } else {
            WireCompression::Zstd
        }
    }
}
