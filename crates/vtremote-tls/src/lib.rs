//! TLS 1.3 for vtremote, with no certificate chores: the helper generates its own key on
//! first start and is known by the SHA-256 fingerprint of its certificate, which clients pin
//! (or record on first use). A TLS connection is handed to the session code as a plain
//! loopback socket by [`bridge`], so the sessions on both sides (reader and writer threads
//! on cloned sockets) stay as they are.
//!
//! The daemon tells TLS from plain v1 on the same port by the first byte: a TLS record
//! starts with 0x16 (handshake), a v1 header with `V` (`VTR1`).

mod bridge;
mod error;
mod fingerprint;
mod identity;
mod known;
mod pin;

pub use bridge::{bridge, Bridged};
pub use error::TlsError;
pub use fingerprint::{fingerprint, Fingerprint};
pub use identity::{default_state_dir, HelperIdentity};
pub use known::KnownHelpers;
pub use pin::{client_config, PinCheck};

/// The first byte of a TLS handshake record (ContentType handshake).
pub const TLS_FIRST_BYTE: u8 = 0x16;

/// The one crypto provider both sides use (ring: no C toolchain beyond a compiler).
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
