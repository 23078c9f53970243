//! Platform-neutral H.264/HEVC bitstream helpers shared by the daemon backends and the client:
//! Annex B ↔ length-prefixed NAL units, avcC/hvcC decoder configuration records, the
//! sequence-parameter-set fields a session needs, and decode-timestamp derivation.
//!
//! Every parser works on untrusted bytes: malformed input is a [`MediaError`] naming the
//! field and sizes, never a panic, and no allocation is larger than the input it came from.

pub mod annexb;
pub mod avcc;
mod bits;
pub mod dts;
pub mod error;
pub mod extradata;
pub mod hvcc;
pub mod nal;
mod reader;
pub mod sei;
pub mod sps;

pub use bits::nal_to_rbsp;
pub use error::{MediaError, Result};
pub use sps::{stream_info_from_annexb, stream_info_from_extradata, StreamInfo};

/// The two codecs this crate understands. The protocol crate has its own codec type with
/// wire names; this one exists so the media helpers stay dependency-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    H264,
    Hevc,
}
