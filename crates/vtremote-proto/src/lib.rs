//! Sans-IO implementation of the VTRemote v1 wire protocol.
//!
//! This crate turns bytes into typed messages and back; it knows nothing about sockets,
//! threads or clocks. Every length read from the wire is checked against [`limits`] before
//! anything is allocated for it. The byte layout follows `spec/vtremote-v1.md`; the golden
//! vectors of its worked example (§13) are the tests in `tests/golden.rs`.

pub mod compression;
pub mod error;
pub mod header;
pub mod limits;
pub mod message;
pub mod options;
pub mod pixel_format;
mod reader;
mod writer;

pub use compression::WireCompression;
pub use compression::{PlaneCompressor, PlaneDecompressor};
pub use error::ProtoError;
pub use header::{Header, MessageType, HEADER_LEN, MAGIC, VERSION};
pub use limits::{FrameGeometry, Limits};
pub use message::{
    encode_frame, Configure, ConfigureAck, ErrorCode, ErrorMsg, Frame, Hello, HelloAck,
    HelloStatus, Message, Packet, Plane, PlaneSource, PlaneView, SideData,
};
pub use options::{ConfigureOptions, Mode};
pub use pixel_format::{Codec, PixelFormat};
