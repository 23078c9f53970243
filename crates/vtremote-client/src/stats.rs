use std::time::{Duration, Instant};

/// Counters for the client's own summary line (spec §10.3 shape).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStats {
    /// FRAMEs sent (encode) or FRAMEs received (decode).
    pub frames: u64,
    /// PACKETs received (encode) or sent (decode).
    pub packets: u64,
    /// Bytes written to the socket, headers included.
    pub bytes_sent: u64,
    /// Bytes read from the socket, headers included.
    pub bytes_received: u64,
    pub max_inflight: u32,
    pub elapsed: Duration,
    /// Mean time the caller spent handing one input to the session.
    pub mean_send: Duration,
    /// Mean time the caller spent blocked waiting for output.
    pub mean_wait: Duration,
}

impl SessionStats {
    pub fn sent_mbps(&self) -> f64 {
        mbps(self.bytes_sent, self.elapsed)
    }
    pub fn received_mbps(&self) -> f64 {
        mbps(self.bytes_received, self.elapsed)
    }
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        bytes as f64 * 8.0 / s / 1e6
    }
}

impl std::fmt::Display for SessionStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "frames={} packets={} bytes_sent={} bytes_received={} max_inflight={} elapsed={:.3}s sent={:.2}Mb/s received={:.2}Mb/s mean_send_ms={:.2} mean_wait_ms={:.2}",
            self.frames,
            self.packets,
            self.bytes_sent,
            self.bytes_received,
            self.max_inflight,
            self.elapsed.as_secs_f64(),
            self.sent_mbps(),
            self.received_mbps(),
            self.mean_send.as_secs_f64() * 1e3,
            self.mean_wait.as_secs_f64() * 1e3,
        )
    }
}

/// Accumulates timings on the caller's thread.
#[derive(Debug)]
pub(crate) struct Timings {
    pub started: Instant,
    pub send_total: Duration,
    pub sends: u64,
    pub wait_total: Duration,
    pub waits: u64,
    pub max_inflight: u32,
}

impl Timings {
    pub fn new() -> Self {
        Timings {
            started: Instant::now(),
            send_total: Duration::ZERO,
            sends: 0,
            wait_total: Duration::ZERO,
            waits: 0,
            max_inflight: 0,
        }
    }

    pub fn mean_send(&self) -> Duration {
        self.send_total / self.sends.max(1) as u32
    }

    pub fn mean_wait(&self) -> Duration {
        self.wait_total / self.waits.max(1) as u32
    }
}
