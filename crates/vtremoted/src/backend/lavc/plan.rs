//! Turns a validated [`EncoderConfig`] into concrete libavcodec settings for one encoder
//! family, without touching FFI, so the mapping is unit-testable and documented in one place.
//!
//! Mapping summary (client option → what we set):
//!
//! | option | libx264 | libx265 | NVENC | QSV | VAAPI |
//! |---|---|---|---|---|---|
//! | bitrate | `b` | `b` | `b` | `b` | `b` |
//! | maxrate / vtr_bufsize | `maxrate`/`bufsize` (bufsize defaults to 1 s of maxrate) | same (vbv) | same | same | same |
//! | constant_bit_rate | maxrate=minrate=b, `nal-hrd=cbr` | vbv=b, `strict-cbr=1` | `rc=cbr` | maxrate=b | `rc_mode=CBR` |
//! | global_quality / QSCALE | `crf` | `crf` | `rc=vbr`+`cq` | ICQ `global_quality` | `rc_mode=CQP`+`global_quality` |
//! | gop | `g` | `g` | `g` | `g` | `g` |
//! | max_b_frames | `bf` (capped by the delay budget) | `bframes` | `bf` | `bf` | `bf` |
//! | flags CLOSED_GOP | `flags +cgop` | `open-gop=0` | `flags +cgop` | `flags +cgop` | `flags +cgop` |
//! | flags LOW_DELAY, realtime=1 | `tune=zerolatency` | `tune=zerolatency` | `zerolatency=1` | `async_depth=1` | `async_depth=1` |
//! | qmin / qmax | `qmin`/`qmax` | `qpmin`/`qpmax` | `qmin`/`qmax` | `qmin`/`qmax` | `qmin`/`qmax` |
//! | profile | `profile` | `profile` | `profile` | `profile` | avctx profile |
//! | level | avctx `level` | `level-idc` | `level` | avctx `level` | avctx `level` |
//! | entropy | `coder` | (always CABAC) | `coder` | warning | `coder` |
//! | prio_speed | `preset` veryfast (default) / medium (0) | same | `preset` p2 / p5 | `preset` veryfast / medium | — |
//! | max_ref_frames | `refs` | `ref` | `refs` | `refs` | `refs` |
//! | max_slice_bytes | `slice-max-size` | warning | warning | warning | warning |
//! | spatial_aq | 0 → `aq-mode=0`, else x264's default spatial AQ | 0 → `aq-mode=0` | `spatial-aq` | warning | warning |
//! | colours, sar | avctx fields (written to the VUI) | same | same | same | same |
//! | a53_cc | `a53cc` + frame side data | A53 SEI inserted into the output by us | side data | SEI inserted by us | SEI inserted by us |
//! | power_efficient=1, frames_before/after, alpha_quality | warning | warning | warning | warning | warning |
//!
//! Quality mode: the client's value is first turned into VideoToolbox's 0…1 quality exactly
//! as the original server does (`global_quality / (QSCALE ? 11800 : 100)`, capped at 1), then
//! mapped linearly onto the 0…51 quantiser scale: `crf = 51 × (1 − quality)`. So `-q:v 65`
//! (quality 0.65) becomes crf 17.8 and quality 0.5 becomes crf 25.5.

use vtremote_proto::options::{
    ConfigureOptions, Entropy, FLAG_CLOSED_GOP, FLAG_LOW_DELAY, FLAG_QSCALE, PROFILE_UNKNOWN,
};
use vtremote_proto::{Codec, PixelFormat};

use crate::backend::{BackendError, EncoderConfig};

/// Encoder implementations whose private options we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    X264,
    X265,
    Nvenc,
    Qsv,
    Vaapi,
    Other,
}

impl Family {
    pub fn of(encoder: &str) -> Family {
        match encoder {
            "libx264" => Family::X264,
            "libx265" => Family::X265,
            e if e.ends_with("_nvenc") => Family::Nvenc,
            e if e.ends_with("_qsv") => Family::Qsv,
            e if e.ends_with("_vaapi") => Family::Vaapi,
            _ => Family::Other,
        }
    }

    fn software(self) -> bool {
        matches!(self, Family::X264 | Family::X265)
    }
}

/// Pixel layout of the frames we hand to the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLayout {
    Nv12,
    P010,
    Yuv420p,
    Yuv420p10,
}

