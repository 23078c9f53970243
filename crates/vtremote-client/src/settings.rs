//! A session described with key/value strings, the way FFmpeg (through the C ABI) hands
//! over its options: the connection, the picture geometry and the helper's CONFIGURE options.
//! New options therefore never add API. What the strings mean is decided here, once, for
//! every caller; `options.rs` decides which CONFIGURE options go on the wire.

use std::time::Duration;

use vtremote_proto::{Codec, PixelFormat, WireCompression};

use crate::config::{token_from_file, ClientConfig, DecoderParams, EncoderParams, Tls};
use crate::options::OptionSet;

/// Bounds of `timeout_ms`: shorter than a LAN round trip plus an encoder's start-up is
/// never meant; longer than a minute hides a dead helper.
const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
/// Bounds of `failover_timeout_ms`: 0 tries once; ten minutes outlasts any restart.
const FAILOVER_MS: std::ops::RangeInclusive<u64> = 0..=600_000;
/// Bounds of `inflight`: the original client's AVOption range.
const INFLIGHT: std::ops::RangeInclusive<u32> = 1..=128;

/// Why a setting was refused; each names the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("option {key}: {value:?} is not {expected}")]
    BadValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("empty option name")]
    EmptyKey,
    #[error("option {key}: longer than 65535 bytes")]
    TooLong { key: String },
    #[error("option {key}: cannot read {path}: {cause}")]
    Unreadable {
        key: String,
        path: String,
        cause: String,
    },
    /// `hint` completes the sentence: what the value looks like.
    #[error("option {key} is required{hint}")]
    Required {
        key: &'static str,
        hint: &'static str,
    },
}

impl SettingError {
    pub(crate) fn bad(key: &str, value: &str, expected: &'static str) -> Self {
        SettingError::BadValue {
            key: key.into(),
            value: value.into(),
            expected,
        }
    }
}

/// What the caller asked for. It outlives every connection made from it (a reset reconnects
/// with the same settings).
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: ClientConfig,
    codec: Option<Codec>,
    width: u32,
    height: u32,
    pix_fmt: PixelFormat,
    time_base: (u32, u32),
    framerate: (u32, u32),
    options: OptionSet,
    extradata: Vec<u8>,
}

impl Settings {
    /// Defaults of the C ABI: no host, NV12, time base 1/1, unknown frame rate.
    pub fn new(client_name: &str) -> Self {
        let mut config = ClientConfig::new(String::new());
        config.client_name = client_name.into();
        Settings {
            config,
            codec: None,
            width: 0,
            height: 0,
            pix_fmt: PixelFormat::Nv12,
            time_base: (1, 1),
            framerate: (0, 0),
            options: OptionSet::default(),
            extradata: Vec::new(),
        }
    }

