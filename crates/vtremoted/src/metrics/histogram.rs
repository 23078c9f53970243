//! A fixed-bucket histogram that session threads add to without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in microseconds, from 100 µs (a backend call on a small picture) to 10 s (a
/// stalled pipeline). One list serves every histogram so dashboards can compare them. Denser
/// from 20 to 300 ms, where a frame's latency lies when the client's window is full
/// (window ÷ fps: 16 frames at 60 to 120 fps), so quantile estimates there are useful.
pub const BOUNDS_US: [u64; 20] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 50_000, 75_000, 100_000, 150_000,
    200_000, 300_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket, not cumulative: one add per observation; the +Inf bucket is last.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

/// One reading: the count is the +Inf bucket, so they always agree; a scrape racing an
/// observation may see it in a bucket but not yet in `sum_us`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Cumulative counts per bound in `BOUNDS_US`, then +Inf.
    pub cumulative: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        HistogramSnapshot {
            cumulative,
            sum_us: self.sum_us.load(Ordering::Relaxed),
            count: total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(100)); // le=0.0001 is inclusive
        h.observe(Duration::from_micros(101));
        h.observe(Duration::from_secs(60)); // only +Inf
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[1], 2);
        assert_eq!(s.cumulative[BOUNDS_US.len() - 1], 2);
        assert_eq!(*s.cumulative.last().unwrap(), 3);
        assert_eq!(s.count, 3);
        assert_eq!(s.sum_us, 100 + 101 + 60_000_000);
    }
}
