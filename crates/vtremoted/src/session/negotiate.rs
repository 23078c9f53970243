//! CONFIGURE → what the session will be: codec, geometry, encoder or decoder settings, and
//! the flow rules the client asked for, or the ERROR that refuses it. No I/O: the backend
//! is asked afterwards, with the configuration decided here.

use vtremote_proto::options::{ConfigureOptions, Mode, OptionError};
use vtremote_proto::{
    Codec, Configure, ErrorCode, FrameGeometry, PixelFormat, ProtoError, WireCompression,
};

use super::error::SessionError;
use crate::backend::{DecoderConfig, EncoderConfig};
use crate::stats::SessionStats;

/// The original client's in-flight window when it does not tell us its own.
pub const ORIGINAL_CLIENT_WINDOW: u32 = 16;
/// Encoder delay bound for such a client: a quarter of its default window.
pub const ORIGINAL_CLIENT_DELAY: u32 = ORIGINAL_CLIENT_WINDOW / 4;
/// VideoToolbox's MaxFrameDelayCount in the original server; our bound for any backend.
pub const MAX_ENCODER_DELAY: u32 = 8;

#[derive(Debug, Clone)]
pub enum EngineConfig {
    Encode(EncoderConfig),
    Decode(DecoderConfig),
}

/// Everything the handshake settled besides the backend's own answer.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub engine: EngineConfig,
    pub geometry: FrameGeometry,
    pub compression: WireCompression,
    /// The client told us its in-flight window (CONFIGURE `vtr_inflight`).
    pub window_negotiated: bool,
    /// The client counts SKIPPED messages (CONFIGURE `vtr_skip_notices`).
    pub skip_notices: bool,
    /// Notes on the options themselves (CONFIGURE_ACK warnings before the backend's).
    pub notes: Vec<String>,
}

impl SessionPlan {
    pub fn mode(&self) -> Mode {
        match self.engine {
            EngineConfig::Encode(_) => Mode::Encode,
            EngineConfig::Decode(_) => Mode::Decode,
        }
    }

    pub fn options(&self) -> &ConfigureOptions {
        match &self.engine {
            EngineConfig::Encode(c) => &c.options,
            EngineConfig::Decode(c) => &c.options,
        }
    }

    /// An encode client that did not tell us its window counts whatever sits in our socket
    /// buffer as in flight: such a session gets a small receive buffer.
    pub fn limits_receive_buffer(&self) -> bool {
        !self.window_negotiated && self.mode() == Mode::Encode
    }
}

/// Decides the session from HELLO's codec name and CONFIGURE. `stats` records what was
/// asked even when it is refused, for the SUMMARY line.
pub fn negotiate(
    hello_codec: &str,
    configure: &Configure,
    stats: &mut SessionStats,
) -> Result<SessionPlan, SessionError> {
    let options = ConfigureOptions::parse(&configure.options).map_err(|e| match e {
        OptionError::Proto(ProtoError::UnknownCompression(n)) => SessionError::reply(
            ErrorCode::UnsupportedCompression,
            format!("unsupported wire_compression={n}"),
        ),
        other => SessionError::reply(ErrorCode::UnsupportedConfig, other.to_string()),
    })?;
    stats.mode = Some(options.mode);
    stats.compression = options.wire_compression;
    let codec = Codec::from_wire_name(hello_codec).ok_or_else(|| {
        SessionError::reply(
            ErrorCode::UnsupportedConfig,
            format!("unsupported codec {hello_codec:?}: this helper does h264 and hevc"),
        )
    })?;
    stats.codec = Some(codec);
    let pix_fmt = PixelFormat::from_wire_code(configure.pix_fmt).ok_or_else(|| {
        SessionError::reply(
            ErrorCode::UnsupportedConfig,
            format!(
                "unsupported pix_fmt code {} (1 = nv12, 2 = p010)",
                configure.pix_fmt
            ),
        )
    })?;
    let geometry = FrameGeometry::new(configure.width, configure.height, pix_fmt).map_err(|e| {
        SessionError::reply(
            ErrorCode::UnsupportedConfig,
            format!("unsupported size: {e}"),
        )
    })?;
    stats.geometry = Some(geometry);
    // A zero time base would divide by zero downstream; the original treats it as 1.
    let time_base = (configure.time_base.0.max(1), configure.time_base.1.max(1));
    stats.time_base = time_base;
    let frame_rate =
        (configure.framerate.0 > 0 && configure.framerate.1 > 0).then_some(configure.framerate);
    stats.frame_rate = frame_rate.map(|(n, d)| n as f64 / d as f64);

    let notes = options.notes.clone();
    let compression = options.wire_compression;
    let window_negotiated = options.client_inflight.is_some();
    let skip_notices = options.skip_notices;
    let engine = match options.mode {
        Mode::Encode => {
            if codec == Codec::H264 && pix_fmt == PixelFormat::P010 {
                return Err(SessionError::reply(
                    ErrorCode::UnsupportedConfig,
                    "unsupported pix_fmt p010 for h264: H.264 encoding takes nv12 (use hevc for 10-bit)",
                ));
            }
            EngineConfig::Encode(EncoderConfig {
                codec,
                geometry,
                time_base,
                frame_rate,
                max_delay_frames: encoder_delay_bound(options.client_inflight),
                options,
            })
        }
        Mode::Decode => EngineConfig::Decode(DecoderConfig {
            codec,
            geometry,
            time_base,
            extradata: configure.extradata.clone(),
            options,
        }),
    };
    Ok(SessionPlan {
        engine,
        geometry,
        compression,
        window_negotiated,
        skip_notices,
        notes,
    })
}

