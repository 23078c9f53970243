//! The daemon-wide counters behind `/metrics`.
//!
//! Finished sessions are added once, from the same `SessionStats` that writes their
//! `SUMMARY` line, so the two always agree. Sessions still streaming are read live at each
//! scrape (their byte and frame counters are atomics the session threads already keep), so
//! a two-hour transcode shows up while it runs, not when it ends. Both sit under one short
//! mutex: a session moves from live to finished atomically, and since its live readings are
//! never more than its final ones, no counter ever goes down. The histograms are lock-free.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vtremote_proto::options::Mode;
use vtremote_proto::{ErrorCode, WireCompression};

use super::histogram::Histogram;
use super::text::{Exposition, Kind};
use crate::slots::Slots;
use crate::stats::{LiveCounters, SessionStats};

/// How a session ended, as a label: the classes of the SUMMARY line's `result=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Streamed to DONE.
    Ok,
    /// Closed right after HELLO_ACK (`vtremote probe`, pool load checks).
    Probe,
    /// Wrong or missing token, or refused by the wrong-token throttle.
    AuthFailed,
    /// Told "busy": every session slot was taken.
    Busy,
    /// Refused the configuration or wire compression (ERROR 1 or 3).
    Unsupported,
    /// Ended with an ERROR sent (protocol violation, backend failure, daemon stopping).
    Error,
    /// The client went away or the connection broke; nothing could be sent.
    Aborted,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Probe => "probe",
            Outcome::AuthFailed => "auth_failed",
            Outcome::Busy => "busy",
            Outcome::Unsupported => "unsupported",
            Outcome::Error => "error",
            Outcome::Aborted => "aborted",
        }
    }
}

/// What `vtremote_build_info` says.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub version: String,
    pub backend: String,
}

/// Exactly the numbers a SUMMARY line carries, summed.
#[derive(Debug, Default, Clone)]
struct Totals {
    sessions: BTreeMap<(&'static str, Outcome), u64>,
    frames: BTreeMap<&'static str, u64>,
    packets: BTreeMap<&'static str, u64>,
    bytes_in: BTreeMap<&'static str, u64>,
    bytes_out: BTreeMap<&'static str, u64>,
    raw_picture: BTreeMap<&'static str, u64>,
    wire_picture: BTreeMap<&'static str, u64>,
    errors: BTreeMap<u32, u64>,
}

/// A session past its handshake: its labels are final, its counters still growing.
struct LiveSession {
    mode: &'static str,
    compression: &'static str,
    /// Handshake bytes, counted by the handler before the reader and writer took over.
    handshake_in: u64,
    handshake_out: u64,
    counters: Arc<LiveCounters>,
}

#[derive(Default)]
struct State {
    finished: Totals,
    live: BTreeMap<u64, LiveSession>,
}

pub struct Metrics {
    slots: Arc<Slots>,
    build: BuildInfo,
    start_time: f64,
    /// Indexed by `mode_index`.
    latency: [Histogram; 2],
    backend: [Histogram; 2],
    state: Mutex<State>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("build", &self.build)
            .finish_non_exhaustive()
    }
}

fn mode_index(mode: Mode) -> usize {
    match mode {
        Mode::Encode => 0,
        Mode::Decode => 1,
    }
}

const MODES: [Mode; 2] = [Mode::Encode, Mode::Decode];

fn mode_label(mode: Option<Mode>) -> &'static str {
    mode.map_or("none", Mode::name)
}

fn error_reason(code: u32) -> &'static str {
    match ErrorCode::from_code(code) {
        ErrorCode::UnsupportedCompression => "unsupported_compression",
        ErrorCode::Busy => "busy",
        ErrorCode::UnsupportedConfig => "unsupported_config",
        ErrorCode::BadRequest => "bad_request",
        ErrorCode::Internal => "internal",
        ErrorCode::Other(_) => "other",
    }
}

impl Metrics {
    pub fn new(slots: Arc<Slots>, build: BuildInfo) -> Arc<Metrics> {
        let start_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Arc::new(Metrics {
            slots,
            build,
            start_time,
            latency: Default::default(),
            backend: Default::default(),
            state: Mutex::new(State::default()),
        })
    }

