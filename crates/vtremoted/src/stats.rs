//! Per-session counters and the one summary line users read to size their network.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use vtremote_proto::options::Mode;

use crate::backend::BackendCounters;
use crate::metrics::Metrics;
use vtremote_proto::{Codec, FrameGeometry, WireCompression};

/// Latencies kept for the percentile; beyond this the line reports on the first samples
/// (a day of 60 fps), so memory stays bounded on endless sessions.
const MAX_LATENCY_SAMPLES: usize = 5_000_000;

/// What the reader and writer threads add to while the session streams, and what a
/// metrics scrape reads meanwhile. The handler folds the byte counts into `SessionStats`
/// when the threads are done; `frames` and `packets` mirror its own fields.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub raw_picture: AtomicU64,
    pub wire_picture: AtomicU64,
    frames: AtomicU64,
    packets: AtomicU64,
}

impl LiveCounters {
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }
    pub fn raw_picture(&self) -> u64 {
        self.raw_picture.load(Ordering::Relaxed)
    }
    pub fn wire_picture(&self) -> u64 {
        self.wire_picture.load(Ordering::Relaxed)
    }
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub struct SessionStats {
    pub id: u64,
    pub peer: String,
    pub client: String,
    pub started: Instant,
    /// When DONE went out; the time the client then takes to close is not session work.
    pub finished: Option<Instant>,
    pub mode: Option<Mode>,
    pub codec: Option<Codec>,
    pub geometry: Option<FrameGeometry>,
    pub compression: WireCompression,
    pub backend: String,
    /// Frame rate from CONFIGURE or derived from pts, for Mb/s per media second.
    pub frame_rate: Option<f64>,
    pub frames: u64,
    pub packets: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Raw (uncompressed, tightly packed) picture bytes that crossed the wire either way.
    pub raw_picture_bytes: u64,
    /// Picture bytes as they were on the wire (compressed when negotiated).
    pub wire_picture_bytes: u64,
    pending: VecDeque<Instant>,
    latencies_us: Vec<u32>,
    pub first_pts: Option<i64>,
    pub last_pts: Option<i64>,
    pub time_base: (u32, u32),
    /// What the backend dropped, skipped or restarted; only shown when something was.
    pub backend_counters: BackendCounters,
    pub live: Arc<LiveCounters>,
    /// Where latencies and backend call times go as they happen (`--metrics-listen`).
    pub metrics: Option<Arc<Metrics>>,
}

impl SessionStats {
    pub fn new(id: u64, peer: String) -> Self {
        SessionStats {
            id,
            peer,
            client: String::new(),
            started: Instant::now(),
            finished: None,
            mode: None,
            codec: None,
            geometry: None,
            compression: WireCompression::None,
            backend: String::new(),
            frame_rate: None,
            frames: 0,
            packets: 0,
            bytes_in: 0,
            bytes_out: 0,
            raw_picture_bytes: 0,
            wire_picture_bytes: 0,
            pending: VecDeque::new(),
            latencies_us: Vec::new(),
            first_pts: None,
            last_pts: None,
            time_base: (1, 1),
            backend_counters: BackendCounters::default(),
            live: Arc::default(),
            metrics: None,
        }
    }

    /// Lets a metrics scrape see how far the session got.
    pub fn publish_progress(&self) {
        self.live.frames.store(self.frames, Ordering::Relaxed);
        self.live.packets.store(self.packets, Ordering::Relaxed);
    }

    /// Makes one encode, decode or flush call of the backend, timing it for the metrics.
    pub fn backend_call<T>(&self, call: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = call();
        if let (Some(m), Some(mode)) = (&self.metrics, self.mode) {
            m.observe_backend(mode, started.elapsed());
        }
        result
    }

    /// An input (FRAME to encode or PACKET to decode) arrived.
    pub fn input_arrived(&mut self, at: Instant, pts: i64) {
        self.pending.push_back(at);
        self.first_pts.get_or_insert(pts);
        self.last_pts = Some(self.last_pts.map_or(pts, |p| p.max(pts)));
        self.publish_progress();
    }

    /// An output left; matched to inputs in arrival order (spec §9.2 does the same).
    pub fn output_sent(&mut self, now: Instant) {
        if let Some(t) = self.pending.pop_front() {
            let took = now.duration_since(t);
            if self.latencies_us.len() < MAX_LATENCY_SAMPLES {
                let us = took.as_micros().min(u32::MAX as u128) as u32;
                self.latencies_us.push(us);
            }
            if let (Some(m), Some(mode)) = (&self.metrics, self.mode) {
                m.observe_latency(mode, took);
            }
        }
        self.publish_progress();
    }

