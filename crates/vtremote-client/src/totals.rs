//! Counters over every connection a resettable session made, and the one-line summary the
//! original client printed at close (spec §10.3), which FFmpeg users grep for.

use std::time::Duration;

use crate::stats::{SessionStats, Timings};

/// Which half of the codec a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Encode,
    Decode,
}

/// Sums of the connections closed so far (a reset closes one).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    frames: u64,
    packets: u64,
    bytes_sent: u64,
    bytes_received: u64,
    max_inflight: u32,
    send_total: Duration,
    sends: u64,
    wait_total: Duration,
    waits: u64,
}

impl Totals {
    /// Adds one connection's counters.
    pub fn add(&mut self, st: &SessionStats, timings: &Timings) {
        self.frames += st.frames;
        self.packets += st.packets;
        self.bytes_sent += st.bytes_sent;
        self.bytes_received += st.bytes_received;
        self.max_inflight = self.max_inflight.max(st.max_inflight);
        self.send_total += timings.send_total;
        self.sends += timings.sends;
        self.wait_total += timings.wait_total;
        self.waits += timings.waits;
    }

    /// The sums as stats over `elapsed` (since the session opened).
    pub fn stats(&self, elapsed: Duration) -> SessionStats {
        SessionStats {
            frames: self.frames,
            packets: self.packets,
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            max_inflight: self.max_inflight,
            elapsed,
            mean_send: mean(self.send_total, self.sends),
            mean_wait: mean(self.wait_total, self.waits),
        }
    }
}

fn mean(total: Duration, n: u64) -> Duration {
    if n == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(total.as_secs_f64() / n as f64)
    }
}

/// The summary line, with "in" = bytes sent to the helper and "out" = bytes received from
/// it, in the original client's words and order.
pub fn summary_line(kind: SessionKind, host: &str, st: &SessionStats) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    match kind {
        SessionKind::Encode => format!(
            "VT remote summary: host={host} frames={} packets={} bytes_in={} bytes_out={} max_inflight={} elapsed={:.3}s in={:.2}Mb/s out={:.2}Mb/s avg_send_ms={:.2} avg_wait_ms={:.2}",
            st.frames,
            st.packets,
            st.bytes_sent,
            st.bytes_received,
            st.max_inflight,
            st.elapsed.as_secs_f64(),
            st.sent_mbps(),
            st.received_mbps(),
            ms(st.mean_send),
            ms(st.mean_wait)
        ),
        SessionKind::Decode => format!(
            "VT remote decode summary: host={host} packets={} frames={} bytes_in={} bytes_out={} elapsed={:.3}s in={:.2}Mb/s out={:.2}Mb/s avg_wait_ms={:.2}",
            st.packets,
            st.frames,
            st.bytes_sent,
            st.bytes_received,
            st.elapsed.as_secs_f64(),
            st.sent_mbps(),
            st.received_mbps(),
            ms(st.mean_wait)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(frames: u64, inflight: u32, sends: u64, send_ms: u64) -> (SessionStats, Timings) {
        let mut t = Timings::new();
        t.sends = sends;
        t.send_total = Duration::from_millis(send_ms);
        t.waits = 1;
        t.wait_total = Duration::from_millis(10);
        let st = SessionStats {
            frames,
            packets: frames,
            bytes_sent: 1000 * frames,
            bytes_received: 10 * frames,
            max_inflight: inflight,
            elapsed: Duration::from_secs(1),
            mean_send: t.mean_send(),
            mean_wait: t.mean_wait(),
        };
        (st, t)
    }

    #[test]
    fn totals_add_counters_keep_the_deepest_window_and_weight_means_by_calls() {
        let mut totals = Totals::default();
        for (frames, inflight, sends, send_ms) in [(10, 4, 10, 10), (30, 16, 30, 90)] {
            let (st, t) = connection(frames, inflight, sends, send_ms);
            totals.add(&st, &t);
        }
        let st = totals.stats(Duration::from_secs(2));
        assert_eq!((st.frames, st.packets, st.bytes_sent), (40, 40, 40_000));
        assert_eq!(st.max_inflight, 16);
        assert_eq!(
            st.mean_send,
            Duration::from_micros(2500),
            "100 ms over 40 sends"
        );
        assert_eq!(st.mean_wait, Duration::from_millis(10));
        assert_eq!(st.elapsed, Duration::from_secs(2));
    }

    #[test]
    fn an_unused_session_summarises_as_zeros() {
        let st = Totals::default().stats(Duration::ZERO);
        assert_eq!(
            summary_line(SessionKind::Decode, "mac:5555", &st),
            "VT remote decode summary: host=mac:5555 packets=0 frames=0 bytes_in=0 bytes_out=0 \
             elapsed=0.000s in=0.00Mb/s out=0.00Mb/s avg_wait_ms=0.00"
        );
    }

    #[test]
    fn the_encode_summary_has_the_fields_users_grep_for() {
        let (st, _) = connection(150, 16, 150, 150);
        let line = summary_line(SessionKind::Encode, "h:1", &st);
        assert!(
            line.starts_with("VT remote summary: host=h:1 frames=150 packets=150 bytes_in=150000 "),
            "{line}"
        );
        assert!(
            line.contains(" max_inflight=16 elapsed=1.000s in=1.20Mb/s "),
            "{line}"
        );
        assert!(
            line.ends_with(" avg_send_ms=1.00 avg_wait_ms=10.00"),
            "{line}"
        );
    }
}