/// Frames the encoder may hold: the original client deadlocks when the encoder holds its
/// whole window (design.md), so one less than the window, and never more than
/// VideoToolbox's own bound; a quarter of the default window when the client did not say.
pub fn encoder_delay_bound(client_inflight: Option<u32>) -> u32 {
    match client_inflight {
        Some(window) => window.saturating_sub(1).min(MAX_ENCODER_DELAY),
        None => ORIGINAL_CLIENT_DELAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configure(options: &[(&str, &str)]) -> Configure {
        Configure {
            width: 64,
            height: 48,
            pix_fmt: 1,
            time_base: (1, 30),
            framerate: (30, 1),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extradata: vec![],
        }
    }

    fn refusal(codec: &str, c: &Configure) -> (ErrorCode, String) {
        let e = negotiate(codec, c, &mut SessionStats::new(1, "t".into())).unwrap_err();
        (e.code().expect("refusals reply"), e.message)
    }

    #[test]
    fn unknown_wire_compression_is_error_1_as_in_the_original() {
        let (code, msg) = refusal("h264", &configure(&[("wire_compression", "9")]));
        assert_eq!(code, ErrorCode::UnsupportedCompression);
        assert!(msg.contains("wire_compression=9"), "{msg}");
    }

    #[test]
    fn unknown_codec_is_refused_naming_it() {
        let (code, msg) = refusal("av1", &configure(&[]));
        assert_eq!(code, ErrorCode::UnsupportedConfig);
        assert!(msg.contains("\"av1\""), "{msg}");
    }

    #[test]
    fn unknown_pix_fmt_and_bad_sizes_are_unsupported_config() {
        let mut c = configure(&[]);
        c.pix_fmt = 7;
        assert!(refusal("h264", &c).1.contains("pix_fmt code 7"));
        let mut c = configure(&[]);
        c.width = 0;
        assert!(refusal("h264", &c).1.starts_with("unsupported size"));
    }

    #[test]
    fn h264_encode_of_p010_is_refused_but_decode_is_planned() {
        let mut c = configure(&[]);
        c.pix_fmt = 2;
        assert!(refusal("h264", &c).1.contains("p010 for h264"));
        let mut c = configure(&[("mode", "decode")]);
        c.pix_fmt = 2;
        let plan = negotiate("h264", &c, &mut SessionStats::new(1, "t".into())).unwrap();
        assert_eq!(plan.mode(), Mode::Decode);
    }

    #[test]
    fn zero_time_base_is_clamped_and_zero_frame_rate_means_unknown() {
        let mut c = configure(&[]);
        c.time_base = (0, 0);
        c.framerate = (0, 1);
        let plan = negotiate("hevc", &c, &mut SessionStats::new(1, "t".into())).unwrap();
        let EngineConfig::Encode(e) = plan.engine else {
            panic!("encode is the default mode")
        };
        assert_eq!(e.time_base, (1, 1));
        assert_eq!(e.frame_rate, None);
    }

    #[test]
    fn original_client_gets_a_quarter_of_its_window_and_a_small_receive_buffer() {
        let plan = negotiate(
            "h264",
            &configure(&[]),
            &mut SessionStats::new(1, "t".into()),
        )
        .unwrap();
        let EngineConfig::Encode(e) = &plan.engine else {
            panic!()
        };
        assert_eq!(e.max_delay_frames, ORIGINAL_CLIENT_DELAY);
        assert!(plan.limits_receive_buffer());
        assert!(!plan.window_negotiated);
    }

    #[test]
    fn negotiated_window_bounds_the_encoder_delay_below_it() {
        assert_eq!(encoder_delay_bound(Some(4)), 3);
        assert_eq!(encoder_delay_bound(Some(1)), 0);
        assert_eq!(encoder_delay_bound(Some(64)), MAX_ENCODER_DELAY);
        let plan = negotiate(
            "h264",
            &configure(&[("vtr_inflight", "4")]),
            &mut SessionStats::new(1, "t".into()),
        )
        .unwrap();
        assert!(!plan.limits_receive_buffer());
    }

    #[test]
    fn stats_record_what_was_asked_even_when_refused() {
        let mut stats = SessionStats::new(1, "t".into());
        let mut c = configure(&[("mode", "decode")]);
        c.pix_fmt = 9;
        negotiate("hevc", &c, &mut stats).unwrap_err();
        assert_eq!(stats.mode, Some(Mode::Decode));
        assert_eq!(stats.codec, Some(Codec::Hevc));
    }
}