    /// Sets one option (include/vtremote.h, "Options"): the connection and geometry keys
    /// here, any other key is a CONFIGURE option for the helper. Setting a key again
    /// replaces its value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let bad = |expected| SettingError::bad(key, value, expected);
        let config = &mut self.config;
        match key {
            "host" => config.host = value.to_string(),
            "token" => config.token = value.to_string(),
            // The first line of a file: a token that never appears on a command line.
            "token_file" => {
                config.token =
                    token_from_file(std::path::Path::new(value.trim())).map_err(|e| {
                        SettingError::Unreadable {
                            key: key.into(),
                            path: value.into(),
                            cause: e.to_string(),
                        }
                    })?;
            }
            "tls" => {
                config.tls = match value.trim() {
                    "0" | "off" | "false" | "no" => Tls::Off,
                    // Keeps a fingerprint given before.
                    "1" | "on" | "true" | "yes" => match config.tls {
                        Tls::On(pin) => Tls::On(pin),
                        Tls::Off => Tls::On(None),
                    },
                    _ => return Err(bad("0 or 1")),
                }
            }
            // Pinning implies TLS.
            "tls_fingerprint" if value.trim().is_empty() => {}
            "tls_fingerprint" => {
                let pin = vtremote_tls::Fingerprint::parse(value).map_err(|_| {
                    bad("SHA256: and 43 base64 characters, as vtremoted --fingerprint prints")
                })?;
                config.tls = Tls::On(Some(pin));
            }
            "timeout_ms" => {
                let ms: u64 = value.trim().parse().map_err(|_| bad("a number"))?;
                if !TIMEOUT_MS.contains(&ms) {
                    return Err(bad("within 100..60000 ms"));
                }
                config.timeout = Duration::from_millis(ms);
            }
            "failover" => {
                config.failover = match value.trim() {
                    "0" | "off" | "false" | "no" => false,
                    "1" | "on" | "true" | "yes" => true,
                    _ => return Err(bad("0 or 1")),
                }
            }
            "failover_timeout_ms" => {
                let ms: u64 = value.trim().parse().map_err(|_| bad("a number"))?;
                if !FAILOVER_MS.contains(&ms) {
                    return Err(bad("within 0..600000 ms"));
                }
                config.failover_wait = Duration::from_millis(ms);
            }
            "inflight" => {
                let n: u32 = value.trim().parse().map_err(|_| bad("a number"))?;
                if !INFLIGHT.contains(&n) {
                    return Err(bad("within 1..128"));
                }
                config.inflight = n;
            }
            "wire_compression" => {
                config.wire_compression = WireCompression::from_name(value.trim())
                    .ok_or_else(|| bad("none, lz4, zstd or vtl"))?
            }
            "client_name" => config.client_name = value.to_string(),
            "client_build" => config.client_build = value.to_string(),
            "codec" => {
                self.codec = Some(Codec::from_wire_name(value).ok_or_else(|| bad("h264 or hevc"))?)
            }
            "width" => self.width = value.trim().parse().map_err(|_| bad("a width"))?,
            "height" => self.height = value.trim().parse().map_err(|_| bad("a height"))?,
            "pix_fmt" => {
                self.pix_fmt = match value.trim() {
                    "nv12" | "1" => PixelFormat::Nv12,
                    "p010" | "p010le" | "2" => PixelFormat::P010,
                    _ => return Err(bad("nv12 or p010le")),
                }
            }
            "time_base" => self.time_base = parse_ratio(value).ok_or_else(|| bad("NUM/DEN"))?,
            "framerate" => self.framerate = parse_ratio(value).ok_or_else(|| bad("NUM/DEN"))?,
            _ => self.options.set(key, value)?,
        }
        Ok(())
    }

    /// Container extradata for a decoder (avcC/hvcC or Annex B), sent as-is.
    pub fn set_extradata(&mut self, data: &[u8]) {
        self.extradata = data.to_vec();
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn pix_fmt(&self) -> PixelFormat {
        self.pix_fmt
    }

    /// The two options every session needs, checked before anything connects.
    fn required(&self) -> Result<Codec, SettingError> {
        let codec = self.codec.ok_or(SettingError::Required {
            key: "codec",
            hint: " (h264 or hevc)",
        })?;
        if self.config.host.is_empty() {
            return Err(SettingError::Required {
                key: "host",
                hint: ": HOST:PORT of a vtremoted helper",
            });
        }
        Ok(codec)
    }

    pub fn encoder_params(&self) -> Result<EncoderParams, SettingError> {
        Ok(EncoderParams {
            codec: self.required()?,
            width: self.width,
            height: self.height,
            pix_fmt: self.pix_fmt,
            time_base: self.time_base,
            framerate: self.framerate,
            options: self.options.to_wire(),
        })
    }

    pub fn decoder_params(&self) -> Result<DecoderParams, SettingError> {
        Ok(DecoderParams {
            codec: self.required()?,
            width: self.width,
            height: self.height,
            pix_fmt: self.pix_fmt,
            time_base: self.time_base,
            extradata: self.extradata.clone(),
            options: self.options.to_wire(),
        })
    }
}

