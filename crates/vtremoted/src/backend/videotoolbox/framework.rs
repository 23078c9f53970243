//! The VideoToolbox backend proper: helpers shared by the encoder and decoder sessions
//! (status checks, codec and pixel-format constants, CMTime) and `VideoToolboxBackend`.
//! Only built where the framework exists (macOS) or is type-checked (`vt-typecheck`).

use std::ffi::{c_void, CStr};

use vtremote_proto::{Codec, PixelFormat};

use super::cf::{self, Cf, Dict};
use super::options_table;
use super::osstatus::{self, StatusClass};
use super::{decoder, encoder, ffi};
use crate::backend::{
    Backend, BackendError, CodecSupport, DecoderConfig, EncoderConfig, VideoDecoder, VideoEncoder,
};

/// Turns a failed call into the backend error the client sees, naming the call and status.
pub(crate) fn check(status: ffi::OSStatus, call: &str) -> Result<(), BackendError> {
    if status == ffi::noErr {
        return Ok(());
    }
    let text = format!("{call} failed: {}", osstatus::describe(status));
    Err(match osstatus::classify(status) {
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

/// What this Mac offers for encoding one codec, from `VTCopyVideoEncoderList`
/// (videotoolbox.md §9).
#[derive(Debug, Clone, Default)]
struct EncoderProbe {
    /// Display name of a hardware encoder, when one exists.
    hardware: Option<String>,
    /// Display name of an encoder known to be software.
    software: Option<String>,
    /// Whether the list said which encoders are hardware. False on macOS < 11.3 (no
    /// `kVTVideoEncoderList_IsHardwareAccelerated`): `hardware` then comes from a Require-HW
    /// `VTCopySupportedPropertyDictionaryForEncoder` probe and `software` stays unknown.
    flags_known: bool,
}

/// One entry of the encoder list.
struct ListedEncoder {
    codec_type: ffi::CMVideoCodecType,
    name: String,
    /// None when this macOS does not say.
    hardware: Option<bool>,
}

fn codec_label(codec: Codec) -> &'static str {
    match codec {
        Codec::H264 => "H.264",
        Codec::Hevc => "HEVC",
    }
}

/// `value` if it is a CF object of type `type_id`.
///
/// # Safety
/// `value` must be NULL or a live CoreFoundation object.
unsafe fn of_type(value: *const c_void, type_id: ffi::CFTypeID) -> Option<*const c_void> {
    // SAFETY: per the contract, a non-NULL value is a CF object.
    (!value.is_null() && unsafe { ffi::CFGetTypeID(value) } == type_id).then_some(value)
}

/// The UTF-8 text of a CFString (NULL or not a string → None).
///
/// # Safety
/// `value` must be NULL or a live CoreFoundation object.
unsafe fn cf_string(value: *const c_void) -> Option<String> {
    // SAFETY: type check first, then a bounded copy into our buffer.
    unsafe {
        let s = of_type(value, ffi::CFStringGetTypeID())?;
        let mut buf = [0 as std::ffi::c_char; 512];
        if ffi::CFStringGetCString(
            s as ffi::CFStringRef,
            buf.as_mut_ptr(),
            buf.len() as ffi::CFIndex,
            ffi::kCFStringEncodingUTF8,
        ) == 0
        {
            return None;
        }
        Some(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned())
    }
}

/// `VTCopyVideoEncoderList`, parsed. Err: the call failed (status text).
fn list_encoders() -> Result<Vec<ListedEncoder>, String> {
    let mut list: ffi::CFArrayRef = std::ptr::null();
    // SAFETY: NULL options; `list` receives a Create-rule CFArray.
    let status = unsafe { ffi::VTCopyVideoEncoderList(std::ptr::null(), &mut list) };
    if status != ffi::noErr {
        return Err(osstatus::describe(status));
    }
    // SAFETY: Create rule (released when `owned` drops).
    let owned = unsafe { Cf::from_create(list) }
        .ok_or_else(|| "VTCopyVideoEncoderList returned no list".to_string())?;
    let list: ffi::CFArrayRef = owned.as_ptr();
    // SAFETY: resolving an optional framework constant by name (NULL before macOS 11.3).
    let hw_key = unsafe { ffi::lookup_cfstring(c"kVTVideoEncoderList_IsHardwareAccelerated") };
    let mut out = Vec::new();
    // SAFETY: `list` is a live CFArray we own; entries and their values are Get-rule
    // references that live as long as it, and every value is type-checked before use.
    unsafe {
        let (dict_t, number_t, bool_t) = (
            ffi::CFDictionaryGetTypeID(),
            ffi::CFNumberGetTypeID(),
            ffi::CFBooleanGetTypeID(),
        );
        for i in 0..ffi::CFArrayGetCount(list) {
            let Some(entry) = of_type(ffi::CFArrayGetValueAtIndex(list, i), dict_t) else {
                continue;
            };
            let entry = entry as ffi::CFDictionaryRef;
            let get =
                |key: ffi::CFStringRef| ffi::CFDictionaryGetValue(entry, key as *const c_void);
            let Some(number) = of_type(get(ffi::kVTVideoEncoderList_CodecType), number_t) else {
                continue;
            };
            let mut codec_type: i64 = 0;
            if ffi::CFNumberGetValue(
                number as ffi::CFNumberRef,
                ffi::kCFNumberSInt64Type,
                &mut codec_type as *mut i64 as *mut c_void,
            ) == 0
            {
                continue;
            }
            let Ok(codec_type) = ffi::CMVideoCodecType::try_from(codec_type) else {
                continue;
            };
            let name = cf_string(get(ffi::kVTVideoEncoderList_EncoderName))
                .or_else(|| cf_string(get(ffi::kVTVideoEncoderList_EncoderID)))
                .unwrap_or_else(|| "unnamed encoder".to_string());
            let hardware = (!hw_key.is_null()).then(|| {
                // Absent means "not hardware accelerated".
                of_type(get(hw_key), bool_t)
                    .is_some_and(|b| ffi::CFBooleanGetValue(b as ffi::CFBooleanRef) != 0)
            });
            out.push(ListedEncoder {
                codec_type,
                name,
                hardware,
            });
        }
    }
    Ok(out)
}

/// Require-HW encoder probe without a session (macOS 10.13+, videotoolbox.md §9): the
/// hardware encoder's ID when one exists.
fn probe_hardware_encoder(codec: Codec) -> Result<Option<String>, BackendError> {
    let mut spec = Dict::new()?;
    let key = cf::symbol(&options_table::SPEC_REQUIRE_HW)?;
    spec.set(key.as_ptr(), cf::boolean(true));
    let mut id: ffi::CFStringRef = std::ptr::null();
    let mut props: ffi::CFDictionaryRef = std::ptr::null();
    // SAFETY: a live spec dictionary; both outs are Create-rule results we release below.
    let status = unsafe {
        ffi::VTCopySupportedPropertyDictionaryForEncoder(
            1280,
            720,
            codec_type(codec),
            spec.as_ptr(),
            &mut id,
            &mut props,
        )
    };
    // SAFETY: Create rule for both (NULL is fine).
    let (id, _props) = unsafe { (Cf::from_create(id), Cf::from_create(props)) };
    if status != ffi::noErr {
        return Ok(None);
    }
    // SAFETY: `id`, when present, is a live CF object we own.
    let name = id.and_then(|id| unsafe { cf_string(id.as_ptr()) });
    Ok(Some(name.unwrap_or_else(|| "hardware encoder".to_string())))
}

/// Per-codec encoder probes plus the lines `--list-codecs` shows about them. None: the list
/// could not be read, so nothing is refused up front (session creation decides).
fn probe_encoders() -> (Vec<(Codec, Option<EncoderProbe>)>, Vec<String>) {
    let mut report = Vec::new();
    let listed = match list_encoders() {
        Ok(l) => l,
        Err(why) => {
            report.push(format!(
                "VTCopyVideoEncoderList failed ({why}); encoders are checked when a session opens"
            ));
            return (vec![(Codec::H264, None), (Codec::Hevc, None)], report);
        }
    };
    let probes = [Codec::H264, Codec::Hevc]
        .into_iter()
        .map(|codec| {
            let mine: Vec<&ListedEncoder> = listed
                .iter()
                .filter(|e| e.codec_type == codec_type(codec))
                .collect();
            let flags_known = mine.iter().any(|e| e.hardware.is_some());
            let pick = |hw: bool| {
                mine.iter()
                    .find(|e| e.hardware == Some(hw))
                    .map(|e| e.name.clone())
            };
            let mut probe = EncoderProbe {
                hardware: pick(true),
                software: pick(false),
                flags_known,
            };
            let names = mine.iter().map(|e| match e.hardware {
                Some(true) => format!("{} (hardware)", e.name),
                Some(false) => format!("{} (software)", e.name),
                None => e.name.clone(),
            });
            let names: Vec<String> = names.collect();
            report.push(format!(
                "{codec}: VTCopyVideoEncoderList: {}",
                if names.is_empty() {
                    "no encoder".to_string()
                } else {
                    names.join(", ")
                }
            ));
            if !flags_known && !mine.is_empty() {
                // macOS < 11.3: the list does not say which encoder is hardware.
                match probe_hardware_encoder(codec) {
                    Ok(hw) => {
                        report.push(format!(
                            "{codec}: Require-HW probe: {}",
                            hw.as_deref().unwrap_or("no hardware encoder")
                        ));
                        probe.hardware = hw;
                    }
                    Err(e) => {
                        // Unknown: leave the decision to session creation.
                        report.push(format!("{codec}: Require-HW probe failed: {e}"));
                        return (codec, None);
                    }
                }
            }
            if mine.is_empty() {
                // Nothing listed for this codec at all: no encoder of any kind.
                probe.flags_known = true;
            }
            (codec, Some(probe))
        })
        .collect();
    (probes, report)
}

pub struct VideoToolboxBackend {
    capabilities: Vec<CodecSupport>,
    encoders: Vec<(Codec, Option<EncoderProbe>)>,
    report: String,
}

impl VideoToolboxBackend {
    /// Probes the encoders (`VTCopyVideoEncoderList`) and decode hardware once at start-up.
    pub fn new() -> Result<Self, BackendError> {
        let (encoders, mut report) = probe_encoders();
        let capabilities = encoders
            .iter()
            .map(|(codec, probe)| {
                let codec = *codec;
                let label = codec_label(codec);
                // SAFETY: a pure capability query taking a fourcc.
                let hw_decode = unsafe { ffi::VTIsHardwareDecodeSupported(codec_type(codec)) } != 0;
                report.push(format!(
                    "{codec}: VTIsHardwareDecodeSupported: {}",
                    if hw_decode {
                        "yes"
                    } else {
                        "no (software decoder)"
                    }
                ));
                let pix_fmts = match codec {
                    Codec::H264 => vec![PixelFormat::Nv12],
                    Codec::Hevc => vec![PixelFormat::Nv12, PixelFormat::P010],
                };
                let (encode, hw_encode, encoder_name) = match probe {
                    None => (true, false, format!("VideoToolbox {label} (not probed)")),
                    Some(p) => match (&p.hardware, &p.software) {
                        (Some(_), _) => (true, true, format!("VideoToolbox HW {label}")),
                        (None, Some(_)) => (
                            true,
                            false,
                            format!("VideoToolbox SW {label} (needs allow_sw=1)"),
                        ),
                        (None, None) if !p.flags_known => (
                            true,
                            false,
                            format!("VideoToolbox SW {label} (needs allow_sw=1)"),
                        ),
                        (None, None) => (false, false, String::new()),
                    },
                };
                CodecSupport {
                    codec,
                    encode,
                    decode: true,
                    pix_fmts,
                    encoder_name: encode.then_some(encoder_name),
                    decoder_name: Some(format!(
                        "VideoToolbox {} {label}",
                        if hw_decode { "HW" } else { "SW" }
                    )),
                    hardware: hw_encode,
                }
            })
            .collect();
        Ok(VideoToolboxBackend {
            capabilities,
            encoders,
            report: report.join("\n"),
        })
    }

    /// Refuses up front what session creation would refuse anyway, with a clearer reason:
    /// no hardware encoder while the client did not allow software (allow_sw=0, the
    /// default), or no software encoder while it required one.
    fn check_encoder_available(&self, config: &EncoderConfig) -> Result<(), BackendError> {
        let Some((_, Some(probe))) = self.encoders.iter().find(|(c, _)| *c == config.codec) else {
            return Ok(()); // not probed: VTCompressionSessionCreate decides
        };
        let label = codec_label(config.codec);
        let o = &config.options;
        if o.require_sw {
            if probe.flags_known && probe.software.is_none() {
                return Err(BackendError::unsupported(
                    "require_sw",
                    format!("this Mac has no software {label} encoder"),
                ));
            }
            return Ok(());
        }
        if probe.hardware.is_none() && !o.allow_sw {
            let sw = match (&probe.software, probe.flags_known) {
                (Some(name), _) => {
                    format!("; send allow_sw=1 to use the software encoder ({name})")
                }
                (None, false) => "; send allow_sw=1 to try the software encoder".to_string(),
                (None, true) => "; there is no software encoder either".to_string(),
            };
            return Err(BackendError::unsupported(
                "allow_sw",
                format!("this Mac has no hardware {label} encoder{sw}"),
            ));
        }
        Ok(())
    }
}

impl Backend for VideoToolboxBackend {
    fn name(&self) -> &str {
        "videotoolbox"
    }

    fn capabilities(&self) -> &[CodecSupport] {
        &self.capabilities
    }

    fn selection_report(&self) -> String {
        self.report.clone()
    }

    fn open_encoder(&self, config: &EncoderConfig) -> Result<Box<dyn VideoEncoder>, BackendError> {
        self.check_encoder_available(config)?;
        Ok(Box::new(encoder::VtEncoder::open(config)?))
    }

    fn open_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn VideoDecoder>, BackendError> {
        Ok(Box::new(decoder::VtDecoder::open(config)?))
    }
}
