//! Which CONFIGURE options a session sends, in which order, and when.
//!
//! FFmpeg's glue hands over every AVCodecContext/AVOption value it has, with FFmpeg's own
//! meaning (`qmin=-1` is "unset", `colorspace=2` is "unspecified"). The original client only
//! put a key on the wire when the value meant something (spec §6.1, "client sends when"); the
//! rules below reproduce that, in the original emission order, so an old daemon sees exactly
//! what it saw from the original client. Keys not in the table (a `vt_params` dictionary,
//! future options) are forwarded verbatim after the table keys, in the order they were set.

use crate::settings::SettingError;

/// When a key from the table goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Send {
    /// Integer > 0.
    Positive,
    /// Integer ≥ 0 (FFmpeg uses −1 for "unset").
    NonNegative,
    /// Integer ≠ the given "unspecified" value.
    Unless(i64),
    /// Boolean: sent as `"1"` when non-zero, omitted otherwise.
    IfTrue,
    /// Real > 0, written `%.6f` like the original.
    PositiveReal,
    /// Sent together with its partner key only when both are > 0 (SAR).
    PairPositive(&'static str),
}

/// Spec §6.1 rows 3–32, in the original client's emission order, then our extensions.
const TABLE: &[(&str, Send)] = &[
    ("bitrate", Send::Positive),
    ("maxrate", Send::Positive),
    ("gop", Send::Positive),
    ("max_b_frames", Send::Positive),
    ("flags", Send::Unless(0)),
    ("global_quality", Send::Positive),
    ("qmin", Send::NonNegative),
    ("qmax", Send::NonNegative),
    ("profile", Send::Unless(-99)),
    ("level", Send::Positive),
    ("entropy", Send::NonNegative),
    ("allow_sw", Send::IfTrue),
    ("require_sw", Send::IfTrue),
    ("realtime", Send::NonNegative),
    ("frames_before", Send::IfTrue),
    ("frames_after", Send::IfTrue),
    ("prio_speed", Send::NonNegative),
    ("power_efficient", Send::NonNegative),
    ("spatial_aq", Send::NonNegative),
    ("max_ref_frames", Send::Positive),
    ("max_slice_bytes", Send::NonNegative),
    ("constant_bit_rate", Send::IfTrue),
    ("alpha_quality", Send::PositiveReal),
    ("color_range", Send::Unless(0)),
    ("colorspace", Send::Unless(2)),
    ("color_primaries", Send::Unless(2)),
    ("color_trc", Send::Unless(2)),
    ("sar_num", Send::PairPositive("sar_den")),
    ("sar_den", Send::PairPositive("sar_num")),
    ("a53_cc", Send::NonNegative),
    // Not in the original: VBV size. An old daemon ignores unknown keys.
    (vtremote_proto::options::EXT_BUFSIZE, Send::Positive),
];

/// The CONFIGURE options a caller set, before the §6.1 rules are applied.
#[derive(Debug, Clone, Default)]
pub(crate) struct OptionSet {
    /// In the order first set; a later set of the same key replaces the value in place.
    pairs: Vec<(String, String)>,
}