/// `NUM/DEN` or `NUM:DEN`.
fn parse_ratio(s: &str) -> Option<(u32, u32)> {
    let (n, d) = s.trim().split_once(['/', ':'])?;
    Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let mut s = Settings::new("test");
        for (k, v) in pairs {
            s.set(k, v)?;
        }
        Ok(s)
    }

    #[test]
    fn connection_and_geometry_keys_fill_the_params() {
        let s = settings(&[
            ("host", "mac:5555"),
            ("token", "t"),
            ("timeout_ms", "2000"),
            ("inflight", "4"),
            ("wire_compression", "lz4"),
            ("codec", "hevc"),
            ("width", "1920"),
            ("height", "1080"),
            ("pix_fmt", "p010le"),
            ("time_base", "1001/30000"),
            ("framerate", "30000:1001"),
            ("bitrate", "6000000"),
        ])
        .unwrap();
        assert_eq!(s.config.timeout, Duration::from_millis(2000));
        assert_eq!(s.config.inflight, 4);
        assert_eq!(s.config.wire_compression, WireCompression::Lz4);
        let p = s.encoder_params().unwrap();
        assert_eq!((p.codec, p.width, p.height), (Codec::Hevc, 1920, 1080));
        assert_eq!(p.pix_fmt, PixelFormat::P010);
        assert_eq!((p.time_base, p.framerate), ((1001, 30000), (30000, 1001)));
        assert_eq!(p.options, [("bitrate".to_string(), "6000000".to_string())]);
    }

    #[test]
    fn bad_values_name_the_option_and_what_it_takes() {
        let text = |k, v| settings(&[(k, v)]).unwrap_err().to_string();
        assert_eq!(
            text("timeout_ms", "5"),
            "option timeout_ms: \"5\" is not within 100..60000 ms"
        );
        assert_eq!(
            text("inflight", "0"),
            "option inflight: \"0\" is not within 1..128"
        );
        assert!(text("wire_compression", "brotli").contains("none, lz4, zstd or vtl"));
        assert!(text("pix_fmt", "yuv420p").contains("nv12 or p010le"));
        assert!(text("time_base", "1/").contains("NUM/DEN"));
        assert!(text("width", "-1").contains("a width"));
        assert!(text("bitrate", "lots").contains("a number"));
    }

    #[test]
    fn tls_keys_turn_encryption_on_and_pin() {
        let pin = vtremote_tls::fingerprint(b"helper");
        let s = settings(&[("tls", "1")]).unwrap();
        assert_eq!(s.config.tls, Tls::On(None));
        let s = settings(&[("tls_fingerprint", &pin.to_string())]).unwrap();
        assert_eq!(s.config.tls, Tls::On(Some(pin)));
        let s = settings(&[("tls_fingerprint", &pin.to_string()), ("tls", "1")]).unwrap();
        assert_eq!(s.config.tls, Tls::On(Some(pin)), "tls=1 keeps the pin");
        let s = settings(&[("tls", "1"), ("tls", "0")]).unwrap();
        assert_eq!(s.config.tls, Tls::Off);
        let e = settings(&[("tls_fingerprint", "abc")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("vtremoted --fingerprint"), "{e}");
    }

    #[test]
    fn token_file_gives_its_first_line_and_an_unreadable_one_is_named() {
        let path = std::env::temp_dir().join(format!("vtremote-token-{}", std::process::id()));
        std::fs::write(&path, "s3cret\nignored\n").unwrap();
        let s = settings(&[("token_file", path.to_str().unwrap())]).unwrap();
        assert_eq!(s.config.token, "s3cret");
        std::fs::remove_file(&path).unwrap();
        let e = settings(&[("token_file", path.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("token_file") && e.contains(path.to_str().unwrap()),
            "{e}"
        );
    }

    #[test]
    fn codec_then_host_are_required_before_anything_connects() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.encoder_params().unwrap_err().to_string(),
            "option codec is required (h264 or hevc)"
        );
        let s = settings(&[("codec", "h264")]).unwrap();
        assert_eq!(
            s.decoder_params().unwrap_err().to_string(),
            "option host is required: HOST:PORT of a vtremoted helper"
        );
    }

    #[test]
    fn decoder_params_carry_the_extradata_as_given() {
        let mut s = settings(&[("codec", "h264"), ("host", "h")]).unwrap();
        s.set_extradata(&[1, 2, 3]);
        assert_eq!(s.decoder_params().unwrap().extradata, [1, 2, 3]);
    }
}
