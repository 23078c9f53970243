//! CONFIGURE options (spec §6), typed.
//!
//! Values are decimal text. Parsing follows the original server where that is harmless
//! (booleans are true unless exactly "0"; last duplicate wins) but never silently: a value
//! that does not parse, or a key nobody knows, is recorded in [`ConfigureOptions::notes`] so
//! the daemon can return it as a CONFIGURE_ACK warning.

use crate::compression::WireCompression;
use crate::error::ProtoError;

/// `AV_CODEC_FLAG_QSCALE`: quality (constant-q) rate control.
pub const FLAG_QSCALE: i32 = 1 << 1;
/// `AV_CODEC_FLAG_GLOBAL_HEADER`: the muxer wants parameter sets out of band.
pub const FLAG_GLOBAL_HEADER: i32 = 1 << 22;
/// `AV_CODEC_FLAG_LOW_DELAY`.
pub const FLAG_LOW_DELAY: i32 = 1 << 19;
/// `AV_CODEC_FLAG_CLOSED_GOP` (bit 31: negative as a signed int).
pub const FLAG_CLOSED_GOP: i32 = i32::MIN;

/// FFmpeg's "unspecified" values for the colour enums.
pub const COLOR_UNSPECIFIED: i32 = 2;
pub const PROFILE_UNKNOWN: i32 = -99;

/// Our extension: the client's in-flight window, so the daemon can keep encoder delay below
/// it. The original server ignores unknown keys, so sending it is always safe.
pub const EXT_INFLIGHT: &str = "vtr_inflight";
/// Our extension: a decode client that counts SKIPPED messages (type 12) against its window.
pub const EXT_SKIP_NOTICES: &str = "vtr_skip_notices";
/// Our extension: VBV buffer size in bits (`-bufsize`); the original server ignores it.
pub const EXT_BUFSIZE: &str = "vtr_bufsize";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Encode,
    Decode,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Encode => "encode",
            Mode::Decode => "decode",
        }
    }
}

/// H.264 entropy coder request (`entropy`; 0 = encoder's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Entropy {
    #[default]
    Auto,
    Cavlc,
    Cabac,
}

/// Colour description; FFmpeg enum numbers (`AVColorPrimaries` etc.).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColorInfo {
    pub range: i32,
    pub space: i32,
    pub primaries: i32,
    pub trc: i32,
}

impl Default for ColorInfo {
    fn default() -> Self {
        ColorInfo {
            range: 0,
            space: COLOR_UNSPECIFIED,
            primaries: COLOR_UNSPECIFIED,
            trc: COLOR_UNSPECIFIED,
        }
    }
}

/// Every option of spec §6.1/§6.2 plus our negotiated extensions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigureOptions {
    pub mode: Mode,
    pub wire_compression: WireCompression,
    pub bitrate: i64,
    pub maxrate: i64,
    pub bufsize: i64,
    pub gop: i32,
    pub max_b_frames: i32,
    pub flags: i32,
    pub global_quality: i32,
    pub qmin: i32,
    pub qmax: i32,
    pub profile: i32,
    pub level: i32,
    pub entropy: Entropy,
    pub allow_sw: bool,
    pub require_sw: bool,
    /// −1 = unset.
    pub realtime: i32,
    pub frames_before: bool,
    pub frames_after: bool,
    pub prio_speed: i32,
    pub power_efficient: i32,
    pub spatial_aq: i32,
    pub max_ref_frames: i32,
    pub max_slice_bytes: i32,
    pub constant_bit_rate: bool,
    pub alpha_quality: f64,
    pub color: ColorInfo,
    pub sar: Option<(u32, u32)>,
    pub a53_cc: i32,
    pub client_inflight: Option<u32>,
    /// The client understands SKIPPED messages (`vtr_skip_notices=1`).
    pub skip_notices: bool,
    /// Human-readable notes about values that were not understood.
    pub notes: Vec<String>,
}