impl OptionSet {
    /// Records one option, validating table keys (a non-number for a numeric key is a caller
    /// bug we report now rather than have the daemon silently ignore).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        if key.is_empty() {
            return Err(SettingError::EmptyKey);
        }
        if key.len() > usize::from(u16::MAX) || value.len() > usize::from(u16::MAX) {
            return Err(SettingError::TooLong { key: key.into() });
        }
        if let Some((_, rule)) = TABLE.iter().find(|(k, _)| *k == key) {
            let ok = match rule {
                Send::PositiveReal => value.trim().parse::<f64>().is_ok(),
                _ => value.trim().parse::<i64>().is_ok(),
            };
            if !ok {
                return Err(SettingError::bad(key, value, "a number"));
            }
        }
        match self.pairs.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.pairs.push((key.to_string(), value.to_string())),
        }
        Ok(())
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.trim().parse().ok())
    }

    /// The options to put in CONFIGURE (without `mode`/`wire_compression`).
    pub fn to_wire(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, rule) in TABLE {
            let Some((_, raw)) = self.pairs.iter().find(|(k, _)| k == key) else {
                continue;
            };
            let raw = raw.trim();
            let value = match *rule {
                Send::PositiveReal => match raw.parse::<f64>() {
                    Ok(v) if v > 0.0 => Some(format!("{v:.6}")),
                    _ => None,
                },
                Send::IfTrue => match raw.parse::<i64>() {
                    Ok(v) if v != 0 => Some("1".to_string()),
                    _ => None,
                },
                Send::PairPositive(partner) => match (raw.parse::<i64>(), self.int(partner)) {
                    (Ok(v), Some(p)) if v > 0 && p > 0 => Some(v.to_string()),
                    _ => None,
                },
                _ => {
                    let Ok(v) = raw.parse::<i64>() else { continue };
                    let send = match *rule {
                        Send::Positive => v > 0,
                        Send::NonNegative => v >= 0,
                        Send::Unless(u) => v != u,
                        _ => unreachable!(),
                    };
                    send.then(|| v.to_string())
                }
            };
            if let Some(v) = value {
                out.push((key.to_string(), v));
            }
        }
        for (k, v) in &self.pairs {
            if !TABLE.iter().any(|(t, _)| t == k) {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut set = OptionSet::default();
        for (k, v) in pairs {
            set.set(k, v).unwrap();
        }
        set.to_wire()
    }

    fn keys(w: &[(String, String)]) -> Vec<&str> {
        w.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn ffmpeg_defaults_send_what_the_original_client_sent() {
        // AVCodecContext defaults for an H.264 encoder with the VideoToolbox option defaults.
        let w = wire(&[
            ("bitrate", "0"),
            ("maxrate", "0"),
            ("gop", "12"),
            ("max_b_frames", "0"),
            ("flags", "0"),
            ("global_quality", "0"),
            ("qmin", "-1"),
            ("qmax", "-1"),
            ("profile", "-99"),
            ("level", "0"),
            ("entropy", "0"),
            ("allow_sw", "0"),
            ("require_sw", "0"),
            ("realtime", "0"),
            ("frames_before", "0"),
            ("frames_after", "0"),
            ("prio_speed", "-1"),
            ("power_efficient", "-1"),
            ("spatial_aq", "-1"),
            ("max_ref_frames", "0"),
            ("max_slice_bytes", "-1"),
            ("constant_bit_rate", "0"),
            ("color_range", "0"),
            ("colorspace", "2"),
            ("color_primaries", "2"),
            ("color_trc", "2"),
            ("sar_num", "0"),
            ("sar_den", "1"),
            ("a53_cc", "1"),
        ]);
        assert_eq!(
            w,
            vec![
                ("gop".to_string(), "12".to_string()),
                ("entropy".into(), "0".into()),
                ("realtime".into(), "0".into()),
                ("a53_cc".into(), "1".into()),
            ]
        );
    }

    #[test]
    fn emission_order_follows_the_spec_not_the_call_order() {
        let w = wire(&[("a53_cc", "1"), ("bitrate", "4000000"), ("gop", "60")]);
        assert_eq!(keys(&w), ["bitrate", "gop", "a53_cc"]);
    }

    #[test]
    fn booleans_are_sent_as_one_and_reals_as_six_decimals() {
        let w = wire(&[
            ("allow_sw", "7"),
            ("alpha_quality", "0.5"),
            ("constant_bit_rate", "0"),
        ]);
        assert_eq!(
            w,
            vec![
                ("allow_sw".to_string(), "1".to_string()),
                ("alpha_quality".into(), "0.500000".into()),
            ]
        );
    }

    #[test]
    fn sar_is_sent_only_as_a_complete_pair() {
        assert!(wire(&[("sar_num", "4"), ("sar_den", "0")]).is_empty());
        assert_eq!(
            keys(&wire(&[("sar_den", "3"), ("sar_num", "4")])),
            ["sar_num", "sar_den"]
        );
    }

    #[test]
    fn negative_flags_keep_their_signed_decimal_form() {
        assert_eq!(
            wire(&[("flags", "-2147483648")]),
            vec![("flags".to_string(), "-2147483648".to_string())]
        );
    }

    #[test]
    fn unknown_keys_are_forwarded_after_the_table_in_call_order() {
        let w = wire(&[("zz_extra", "a"), ("bitrate", "1"), ("aa_extra", "b")]);
        assert_eq!(keys(&w), ["bitrate", "zz_extra", "aa_extra"]);
    }

    #[test]
    fn a_later_set_replaces_the_value() {
        let w = wire(&[("gop", "12"), ("gop", "60")]);
        assert_eq!(w, vec![("gop".to_string(), "60".to_string())]);
    }

    #[test]
    fn non_numeric_values_for_numeric_keys_are_refused() {
        let mut set = OptionSet::default();
        assert_eq!(
            set.set("bitrate", "fast").unwrap_err().to_string(),
            "option bitrate: \"fast\" is not a number"
        );
        assert!(set.set("", "1").is_err());
        assert!(set.set("anything", "fast").is_ok());
    }
}
