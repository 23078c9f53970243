//! libavcodec backend: H.264/HEVC encode through whichever encoder opens on this machine
//! (NVENC, QSV, VAAPI, V4L2 M2M, then libx264/libx265), decode through FFmpeg's native
//! decoders.
//!
//! All `unsafe` code of the backend lives in `ffi.rs`, behind owning wrappers; the session
//! files, the option mapping (`plan.rs`) and the pixel conversions (`convert.rs`) are safe
//! Rust.

mod convert;
mod decoder;
mod encoder;
mod ffi;
mod plan;
#[cfg(test)]
mod tests;

/// Durations by pts for pictures inside a codec. Encoders and decoders do not carry
/// durations through consistently across FFmpeg versions, so we remember them; bounded so a
/// codec that drops pictures cannot grow it.
#[derive(Default)]
struct Durations(std::collections::VecDeque<(i64, i64)>);

impl Durations {
    const CAP: usize = 256;

    fn insert(&mut self, pts: i64, duration: i64) {
        if self.0.len() == Self::CAP {
            self.0.pop_front();
        }
        self.0.push_back((pts, duration));
    }

    fn take(&mut self, pts: i64) -> Option<i64> {
        let i = self.0.iter().position(|&(p, _)| p == pts)?;
        self.0.remove(i).map(|(_, d)| d)
    }
}

use std::collections::HashMap;

use vtremote_proto::options::ConfigureOptions;
use vtremote_proto::{Codec, FrameGeometry, PixelFormat};

use super::{
    Backend, BackendError, CodecSupport, DecoderConfig, EncoderConfig, VideoDecoder, VideoEncoder,
};
pub use decoder::LavcDecoder;
pub use encoder::LavcEncoder;
use encoder::OpenParams;
use plan::Family;

/// Hardware encoders in the order they are tried; the software encoder comes last.
const H264_CANDIDATES: &[&str] = &["h264_nvenc", "h264_qsv", "h264_vaapi", "h264_v4l2m2m"];
const HEVC_CANDIDATES: &[&str] = &["hevc_nvenc", "hevc_qsv", "hevc_vaapi", "hevc_v4l2m2m"];

fn software_encoder(codec: Codec) -> &'static str {
    match codec {
        Codec::H264 => "libx264",
        Codec::Hevc => "libx265",
    }
}

fn native_decoder(codec: Codec) -> &'static str {
    match codec {
        Codec::H264 => "h264",
        Codec::Hevc => "hevc",
    }
}

/// The encoder chosen for one codec.
#[derive(Debug, Clone)]
struct EncoderChoice {
    name: String,
    hardware: bool,
    /// Whether a Main 10 (P010) session opened too.
    ten_bit: bool,
}

pub struct LavcBackend {
    encoders: HashMap<Codec, EncoderChoice>,
    /// Software encoder per codec, when it opens, for `require_sw` and hardware refusals.
    software: HashMap<Codec, EncoderChoice>,
    decoders: HashMap<Codec, String>,
    caps: Vec<CodecSupport>,
    report: Vec<String>,
    render_node: Option<String>,
    ncpu: usize,
}

/// Outcome of opening a small test session.
fn probe_encoder(
    name: &str,
    codec: Codec,
    pix_fmt: PixelFormat,
    render_node: Option<&str>,
    ncpu: usize,
) -> Result<(), BackendError> {
    let config = EncoderConfig {
        codec,
        geometry: FrameGeometry {
            width: 320,
            height: 240,
            pix_fmt,
        },
        time_base: (1, 30),
        frame_rate: Some((30, 1)),
        options: ConfigureOptions::defaults(),
        max_delay_frames: 8,
    };
    LavcEncoder::open(
        &config,
        &OpenParams {
            encoder: name,
            ncpu: ncpu.min(2),
            render_node,
        },
    )
    .map(drop)
}

fn first_render_node() -> Option<String> {
    let mut nodes: Vec<String> = std::fs::read_dir("/dev/dri")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().to_string_lossy().into_owned())
        .filter(|p| p.contains("renderD"))
        .collect();
    nodes.sort();
    nodes.into_iter().next()
}

fn is_hardware(name: &str) -> bool {
    match Family::of(name) {
        Family::X264 | Family::X265 => false,
        Family::Nvenc | Family::Qsv | Family::Vaapi => true,
        Family::Other => ffi::Codec::find_encoder(name).is_some_and(|c| c.is_hardware()),
    }
}

fn label(name: &str, hardware: bool) -> String {
    format!(
        "{name} ({})",
        if hardware { "hardware" } else { "software" }
    )
}

