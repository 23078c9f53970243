//! CONFIGURE options (spec vtremote-v1 §6) → VideoToolbox session settings, as data.
//!
//! Every option of spec §6.1 has exactly one row in [`OPTION_TABLE`], in the order the
//! properties are applied (FFmpeg's `vtenc_configure_encoder` order, videotoolbox.md §5
//! step 5). A row says which VideoToolbox property it drives, how the value is derived and
//! whether a refusal by VideoToolbox ends the session. Options that do not become a session
//! property (transport, encoder specification, pixel format) have rows too, so the table is
//! the one place to read what each option does — and the completeness test can hold it to
//! the spec's key list.
//!
//! Keys and string values are named by their exported symbol (`kVTCompressionPropertyKey_…`)
//! plus the literal the symbol holds: the backend resolves the symbol with `dlsym` at run time
//! (keys newer than the minimum macOS must not be link-time statics, videotoolbox.md §1) and
//! falls back to the literal. `scripts/vt-ffi-crosscheck` checks every symbol named here
//! against the objc2 bindings.
//!
//! Platform-neutral: compiled and tested on every host.

use vtremote_proto::options::{
    ConfigureOptions, Entropy, FLAG_CLOSED_GOP, FLAG_LOW_DELAY, FLAG_QSCALE, PROFILE_UNKNOWN,
};
use vtremote_proto::{Codec, PixelFormat};

use crate::backend::videotoolbox::policy::{encoder_dts_depth, split_delay, DelaySplit};

/// A CFString constant: the exported symbol and the string it contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    pub name: &'static str,
    pub literal: &'static str,
}

macro_rules! sym {
    ($prefix:literal, $literal:literal) => {
        Symbol {
            name: concat!($prefix, $literal),
            literal: $literal,
        }
    };
}

macro_rules! key {
    ($literal:literal) => {
        sym!("kVTCompressionPropertyKey_", $literal)
    };
}

/// A property value, before conversion to a CoreFoundation object.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Bool(bool),
    /// CFNumber SInt32.
    I32(i32),
    /// CFNumber Float32.
    F32(f32),
    /// CFNumber Float64.
    F64(f64),
    /// A CFString constant.
    Str(Symbol),
    /// CFArray of CFNumber SInt64 (DataRateLimits: bytes, seconds, …).
    I64Array(Vec<i64>),
    /// CFDictionary {HorizontalSpacing: h, VerticalSpacing: v} (PixelAspectRatio).
    AspectRatio {
        horizontal: i32,
        vertical: i32,
    },
}

/// What to do when `VTSessionSetProperty` refuses a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// The client asked for something essential (rate control, GOP, …): refuse the session.
    Fatal,
    /// A hint: continue and report a CONFIGURE_ACK warning.
    Warn,
}

/// One property to set on the compression session.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertySetting {
    /// The CONFIGURE option it comes from (or "default" for fixed server settings).
    pub option: &'static str,
    pub key: Symbol,
    pub value: PropValue,
    pub on_failure: OnFailure,
}

/// What an option drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Session properties (the symbols it may set).
    Properties(&'static [Symbol]),
    /// The encoder specification passed to `VTCompressionSessionCreate`.
    EncoderSpecification,
    /// The source pixel format (video vs full range).
    PixelFormat,
    /// Handled by the session layer (mode, wire compression, in-flight window).
    Transport,
    /// Read together with the option named here (e.g. `level` with `profile`).
    With(&'static str),
    /// Accepted and not used; the reason is reported as a warning when the option is set.
    Ignored(&'static str),
    /// Applied to the encoder's output bitstream rather than to the session.
    OutputBitstream(&'static str),
}

/// Everything the table reads besides the options.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub codec: Codec,
    pub pix_fmt: PixelFormat,
    pub options: &'a ConfigureOptions,
    pub frame_rate: Option<(u32, u32)>,
    /// Apple Silicon: QSCALE quality mode and HEVC low-latency RC exist only there.
    pub arm64: bool,
}

/// The derived session settings (see [`plan`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub properties: Vec<PropertySetting>,
    pub warnings: Vec<String>,
    /// B-frames requested and allowed (decides AllowFrameReordering and the DTS depth).
    pub frame_reordering: bool,
    /// How the delay budget is shared between VideoToolbox and the DTS tracker.
    pub delay: DelaySplit,
}

/// Why the options cannot be honoured: (option, reason). The backend turns it into
/// `BackendError::Unsupported`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub option: &'static str,
    pub reason: String,
}

