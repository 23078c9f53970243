//! Finding helpers on the LAN with mDNS/DNS-SD (RFC 6762/6763).
//!
//! `vtremoted` advertises one `_vtremote._tcp.local.` instance ([`advertise`]); a client
//! whose host is `auto` browses for a bounded time ([`browse`]) and hands every resolved
//! address to its pool probe, which picks the least loaded helper. The TXT record
//! ([`Txt`], docs/protocol.md "Discovery") says what a helper serves before anyone
//! connects; it is unauthenticated, so nothing in it is trusted beyond a hint.
//!
//! Both directions use `mdns-sd`, which shares UDP 5353 with the system responder (Avahi,
//! mDNSResponder) through SO_REUSEADDR/SO_REUSEPORT instead of needing it.

mod advertise;
mod browse;
mod error;
mod host;
mod port;
mod responder;
mod txt;

pub use advertise::{advertise, Advert, Advertisement};
pub use browse::{browse, Found, DEFAULT_WINDOW, MAX_FOUND, MAX_WINDOW, MIN_WINDOW};
pub use error::DiscoveryError;
pub use host::instance_name;
pub use txt::{Auth, Txt, PROTOCOL_VERSION, TXT_VERSION};

/// The DNS-SD service type, with the domain mdns-sd expects.
pub const SERVICE_TYPE: &str = "_vtremote._tcp.local.";