/// A codec-private AVOption and the client option it came from (for warnings).
#[derive(Debug, Clone, PartialEq)]
pub struct PrivateOpt {
    pub key: &'static str,
    pub value: String,
    /// Client option name; `None` for our own tuning (a failure there is not the client's
    /// business and is not reported).
    pub origin: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub bit_rate: i64,
    pub rc_max_rate: i64,
    pub rc_min_rate: i64,
    pub rc_buffer_size: i32,
    pub gop_size: Option<i32>,
    pub max_b_frames: i32,
    /// AV_CODEC_FLAG_* bits to set on the context.
    pub flags: u32,
    pub qmin: Option<i32>,
    pub qmax: Option<i32>,
    pub global_quality: Option<i32>,
    /// FFmpeg profile number for encoders that read `avctx->profile`.
    pub profile: Option<i32>,
    pub level: Option<i32>,
    pub refs: Option<i32>,
    pub color_range: Option<i32>,
    pub colorspace: Option<i32>,
    pub color_primaries: Option<i32>,
    pub color_trc: Option<i32>,
    pub sar: Option<(i32, i32)>,
    pub thread_count: Option<i32>,
    /// FF_THREAD_* bits.
    pub thread_type: Option<i32>,
    pub private: Vec<PrivateOpt>,
    /// `x264-params` / `x265-params` entries (key, value).
    pub params: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// Frames we expect the encoder to hold at most before emitting output.
    pub expected_delay: u32,
    /// Frame rate given to rate control when the client sent none.
    pub assumed_frame_rate: Option<(u32, u32)>,
    /// The encoder cannot embed A53 captions itself: we insert the SEI into its output.
    pub insert_captions: bool,
}

impl Plan {
    fn private(&mut self, key: &'static str, value: impl ToString, origin: Option<&'static str>) {
        self.private.push(PrivateOpt {
            key,
            value: value.to_string(),
            origin,
        });
    }

    fn param(&mut self, key: &str, value: impl ToString) {
        self.params.push((key.to_string(), value.to_string()));
    }

    fn warn(&mut self, text: String) {
        self.warnings.push(text);
    }

    /// The `x264-params` / `x265-params` string.
    pub fn params_string(&self) -> Option<String> {
        (!self.params.is_empty()).then(|| {
            self.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(":")
        })
    }
}

const AV_CODEC_FLAG_GLOBAL_HEADER: u32 = 1 << 22;
const AV_CODEC_FLAG_CLOSED_GOP: u32 = 1 << 31;
const FF_THREAD_FRAME: i32 = 1;
const FF_THREAD_SLICE: i32 = 2;

/// Input layout for a codec that declares `accepts` (in the encoder's preference order).
pub fn choose_input(
    encoder: &str,
    pix_fmt: PixelFormat,
    accepts: &[InputLayout],
) -> Result<InputLayout, BackendError> {
    let prefs: &[InputLayout] = match pix_fmt {
        PixelFormat::Nv12 => &[InputLayout::Nv12, InputLayout::Yuv420p],
        PixelFormat::P010 => &[InputLayout::P010, InputLayout::Yuv420p10],
    };
    prefs
        .iter()
        .copied()
        .find(|p| accepts.contains(p))
        .ok_or_else(|| {
            BackendError::unsupported(
                "pix_fmt",
                format!("{encoder} does not take {pix_fmt} (or a 4:2:0 planar equivalent)"),
            )
        })
}

/// Valid `level` values: H.264 as 10 × level (`41`), HEVC as general_level_idc (30 × level,
/// `123` for 4.1), which is FFmpeg's own convention for both.
const H264_LEVELS: &[i32] = &[
    9, 10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52, 60, 61, 62,
];
const HEVC_LEVELS: &[i32] = &[30, 60, 63, 90, 93, 120, 123, 150, 153, 156, 180, 183, 186];

struct Profile {
    /// Name as the encoders' `profile` option spells it.
    name: &'static str,
    ff: i32,
    no_bframes: bool,
    no_cabac: bool,
}

