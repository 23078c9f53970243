//! The VideoToolbox backend (macOS): hardware H.264/HEVC encode and decode.
//!
//! Layout: `ffi` holds the hand-written C declarations, `cf` owned CoreFoundation
//! references, `encoder`/`decoder` the two sessions. The option table and OSStatus names are
//! platform-neutral and live in `options_table.rs`/`osstatus.rs` (built everywhere as
//! `backend::vt_options`/`backend::vt_osstatus`). Bitstream work (Annex B, avcC/hvcC, SPS,
//! DTS) is `vtremote_media`'s.
//!
//! On Linux this module is only type-checked (`--features vt-typecheck`): nothing may call it
//! there, because the framework symbols do not exist.

mod cf;
mod decoder;
mod encoder;
mod ffi;

use vtremote_proto::{Codec, PixelFormat};

use super::vt_osstatus::{self, StatusClass};
use super::{
    Backend, BackendError, CodecSupport, DecoderConfig, EncoderConfig, VideoDecoder, VideoEncoder,
};

/// Turns a failed call into the backend error the client sees, naming the call and status.
pub(crate) fn check(status: ffi::OSStatus, call: &str) -> Result<(), BackendError> {
    if status == ffi::noErr {
        return Ok(());
    }
    let text = format!("{call} failed: {}", vt_osstatus::describe(status));
    Err(match vt_osstatus::classify(status) {
        StatusClass::Unsupported => BackendError::unsupported(call.to_string(), text),
        StatusClass::Busy => BackendError::failed(format!("hardware busy: {text}")),
        StatusClass::BadData | StatusClass::Failed => BackendError::failed(text),
    })
}

pub(crate) fn codec_type(codec: Codec) -> ffi::CMVideoCodecType {
    match codec {
        Codec::H264 => ffi::kCMVideoCodecType_H264,
        Codec::Hevc => ffi::kCMVideoCodecType_HEVC,
    }
}

pub(crate) fn media_codec(codec: Codec) -> vtremote_media::Codec {
    match codec {
        Codec::H264 => vtremote_media::Codec::H264,
        Codec::Hevc => vtremote_media::Codec::Hevc,
    }
}

/// CoreVideo pixel format for a wire format and range (videotoolbox.md §4.1).
pub(crate) fn pixel_format_type(pix_fmt: PixelFormat, full_range: bool) -> ffi::OSType {
    match (pix_fmt, full_range) {
        (PixelFormat::Nv12, false) => ffi::kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange,
        (PixelFormat::Nv12, true) => ffi::kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
        (PixelFormat::P010, false) => ffi::kCVPixelFormatType_420YpCbCr10BiPlanarVideoRange,
        (PixelFormat::P010, true) => ffi::kCVPixelFormatType_420YpCbCr10BiPlanarFullRange,
    }
}

/// Ticks of the CONFIGURE time base → CMTime (spec §7: value = ticks × num, timescale = den).
pub(crate) fn to_cmtime(ticks: i64, time_base: (u32, u32)) -> Result<ffi::CMTime, BackendError> {
    let value = ticks.checked_mul(i64::from(time_base.0)).ok_or_else(|| {
        BackendError::failed(format!(
            "timestamp {ticks} × time base {} overflows",
            time_base.0
        ))
    })?;
    let timescale = i32::try_from(time_base.1).map_err(|_| {
        BackendError::unsupported(
            "time_base_den",
            format!("{} exceeds CMTime's 32-bit timescale", time_base.1),
        )
    })?;
    Ok(ffi::CMTime::new(value, timescale))
}

/// CMTime → ticks, exact for the timescale we gave VideoToolbox, general otherwise.
pub(crate) fn from_cmtime(t: ffi::CMTime, time_base: (u32, u32)) -> Option<i64> {
    if !t.is_numeric() {
        return None;
    }
    let num = i128::from(t.value) * i128::from(time_base.1);
    let den = i128::from(t.timescale) * i128::from(time_base.0);
    i64::try_from(num / den).ok()
}

/// Apple Silicon: some rate-control modes exist only there (spec §6.3).
pub(crate) const ARM64: bool = cfg!(target_arch = "aarch64");

pub struct VideoToolboxBackend {
    capabilities: Vec<CodecSupport>,
}

impl VideoToolboxBackend {
    /// Probes decode hardware; encoders are probed when a session opens (a failed
    /// Require-HW creation names the reason, videotoolbox.md §9).
    pub fn new() -> Result<Self, BackendError> {
        let capabilities = [Codec::H264, Codec::Hevc]
            .into_iter()
            .map(|codec| {
                // SAFETY: a pure capability query taking a fourcc.
                let hw_decode = unsafe { ffi::VTIsHardwareDecodeSupported(codec_type(codec)) } != 0;
                let pix_fmts = match codec {
                    Codec::H264 => vec![PixelFormat::Nv12],
                    Codec::Hevc => vec![PixelFormat::Nv12, PixelFormat::P010],
                };
                CodecSupport {
                    codec,
                    encode: true,
                    decode: true,
                    pix_fmts,
                    encoder_name: Some(format!("VideoToolbox {codec} encoder")),
                    decoder_name: Some(format!(
                        "VideoToolbox {codec} decoder ({})",
                        if hw_decode { "hardware" } else { "software" }
                    )),
                    hardware: hw_decode,
                }
            })
            .collect();
        Ok(VideoToolboxBackend { capabilities })
    }
}

impl Backend for VideoToolboxBackend {
    fn name(&self) -> &str {
        "videotoolbox"
    }

    fn capabilities(&self) -> &[CodecSupport] {
        &self.capabilities
    }

    fn open_encoder(&self, config: &EncoderConfig) -> Result<Box<dyn VideoEncoder>, BackendError> {
        Ok(Box::new(encoder::VtEncoder::open(config)?))
    }

    fn open_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn VideoDecoder>, BackendError> {
        Ok(Box::new(decoder::VtDecoder::open(config)?))
    }
}