/// Start-up probing: opens test sessions and records what was tried, for `--list-codecs`.
struct Probe {
    node: Option<String>,
    ncpu: usize,
    report: Vec<String>,
}

impl Probe {
    /// Opens `name` on a test session (8-bit, and 10-bit for HEVC).
    fn open(&mut self, name: &str, codec: Codec) -> Option<EncoderChoice> {
        let hardware = is_hardware(name);
        let node = self.node.as_deref();
        match probe_encoder(name, codec, PixelFormat::Nv12, node, self.ncpu) {
            Ok(()) => {
                let ten_bit = codec == Codec::Hevc
                    && probe_encoder(name, codec, PixelFormat::P010, node, self.ncpu).is_ok();
                self.report.push(format!(
                    "{codec}: encoder {} opens{}",
                    label(name, hardware),
                    if ten_bit { " (nv12, p010)" } else { " (nv12)" }
                ));
                Some(EncoderChoice {
                    name: name.to_string(),
                    hardware,
                    ten_bit,
                })
            }
            Err(e) => {
                self.report
                    .push(format!("{codec}: encoder {name} unavailable: {e}"));
                None
            }
        }
    }

    /// The encoder named on the command line: it must exist, encode `codec` and open.
    fn pinned(
        &mut self,
        name: &str,
        codec: Codec,
        software: Option<&EncoderChoice>,
    ) -> Result<EncoderChoice, BackendError> {
        let found = ffi::Codec::find_encoder(name).ok_or_else(|| {
            BackendError::unsupported(
                "encoder",
                format!("{name} is not an encoder in this FFmpeg build"),
            )
        })?;
        if found.id() != ffi::codec_id(codec) {
            return Err(BackendError::unsupported(
                "encoder",
                format!("{name} does not encode {codec}"),
            ));
        }
        let choice = if name == software_encoder(codec) {
            software.cloned()
        } else {
            self.open(name, codec)
        };
        let c = choice.ok_or_else(|| {
            BackendError::failed(format!(
                "{name} was chosen for {codec} but does not open on this machine"
            ))
        })?;
        self.report.push(format!(
            "{codec}: using {} (chosen on the command line)",
            label(&c.name, c.hardware)
        ));
        Ok(c)
    }

    /// The first hardware encoder that opens, else the software one.
    fn best(&mut self, codec: Codec, software: Option<&EncoderChoice>) -> Option<EncoderChoice> {
        let candidates = match codec {
            Codec::H264 => H264_CANDIDATES,
            Codec::Hevc => HEVC_CANDIDATES,
        };
        let has_node = self.node.is_some();
        let hw = candidates
            .iter()
            .filter(|n| ffi::Codec::find_encoder(n).is_some())
            .filter(|n| Family::of(n) != Family::Vaapi || has_node)
            .find_map(|n| self.open(n, codec));
        let chosen = hw.or_else(|| software.cloned());
        match &chosen {
            Some(c) => self
                .report
                .push(format!("{codec}: using {}", label(&c.name, c.hardware))),
            None => self.report.push(format!("{codec}: no encoder available")),
        }
        chosen
    }

    /// FFmpeg's native decoder for `codec`, if this build has it.
    fn decoder(&mut self, codec: Codec) -> Option<String> {
        let dec = native_decoder(codec);
        let decodes = ffi::Codec::find_decoder(dec).is_some();
        self.report.push(format!(
            "{codec}: decoder {}",
            if decodes {
                format!("{dec} (software)")
            } else {
                format!("{dec} unavailable")
            }
        ));
        decodes.then(|| dec.to_string())
    }
}

/// What HELLO_ACK and `--list-codecs` say about `codec`.
fn codec_support(
    codec: Codec,
    encoder: Option<&EncoderChoice>,
    decoder: Option<&str>,
) -> CodecSupport {
    // Decoding converts to either format, so the list is what encoding accepts: p010 for
    // HEVC only when a Main 10 test session opened (or nothing encodes at all).
    let mut pix_fmts = vec![PixelFormat::Nv12];
    if codec == Codec::Hevc && !matches!(encoder, Some(c) if !c.ten_bit) {
        pix_fmts.push(PixelFormat::P010);
    }
    CodecSupport {
        codec,
        encode: encoder.is_some(),
        decode: decoder.is_some(),
        pix_fmts,
        encoder_name: encoder.map(|c| label(&c.name, c.hardware)),
        decoder_name: decoder.map(|d| format!("{d} (software)")),
        hardware: encoder.is_some_and(|c| c.hardware),
    }
}