fn h264_profile(p: i32, encoder: &str) -> Result<Option<Profile>, BackendError> {
    let prof = |name, ff, no_bframes, no_cabac| {
        Ok(Some(Profile {
            name,
            ff,
            no_bframes,
            no_cabac,
        }))
    };
    match p {
        PROFILE_UNKNOWN => Ok(None),
        // x264/NVENC "baseline" is already constrained baseline (no FMO/ASO/redundant slices).
        66 | 578 => prof("baseline", 578, true, true),
        77 => prof("main", 77, false, false),
        100 => prof("high", 100, false, false),
        // Constrained High = High without B slices.
        612 => prof("high", 100, true, false),
        88 => Err(BackendError::unsupported(
            "profile",
            format!("H.264 Extended profile (88) is not supported by {encoder}"),
        )),
        other => Err(BackendError::unsupported(
            "profile",
            format!("{other} is not an H.264 profile this helper encodes (66, 77, 100, 578, 612)"),
        )),
    }
}

fn hevc_profile(p: i32, pix_fmt: PixelFormat) -> Result<Profile, BackendError> {
    let main = Profile {
        name: "main",
        ff: 1,
        no_bframes: false,
        no_cabac: false,
    };
    let main10 = Profile {
        name: "main10",
        ff: 2,
        no_bframes: false,
        no_cabac: false,
    };
    match (p, pix_fmt) {
        (PROFILE_UNKNOWN, PixelFormat::Nv12) | (1, PixelFormat::Nv12) => Ok(main),
        (PROFILE_UNKNOWN, PixelFormat::P010) | (2, PixelFormat::P010) => Ok(main10),
        (1, PixelFormat::P010) => Err(BackendError::unsupported(
            "profile",
            "HEVC Main (1) is 8-bit but the input is p010; use Main 10 (2)",
        )),
        (2, PixelFormat::Nv12) => Err(BackendError::unsupported(
            "profile",
            "HEVC Main 10 (2) needs p010 input; the input is nv12",
        )),
        (4, _) => Err(BackendError::unsupported(
            "profile",
            "HEVC Rext/Main 4:2:2 10 (4) needs 4:2:2 input; the wire carries 4:2:0 only",
        )),
        (other, _) => Err(BackendError::unsupported(
            "profile",
            format!("{other} is not an HEVC profile this helper encodes (1 Main, 2 Main 10)"),
        )),
    }
}

/// Client quality (spec §6.3) → VideoToolbox's 0…1 → crf/cq/qp on the 0…51 scale.
pub fn quality_to_crf(o: &ConfigureOptions) -> f64 {
    let div = if o.has_flag(FLAG_QSCALE) {
        118.0 * 100.0
    } else {
        100.0
    };
    let q = (o.global_quality.max(0) as f64 / div).min(1.0);
    (51.0 * (1.0 - q) * 10.0).round() / 10.0
}

fn valid_primaries(v: i32) -> bool {
    matches!(v, 1 | 4..=12 | 22)
}
fn valid_trc(v: i32) -> bool {
    matches!(v, 1 | 4..=18)
}
fn valid_space(v: i32) -> bool {
    matches!(v, 0 | 1 | 4..=14)
}

/// Builds the plan. `ncpu` is the number of CPU threads available to one session.
/// What every section of [`plan`] reads.
#[derive(Clone, Copy)]
struct Request<'a> {
    config: &'a EncoderConfig,
    o: &'a ConfigureOptions,
    g: &'a vtremote_proto::FrameGeometry,
    encoder: &'a str,
    family: Family,
}

pub fn plan(
    config: &EncoderConfig,
    encoder: &str,
    family: Family,
    ncpu: usize,
) -> Result<Plan, BackendError> {
    let r = Request {
        config,
        o: &config.options,
        g: &config.geometry,
        encoder,
        family,
    };
    check_input(&r)?;
    let mut p = Plan {
        flags: AV_CODEC_FLAG_GLOBAL_HEADER,
        ..Default::default()
    };
    let profile = profile_and_level(&mut p, &r)?;
    let realtime = r.o.realtime == 1 || r.o.has_flag(FLAG_LOW_DELAY);
    rate_control(&mut p, &r)?;
    gop_and_quantisers(&mut p, &r)?;
    entropy(&mut p, &r, profile.as_ref());
    speed_and_references(&mut p, &r, realtime)?;
    ignored_hints(&mut p, &r);
    colour(&mut p, &r);
    captions(&mut p, &r);
    delay(&mut p, &r, profile.as_ref(), realtime, ncpu);
    Ok(p)
}

