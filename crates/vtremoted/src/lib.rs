//! vtremoted: serves VTRemote v1 encode/decode sessions through a codec backend.
//!
//! The library half exists so integration tests can start a real server in-process; the
//! binary (`main.rs`) only parses flags and picks a backend.

#![warn(clippy::undocumented_unsafe_blocks)]

pub mod announce;
pub mod auth;
pub mod backend;
pub mod connection;
pub mod message_io;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod session;
pub mod slots;
pub mod stats;
pub mod throttle;
pub mod transport;
