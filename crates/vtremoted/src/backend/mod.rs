//! The two traits every codec backend implements, and the validated configuration they get.
//!
//! The session state machine (`session.rs`) only sees these types; which backend sits behind
//! them (VideoToolbox on macOS, libavcodec elsewhere) is chosen once at start-up.

use vtremote_proto::options::ConfigureOptions;
use vtremote_proto::{Codec, FrameGeometry, PixelFormat};

// Benchmark-only fake codec: see the `bench-ceiling` feature in Cargo.toml.
#[cfg(feature = "bench-ceiling")]
pub mod ceiling;
// Never on macOS: see the `lavc` feature in Cargo.toml.
#[cfg(all(feature = "lavc", not(target_os = "macos")))]
pub mod lavc;
// Compiled everywhere: its platform-neutral halves are unit-tested on every host, and it
// gates its framework-calling children itself.
pub mod videotoolbox;

/// Why a backend refused or failed. `Unsupported` becomes ERROR 3 (the client asked for
/// something this helper cannot do), `Failed` becomes ERROR 5.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{option}: {reason}")]
    Unsupported { option: String, reason: String },
    #[error("{0}")]
    Failed(String),
}

impl BackendError {
    pub fn unsupported(option: impl Into<String>, reason: impl Into<String>) -> Self {
        BackendError::Unsupported {
            option: option.into(),
            reason: reason.into(),
        }
    }
    pub fn failed(msg: impl Into<String>) -> Self {
        BackendError::Failed(msg.into())
    }
}

/// Everything an encoder needs, already validated by the session (geometry within limits,
/// pixel format legal for the codec, time base clamped to ≥ 1).
#[derive(Debug, Clone)]
pub struct EncoderConfig {
    pub codec: Codec,
    pub geometry: FrameGeometry,
    /// CONFIGURE time base (num, den), both ≥ 1. All pts/dts are in these units.
    pub time_base: (u32, u32),
    /// Frame rate (num, den) when the client gave one (both > 0).
    pub frame_rate: Option<(u32, u32)>,
    pub options: ConfigureOptions,
    /// Most frames the encoder may hold before emitting output. The original client
    /// deadlocks if the encoder holds its whole in-flight window (16) without answering.
    pub max_delay_frames: u32,
}

#[derive(Debug, Clone)]
pub struct DecoderConfig {
    pub codec: Codec,
    /// Output geometry: every decoded frame is cropped/padded to exactly this size, because
    /// the original client trusts it (spec §12.15).
    pub geometry: FrameGeometry,
    pub time_base: (u32, u32),
    /// Container extradata as sent: avcC/hvcC record (maybe with box header) or Annex B.
    pub extradata: Vec<u8>,
    pub options: ConfigureOptions,
}

/// One plane of an input picture: `rows` rows of the geometry's row width, `stride` bytes
/// apart (stride ≥ row bytes). Chroma may have one row fewer than the geometry (original
/// client with odd heights); backends repeat the last row.
#[derive(Debug, Clone, Copy)]
pub struct PlaneRef<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub rows: usize,
}

/// A picture to encode.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    pub pts: i64,
    pub duration: i64,
    pub force_keyframe: bool,
    pub planes: [PlaneRef<'a>; 2],
    /// A53 closed captions (cc_data triplets) to embed, if any.
    pub a53_cc: Option<&'a [u8]>,
}

/// One encoded access unit in Annex B with 4-byte start codes; parameter sets only in
/// extradata unless the backend must repeat them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// A compressed access unit to decode (Annex B).
#[derive(Debug, Clone, Copy)]
pub struct CompressedPacket<'a> {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub keyframe: bool,
    pub data: &'a [u8],
}

/// A decoded picture at exactly the configured geometry, planes tightly packed
/// (stride = `geometry.row_bytes(plane)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    pub pts: i64,
    pub duration: i64,
    pub planes: [Vec<u8>; 2],
}

/// What a backend dropped, skipped or restarted instead of failing the session, for the
/// SUMMARY line: these happen after CONFIGURE_ACK, so no warning can carry them to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendCounters {
    /// Pictures lost to damaged or unusable input (decode errors the codec reported per
    /// picture, encoder samples that never became ready).
    pub dropped_pictures: u64,
    /// Packets not submitted: no picture data in them, or no parameter sets before them.
    pub skipped_packets: u64,
    /// Codec sessions recreated after the system invalidated them.
    pub session_restarts: u64,
}

impl BackendCounters {
    pub fn is_zero(&self) -> bool {
        *self == BackendCounters::default()
    }
}

pub trait VideoEncoder: Send {
    /// The avcC/hvcC decoder configuration record (no box header), as CONFIGURE_ACK carries it.
    fn extradata(&self) -> &[u8];
    /// Options accepted but not followed (CONFIGURE_ACK warnings).
    fn warnings(&self) -> &[String];
    /// Human-readable encoder name for logs and the summary ("libx264", "VideoToolbox HW H.264").
    fn name(&self) -> &str;
    /// Submits one picture; appends any packets that became ready.
    fn encode(
        &mut self,
        frame: &RawFrame<'_>,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), BackendError>;
    /// Drains every held picture. Called once at FLUSH.
    fn flush(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), BackendError>;
    /// What was dropped or restarted so far (for the SUMMARY line).
    fn counters(&self) -> BackendCounters {
        BackendCounters::default()
    }
}

pub trait VideoDecoder: Send {
    fn warnings(&self) -> &[String];
    fn name(&self) -> &str;
    /// Submits one access unit; appends frames that became ready, in display order.
    fn decode(
        &mut self,
        packet: &CompressedPacket<'_>,
        out: &mut Vec<DecodedFrame>,
    ) -> Result<(), BackendError>;
    fn flush(&mut self, out: &mut Vec<DecodedFrame>) -> Result<(), BackendError>;
    /// What was dropped, skipped or restarted so far (for the SUMMARY line).
    fn counters(&self) -> BackendCounters {
        BackendCounters::default()
    }
    /// Pictures the decoder may hold back right now (its reorder delay), so that packets
    /// beyond it with no picture are known to have produced none; `None` when unknown.
    fn max_held(&self) -> Option<u32> {
        None
    }
}

/// What a backend can do on this machine, for HELLO_ACK and `--list-codecs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecSupport {
    pub codec: Codec,
    pub encode: bool,
    pub decode: bool,
    pub pix_fmts: Vec<PixelFormat>,
    /// The implementation that will be used, e.g. "h264_nvenc (hardware)" or "libx264 (software)".
    pub encoder_name: Option<String>,
    pub decoder_name: Option<String>,
    pub hardware: bool,
}

pub trait Backend: Send + Sync {
    fn name(&self) -> &str;
    fn capabilities(&self) -> &[CodecSupport];
    /// How the backend chose its codecs (what was tried and why it failed), for
    /// `--list-codecs`; empty when there was no choice to make.
    fn selection_report(&self) -> String {
        String::new()
    }
    fn open_encoder(&self, config: &EncoderConfig) -> Result<Box<dyn VideoEncoder>, BackendError>;
    fn open_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn VideoDecoder>, BackendError>;
}