/// Refusals that depend only on the codec, format and size.
fn check_input(r: &Request<'_>) -> Result<(), BackendError> {
    let Request {
        config,
        g,
        encoder,
        family,
        ..
    } = *r;
    if config.codec == Codec::H264 && g.pix_fmt == PixelFormat::P010 {
        return Err(BackendError::unsupported(
            "pix_fmt",
            "H.264 encoding takes nv12 only; 10-bit p010 needs HEVC (Main 10)",
        ));
    }
    if family.software() && ((g.width | g.height) & 1 == 1) {
        return Err(BackendError::unsupported(
            "size",
            format!(
                "{encoder} needs an even width and height for 4:2:0; got {}x{}",
                g.width, g.height
            ),
        ));
    }

    Ok(())
}

/// Profile and level, validated; the profile also limits entropy coding and B-frames.
fn profile_and_level(p: &mut Plan, r: &Request<'_>) -> Result<Option<Profile>, BackendError> {
    let Request {
        config,
        o,
        g,
        encoder,
        family,
    } = *r;
    let profile = match config.codec {
        Codec::H264 => h264_profile(o.profile, encoder)?,
        Codec::Hevc => Some(hevc_profile(o.profile, g.pix_fmt)?),
    };
    if let Some(pr) = &profile {
        match family {
            Family::X264 | Family::X265 | Family::Nvenc | Family::Qsv => {
                p.private("profile", pr.name, Some("profile"))
            }
            Family::Vaapi | Family::Other => p.profile = Some(pr.ff),
        }
    }
    if o.level != 0 {
        let (valid, hint) = match config.codec {
            Codec::H264 => (H264_LEVELS, "H.264 levels are 10 × level, 9/10…62"),
            Codec::Hevc => (HEVC_LEVELS, "HEVC levels are 30 × level, e.g. 123 for 4.1"),
        };
        if !valid.contains(&o.level) {
            return Err(BackendError::unsupported(
                "level",
                format!("{} is not a valid {} level ({hint})", o.level, config.codec),
            ));
        }
        match (family, config.codec) {
            (Family::X265, _) => p.param("level-idc", o.level / 3),
            (Family::Nvenc, _) => {
                p.private("level", o.level, Some("level"));
            }
            _ => p.level = Some(o.level),
        }
    }

    Ok(profile)
}

/// Bitrate or quality mode and the VBV.
fn rate_control(p: &mut Plan, r: &Request<'_>) -> Result<(), BackendError> {
    let Request {
        config,
        o,
        encoder,
        family,
        ..
    } = *r;
    if o.quality_mode() {
        let crf = quality_to_crf(o);
        if o.bitrate > 0 {
            p.warn(format!(
                "bitrate={}: ignored because quality mode (global_quality/QSCALE) is on",
                o.bitrate
            ));
        }
        match family {
            Family::X264 | Family::X265 => p.private("crf", crf, Some("global_quality")),
            Family::Nvenc => {
                p.private("rc", "vbr", Some("global_quality"));
                p.private("cq", crf.round() as i32, Some("global_quality"));
            }
            Family::Qsv => p.global_quality = Some(crf.round().max(1.0) as i32),
            Family::Vaapi => {
                p.private("rc_mode", "CQP", Some("global_quality"));
                p.global_quality = Some(crf.round() as i32);
            }
            Family::Other => p.global_quality = Some(crf.round() as i32),
        }
    } else if o.bitrate > 0 {
        p.bit_rate = o.bitrate;
        if o.constant_bit_rate {
            p.rc_max_rate = o.bitrate;
            match family {
                Family::X264 => {
                    p.rc_min_rate = o.bitrate;
                    p.private("nal-hrd", "cbr", Some("constant_bit_rate"));
                }
                Family::X265 => p.param("strict-cbr", 1),
                Family::Nvenc => p.private("rc", "cbr", Some("constant_bit_rate")),
                Family::Vaapi => p.private("rc_mode", "CBR", Some("constant_bit_rate")),
                Family::Qsv | Family::Other => p.rc_min_rate = o.bitrate,
            }
        }
    } else if o.constant_bit_rate {
        p.warn("constant_bit_rate=1: ignored because no bitrate was given".into());
    }
    // Only libx264 rate-controls from timestamps; the others take the frame rate, and
    // without one they read a fine time base (1/90000) as 90000 fps.
    let (tb_num, tb_den) = config.time_base;
    let rate_controlled = o.bitrate > 0 || o.maxrate > 0;
    if family != Family::X264
        && rate_controlled
        && config.frame_rate.is_none()
        && u64::from(tb_den) > 240 * u64::from(tb_num)
    {
        p.assumed_frame_rate = Some((30, 1));
        p.warn(format!(
            "bitrate: no frame rate given and time base {tb_num}/{tb_den} is not one; \
             {encoder} rate control assumes 30 fps"
        ));
    }
    if o.maxrate > 0 && !o.constant_bit_rate {
        p.rc_max_rate = o.maxrate;
    }
    if o.bufsize > 0 {
        p.rc_buffer_size = o.bufsize.min(i32::MAX as i64) as i32;
    } else if p.rc_max_rate > 0 {
        // VideoToolbox's DataRateLimits window is one second; a VBV of one second of
        // maxrate is the same constraint.
        p.rc_buffer_size = p.rc_max_rate.min(i32::MAX as i64) as i32;
    }

    Ok(())
}