    /// Seconds of media the session carried: frames / fps, or the pts span.
    fn media_seconds(&self) -> Option<f64> {
        let inputs = match self.mode {
            Some(Mode::Decode) => self.packets,
            _ => self.frames,
        };
        if let Some(fps) = self.frame_rate.filter(|f| *f > 0.0) {
            if inputs > 0 {
                return Some(inputs as f64 / fps);
            }
        }
        let (a, b) = (self.first_pts?, self.last_pts?);
        let (num, den) = self.time_base;
        let span = (b - a) as f64 * num as f64 / den.max(1) as f64;
        (span > 0.0 && inputs > 1).then(|| span * inputs as f64 / (inputs - 1) as f64)
    }

    pub fn summary_line(&self, outcome: &str) -> String {
        let elapsed = self
            .finished
            .unwrap_or_else(Instant::now)
            .duration_since(self.started);
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut lat = self.latencies_us.clone();
        lat.sort_unstable();
        let mean_ms = if lat.is_empty() {
            0.0
        } else {
            lat.iter().map(|&u| u as f64).sum::<f64>() / lat.len() as f64 / 1000.0
        };
        let p99_ms = if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() as f64 * 0.99).ceil() as usize).clamp(1, lat.len()) - 1] as f64 / 1000.0
        };
        let fps = self.frames as f64 / secs;
        let media = self.media_seconds();
        let per_media = |bytes: u64| match media {
            Some(m) if m > 0.0 => format!("{:.2}", bytes as f64 * 8.0 / m / 1e6),
            _ => "n/a".into(),
        };
        let ratio = if self.wire_picture_bytes > 0 {
            format!(
                "{:.2}",
                self.raw_picture_bytes as f64 / self.wire_picture_bytes as f64
            )
        } else {
            "n/a".into()
        };
        let geometry = self
            .geometry
            .map(|g| format!("{}x{} {}", g.width, g.height, g.pix_fmt))
            .unwrap_or_else(|| "-".into());
        // Only when something happened, so the usual line keeps its documented shape.
        let c = &self.backend_counters;
        let backend_events = if c.is_zero() {
            String::new()
        } else {
            format!(
                " dropped_pictures={} skipped_packets={} session_restarts={}",
                c.dropped_pictures, c.skipped_packets, c.session_restarts
            )
        };
        format!(
            "SUMMARY session={} peer={} client={:?} mode={} codec={} size={} backend={} compression={} frames={} packets={} in={}B out={}B duration={:.3}s media={} in_mbps_per_media_s={} out_mbps_per_media_s={} in_mbps={:.2} out_mbps={:.2} fps={:.1} latency_mean_ms={:.2} latency_p99_ms={:.2} compression_ratio={}{} result={}",
            self.id,
            self.peer,
            self.client,
            self.mode.map_or("-", |m| m.name()),
            self.codec.map_or("-".to_string(), |c| c.to_string()),
            geometry.replace(' ', "/"),
            if self.backend.is_empty() { "-" } else { &self.backend },
            self.compression,
            self.frames,
            self.packets,
            self.bytes_in,
            self.bytes_out,
            secs,
            media.map_or("n/a".into(), |m| format!("{m:.3}s")),
            per_media(self.bytes_in),
            per_media(self.bytes_out),
            self.bytes_in as f64 * 8.0 / secs / 1e6,
            self.bytes_out as f64 * 8.0 / secs / 1e6,
            fps,
            mean_ms,
            p99_ms,
            ratio,
            backend_events,
            outcome,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn summary_reports_rates_per_media_second_and_latency() {
        let mut s = SessionStats::new(7, "127.0.0.1:1".into());
        s.mode = Some(Mode::Encode);
        s.frame_rate = Some(30.0);
        let t0 = Instant::now();
        for i in 0..30 {
            s.input_arrived(t0, i);
            s.frames += 1;
        }
        for _ in 0..30 {
            s.output_sent(t0 + Duration::from_millis(10));
            s.packets += 1;
        }
        s.bytes_in = 1_000_000;
        let line = s.summary_line("ok");
        assert!(line.contains("in_mbps_per_media_s=8.00"), "{line}");
        assert!(line.contains("latency_p99_ms=10.00"), "{line}");
        assert!(line.contains("result=ok"), "{line}");
    }

    #[test]
    fn dropped_and_skipped_work_shows_in_the_summary_only_when_it_happened() {
        let mut s = SessionStats::new(3, "peer".into());
        let quiet = s.summary_line("ok");
        assert!(!quiet.contains("dropped_pictures"), "{quiet}");
        s.backend_counters = BackendCounters {
            dropped_pictures: 4,
            skipped_packets: 1,
            session_restarts: 0,
        };
        let line = s.summary_line("ok");
        assert!(
            line.contains(" dropped_pictures=4 skipped_packets=1 session_restarts=0 result=ok"),
            "{line}"
        );
    }

    #[test]
    fn failed_session_before_configure_still_has_a_line() {
        let s = SessionStats::new(1, "peer".into());
        let line = s.summary_line("error: bad magic");
        assert!(line.starts_with("SUMMARY session=1"));
        assert!(line.contains("mode=-"));
    }
}