type Apply = fn(&Context<'_>, &mut Plan) -> Result<(), Refusal>;

/// One row per CONFIGURE option.
pub struct OptionRow {
    pub key: &'static str,
    pub target: Target,
    /// Fatal when VideoToolbox refuses the property (spec §6.1 "fatal").
    pub on_failure: OnFailure,
    pub apply: Apply,
}

fn nothing(_: &Context<'_>, _: &mut Plan) -> Result<(), Refusal> {
    Ok(())
}

fn set(
    plan: &mut Plan,
    option: &'static str,
    key: Symbol,
    value: PropValue,
    on_failure: OnFailure,
) {
    plan.properties.push(PropertySetting {
        option,
        key,
        value,
        on_failure,
    });
}

const QUALITY: Symbol = key!("Quality");
const AVERAGE_BIT_RATE: Symbol = key!("AverageBitRate");
const CONSTANT_BIT_RATE: Symbol = key!("ConstantBitRate");
const PRIORITIZE_SPEED: Symbol = key!("PrioritizeEncodingSpeedOverQuality");
const DATA_RATE_LIMITS: Symbol = key!("DataRateLimits");
const PROFILE_LEVEL: Symbol = key!("ProfileLevel");
const MAX_KEY_FRAME_INTERVAL: Symbol = key!("MaxKeyFrameInterval");
const MORE_FRAMES_BEFORE_START: Symbol = key!("MoreFramesBeforeStart");
const MORE_FRAMES_AFTER_END: Symbol = key!("MoreFramesAfterEnd");
const PIXEL_ASPECT_RATIO: Symbol = key!("PixelAspectRatio");
const TRANSFER_FUNCTION: Symbol = key!("TransferFunction");
const GAMMA_LEVEL: Symbol = key!("GammaLevel");
const YCBCR_MATRIX: Symbol = key!("YCbCrMatrix");
const COLOR_PRIMARIES: Symbol = key!("ColorPrimaries");
pub const ALLOW_FRAME_REORDERING: Symbol = key!("AllowFrameReordering");
const H264_ENTROPY_MODE: Symbol = key!("H264EntropyMode");
const REAL_TIME: Symbol = key!("RealTime");
const ALLOW_OPEN_GOP: Symbol = key!("AllowOpenGOP");
const MIN_ALLOWED_FRAME_QP: Symbol = key!("MinAllowedFrameQP");
const MAX_ALLOWED_FRAME_QP: Symbol = key!("MaxAllowedFrameQP");
const MAX_H264_SLICE_BYTES: Symbol = key!("MaxH264SliceBytes");
const MAXIMIZE_POWER_EFFICIENCY: Symbol = key!("MaximizePowerEfficiency");
const REFERENCE_BUFFER_COUNT: Symbol = key!("ReferenceBufferCount");
const SPATIAL_ADAPTIVE_QP_LEVEL: Symbol = key!("SpatialAdaptiveQPLevel");
const TARGET_QUALITY_FOR_ALPHA: Symbol = key!("TargetQualityForAlpha");
pub const MAX_FRAME_DELAY_COUNT: Symbol = key!("MaxFrameDelayCount");
pub const EXPECTED_FRAME_RATE: Symbol = key!("ExpectedFrameRate");

/// Encoder-specification keys (videotoolbox.md §4.2).
pub const SPEC_ENABLE_HW: Symbol = sym!(
    "kVTVideoEncoderSpecification_",
    "EnableHardwareAcceleratedVideoEncoder"
);
pub const SPEC_REQUIRE_HW: Symbol = sym!(
    "kVTVideoEncoderSpecification_",
    "RequireHardwareAcceleratedVideoEncoder"
);
pub const SPEC_LOW_LATENCY: Symbol = sym!(
    "kVTVideoEncoderSpecification_",
    "EnableLowLatencyRateControl"
);

/// Read-only properties read back after creation.
pub const USING_HW_ENCODER: Symbol = key!("UsingHardwareAcceleratedVideoEncoder");
/// Frame option forcing an IDR.
pub const FORCE_KEY_FRAME: Symbol = sym!("kVTEncodeFrameOptionKey_", "ForceKeyFrame");

/// `kVTQPModulationLevel_Default`: let the encoder choose its adaptive-QP strength.
const QP_MODULATION_DEFAULT: i32 = -1;

/// FFmpeg profile numbers (libavcodec/defs.h).
const H264_BASELINE: i32 = 66;
const H264_CONSTRAINED_BASELINE: i32 = 66 | (1 << 9);
const H264_MAIN: i32 = 77;
const H264_EXTENDED: i32 = 88;
const H264_HIGH: i32 = 100;
const H264_CONSTRAINED_HIGH: i32 = 100 | (1 << 9);
const HEVC_MAIN: i32 = 1;
const HEVC_MAIN_10: i32 = 2;
const HEVC_REXT: i32 = 4;

macro_rules! pl {
    ($literal:literal) => {
        sym!("kVTProfileLevel_", $literal)
    };
}

/// (profile, level, constant); level 0 = AutoLevel. Levels as FFmpeg's `level` option
/// (level × 10). Spec §6.4 / videotoolbox.md §4.4.
const H264_PROFILE_LEVELS: &[(i32, i32, Symbol)] = &[
    (H264_BASELINE, 0, pl!("H264_Baseline_AutoLevel")),
    (H264_BASELINE, 13, pl!("H264_Baseline_1_3")),
    (H264_BASELINE, 30, pl!("H264_Baseline_3_0")),
    (H264_BASELINE, 31, pl!("H264_Baseline_3_1")),
    (H264_BASELINE, 32, pl!("H264_Baseline_3_2")),
    (H264_BASELINE, 40, pl!("H264_Baseline_4_0")),
    (H264_BASELINE, 41, pl!("H264_Baseline_4_1")),
    (H264_BASELINE, 42, pl!("H264_Baseline_4_2")),
    (H264_BASELINE, 50, pl!("H264_Baseline_5_0")),
    (H264_BASELINE, 51, pl!("H264_Baseline_5_1")),
    (H264_BASELINE, 52, pl!("H264_Baseline_5_2")),
    (H264_MAIN, 0, pl!("H264_Main_AutoLevel")),
    (H264_MAIN, 30, pl!("H264_Main_3_0")),
    (H264_MAIN, 31, pl!("H264_Main_3_1")),
    (H264_MAIN, 32, pl!("H264_Main_3_2")),
    (H264_MAIN, 40, pl!("H264_Main_4_0")),
    (H264_MAIN, 41, pl!("H264_Main_4_1")),
    (H264_MAIN, 42, pl!("H264_Main_4_2")),
    (H264_MAIN, 50, pl!("H264_Main_5_0")),
    (H264_MAIN, 51, pl!("H264_Main_5_1")),
    (H264_MAIN, 52, pl!("H264_Main_5_2")),
    (H264_HIGH, 0, pl!("H264_High_AutoLevel")),
    (H264_HIGH, 30, pl!("H264_High_3_0")),
    (H264_HIGH, 31, pl!("H264_High_3_1")),
    (H264_HIGH, 32, pl!("H264_High_3_2")),
    (H264_HIGH, 40, pl!("H264_High_4_0")),
    (H264_HIGH, 41, pl!("H264_High_4_1")),
    (H264_HIGH, 42, pl!("H264_High_4_2")),
    (H264_HIGH, 50, pl!("H264_High_5_0")),
    (H264_HIGH, 51, pl!("H264_High_5_1")),
    (H264_HIGH, 52, pl!("H264_High_5_2")),
    (H264_EXTENDED, 0, pl!("H264_Extended_AutoLevel")),
    (H264_EXTENDED, 50, pl!("H264_Extended_5_0")),
];
const H264_CONSTRAINED_BASELINE_AUTO: Symbol = pl!("H264_ConstrainedBaseline_AutoLevel");
const H264_CONSTRAINED_HIGH_AUTO: Symbol = pl!("H264_ConstrainedHigh_AutoLevel");
const HEVC_MAIN_AUTO: Symbol = pl!("HEVC_Main_AutoLevel");
const HEVC_MAIN10_AUTO: Symbol = pl!("HEVC_Main10_AutoLevel");

fn is_baseline(o: &ConfigureOptions) -> bool {
    o.profile == H264_BASELINE || o.profile == H264_CONSTRAINED_BASELINE
}

/// B-frames asked for and possible: Baseline has none (FFmpeg drops them with a warning).
fn wants_reordering(ctx: &Context<'_>) -> bool {
    ctx.options.max_b_frames > 0 && !(ctx.codec == Codec::H264 && is_baseline(ctx.options))
}

fn profile_level(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let o = ctx.options;
    let refuse = |reason: String| Refusal {
        option: "profile",
        reason,
    };
    let symbol = match ctx.codec {
        Codec::H264 => {
            let profile = match (o.profile, o.level) {
                (PROFILE_UNKNOWN, 0) => return Ok(()),
                // FFmpeg: a level alone picks Main with B-frames, Baseline without.
                (PROFILE_UNKNOWN, _) if o.max_b_frames > 0 => H264_MAIN,
                (PROFILE_UNKNOWN, _) => H264_BASELINE,
                (p, _) => p,
            };
            match profile {
                H264_CONSTRAINED_BASELINE => H264_CONSTRAINED_BASELINE_AUTO,
                H264_CONSTRAINED_HIGH => H264_CONSTRAINED_HIGH_AUTO,
                H264_BASELINE | H264_MAIN | H264_HIGH | H264_EXTENDED => {
                    let exact = H264_PROFILE_LEVELS
                        .iter()
                        .find(|(p, l, _)| *p == profile && *l == o.level);
                    match exact {
                        Some((_, _, s)) => *s,
                        None if profile == H264_EXTENDED => {
                            return Err(refuse(format!(
                                "H.264 Extended supports level auto (0) or 50, not {}",
                                o.level
                            )))
                        }
                        None => {
                            plan.warnings.push(format!(
                                "level {} has no VideoToolbox constant for profile {profile}; using auto level",
                                o.level
                            ));
                            H264_PROFILE_LEVELS
                                .iter()
                                .find(|(p, l, _)| *p == profile && *l == 0)
                                .map(|(_, _, s)| *s)
                                .unwrap_or(H264_CONSTRAINED_BASELINE_AUTO)
                        }
                    }
                }
                other => {
                    return Err(refuse(format!(
                        "H.264 profile {other} is not one of 66 (baseline), 578 (constrained baseline), 77 (main), 88 (extended), 100 (high), 612 (constrained high)"
                    )))
                }
            }
        }
        Codec::Hevc => match (o.profile, ctx.pix_fmt) {
            (PROFILE_UNKNOWN, PixelFormat::P010) | (HEVC_MAIN_10, PixelFormat::P010) => {
                HEVC_MAIN10_AUTO
            }
            (PROFILE_UNKNOWN, PixelFormat::Nv12) => return Ok(()),
            (HEVC_MAIN, PixelFormat::Nv12) => HEVC_MAIN_AUTO,
            (HEVC_MAIN, PixelFormat::P010) => {
                return Err(refuse(
                    "HEVC Main is 8-bit; p010 input needs profile 2 (main10)".into(),
                ))
            }
            (HEVC_MAIN_10, PixelFormat::Nv12) => {
                return Err(refuse("HEVC Main10 needs p010 input, got nv12".into()))
            }
            (HEVC_REXT, _) => {
                return Err(refuse(
                    "HEVC RExt (4:2:2) cannot be encoded from nv12/p010 (4:2:0) input".into(),
                ))
            }
            (other, _) => {
                plan.warnings.push(format!(
                    "HEVC profile {other} is not 1 (main) or 2 (main10); leaving the profile to VideoToolbox"
                ));
                return Ok(());
            }
        },
    };
    set(
        plan,
        "profile",
        PROFILE_LEVEL,
        PropValue::Str(symbol),
        OnFailure::Warn,
    );
    Ok(())
}

fn quality(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let o = ctx.options;
    if !o.quality_mode() {
        return Ok(());
    }
    let qscale = o.has_flag(FLAG_QSCALE);
    if qscale && !ctx.arm64 {
        return Err(Refusal {
            option: "flags",
            reason: "constant-quality (-q:v, QSCALE) needs an Apple Silicon VideoToolbox encoder"
                .into(),
        });
    }
    // FFmpeg's scale: global_quality is lambda-scaled (×118) with QSCALE, a percentage otherwise.
    let divisor = if qscale { 118.0 * 100.0 } else { 100.0 };
    let q = (f64::from(o.global_quality.max(0)) / divisor).min(1.0) as f32;
    set(
        plan,
        "global_quality",
        QUALITY,
        PropValue::F32(q),
        OnFailure::Fatal,
    );
    Ok(())
}

fn bitrate(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let o = ctx.options;
    if o.quality_mode() || o.bitrate <= 0 {
        if o.constant_bit_rate && !o.quality_mode() {
            plan.warnings
                .push("constant_bit_rate without bitrate has no effect".into());
        }
        return Ok(());
    }
    let bits = i32::try_from(o.bitrate).unwrap_or_else(|_| {
        plan.warnings.push(format!(
            "bitrate {} exceeds VideoToolbox's 32-bit limit; using {}",
            o.bitrate,
            i32::MAX
        ));
        i32::MAX
    });
    let key = if o.constant_bit_rate {
        CONSTANT_BIT_RATE
    } else {
        AVERAGE_BIT_RATE
    };
    set(plan, "bitrate", key, PropValue::I32(bits), OnFailure::Fatal);
    Ok(())
}

fn prio_speed(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let o = ctx.options;
    // Never set to false explicitly (spec §6.1 #19): false is VideoToolbox's default.
    if o.prio_speed >= 1 || (o.prio_speed < 0 && o.realtime != 1) {
        set(
            plan,
            "prio_speed",
            PRIORITIZE_SPEED,
            PropValue::Bool(true),
            OnFailure::Warn,
        );
    }
    Ok(())
}

fn maxrate(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let o = ctx.options;
    if o.maxrate <= 0 {
        return Ok(());
    }
    // FFmpeg: fatal for H.264; HEVC encoders often refuse it and FFmpeg carries on.
    let on_failure = match ctx.codec {
        Codec::H264 => OnFailure::Fatal,
        Codec::Hevc => OnFailure::Warn,
    };
    set(
        plan,
        "maxrate",
        DATA_RATE_LIMITS,
        PropValue::I64Array(vec![o.maxrate / 8, 1]),
        on_failure,
    );
    Ok(())
}

fn gop(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.options.gop > 0 {
        set(
            plan,
            "gop",
            MAX_KEY_FRAME_INTERVAL,
            PropValue::I32(ctx.options.gop),
            OnFailure::Fatal,
        );
    }
    Ok(())
}

fn frames_before(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.options.frames_before {
        set(
            plan,
            "frames_before",
            MORE_FRAMES_BEFORE_START,
            PropValue::Bool(true),
            OnFailure::Warn,
        );
    }
    Ok(())
}

fn frames_after(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.options.frames_after {
        set(
            plan,
            "frames_after",
            MORE_FRAMES_AFTER_END,
            PropValue::Bool(true),
            OnFailure::Warn,
        );
    }
    Ok(())
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn sar(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let Some((num, den)) = ctx.options.sar else {
        return Ok(());
    };
    let g = gcd(num, den).max(1);
    let (h, v) = (num / g, den / g);
    let (Ok(horizontal), Ok(vertical)) = (i32::try_from(h), i32::try_from(v)) else {
        return Err(Refusal {
            option: "sar_num",
            reason: format!("sample aspect ratio {num}:{den} does not fit 32-bit integers"),
        });
    };
    set(
        plan,
        "sar_num",
        PIXEL_ASPECT_RATIO,
        PropValue::AspectRatio {
            horizontal,
            vertical,
        },
        OnFailure::Fatal,
    );
    Ok(())
}

macro_rules! trc {
    ($literal:literal) => {
        sym!("kCVImageBufferTransferFunction_", $literal)
    };
}
macro_rules! matrix {
    ($literal:literal) => {
        sym!("kCVImageBufferYCbCrMatrix_", $literal)
    };
}
macro_rules! primaries {
    ($literal:literal) => {
        sym!("kCVImageBufferColorPrimaries_", $literal)
    };
}

/// AVColorTransferCharacteristic → (transfer function, gamma) (spec §6.5).
pub fn transfer_function(trc: i32) -> Option<(Symbol, Option<f32>)> {
    Some(match trc {
        1 => (trc!("ITU_R_709_2"), None),
        4 => (trc!("UseGamma"), Some(2.2)),
        5 => (trc!("UseGamma"), Some(2.8)),
        7 => (trc!("SMPTE_240M_1995"), None),
        14 | 15 => (trc!("ITU_R_2020"), None),
        16 => (trc!("SMPTE_ST_2084_PQ"), None),
        17 => (trc!("SMPTE_ST_428_1"), None),
        18 => (trc!("ITU_R_2100_HLG"), None),
        _ => return None,
    })
}

/// AVColorSpace → YCbCr matrix (spec §6.5).
pub fn ycbcr_matrix(space: i32) -> Option<Symbol> {
    Some(match space {
        1 => matrix!("ITU_R_709_2"),
        5 | 6 => matrix!("ITU_R_601_4"),
        7 => matrix!("SMPTE_240M_1995"),
        9 | 10 => matrix!("ITU_R_2020"),
        _ => return None,
    })
}

/// AVColorPrimaries → colour primaries (spec §6.5).
pub fn color_primaries(primaries: i32) -> Option<Symbol> {
    Some(match primaries {
        1 => primaries!("ITU_R_709_2"),
        5 => primaries!("EBU_3213"),
        6 => primaries!("SMPTE_C"),
        9 => primaries!("ITU_R_2020"),
        _ => return None,
    })
}

fn unmapped_color(plan: &mut Plan, option: &str, value: i32) {
    if value != vtremote_proto::options::COLOR_UNSPECIFIED {
        plan.warnings.push(format!(
            "{option}={value} has no VideoToolbox equivalent; not tagged"
        ));
    }
}

fn color_trc(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let trc = ctx.options.color.trc;
    match transfer_function(trc) {
        Some((symbol, gamma)) => {
            set(
                plan,
                "color_trc",
                TRANSFER_FUNCTION,
                PropValue::Str(symbol),
                OnFailure::Warn,
            );
            if let Some(g) = gamma {
                set(
                    plan,
                    "color_trc",
                    GAMMA_LEVEL,
                    PropValue::F32(g),
                    OnFailure::Warn,
                );
            }
        }
        None => unmapped_color(plan, "color_trc", trc),
    }
    Ok(())
}

fn colorspace(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let space = ctx.options.color.space;
    match ycbcr_matrix(space) {
        Some(symbol) => set(
            plan,
            "colorspace",
            YCBCR_MATRIX,
            PropValue::Str(symbol),
            OnFailure::Warn,
        ),
        None => unmapped_color(plan, "colorspace", space),
    }
    Ok(())
}

fn primaries(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let p = ctx.options.color.primaries;
    match color_primaries(p) {
        Some(symbol) => set(
            plan,
            "color_primaries",
            COLOR_PRIMARIES,
            PropValue::Str(symbol),
            OnFailure::Warn,
        ),
        None => unmapped_color(plan, "color_primaries", p),
    }
    Ok(())
}

fn max_b_frames(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let reorder = wants_reordering(ctx);
    if ctx.options.max_b_frames > 0 && !reorder {
        plan.warnings
            .push("B-frames are not possible with the Baseline profile; disabled".into());
    }
    plan.frame_reordering = reorder;
    // VideoToolbox reorders by default, so "no B-frames" must be said explicitly.
    set(
        plan,
        "max_b_frames",
        ALLOW_FRAME_REORDERING,
        PropValue::Bool(reorder),
        OnFailure::Fatal,
    );
    Ok(())
}

const ENTROPY_CAVLC: Symbol = sym!("kVTH264EntropyMode_", "CAVLC");
const ENTROPY_CABAC: Symbol = sym!("kVTH264EntropyMode_", "CABAC");

fn entropy(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.codec != Codec::H264 {
        return Ok(());
    }
    let symbol = match ctx.options.entropy {
        Entropy::Auto => return Ok(()),
        Entropy::Cavlc => ENTROPY_CAVLC,
        Entropy::Cabac if is_baseline(ctx.options) => {
            plan.warnings.push(
                "CABAC is not allowed in the Baseline profile; using the encoder's default".into(),
            );
            return Ok(());
        }
        Entropy::Cabac => ENTROPY_CABAC,
    };
    set(
        plan,
        "entropy",
        H264_ENTROPY_MODE,
        PropValue::Str(symbol),
        OnFailure::Warn,
    );
    Ok(())
}

fn realtime(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    // Unset (−1) means false, as the original server: batch transcodes want quality.
    let on = ctx.options.realtime > 0;
    set(
        plan,
        "realtime",
        REAL_TIME,
        PropValue::Bool(on),
        OnFailure::Warn,
    );
    Ok(())
}

fn flags(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    // FFmpeg refuses low-latency rate control without a target bitrate.
    if low_latency_rate_control(ctx) && ctx.options.bitrate <= 0 {
        return Err(Refusal {
            option: "flags",
            reason: "low-delay rate control (LOW_DELAY flag) needs a bitrate".into(),
        });
    }
    if ctx.options.has_flag(FLAG_CLOSED_GOP) {
        set(
            plan,
            "flags",
            ALLOW_OPEN_GOP,
            PropValue::Bool(false),
            OnFailure::Warn,
        );
    }
    Ok(())
}

fn qmin(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.options.qmin >= 0 {
        set(
            plan,
            "qmin",
            MIN_ALLOWED_FRAME_QP,
            PropValue::I32(ctx.options.qmin),
            OnFailure::Fatal,
        );
    }
    Ok(())
}

fn qmax(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.options.qmax >= 0 {
        set(
            plan,
            "qmax",
            MAX_ALLOWED_FRAME_QP,
            PropValue::I32(ctx.options.qmax),
            OnFailure::Fatal,
        );
    }
    Ok(())
}

fn max_slice_bytes(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    // HEVC clients always send "0" (spec §6.1 #23); there is no HEVC equivalent.
    if ctx.codec == Codec::H264 && ctx.options.max_slice_bytes >= 0 {
        let v = ctx.options.max_slice_bytes;
        set(
            plan,
            "max_slice_bytes",
            MAX_H264_SLICE_BYTES,
            PropValue::I32(v),
            OnFailure::Fatal,
        );
    }
    Ok(())
}

fn power_efficient(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let on = ctx.options.power_efficient > 0;
    set(
        plan,
        "power_efficient",
        MAXIMIZE_POWER_EFFICIENCY,
        PropValue::Bool(on),
        OnFailure::Warn,
    );
    Ok(())
}

fn max_ref_frames(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    if ctx.options.max_ref_frames > 0 {
        let v = ctx.options.max_ref_frames;
        set(
            plan,
            "max_ref_frames",
            REFERENCE_BUFFER_COUNT,
            PropValue::I32(v),
            OnFailure::Fatal,
        );
    }
    Ok(())
}

fn spatial_aq(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let level = match ctx.options.spatial_aq {
        v if v < 0 => return Ok(()),
        0 => 0,
        _ => QP_MODULATION_DEFAULT,
    };
    set(
        plan,
        "spatial_aq",
        SPATIAL_ADAPTIVE_QP_LEVEL,
        PropValue::I32(level),
        OnFailure::Warn,
    );
    Ok(())
}

fn alpha_quality(ctx: &Context<'_>, plan: &mut Plan) -> Result<(), Refusal> {
    let q = ctx.options.alpha_quality;
    if q > 0.0 {
        // nv12/p010 carry no alpha plane, so the encoder has nothing to apply it to; set it
        // anyway as the original server does, but only as a hint.
        if ctx.codec == Codec::Hevc {
            set(
                plan,
                "alpha_quality",
                TARGET_QUALITY_FOR_ALPHA,
                PropValue::F64(q.min(1.0)),
                OnFailure::Warn,
            );
        } else {
            plan.warnings
                .push("alpha_quality applies to HEVC only; ignored".into());
        }
    }
    Ok(())
}

/// The encoder reads the option itself when it handles output (see `Target::OutputBitstream`).
fn applied_to_output(_: &Context<'_>, _: &mut Plan) -> Result<(), Refusal> {
    Ok(())
}

/// The option table, in application order (see the module docs).
pub const OPTION_TABLE: &[OptionRow] = &[
    OptionRow {
        key: "mode",
        target: Target::Transport,
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "wire_compression",
        target: Target::Transport,
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "allow_sw",
        target: Target::EncoderSpecification,
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "require_sw",
        target: Target::EncoderSpecification,
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "color_range",
        target: Target::PixelFormat,
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "global_quality",
        target: Target::Properties(&[QUALITY]),
        on_failure: OnFailure::Fatal,
        apply: quality,
    },
    OptionRow {
        key: "bitrate",
        target: Target::Properties(&[AVERAGE_BIT_RATE, CONSTANT_BIT_RATE]),
        on_failure: OnFailure::Fatal,
        apply: bitrate,
    },
    OptionRow {
        key: "constant_bit_rate",
        target: Target::With("bitrate"),
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "prio_speed",
        target: Target::Properties(&[PRIORITIZE_SPEED]),
        on_failure: OnFailure::Warn,
        apply: prio_speed,
    },
    OptionRow {
        key: "maxrate",
        target: Target::Properties(&[DATA_RATE_LIMITS]),
        on_failure: OnFailure::Fatal,
        apply: maxrate,
    },
    OptionRow {
        key: "profile",
        target: Target::Properties(&[PROFILE_LEVEL]),
        on_failure: OnFailure::Warn,
        apply: profile_level,
    },
    OptionRow {
        key: "level",
        target: Target::With("profile"),
        on_failure: OnFailure::Warn,
        apply: nothing,
    },
    OptionRow {
        key: "gop",
        target: Target::Properties(&[MAX_KEY_FRAME_INTERVAL]),
        on_failure: OnFailure::Fatal,
        apply: gop,
    },
    OptionRow {
        key: "frames_before",
        target: Target::Properties(&[MORE_FRAMES_BEFORE_START]),
        on_failure: OnFailure::Warn,
        apply: frames_before,
    },
    OptionRow {
        key: "frames_after",
        target: Target::Properties(&[MORE_FRAMES_AFTER_END]),
        on_failure: OnFailure::Warn,
        apply: frames_after,
    },
    OptionRow {
        key: "sar_num",
        target: Target::Properties(&[PIXEL_ASPECT_RATIO]),
        on_failure: OnFailure::Fatal,
        apply: sar,
    },
    OptionRow {
        key: "sar_den",
        target: Target::With("sar_num"),
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "color_trc",
        target: Target::Properties(&[TRANSFER_FUNCTION, GAMMA_LEVEL]),
        on_failure: OnFailure::Warn,
        apply: color_trc,
    },
    OptionRow {
        key: "colorspace",
        target: Target::Properties(&[YCBCR_MATRIX]),
        on_failure: OnFailure::Warn,
        apply: colorspace,
    },
    OptionRow {
        key: "color_primaries",
        target: Target::Properties(&[COLOR_PRIMARIES]),
        on_failure: OnFailure::Warn,
        apply: primaries,
    },
    OptionRow {
        key: "max_b_frames",
        target: Target::Properties(&[ALLOW_FRAME_REORDERING]),
        on_failure: OnFailure::Fatal,
        apply: max_b_frames,
    },
    OptionRow {
        key: "entropy",
        target: Target::Properties(&[H264_ENTROPY_MODE]),
        on_failure: OnFailure::Warn,
        apply: entropy,
    },
    OptionRow {
        key: "realtime",
        target: Target::Properties(&[REAL_TIME]),
        on_failure: OnFailure::Warn,
        apply: realtime,
    },
    OptionRow {
        key: "flags",
        target: Target::Properties(&[ALLOW_OPEN_GOP]),
        on_failure: OnFailure::Warn,
        apply: flags,
    },
    OptionRow {
        key: "qmin",
        target: Target::Properties(&[MIN_ALLOWED_FRAME_QP]),
        on_failure: OnFailure::Fatal,
        apply: qmin,
    },
    OptionRow {
        key: "qmax",
        target: Target::Properties(&[MAX_ALLOWED_FRAME_QP]),
        on_failure: OnFailure::Fatal,
        apply: qmax,
    },
    OptionRow {
        key: "max_slice_bytes",
        target: Target::Properties(&[MAX_H264_SLICE_BYTES]),
        on_failure: OnFailure::Fatal,
        apply: max_slice_bytes,
    },
    OptionRow {
        key: "power_efficient",
        target: Target::Properties(&[MAXIMIZE_POWER_EFFICIENCY]),
        on_failure: OnFailure::Warn,
        apply: power_efficient,
    },
    OptionRow {
        key: "max_ref_frames",
        target: Target::Properties(&[REFERENCE_BUFFER_COUNT]),
        on_failure: OnFailure::Fatal,
        apply: max_ref_frames,
    },
    OptionRow {
        key: "spatial_aq",
        target: Target::Properties(&[SPATIAL_ADAPTIVE_QP_LEVEL]),
        on_failure: OnFailure::Warn,
        apply: spatial_aq,
    },
    OptionRow {
        key: "alpha_quality",
        target: Target::Properties(&[TARGET_QUALITY_FOR_ALPHA]),
        on_failure: OnFailure::Warn,
        apply: alpha_quality,
    },
    OptionRow {
        key: "a53_cc",
        target: Target::OutputBitstream(
            "VideoToolbox has no caption input: the encoder inserts A53 SEI into each output access unit",
        ),
        on_failure: OnFailure::Warn,
        apply: applied_to_output,
    },
    OptionRow {
        key: "vtr_inflight",
        target: Target::Transport,
        on_failure: OnFailure::Fatal,
        apply: nothing,
    },
    OptionRow {
        key: "vtr_bufsize",
        target: Target::Ignored("VideoToolbox has no VBV buffer size; use maxrate"),
        on_failure: OnFailure::Warn,
        apply: nothing,
    },
];

/// Low-latency rate control: LOW_DELAY flag, H.264 or (on Apple Silicon) HEVC (FFmpeg's rule).
pub fn low_latency_rate_control(ctx: &Context<'_>) -> bool {
    ctx.options.has_flag(FLAG_LOW_DELAY) && (ctx.codec == Codec::H264 || ctx.arm64)
}

/// The encoder specification (videotoolbox.md §4.2): (key, value) pairs.
pub fn encoder_specification(ctx: &Context<'_>) -> Vec<(Symbol, bool)> {
    let o = ctx.options;
    let mut spec = Vec::with_capacity(2);
    if o.require_sw {
        spec.push((SPEC_ENABLE_HW, false));
    } else if !o.allow_sw {
        spec.push((SPEC_REQUIRE_HW, true));
    } else {
        spec.push((SPEC_ENABLE_HW, true));
    }
    if low_latency_rate_control(ctx) {
        spec.push((SPEC_LOW_LATENCY, true));
    }
    spec
}

/// Full range when the client says so (AVCOL_RANGE_JPEG = 2); video range otherwise, as
/// FFmpeg's `vt_format_from_pixfmt` (the original server always used video range).
pub fn full_range(options: &ConfigureOptions) -> bool {
    options.color.range == 2
}

/// Applies every row, then the fixed server settings (MaxFrameDelayCount, ExpectedFrameRate),
/// assuming the encoder's usual reorder depth (see [`plan_with_depth`]).
pub fn plan(ctx: &Context<'_>, max_delay_frames: u32) -> Result<Plan, Refusal> {
    plan_with_depth(ctx, max_delay_frames, None)
}

/// [`plan`] for an encoder whose SPS states `sps_reorder_depth`. `max_delay_frames` is what
/// the encoder may hold in all (`EncoderConfig::max_delay_frames`): MaxFrameDelayCount gets
/// what the DTS tracker leaves of it, and B-frames go off when nothing is left
/// ([`split_delay`]): the original client deadlocks when the encoder holds its whole
/// in-flight window (design.md).
pub fn plan_with_depth(
    ctx: &Context<'_>,
    max_delay_frames: u32,
    sps_reorder_depth: Option<u32>,
) -> Result<Plan, Refusal> {
    if ctx.codec == Codec::H264 && ctx.pix_fmt == PixelFormat::P010 {
        return Err(Refusal {
            option: "pix_fmt",
            reason: "VideoToolbox encodes H.264 from 8-bit nv12 only; use HEVC for p010".into(),
        });
    }
    let mut plan = Plan {
        properties: Vec::new(),
        warnings: Vec::new(),
        frame_reordering: false,
        delay: split_delay(max_delay_frames, false, None),
    };
    for row in OPTION_TABLE {
        (row.apply)(ctx, &mut plan)?;
    }
    plan.delay = split_delay(max_delay_frames, plan.frame_reordering, sps_reorder_depth);
    if plan.frame_reordering && !plan.delay.frame_reordering {
        plan.frame_reordering = false;
        plan.warnings.push(format!(
            "max_b_frames={}: B-frames disabled: reordering needs {} frames of delay, and the client's in-flight window allows the encoder {max_delay_frames}",
            ctx.options.max_b_frames,
            encoder_dts_depth(true, sps_reorder_depth) + 1,
        ));
        for p in &mut plan.properties {
            if p.key == ALLOW_FRAME_REORDERING {
                p.value = PropValue::Bool(false);
            }
        }
    }
    let max_frame_delay_count = plan.delay.max_frame_delay_count as i32;
    set(
        &mut plan,
        "default",
        MAX_FRAME_DELAY_COUNT,
        PropValue::I32(max_frame_delay_count),
        OnFailure::Warn,
    );
    if let Some((num, den)) = ctx.frame_rate.filter(|(n, d)| *n > 0 && *d > 0) {
        let fps = f64::from(num) / f64::from(den);
        set(
            &mut plan,
            "default",
            EXPECTED_FRAME_RATE,
            PropValue::F64(fps),
            OnFailure::Warn,
        );
    }
    Ok(plan)
}

/// A colour tag of the source pixel-buffer attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourAttribute {
    /// `kCVImageBufferColorPrimariesKey`
    Primaries,
    /// `kCVImageBufferTransferFunctionKey`
    TransferFunction,
    /// `kCVImageBufferYCbCrMatrixKey`
    YCbCrMatrix,
}

/// The colour tags for the source pixel-buffer attributes: FFmpeg puts the same strings
/// there as on the session (videotoolbox.md §4.6), so the pool's buffers carry them into the
/// encoder. Unmapped or unspecified values leave the attribute out.
pub fn source_colour_attributes(options: &ConfigureOptions) -> Vec<(ColourAttribute, Symbol)> {
    let c = &options.color;
    let mut out = Vec::with_capacity(3);
    out.extend(color_primaries(c.primaries).map(|s| (ColourAttribute::Primaries, s)));
    out.extend(transfer_function(c.trc).map(|(s, _)| (ColourAttribute::TransferFunction, s)));
    out.extend(ycbcr_matrix(c.space).map(|s| (ColourAttribute::YCbCrMatrix, s)));
    out
}

/// Every CFString symbol the table can name, for the FFI cross-check and tests.
pub fn all_symbols() -> Vec<Symbol> {
    let mut out: Vec<Symbol> = OPTION_TABLE
        .iter()
        .filter_map(|r| match r.target {
            Target::Properties(keys) => Some(keys),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    out.extend(H264_PROFILE_LEVELS.iter().map(|(_, _, s)| *s));
    out.extend([
        H264_CONSTRAINED_BASELINE_AUTO,
        H264_CONSTRAINED_HIGH_AUTO,
        HEVC_MAIN_AUTO,
        HEVC_MAIN10_AUTO,
        ENTROPY_CAVLC,
        ENTROPY_CABAC,
        MAX_FRAME_DELAY_COUNT,
        EXPECTED_FRAME_RATE,
        SPEC_ENABLE_HW,
        SPEC_REQUIRE_HW,
        SPEC_LOW_LATENCY,
        USING_HW_ENCODER,
        FORCE_KEY_FRAME,
    ]);
    for code in 0..32 {
        out.extend(transfer_function(code).map(|(s, _)| s));
        out.extend(ycbcr_matrix(code));
        out.extend(color_primaries(code));
    }
    out.sort_by_key(|s| s.name);
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec vtremote-v1 §6.1, in emission order.
    const SPEC_6_1_KEYS: [&str; 32] = [
        "mode",
        "wire_compression",
        "bitrate",
        "maxrate",
        "gop",
        "max_b_frames",
        "flags",
        "global_quality",
        "qmin",
        "qmax",
        "profile",
        "level",
        "entropy",
        "allow_sw",
        "require_sw",
        "realtime",
        "frames_before",
        "frames_after",
        "prio_speed",
        "power_efficient",
        "spatial_aq",
        "max_ref_frames",
        "max_slice_bytes",
        "constant_bit_rate",
        "alpha_quality",
        "color_range",
        "colorspace",
        "color_primaries",
        "color_trc",
        "sar_num",
        "sar_den",
        "a53_cc",
    ];
    /// Our negotiated extensions (vtremote_proto::options::EXT_*).
    const EXTENSION_KEYS: [&str; 2] = ["vtr_inflight", "vtr_bufsize"];

    fn options(pairs: &[(&str, &str)]) -> ConfigureOptions {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConfigureOptions::parse(&pairs).unwrap()
    }

    fn plan_for(
        codec: Codec,
        pix_fmt: PixelFormat,
        pairs: &[(&str, &str)],
    ) -> Result<Plan, Refusal> {
        let o = options(pairs);
        let ctx = Context {
            codec,
            pix_fmt,
            options: &o,
            frame_rate: Some((25, 1)),
            arm64: true,
        };
        plan(&ctx, 8)
    }

    fn value_of(plan: &Plan, key: Symbol) -> Option<&PropValue> {
        plan.properties
            .iter()
            .find(|p| p.key == key)
            .map(|p| &p.value)
    }

    #[test]
    fn table_has_one_row_per_spec_option_and_nothing_else() {
        let keys: Vec<&str> = OPTION_TABLE.iter().map(|r| r.key).collect();
        for k in SPEC_6_1_KEYS {
            assert_eq!(keys.iter().filter(|&&x| x == k).count(), 1, "spec key {k}");
        }
        for k in &keys {
            assert!(
                SPEC_6_1_KEYS.contains(k) || EXTENSION_KEYS.contains(k),
                "row {k} is in no spec"
            );
        }
        assert_eq!(keys.len(), SPEC_6_1_KEYS.len() + EXTENSION_KEYS.len());
    }

    #[test]
    fn every_table_key_is_an_option_the_protocol_crate_parses() {
        for row in OPTION_TABLE {
            let value = if row.key == "mode" { "encode" } else { "1" };
            let o = options(&[(row.key, value)]);
            assert!(
                o.notes.iter().all(|n| !n.contains("unknown option")),
                "{}: {:?}",
                row.key,
                o.notes
            );
        }
    }

    #[test]
    fn with_rows_point_at_rows_that_exist() {
        for row in OPTION_TABLE {
            if let Target::With(other) = row.target {
                assert!(
                    OPTION_TABLE.iter().any(|r| r.key == other),
                    "{} → {other}",
                    row.key
                );
            }
        }
    }

    #[test]
    fn symbol_literal_is_the_name_without_its_prefix() {
        for s in all_symbols() {
            assert!(s.name.ends_with(s.literal), "{s:?}");
            let prefix = &s.name[..s.name.len() - s.literal.len()];
            assert!(
                prefix.starts_with('k') && prefix.ends_with('_'),
                "{s:?}: prefix {prefix:?}"
            );
        }
    }

    #[test]
    fn original_h264_client_defaults_give_the_original_servers_settings() {
        // What the original FFmpeg client sends for `-c:v h264_videotoolbox` (spec §6.1).
        let plan = plan_for(
            Codec::H264,
            PixelFormat::Nv12,
            &[
                ("mode", "encode"),
                ("gop", "12"),
                ("entropy", "0"),
                ("realtime", "0"),
                ("a53_cc", "1"),
            ],
        )
        .unwrap();
        assert_eq!(
            value_of(&plan, MAX_KEY_FRAME_INTERVAL),
            Some(&PropValue::I32(12))
        );
        assert_eq!(
            value_of(&plan, ALLOW_FRAME_REORDERING),
            Some(&PropValue::Bool(false))
        );
        assert_eq!(value_of(&plan, REAL_TIME), Some(&PropValue::Bool(false)));
        assert_eq!(
            value_of(&plan, PRIORITIZE_SPEED),
            Some(&PropValue::Bool(true))
        );
        assert_eq!(
            value_of(&plan, MAXIMIZE_POWER_EFFICIENCY),
            Some(&PropValue::Bool(false))
        );
        assert_eq!(
            value_of(&plan, MAX_FRAME_DELAY_COUNT),
            Some(&PropValue::I32(8))
        );
        assert_eq!(
            value_of(&plan, EXPECTED_FRAME_RATE),
            Some(&PropValue::F64(25.0))
        );
        assert_eq!(value_of(&plan, PROFILE_LEVEL), None);
        assert_eq!(value_of(&plan, H264_ENTROPY_MODE), None);
        assert!(!plan.frame_reordering);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn bitrate_goes_to_average_or_constant_bit_rate_and_is_fatal() {
        let avg = plan_for(Codec::H264, PixelFormat::Nv12, &[("bitrate", "2000000")]).unwrap();
        let p = avg
            .properties
            .iter()
            .find(|p| p.option == "bitrate")
            .unwrap();
        assert_eq!(
            (p.key, &p.value, p.on_failure),
            (
                AVERAGE_BIT_RATE,
                &PropValue::I32(2_000_000),
                OnFailure::Fatal
            )
        );
        let cbr = plan_for(
            Codec::H264,
            PixelFormat::Nv12,
            &[("bitrate", "2000000"), ("constant_bit_rate", "1")],
        )
        .unwrap();
        assert_eq!(
            value_of(&cbr, CONSTANT_BIT_RATE),
            Some(&PropValue::I32(2_000_000))
        );
        assert_eq!(value_of(&cbr, AVERAGE_BIT_RATE), None);
        let huge = plan_for(Codec::H264, PixelFormat::Nv12, &[("bitrate", "9000000000")]).unwrap();
        assert_eq!(
            value_of(&huge, AVERAGE_BIT_RATE),
            Some(&PropValue::I32(i32::MAX))
        );
        assert_eq!(huge.warnings.len(), 1);
    }

    #[test]
    fn quality_mode_replaces_bitrate() {
        let p = plan_for(
            Codec::Hevc,
            PixelFormat::Nv12,
            &[("bitrate", "1000"), ("global_quality", "50")],
        )
        .unwrap();
        assert_eq!(value_of(&p, QUALITY), Some(&PropValue::F32(0.5)));
        assert_eq!(value_of(&p, AVERAGE_BIT_RATE), None);
        let q = plan_for(
            Codec::H264,
            PixelFormat::Nv12,
            &[("flags", "2"), ("global_quality", "5900")],
        )
        .unwrap();
        assert_eq!(value_of(&q, QUALITY), Some(&PropValue::F32(0.5)));
        let o = options(&[("flags", "2"), ("global_quality", "100")]);
        let intel = Context {
            codec: Codec::H264,
            pix_fmt: PixelFormat::Nv12,
            options: &o,
            frame_rate: None,
            arm64: false,
        };
        assert_eq!(plan(&intel, 8).unwrap_err().option, "flags");
    }

    #[test]
    fn maxrate_is_fatal_for_h264_only() {
        for (codec, expect) in [
            (Codec::H264, OnFailure::Fatal),
            (Codec::Hevc, OnFailure::Warn),
        ] {
            let p = plan_for(codec, PixelFormat::Nv12, &[("maxrate", "8000000")]).unwrap();
            let s = p
                .properties
                .iter()
                .find(|s| s.key == DATA_RATE_LIMITS)
                .unwrap();
            assert_eq!(
                (&s.value, s.on_failure),
                (&PropValue::I64Array(vec![1_000_000, 1]), expect)
            );
        }
    }

    #[test]
    fn profile_level_mapping() {
        type Case<'a> = (
            Codec,
            PixelFormat,
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
        );
        let cases: &[Case<'_>] = &[
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "100"), ("level", "41")],
                Some("H264_High_4_1"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "66")],
                Some("H264_Baseline_AutoLevel"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "578"), ("level", "31")],
                Some("H264_ConstrainedBaseline_AutoLevel"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "612")],
                Some("H264_ConstrainedHigh_AutoLevel"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("level", "31")],
                Some("H264_Baseline_3_1"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("level", "31"), ("max_b_frames", "2")],
                Some("H264_Main_3_1"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "88"), ("level", "50")],
                Some("H264_Extended_5_0"),
            ),
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "77"), ("level", "60")],
                Some("H264_Main_AutoLevel"),
            ),
            (Codec::Hevc, PixelFormat::Nv12, &[], None),
            (
                Codec::Hevc,
                PixelFormat::P010,
                &[],
                Some("HEVC_Main10_AutoLevel"),
            ),
            (
                Codec::Hevc,
                PixelFormat::Nv12,
                &[("profile", "1")],
                Some("HEVC_Main_AutoLevel"),
            ),
            (
                Codec::Hevc,
                PixelFormat::P010,
                &[("profile", "2")],
                Some("HEVC_Main10_AutoLevel"),
            ),
        ];
        for (codec, pix_fmt, pairs, expect) in cases {
            let p = plan_for(*codec, *pix_fmt, pairs).unwrap();
            let got = match value_of(&p, PROFILE_LEVEL) {
                Some(PropValue::Str(s)) => Some(s.literal),
                None => None,
                other => panic!("{other:?}"),
            };
            assert_eq!(got, *expect, "{codec:?} {pix_fmt:?} {pairs:?}");
        }
        for (codec, pix_fmt, pairs) in [
            (
                Codec::H264,
                PixelFormat::Nv12,
                &[("profile", "88"), ("level", "41")][..],
            ),
            (Codec::H264, PixelFormat::Nv12, &[("profile", "244")][..]),
            (Codec::Hevc, PixelFormat::Nv12, &[("profile", "2")][..]),
            (Codec::Hevc, PixelFormat::P010, &[("profile", "1")][..]),
            (Codec::Hevc, PixelFormat::P010, &[("profile", "4")][..]),
            (Codec::H264, PixelFormat::P010, &[][..]),
        ] {
            assert!(
                plan_for(codec, pix_fmt, pairs).is_err(),
                "{codec:?} {pix_fmt:?} {pairs:?}"
            );
        }
    }

    #[test]
    fn baseline_drops_b_frames_and_cabac_with_warnings() {
        let p = plan_for(
            Codec::H264,
            PixelFormat::Nv12,
            &[("profile", "66"), ("max_b_frames", "2"), ("entropy", "2")],
        )
        .unwrap();
        assert_eq!(
            value_of(&p, ALLOW_FRAME_REORDERING),
            Some(&PropValue::Bool(false))
        );
        assert_eq!(value_of(&p, H264_ENTROPY_MODE), None);
        assert!(!p.frame_reordering);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        let main = plan_for(
            Codec::H264,
            PixelFormat::Nv12,
            &[("max_b_frames", "2"), ("entropy", "1")],
        )
        .unwrap();
        assert!(main.frame_reordering);
        assert_eq!(
            value_of(&main, H264_ENTROPY_MODE),
            Some(&PropValue::Str(ENTROPY_CAVLC))
        );
    }

    #[test]
    fn low_delay_needs_a_bitrate_and_sets_the_specification() {
        assert_eq!(
            plan_for(Codec::H264, PixelFormat::Nv12, &[("flags", "524288")])
                .unwrap_err()
                .option,
            "flags"
        );
        let o = options(&[("flags", "524288"), ("bitrate", "1000000")]);
        let ctx = Context {
            codec: Codec::H264,
            pix_fmt: PixelFormat::Nv12,
            options: &o,
            frame_rate: None,
            arm64: true,
        };
        assert!(plan(&ctx, 8).is_ok());
        assert_eq!(
            encoder_specification(&ctx),
            vec![(SPEC_REQUIRE_HW, true), (SPEC_LOW_LATENCY, true)]
        );
    }

    #[test]
    fn encoder_specification_follows_allow_and_require_sw() {
        for (pairs, expect) in [
            (&[][..], vec![(SPEC_REQUIRE_HW, true)]),
            (&[("allow_sw", "1")][..], vec![(SPEC_ENABLE_HW, true)]),
            (
                &[("require_sw", "1"), ("allow_sw", "1")][..],
                vec![(SPEC_ENABLE_HW, false)],
            ),
        ] {
            let o = options(pairs);
            let ctx = Context {
                codec: Codec::Hevc,
                pix_fmt: PixelFormat::Nv12,
                options: &o,
                frame_rate: None,
                arm64: true,
            };
            assert_eq!(encoder_specification(&ctx), expect, "{pairs:?}");
        }
    }

    #[test]
    fn colour_sar_and_closed_gop() {
        let p = plan_for(
            Codec::Hevc,
            PixelFormat::P010,
            &[
                ("color_trc", "16"),
                ("colorspace", "9"),
                ("color_primaries", "9"),
                ("sar_num", "64"),
                ("sar_den", "48"),
                ("flags", "-2147483648"),
            ],
        )
        .unwrap();
        assert_eq!(
            value_of(&p, TRANSFER_FUNCTION),
            Some(&PropValue::Str(trc!("SMPTE_ST_2084_PQ")))
        );
        assert_eq!(
            value_of(&p, YCBCR_MATRIX),
            Some(&PropValue::Str(matrix!("ITU_R_2020")))
        );
        assert_eq!(
            value_of(&p, COLOR_PRIMARIES),
            Some(&PropValue::Str(primaries!("ITU_R_2020")))
        );
        assert_eq!(
            value_of(&p, PIXEL_ASPECT_RATIO),
            Some(&PropValue::AspectRatio {
                horizontal: 4,
                vertical: 3
            })
        );
        assert_eq!(value_of(&p, ALLOW_OPEN_GOP), Some(&PropValue::Bool(false)));
        let gamma = plan_for(Codec::H264, PixelFormat::Nv12, &[("color_trc", "4")]).unwrap();
        assert_eq!(value_of(&gamma, GAMMA_LEVEL), Some(&PropValue::F32(2.2)));
        let unknown =
            plan_for(Codec::H264, PixelFormat::Nv12, &[("color_primaries", "22")]).unwrap();
        assert_eq!(value_of(&unknown, COLOR_PRIMARIES), None);
        assert_eq!(unknown.warnings.len(), 1);
    }

    fn frame_delay_of(plan: &Plan) -> Option<&PropValue> {
        value_of(plan, MAX_FRAME_DELAY_COUNT)
    }

    #[test]
    fn frame_delay_and_dts_depth_together_stay_below_the_client_window() {
        let o = options(&[("max_b_frames", "2")]);
        let ctx = Context {
            codec: Codec::Hevc,
            pix_fmt: PixelFormat::Nv12,
            options: &o,
            frame_rate: None,
            arm64: true,
        };
        // Window 9 (budget 8): VideoToolbox 6 + DTS tracker 2.
        let p = plan(&ctx, 8).unwrap();
        assert_eq!(frame_delay_of(&p), Some(&PropValue::I32(6)));
        assert_eq!(p.delay.dts_depth, 2);
        assert!(p.frame_reordering);
        // An SPS that states depth 3 takes one more from VideoToolbox.
        let p = plan_with_depth(&ctx, 8, Some(3)).unwrap();
        assert_eq!(frame_delay_of(&p), Some(&PropValue::I32(5)));
        // Window 3 (budget 2): no room for B-frames; said so, and told to VideoToolbox.
        let p = plan(&ctx, 2).unwrap();
        assert!(!p.frame_reordering);
        assert_eq!(
            value_of(&p, ALLOW_FRAME_REORDERING),
            Some(&PropValue::Bool(false))
        );
        assert_eq!(frame_delay_of(&p), Some(&PropValue::I32(2)));
        assert!(
            p.warnings.iter().any(|w| w.contains("max_b_frames=2")),
            "{:?}",
            p.warnings
        );
        // Without B-frames VideoToolbox gets the whole budget, at most 8.
        let none = options(&[]);
        let ctx = Context {
            options: &none,
            ..ctx
        };
        assert_eq!(
            frame_delay_of(&plan(&ctx, 15).unwrap()),
            Some(&PropValue::I32(8))
        );
        assert_eq!(
            frame_delay_of(&plan(&ctx, 3).unwrap()),
            Some(&PropValue::I32(3))
        );
    }

    #[test]
    fn colour_tags_go_into_the_source_attributes_too() {
        let o = options(&[
            ("color_primaries", "9"),
            ("color_trc", "16"),
            ("colorspace", "9"),
        ]);
        let attrs = source_colour_attributes(&o);
        assert_eq!(
            attrs,
            [
                (ColourAttribute::Primaries, primaries!("ITU_R_2020")),
                (ColourAttribute::TransferFunction, trc!("SMPTE_ST_2084_PQ")),
                (ColourAttribute::YCbCrMatrix, matrix!("ITU_R_2020")),
            ]
        );
        assert!(source_colour_attributes(&options(&[])).is_empty());
    }
}