/// GOP length, closed GOPs and the quantiser bounds.
fn gop_and_quantisers(p: &mut Plan, r: &Request<'_>) -> Result<(), BackendError> {
    let Request { o, g, family, .. } = *r;
    if o.gop > 0 {
        p.gop_size = Some(o.gop);
    }
    if o.has_flag(FLAG_CLOSED_GOP) {
        match family {
            Family::X265 => p.param("open-gop", 0),
            _ => p.flags |= AV_CODEC_FLAG_CLOSED_GOP,
        }
    }

    for (name, v) in [("qmin", o.qmin), ("qmax", o.qmax)] {
        if v < 0 {
            continue;
        }
        let top = if g.pix_fmt == PixelFormat::P010 {
            63
        } else {
            51
        };
        if v > top {
            return Err(BackendError::unsupported(
                name,
                format!("{v} is outside the quantiser range 0..{top}"),
            ));
        }
    }
    if o.qmin >= 0 && o.qmax >= 0 && o.qmin > o.qmax {
        return Err(BackendError::unsupported(
            "qmin",
            format!("qmin {} is above qmax {}", o.qmin, o.qmax),
        ));
    }
    if family == Family::X265 {
        if o.qmin >= 0 {
            p.param("qpmin", o.qmin);
        }
        if o.qmax >= 0 {
            p.param("qpmax", o.qmax);
        }
    } else {
        p.qmin = (o.qmin >= 0).then_some(o.qmin);
        p.qmax = (o.qmax >= 0).then_some(o.qmax);
    }

    Ok(())
}

/// CAVLC/CABAC (H.264 only; HEVC is always CABAC).
fn entropy(p: &mut Plan, r: &Request<'_>, profile: Option<&Profile>) {
    let Request {
        config,
        o,
        encoder,
        family,
        ..
    } = *r;
    let no_cabac = profile.as_ref().is_some_and(|pr| pr.no_cabac);
    match (config.codec, o.entropy) {
        (_, Entropy::Auto) => {}
        (Codec::Hevc, e) => p.warn(format!(
            "entropy={}: HEVC always uses CABAC; ignored",
            entropy_num(e)
        )),
        (Codec::H264, Entropy::Cabac) if no_cabac => {
            p.warn("entropy=2: Baseline profile has no CABAC; using CAVLC".into())
        }
        (Codec::H264, e) => match family {
            Family::X264 | Family::Nvenc | Family::Vaapi | Family::Other => p.private(
                "coder",
                if e == Entropy::Cavlc {
                    "cavlc"
                } else {
                    "cabac"
                },
                Some("entropy"),
            ),
            Family::X265 | Family::Qsv => p.warn(format!(
                "entropy={}: {encoder} has no entropy coder choice; ignored",
                entropy_num(e)
            )),
        },
    }
}

