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
pub mod paramsets;
mod reader;
pub mod sei;
pub mod sps;

pub use bits::nal_to_rbsp;
pub use error::{MediaError, Result};
pub use sps::{stream_info_from_annexb, stream_info_from_extradata, StreamInfo};

/// The two codecs of the project. Defined here, in the dependency-free crate, and
/// re-exported by the protocol crate, so every crate shares one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    H264,
    Hevc,
}

impl Codec {
    /// The name HELLO carries (spec §3.1).
    pub fn wire_name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Hevc => "hevc",
        }
    }

    /// Unlike the original server (which silently falls back to H.264), an unknown name is
    /// `None` so the daemon can refuse it by name.
    pub fn from_wire_name(name: &str) -> Option<Codec> {
        match name {
            "h264" => Some(Codec::H264),
            "hevc" => Some(Codec::Hevc),
            _ => None,
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}