    /// A registry for unit tests: `max` slots, build "0"/"test".
    #[cfg(test)]
    pub fn for_tests(max: usize) -> Arc<Metrics> {
        Metrics::new(
            Slots::new(max),
            BuildInfo {
                version: "0".into(),
                backend: "test".into(),
            },
        )
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves only counters behind: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handshake is over and the session streams: from now on scrapes see its progress.
    pub fn stream_started(&self, stats: &SessionStats) {
        let live = LiveSession {
            mode: mode_label(stats.mode),
            compression: stats.compression.name(),
            handshake_in: stats.bytes_in,
            handshake_out: stats.bytes_out,
            counters: stats.live.clone(),
        };
        self.state().live.insert(stats.id, live);
    }

    /// The session's SUMMARY line was written: its final numbers replace its live ones.
    /// `error_sent` is the code of the ERROR that reached the client's socket, if any.
    pub fn session_ended(&self, stats: &SessionStats, outcome: Outcome, error_sent: Option<u32>) {
        let codec = stats.codec.map_or("unknown", |c| c.wire_name());
        let mode = mode_label(stats.mode);
        let compression = stats.compression.name();
        let mut state = self.state();
        state.live.remove(&stats.id);
        let t = &mut state.finished;
        *t.sessions.entry((codec, outcome)).or_default() += 1;
        *t.frames.entry(mode).or_default() += stats.frames;
        *t.packets.entry(mode).or_default() += stats.packets;
        *t.bytes_in.entry(compression).or_default() += stats.bytes_in;
        *t.bytes_out.entry(compression).or_default() += stats.bytes_out;
        *t.raw_picture.entry(compression).or_default() += stats.raw_picture_bytes;
        *t.wire_picture.entry(compression).or_default() += stats.wire_picture_bytes;
        if let Some(code) = error_sent {
            *t.errors.entry(code).or_default() += 1;
        }
    }

    /// One output left, `took` after its input arrived.
    pub fn observe_latency(&self, mode: Mode, took: Duration) {
        self.latency[mode_index(mode)].observe(took);
    }

    /// One encode, decode or flush call of the backend took this long.
    pub fn observe_backend(&self, mode: Mode, took: Duration) {
        self.backend[mode_index(mode)].observe(took);
    }

    /// Finished sessions plus the progress of those still streaming.
    fn totals(&self) -> Totals {
        let state = self.state();
        let mut t = state.finished.clone();
        for s in state.live.values() {
            let c = &s.counters;
            *t.frames.entry(s.mode).or_default() += c.frames();
            *t.packets.entry(s.mode).or_default() += c.packets();
            *t.bytes_in.entry(s.compression).or_default() += s.handshake_in + c.bytes_in();
            *t.bytes_out.entry(s.compression).or_default() += s.handshake_out + c.bytes_out();
            *t.raw_picture.entry(s.compression).or_default() += c.raw_picture();
            *t.wire_picture.entry(s.compression).or_default() += c.wire_picture();
        }
        t
    }

    /// The whole `/metrics` page.
    pub fn render(&self) -> String {
        let mut t = self.totals();
        // Every mode, compression and ERROR code appears from the start, so a rate over
        // the first session is not lost to a series that did not exist before it.
        for m in MODES {
            t.frames.entry(m.name()).or_default();
            t.packets.entry(m.name()).or_default();
        }
        for c in WireCompression::ALL {
            t.bytes_in.entry(c.name()).or_default();
            t.bytes_out.entry(c.name()).or_default();
        }
        for code in 1..=5 {
            t.errors.entry(code).or_default();
        }
        let mut e = Exposition::default();
        e.family(
            "vtremote_build_info",
            Kind::Gauge,
            "Always 1; the labels say which daemon and backend this is.",
        );
        e.sample(
            "vtremote_build_info",
            &[
                ("version", &self.build.version),
                ("backend", &self.build.backend),
            ],
            1,
        );
        e.family(
            "vtremote_start_time_seconds",
            Kind::Gauge,
            "When the daemon started, in seconds since the Unix epoch.",
        );
        e.sample("vtremote_start_time_seconds", &[], self.start_time);
        e.family(
            "vtremote_sessions_max",
            Kind::Gauge,
            "Sessions served at once (--max-sessions); further clients are told busy.",
        );
        e.sample("vtremote_sessions_max", &[], self.slots.max() as u64);
        e.family(
            "vtremote_sessions_active",
            Kind::Gauge,
            "Sessions holding a slot now (admitted and not yet done).",
        );
        e.sample("vtremote_sessions_active", &[], self.slots.active() as u64);
        e.family(
            "vtremote_sessions_total",
            Kind::Counter,
            "Finished sessions (one per SUMMARY line) by codec and outcome.",
        );
        for ((codec, outcome), n) in &t.sessions {
            e.sample(
                "vtremote_sessions_total",
                &[("codec", codec), ("outcome", outcome.label())],
                *n,
            );
        }
        let by =
            |e: &mut Exposition, name: &str, kind: Kind, help, key, m: &BTreeMap<&str, u64>| {
                e.family(name, kind, help);
                for (label, n) in m {
                    e.sample(name, &[(key, label)], *n);
                }
            };
        by(
            &mut e,
            "vtremote_frames_total",
            Kind::Counter,
            "Pictures (encode: received, decode: sent), as SUMMARY frames=.",
            "mode",
            &t.frames,
        );
        by(
            &mut e,
            "vtremote_packets_total",
            Kind::Counter,
            "Compressed packets (encode: sent, decode: received), as SUMMARY packets=.",
            "mode",
            &t.packets,
        );
        by(
            &mut e,
            "vtremote_received_bytes_total",
            Kind::Counter,
            "Bytes received from clients, all messages, by negotiated wire compression.",
            "compression",
            &t.bytes_in,
        );
        by(
            &mut e,
            "vtremote_sent_bytes_total",
            Kind::Counter,
            "Bytes sent to clients, all messages, by negotiated wire compression.",
            "compression",
            &t.bytes_out,
        );
        by(
            &mut e,
            "vtremote_picture_raw_bytes_total",
            Kind::Counter,
            "Uncompressed picture bytes that crossed the wire either way.",
            "compression",
            &t.raw_picture,
        );
        by(
            &mut e,
            "vtremote_picture_wire_bytes_total",
            Kind::Counter,
            "The same pictures as they were on the wire (raw/wire is the compression ratio).",
            "compression",
            &t.wire_picture,
        );
        e.family(
            "vtremote_errors_total",
            Kind::Counter,
            "ERROR messages sent to clients, by code.",
        );
        for (code, n) in &t.errors {
            e.sample(
                "vtremote_errors_total",
                &[("code", &code.to_string()), ("reason", error_reason(*code))],
                *n,
            );
        }
        for (name, help, per_mode) in [
            (
                "vtremote_frame_latency_seconds",
                "Per picture: from its input arriving to its output being queued for the client.",
                &self.latency,
            ),
            (
                "vtremote_backend_call_seconds",
                "Time in one encode, decode or flush call of the codec backend.",
                &self.backend,
            ),
        ] {
            e.family(name, Kind::Histogram, help);
            for m in MODES {
                let h = per_mode[mode_index(m)].snapshot();
                e.histogram(name, &[("mode", m.name())], &h);
            }
        }
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use vtremote_proto::Codec;

    fn metrics() -> Arc<Metrics> {
        Metrics::for_tests(3)
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    }

    fn streaming_session(id: u64) -> SessionStats {
        let mut s = SessionStats::new(id, "peer".into());
        s.mode = Some(Mode::Encode);
        s.codec = Some(Codec::Hevc);
        s.compression = WireCompression::Lz4;
        s.bytes_in = 100;
        s.bytes_out = 40;
        s
    }

    #[test]
    fn a_streaming_session_counts_live_and_its_final_numbers_replace_that() {
        let m = metrics();
        let mut s = streaming_session(9);
        m.stream_started(&s);
        s.live.bytes_in.fetch_add(1000, Ordering::Relaxed);
        s.frames = 5;
        s.publish_progress();
        let text = m.render();
        assert_eq!(
            line(&text, "vtremote_received_bytes_total{compression=\"lz4\"}"),
            "vtremote_received_bytes_total{compression=\"lz4\"} 1100"
        );
        assert_eq!(
            line(&text, "vtremote_frames_total{mode=\"encode\"}"),
            "vtremote_frames_total{mode=\"encode\"} 5"
        );
        assert!(!text.contains("vtremote_sessions_total{"), "{text}");

        // The session ends: the handler folds the wire counters into its stats (plus the
        // final ERROR it wrote), and only those numbers count from then on.
        s.bytes_in += 1000;
        s.bytes_out += 16;
        m.session_ended(&s, Outcome::Error, Some(5));
        let text = m.render();
        assert_eq!(
            line(&text, "vtremote_received_bytes_total{compression=\"lz4\"}"),
            "vtremote_received_bytes_total{compression=\"lz4\"} 1100"
        );
        assert_eq!(
            line(&text, "vtremote_sent_bytes_total{compression=\"lz4\"}"),
            "vtremote_sent_bytes_total{compression=\"lz4\"} 56"
        );
        assert_eq!(
            line(&text, "vtremote_sessions_total{"),
            "vtremote_sessions_total{codec=\"hevc\",outcome=\"error\"} 1"
        );
        assert_eq!(
            line(&text, "vtremote_errors_total{code=\"5\""),
            "vtremote_errors_total{code=\"5\",reason=\"internal\"} 1"
        );
    }

    #[test]
    fn a_session_refused_in_its_handshake_counts_without_codec_or_mode() {
        let m = metrics();
        let mut s = SessionStats::new(1, "peer".into());
        s.bytes_in = 30;
        m.session_ended(&s, Outcome::AuthFailed, None);
        let text = m.render();
        assert!(
            text.contains("vtremote_sessions_total{codec=\"unknown\",outcome=\"auth_failed\"} 1\n")
        );
        assert!(text.contains("vtremote_frames_total{mode=\"none\"} 0\n"));
        assert!(text.contains("vtremote_received_bytes_total{compression=\"none\"} 30\n"));
    }

    #[test]
    fn the_page_names_limits_build_and_every_series_from_the_start() {
        let text = metrics().render();
        for want in [
            "vtremote_build_info{version=\"0\",backend=\"test\"} 1\n",
            "vtremote_sessions_max 3\n",
            "vtremote_sessions_active 0\n",
            "vtremote_frames_total{mode=\"decode\"} 0\n",
            "vtremote_sent_bytes_total{compression=\"vtl\"} 0\n",
            "vtremote_errors_total{code=\"2\",reason=\"busy\"} 0\n",
            "vtremote_frame_latency_seconds_count{mode=\"encode\"} 0\n",
            "vtremote_backend_call_seconds_bucket{mode=\"decode\",le=\"+Inf\"} 0\n",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        // Every sample line belongs to a family announced before it.
        let mut typed = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                    .unwrap_or(name);
                assert!(typed.contains(family), "{l}: no # TYPE before it");
            }
        }
    }
}