/// Speed/latency presets, reference frames and slice size.
fn speed_and_references(p: &mut Plan, r: &Request<'_>, realtime: bool) -> Result<(), BackendError> {
    let Request {
        config,
        o,
        encoder,
        family,
        ..
    } = *r;
    let fast = o.prio_speed != 0;
    match family {
        Family::X264 | Family::X265 => {
            p.private("preset", if fast { "veryfast" } else { "medium" }, None);
            if realtime {
                p.private("tune", "zerolatency", Some("realtime"));
            }
        }
        Family::Nvenc => {
            p.private("preset", if fast { "p2" } else { "p5" }, None);
            if realtime {
                p.private("zerolatency", 1, Some("realtime"));
            }
        }
        Family::Qsv => p.private("preset", if fast { "veryfast" } else { "medium" }, None),
        Family::Vaapi | Family::Other => {}
    }

    if o.max_ref_frames > 0 {
        if o.max_ref_frames > 16 {
            return Err(BackendError::unsupported(
                "max_ref_frames",
                format!(
                    "{} is above the 16 reference frames both codecs allow",
                    o.max_ref_frames
                ),
            ));
        }
        match family {
            Family::X265 => p.param("ref", o.max_ref_frames),
            _ => p.refs = Some(o.max_ref_frames),
        }
    }
    if o.max_slice_bytes > 0 {
        match (config.codec, family) {
            (Codec::H264, Family::X264) => p.param("slice-max-size", o.max_slice_bytes),
            _ => p.warn(format!(
                "max_slice_bytes={}: {encoder} cannot cap slice size; ignored",
                o.max_slice_bytes
            )),
        }
    }

    Ok(())
}

/// Hints without an equivalent here: each becomes a warning.
fn ignored_hints(p: &mut Plan, r: &Request<'_>) {
    let Request {
        o, encoder, family, ..
    } = *r;
    if o.power_efficient >= 1 {
        p.warn(format!(
            "power_efficient={}: {encoder} has no power-efficiency mode; ignored",
            o.power_efficient
        ));
    }
    match (o.spatial_aq, family) {
        (v, _) if v < 0 => {}
        // x264/x265 adaptive quantisation is spatial by default; 0 switches it off.
        (0, Family::X264) => p.private("aq-mode", 0, Some("spatial_aq")),
        (0, Family::X265) => p.param("aq-mode", 0),
        (_, Family::X264 | Family::X265) => {}
        (v, Family::Nvenc) => p.private("spatial-aq", (v != 0) as i32, Some("spatial_aq")),
        (v, _) => p.warn(format!(
            "spatial_aq={v}: {encoder} has no spatial AQ control; ignored"
        )),
    }
    if o.frames_before {
        p.warn(
            "frames_before=1: segment-joining hint has no effect on this helper; ignored".into(),
        );
    }
    if o.frames_after {
        p.warn("frames_after=1: segment-joining hint has no effect on this helper; ignored".into());
    }
    if o.alpha_quality > 0.0 {
        p.warn(format!(
            "alpha_quality={:.6}: the wire formats carry no alpha; ignored",
            o.alpha_quality
        ));
    }
}

/// Colour description (written to the VUI, never used to convert pixels) and aspect ratio.
fn colour(p: &mut Plan, r: &Request<'_>) {
    let Request { o, .. } = *r;
    let c = &o.color;
    match c.range {
        0 => {}
        1 | 2 => p.color_range = Some(c.range),
        v => p.warn(format!(
            "color_range={v}: not an FFmpeg colour range; ignored"
        )),
    }
    for (name, v, ok, slot) in [
        (
            "colorspace",
            c.space,
            valid_space(c.space),
            &mut p.colorspace,
        ),
        (
            "color_primaries",
            c.primaries,
            valid_primaries(c.primaries),
            &mut p.color_primaries,
        ),
        ("color_trc", c.trc, valid_trc(c.trc), &mut p.color_trc),
    ] {
        if v == 2 {
            continue;
        }
        if ok {
            *slot = Some(v);
        } else {
            p.warnings.push(format!(
                "{name}={v}: not a known FFmpeg value; left unspecified"
            ));
        }
    }
    if let Some((n, d)) = o.sar {
        match (i32::try_from(n), i32::try_from(d)) {
            (Ok(n), Ok(d)) => p.sar = Some((n, d)),
            _ => p.warn(format!("sar_num/sar_den={n}/{d}: too large; ignored")),
        }
    }
}