impl ConfigureOptions {
    pub fn defaults() -> Self {
        ConfigureOptions {
            qmin: -1,
            qmax: -1,
            profile: PROFILE_UNKNOWN,
            realtime: -1,
            prio_speed: -1,
            power_efficient: -1,
            spatial_aq: -1,
            max_slice_bytes: -1,
            a53_cc: -1,
            ..Default::default()
        }
    }

    pub fn has_flag(&self, flag: i32) -> bool {
        self.flags & flag != 0
    }

    /// Quality mode (spec §6.3): QSCALE flag or a positive global_quality.
    pub fn quality_mode(&self) -> bool {
        self.has_flag(FLAG_QSCALE) || self.global_quality > 0
    }

    /// Parses pairs in wire order; later duplicates overwrite earlier ones.
    /// Fails only for what the original server also refuses: an unknown numeric
    /// `wire_compression`. An unknown `mode` is refused too (the original silently encodes).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, OptionError> {
        let mut o = ConfigureOptions::defaults();
        let mut sar_num = 0i64;
        let mut sar_den = 0i64;
        for (k, v) in pairs {
            let mut int = |default: i64| -> i64 {
                match v.parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => {
                        o.notes.push(format!(
                            "option {k}={v:?} is not a decimal integer; using {default}"
                        ));
                        default
                    }
                }
            };
            let clamp32 = |n: i64| n.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            match k.as_str() {
                "mode" => {
                    o.mode = match v.as_str() {
                        "encode" => Mode::Encode,
                        "decode" => Mode::Decode,
                        other => {
                            return Err(OptionError::Invalid {
                                key: "mode",
                                value: other.to_string(),
                                reason: "expected \"encode\" or \"decode\"",
                            })
                        }
                    }
                }
                "wire_compression" => {
                    o.wire_compression = match v.parse::<i64>() {
                        Ok(n) => WireCompression::from_code(n).map_err(OptionError::Proto)?,
                        Err(_) => {
                            o.notes.push(format!(
                                "wire_compression={v:?} is not a number; using none"
                            ));
                            WireCompression::None
                        }
                    }
                }
                "bitrate" => o.bitrate = int(0),
                "maxrate" => o.maxrate = int(0),
                EXT_BUFSIZE => o.bufsize = int(0),
                "gop" => o.gop = clamp32(int(0)),
                "max_b_frames" => o.max_b_frames = clamp32(int(0)),
                "flags" => o.flags = int(0) as i32,
                "global_quality" => o.global_quality = clamp32(int(0)),
                "qmin" => o.qmin = clamp32(int(-1)),
                "qmax" => o.qmax = clamp32(int(-1)),
                "profile" => o.profile = clamp32(int(PROFILE_UNKNOWN as i64)),
                "level" => o.level = clamp32(int(0)),
                "entropy" => {
                    o.entropy = match int(0) {
                        1 => Entropy::Cavlc,
                        2 => Entropy::Cabac,
                        _ => Entropy::Auto,
                    }
                }
                "allow_sw" => o.allow_sw = v != "0",
                "require_sw" => o.require_sw = v != "0",
                "realtime" => o.realtime = clamp32(int(-1)),
                "frames_before" => o.frames_before = v != "0",
                "frames_after" => o.frames_after = v != "0",
                "prio_speed" => o.prio_speed = clamp32(int(-1)),
                "power_efficient" => o.power_efficient = clamp32(int(-1)),
                "spatial_aq" => o.spatial_aq = clamp32(int(-1)),
                "max_ref_frames" => o.max_ref_frames = clamp32(int(0)),
                "max_slice_bytes" => o.max_slice_bytes = clamp32(int(-1)),
                "constant_bit_rate" => o.constant_bit_rate = v != "0",
                "alpha_quality" => {
                    o.alpha_quality = match v.parse::<f64>() {
                        Ok(f) if f.is_finite() => f,
                        _ => {
                            o.notes
                                .push(format!("alpha_quality={v:?} is not a number; using 0"));
                            0.0
                        }
                    }
                }
                "color_range" => o.color.range = clamp32(int(0)),
                "colorspace" => o.color.space = clamp32(int(2)),
                "color_primaries" => o.color.primaries = clamp32(int(2)),
                "color_trc" => o.color.trc = clamp32(int(2)),
                "sar_num" => sar_num = int(0),
                "sar_den" => sar_den = int(0),
                "a53_cc" => o.a53_cc = clamp32(int(-1)),
                EXT_INFLIGHT => {
                    let n = int(0);
                    o.client_inflight = (n > 0).then(|| n.min(u32::MAX as i64) as u32);
                }
                EXT_SKIP_NOTICES => o.skip_notices = int(0) != 0,
                other => o
                    .notes
                    .push(format!("unknown option {other}={v:?} ignored")),
            }
        }
        if sar_num > 0 && sar_den > 0 && sar_num <= u32::MAX as i64 && sar_den <= u32::MAX as i64 {
            o.sar = Some((sar_num as u32, sar_den as u32));
        }
        Ok(o)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptionError {
    #[error("option {key}={value:?} refused: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Proto(ProtoError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn original_client_encoder_defaults_parse() {
        let o = ConfigureOptions::parse(&pairs(&[
            ("mode", "encode"),
            ("wire_compression", "2"),
            ("bitrate", "4000000"),
            ("gop", "12"),
            ("flags", "4194304"),
            ("entropy", "0"),
            ("realtime", "0"),
            ("a53_cc", "1"),
        ]))
        .unwrap();
        assert_eq!(o.mode, Mode::Encode);
        assert_eq!(o.wire_compression, WireCompression::Zstd);
        assert_eq!(o.bitrate, 4_000_000);
        assert_eq!(o.gop, 12);
        assert!(o.has_flag(FLAG_GLOBAL_HEADER));
        assert_eq!(o.realtime, 0);
        assert_eq!(o.qmin, -1);
        assert!(o.notes.is_empty());
    }

    #[test]
    fn closed_gop_flag_is_negative_and_parses() {
        let o = ConfigureOptions::parse(&pairs(&[("flags", "-2147483648")])).unwrap();
        assert!(o.has_flag(FLAG_CLOSED_GOP));
    }

    #[test]
    fn booleans_are_true_unless_zero_and_last_duplicate_wins() {
        let o = ConfigureOptions::parse(&pairs(&[
            ("allow_sw", "0"),
            ("allow_sw", "yes"),
            ("gop", "10"),
            ("gop", "20"),
        ]))
        .unwrap();
        assert!(o.allow_sw);
        assert_eq!(o.gop, 20);
    }

    #[test]
    fn unknown_wire_compression_is_refused_like_the_original() {
        let e = ConfigureOptions::parse(&pairs(&[("wire_compression", "4")])).unwrap_err();
        assert_eq!(e, OptionError::Proto(ProtoError::UnknownCompression(4)));
    }

    #[test]
    fn vtl_is_wire_compression_3() {
        let o = ConfigureOptions::parse(&pairs(&[("wire_compression", "3")])).unwrap();
        assert_eq!(o.wire_compression, WireCompression::Vtl);
    }

    #[test]
    fn nonnumeric_values_are_noted_not_silent() {
        let o = ConfigureOptions::parse(&pairs(&[
            ("wire_compression", "zstd"),
            ("bitrate", "6M"),
            ("frobnicate", "1"),
        ]))
        .unwrap();
        assert_eq!(o.wire_compression, WireCompression::None);
        assert_eq!(o.bitrate, 0);
        assert_eq!(o.notes.len(), 3, "{:?}", o.notes);
        assert!(o.notes[2].contains("frobnicate"));
    }

    #[test]
    fn unknown_mode_is_refused_by_name() {
        let e = ConfigureOptions::parse(&pairs(&[("mode", "transcode")])).unwrap_err();
        assert!(e.to_string().contains("mode=\"transcode\""));
    }

    #[test]
    fn sar_needs_both_parts() {
        let o = ConfigureOptions::parse(&pairs(&[("sar_num", "4")])).unwrap();
        assert_eq!(o.sar, None);
        let o = ConfigureOptions::parse(&pairs(&[("sar_num", "4"), ("sar_den", "3")])).unwrap();
        assert_eq!(o.sar, Some((4, 3)));
    }
}