impl LavcBackend {
    /// Probes encoders and decoders. `encoder_overrides` pins the libavcodec encoder for a
    /// codec (e.g. `(H264, "h264_vaapi")`); a pinned encoder that does not exist, is for
    /// another codec or does not open is an error, because silently using something else
    /// would hide a configuration mistake. Without an override the first hardware encoder
    /// that opens a 320x240 test session wins, then libx264/libx265.
    pub fn new(encoder_overrides: &[(Codec, String)]) -> Result<LavcBackend, BackendError> {
        ffi::quiet_logging();
        let render_node = first_render_node();
        let mut probe = Probe {
            node: render_node.clone(),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            report: Vec::new(),
        };
        let mut encoders = HashMap::new();
        let mut software = HashMap::new();
        let mut decoders = HashMap::new();
        let mut caps = Vec::new();
        for codec in [Codec::H264, Codec::Hevc] {
            let sw = probe.open(software_encoder(codec), codec);
            let chosen = match encoder_overrides.iter().find(|(c, _)| *c == codec) {
                Some((_, name)) => Some(probe.pinned(name, codec, sw.as_ref())?),
                None => probe.best(codec, sw.as_ref()),
            };
            let decoder = probe.decoder(codec);
            caps.push(codec_support(codec, chosen.as_ref(), decoder.as_deref()));
            if let Some(d) = decoder {
                decoders.insert(codec, d);
            }
            if let Some(c) = chosen {
                encoders.insert(codec, c);
            }
            if let Some(s) = sw {
                software.insert(codec, s);
            }
        }
        Ok(LavcBackend {
            encoders,
            software,
            decoders,
            caps,
            report: probe.report,
            render_node,
            ncpu: probe.ncpu,
        })
    }

    /// One line per probed implementation, for `--list-codecs`.
    pub fn probe_report(&self) -> String {
        self.report.join("\n")
    }

    fn open_with(
        &self,
        config: &EncoderConfig,
        choice: &EncoderChoice,
    ) -> Result<LavcEncoder, BackendError> {
        LavcEncoder::open(
            config,
            &OpenParams {
                encoder: &choice.name,
                ncpu: self.ncpu,
                render_node: self.render_node.as_deref(),
            },
        )
    }
}

impl Backend for LavcBackend {
    fn name(&self) -> &str {
        "libavcodec"
    }

    fn selection_report(&self) -> String {
        self.probe_report()
    }

    fn capabilities(&self) -> &[CodecSupport] {
        &self.caps
    }

    fn open_encoder(&self, config: &EncoderConfig) -> Result<Box<dyn VideoEncoder>, BackendError> {
        let codec = config.codec;
        let chosen = self.encoders.get(&codec).ok_or_else(|| {
            BackendError::unsupported("codec", format!("no {codec} encoder on this helper"))
        })?;
        let sw = self.software.get(&codec);
        let o = &config.options;
        let mut notes = Vec::new();
        // VideoToolbox semantics: require_sw forces the software encoder; without allow_sw
        // the original demands hardware, which we report rather than refuse.
        let first = match (o.require_sw, chosen.hardware, sw) {
            (true, true, Some(s)) => s,
            (true, true, None) => {
                notes.push(format!(
                    "require_sw=1: no software {codec} encoder here; using {}",
                    label(&chosen.name, true)
                ));
                chosen
            }
            (false, false, _) if !o.allow_sw => {
                notes.push(format!(
                    "allow_sw=0: no hardware {codec} encoder here; using {}",
                    label(&chosen.name, false)
                ));
                chosen
            }
            _ => chosen,
        };
        let enc = match self.open_with(config, first) {
            Ok(e) => e,
            // A hardware encoder may refuse a configuration its test session accepted
            // (B-frames, size, profile); serving the session in software, with a warning,
            // beats failing it.
            Err(BackendError::Failed(why)) if first.hardware && sw.is_some() => {
                let s = sw.expect("checked");
                let e = self.open_with(config, s)?;
                notes.push(format!(
                    "encoder: {} refused this configuration ({why}); using {}",
                    first.name,
                    label(&s.name, false)
                ));
                e
            }
            Err(e) => return Err(e),
        };
        let mut enc = enc;
        enc.add_warnings(notes);
        Ok(Box::new(enc))
    }

    fn open_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn VideoDecoder>, BackendError> {
        let name = self.decoders.get(&config.codec).ok_or_else(|| {
            BackendError::unsupported(
                "codec",
                format!("no {} decoder on this helper", config.codec),
            )
        })?;
        Ok(Box::new(LavcDecoder::open(config, name, self.ncpu)?))
    }
}