/// Where A53 closed captions get embedded.
fn captions(p: &mut Plan, r: &Request<'_>) {
    let Request { o, family, .. } = *r;
    // A53 closed captions: libx264 embeds them when asked and NVENC always embeds frame side
    // data; for the others we insert the SEI into the output ourselves (vtremote_media::sei).
    match family {
        Family::X264 => p.private("a53cc", (o.a53_cc != 0) as i32, Some("a53_cc")),
        Family::Nvenc => {}
        _ => p.insert_captions = o.a53_cc != 0,
    }
}

/// B-frames, lookahead and threads within the frames the encoder may hold.
fn delay(p: &mut Plan, r: &Request<'_>, profile: Option<&Profile>, realtime: bool, ncpu: usize) {
    let Request {
        config,
        o,
        encoder,
        family,
        ..
    } = *r;
    // B-frames and delay. The encoder may hold at most `budget` frames: the original client
    // deadlocks when the encoder keeps its whole in-flight window.
    let budget = config.max_delay_frames.saturating_sub(1);
    let mut bf = o.max_b_frames.max(0) as u32;
    if profile.as_ref().is_some_and(|pr| pr.no_bframes) && bf > 0 {
        p.warn(format!(
            "max_b_frames={bf}: the requested profile has no B-frames; using 0"
        ));
        bf = 0;
    }
    let requested = bf;
    let ncpu = ncpu.max(1) as u32;
    match family {
        Family::X264 => {
            // Measured: held = max(bframes, lookahead) + frame threads − 1 + 1 (x264 keeps
            // one extra frame for variable-frame-rate timestamps) with frame threads, and
            // bframes with zerolatency's sliced threads.
            let room = budget.saturating_sub(1);
            bf = bf.min(room).min(16);
            if realtime || budget == 0 {
                // zerolatency: sliced threads add no delay, no lookahead, and no frame kept
                // back for timestamp handling (the only way to hold nothing at all).
                if !realtime {
                    p.private("tune", "zerolatency", None);
                }
                p.thread_count = Some(ncpu.min(8) as i32);
                p.thread_type = Some(FF_THREAD_SLICE);
                p.private("rc-lookahead", 0, None);
                p.expected_delay = bf;
            } else {
                // Split what the B-frames leave between frame threads (throughput) and
                // lookahead (quality).
                let threads = ncpu.min(1 + (room - bf) / 2).max(1);
                let lookahead = room - (threads - 1);
                p.thread_count = Some(threads as i32);
                p.thread_type = Some(FF_THREAD_FRAME);
                p.private("rc-lookahead", lookahead, None);
                p.expected_delay = lookahead.max(bf) + threads;
            }
            p.param("sync-lookahead", 0);
        }
        Family::X265 => {
            // Measured on x265 3.5: with a lookahead L > 0, held = L + frame threads + 2 +
            // bframes, and x265 needs L > bframes; with L = 0 (no B-frames) a single frame
            // thread holds nothing. With several frame threads x265 now and then holds one
            // frame more than that (seen: 8 for a plan of 7), so they cost a reserve frame
            // and are used only where the budget still leaves the B-frames one thread gets.
            let frame_threads = if realtime {
                1
            } else {
                ncpu.min(1 + budget.saturating_sub(5) / 3).clamp(1, 4)
            };
            let reserve = u32::from(frame_threads > 1);
            let fixed = frame_threads + 2 + reserve;
            let (b, lookahead, delay) = if budget < fixed + 1 || (realtime && bf == 0) {
                (0, 0, 0)
            } else {
                let b = bf.min((budget - fixed - 1) / 2).min(16);
                let lookahead = if realtime { b + 1 } else { budget - fixed - b };
                (b, lookahead, lookahead + fixed - reserve + b)
            };
            let frame_threads = if lookahead == 0 { 1 } else { frame_threads };
            bf = b;
            p.param("bframes", bf);
            p.param("rc-lookahead", lookahead);
            p.param("frame-threads", frame_threads);
            p.param("pools", ncpu.min(16));
            p.param("log-level", "error");
            p.expected_delay = delay;
        }
        Family::Nvenc => {
            bf = bf.min(budget).min(4);
            // Without this NVENC keeps a queue of surfaces in flight before returning packets.
            p.private("delay", 0, None);
            p.private("rc-lookahead", 0, None);
            p.expected_delay = bf;
        }
        Family::Qsv | Family::Vaapi => {
            bf = bf.min(budget.saturating_sub(1));
            p.private("async_depth", 1, None);
            p.expected_delay = bf + 1;
        }
        Family::Other => {
            bf = bf.min(budget);
            p.expected_delay = bf;
        }
    }
    if bf < requested {
        p.warn(format!(
            "max_b_frames={requested}: reduced to {bf} to keep {encoder}'s delay below {} frames",
            config.max_delay_frames
        ));
    }
    p.max_b_frames = bf as i32;
}

