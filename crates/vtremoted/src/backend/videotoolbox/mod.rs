//! The VideoToolbox backend (macOS): hardware H.264/HEVC encode and decode.
//!
//! Every decision that needs no VideoToolbox is platform-neutral, built and unit-tested on
//! every host: the option table (`options_table`), OSStatus names (`osstatus`), and status
//! handling, display order, delay budget, parameter-set merging, range and padding
//! (`policy`). Only the children that call the frameworks are gated: `ffi` (hand-written C
//! declarations), `cf` (owned CoreFoundation references), `encoder`/`decoder` (the two
//! sessions) and `framework` (shared helpers and the backend itself). Bitstream work (Annex
//! B, avcC/hvcC, SPS, parameter-set ids, DTS) is `vtremote_media`'s.
//!
//! On Linux the gated children are only type-checked (`--features vt-typecheck`): nothing
//! may call them there, because the framework symbols do not exist.

pub mod options_table;
pub mod osstatus;
pub mod policy;

#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
mod cf;
#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
mod decoder;
#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
mod encoder;
#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
mod ffi;
#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
mod framework;

#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
pub use framework::VideoToolboxBackend;
#[cfg(any(target_os = "macos", feature = "vt-typecheck"))]
use framework::{check, codec_type, from_cmtime, pixel_format_type, to_cmtime, ARM64};