fn entropy_num(e: Entropy) -> i32 {
    match e {
        Entropy::Auto => 0,
        Entropy::Cavlc => 1,
        Entropy::Cabac => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_proto::FrameGeometry;

    fn cfg(codec: Codec, pix: PixelFormat, f: impl FnOnce(&mut ConfigureOptions)) -> EncoderConfig {
        let mut options = ConfigureOptions::defaults();
        f(&mut options);
        EncoderConfig {
            codec,
            geometry: FrameGeometry::new(320, 240, pix).unwrap(),
            time_base: (1, 30),
            frame_rate: Some((30, 1)),
            options,
            max_delay_frames: 8,
        }
    }

    #[test]
    fn quality_mapping_matches_doc() {
        let mut o = ConfigureOptions::defaults();
        o.global_quality = 65 * 118;
        o.flags = FLAG_QSCALE;
        assert!((quality_to_crf(&o) - 17.85).abs() < 0.06);
        o.flags = 0;
        o.global_quality = 50;
        assert_eq!(quality_to_crf(&o), 25.5);
    }

    #[test]
    fn delay_budget_holds_for_every_family() {
        for fam in [
            Family::X264,
            Family::X265,
            Family::Nvenc,
            Family::Qsv,
            Family::Vaapi,
        ] {
            for bf in [0, 3, 16] {
                for rt in [-1, 1] {
                    let c = cfg(Codec::Hevc, PixelFormat::Nv12, |o| {
                        o.max_b_frames = bf;
                        o.realtime = rt;
                    });
                    for ncpu in [1, 2, 16] {
                        let p = plan(&c, "enc", fam, ncpu).unwrap();
                        assert!(p.expected_delay < 8, "{fam:?} bf {bf} rt {rt}: {p:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_name_the_option() {
        let e = plan(
            &cfg(Codec::H264, PixelFormat::Nv12, |o| o.level = 47),
            "libx264",
            Family::X264,
            2,
        )
        .unwrap_err();
        assert!(matches!(e, BackendError::Unsupported { ref option, .. } if option == "level"));
        let e = plan(
            &cfg(Codec::Hevc, PixelFormat::Nv12, |o| o.profile = 2),
            "libx265",
            Family::X265,
            2,
        )
        .unwrap_err();
        assert!(matches!(e, BackendError::Unsupported { ref option, .. } if option == "profile"));
    }

    #[test]
    fn fine_time_base_without_frame_rate_assumes_30_fps_for_rate_control() {
        let mut c = cfg(Codec::Hevc, PixelFormat::Nv12, |o| o.bitrate = 2_000_000);
        c.time_base = (1, 90000);
        c.frame_rate = None;
        let p = plan(&c, "libx265", Family::X265, 2).unwrap();
        assert_eq!(p.assumed_frame_rate, Some((30, 1)));
        assert!(p.warnings[0].starts_with("bitrate:"), "{:?}", p.warnings);
        // libx264 rate-controls from timestamps and needs no guess.
        c.codec = Codec::H264;
        let p = plan(&c, "libx264", Family::X264, 2).unwrap();
        assert_eq!(p.assumed_frame_rate, None);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn baseline_drops_bframes_and_cabac_with_warnings() {
        let c = cfg(Codec::H264, PixelFormat::Nv12, |o| {
            o.profile = 66;
            o.max_b_frames = 2;
            o.entropy = Entropy::Cabac;
        });
        let p = plan(&c, "libx264", Family::X264, 2).unwrap();
        assert_eq!(p.max_b_frames, 0);
        assert!(p.warnings.iter().any(|w| w.starts_with("max_b_frames")));
        assert!(p.warnings.iter().any(|w| w.starts_with("entropy")));
    }
}
