//! What `top` shows for a helper: from two scrapes a second apart, its rates; from the
//! latest, its totals. Rendering is plain text; `mod.rs` decides whether to redraw.

use std::time::Duration;

use super::exposition::Samples;

/// A helper's answer and when it came.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub samples: Samples,
    /// Since an arbitrary start; only differences matter.
    pub at: Duration,
}

/// One line of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub active: u64,
    pub max: u64,
    /// Finished sessions, probes (HELLO and close) left out.
    pub total: u64,
    pub errors: u64,
    /// Rates over the last interval; `None` until two scrapes exist.
    pub fps: Option<f64>,
    pub mb_in: Option<f64>,
    pub mb_out: Option<f64>,
    /// Seconds; `None` when no picture completed in the interval.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub build: String,
}

const LATENCY: &str = "vtremote_frame_latency_seconds_bucket";

impl Row {
    pub fn new(prev: Option<&Snapshot>, cur: &Snapshot) -> Row {
        let s = &cur.samples;
        let get = |name| s.sum(name).unwrap_or(0.0).max(0.0) as u64;
        let dt = prev
            .map(|p| cur.at.saturating_sub(p.at).as_secs_f64())
            .filter(|d| *d > 0.0);
        let rate = |name: &str, scale: f64| -> Option<f64> {
            let (p, dt) = (prev?, dt?);
            let d = s.sum(name)? - p.samples.sum(name).unwrap_or(0.0);
            // A restarted helper starts its counters again: no rate for that interval.
            (d >= 0.0).then(|| d / dt / scale)
        };
        let buckets = latency_delta(prev.map(|p| &p.samples), s);
        let build = s
            .named("vtremote_build_info")
            .next()
            .map(|b| {
                format!(
                    "{} {}",
                    b.label("version").unwrap_or("?"),
                    b.label("backend").unwrap_or("?")
                )
            })
            .unwrap_or_default();
        Row {
            active: get("vtremote_sessions_active"),
            max: get("vtremote_sessions_max"),
            // Pool clients probe every member before each job: counting those would bury
            // the sessions that did work.
            total: s
                .named("vtremote_sessions_total")
                .filter(|x| x.label("outcome") != Some("probe"))
                .map(|x| x.value.max(0.0) as u64)
                .sum(),
            errors: get("vtremote_errors_total"),
            fps: rate("vtremote_frames_total", 1.0),
            mb_in: rate("vtremote_received_bytes_total", 1e6),
            mb_out: rate("vtremote_sent_bytes_total", 1e6),
            p50: prev.and_then(|_| quantile(&buckets, 0.5)),
            p99: prev.and_then(|_| quantile(&buckets, 0.99)),
            build,
        }
    }
}

/// Cumulative latency counts per upper bound (all modes together), `cur - prev`, sorted.
/// Keyed by the bound's bits: a hostile page may carry many thousands of bounds, and a
/// linear search per bucket would make that quadratic.
fn latency_delta(prev: Option<&Samples>, cur: &Samples) -> Vec<(f64, f64)> {
    let by_bound = |s: &Samples| {
        let mut v: std::collections::BTreeMap<u64, (f64, f64)> = Default::default();
        for b in s.named(LATENCY) {
            let Some(le) = b.label("le").and_then(parse_bound) else {
                continue;
            };
            v.entry(le.to_bits()).or_insert((le, 0.0)).1 += b.value;
        }
        v
    };
    let mut now = by_bound(cur);
    if let Some(p) = prev.map(by_bound) {
        for (bits, (_, n)) in &mut now {
            if let Some((_, before)) = p.get(bits) {
                *n -= before;
            }
        }
    }
    let mut out: Vec<(f64, f64)> = now.into_values().collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn parse_bound(le: &str) -> Option<f64> {
    if le == "+Inf" {
        Some(f64::INFINITY)
    } else {
        le.parse().ok()
    }
}

/// The q-quantile of a cumulative histogram, interpolated linearly inside its bucket as
/// Prometheus' `histogram_quantile` does. In the +Inf bucket it is the largest finite
/// bound: "at least this".
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, n) in buckets {
        if n >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let width = n - lower.1;
            let into = if width > 0.0 {
                (rank - lower.1) / width
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * into);
        }
        lower = (le, n);
    }
    Some(lower.0)
}

pub const HEADER: &str = "HELPER                  SESSIONS   TOTAL      FPS  IN MB/s OUT MB/s   P50 ms   P99 ms  ERRORS  BUILD";

fn opt(v: Option<f64>, scale: f64, width: usize) -> String {
    match v {
        Some(v) => format!("{:>width$.1}", v * scale),
        None => format!("{:>width$}", "-"),
    }
}

pub fn render_row(name: &str, row: &Row) -> String {
    format!(
        "{name:<22} {:>9} {:>7} {} {} {} {} {} {:>7}  {}",
        format!("{}/{}", row.active, row.max),
        row.total,
        opt(row.fps, 1.0, 8),
        opt(row.mb_in, 1.0, 8),
        opt(row.mb_out, 1.0, 8),
        opt(row.p50, 1e3, 8),
        opt(row.p99, 1e3, 8),
        row.errors,
        row.build
    )
}

pub fn render_unreachable(name: &str, why: &str) -> String {
    format!("{name:<22} unreachable: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(frames: u64, bytes_in: u64, lat: &[(&str, u64)]) -> Samples {
        let mut text = format!(
            "vtremote_build_info{{version=\"0.1.0\",backend=\"libavcodec\"}} 1\n\
             vtremote_sessions_max 4\nvtremote_sessions_active 1\n\
             vtremote_sessions_total{{codec=\"h264\",outcome=\"ok\"}} 3\n\
             vtremote_sessions_total{{codec=\"unknown\",outcome=\"busy\"}} 1\n\
             vtremote_sessions_total{{codec=\"unknown\",outcome=\"probe\"}} 9\n\
             vtremote_errors_total{{code=\"2\",reason=\"busy\"}} 1\n\
             vtremote_frames_total{{mode=\"encode\"}} {frames}\n\
             vtremote_frames_total{{mode=\"decode\"}} 0\n\
             vtremote_received_bytes_total{{compression=\"lz4\"}} {bytes_in}\n\
             vtremote_sent_bytes_total{{compression=\"lz4\"}} 0\n"
        );
        for (le, n) in lat {
            text.push_str(&format!(
                "{LATENCY}{{mode=\"encode\",le=\"{le}\"}} {n}\n{LATENCY}{{mode=\"decode\",le=\"{le}\"}} 0\n"
            ));
        }
        Samples::parse(&text)
    }

    #[test]
    fn a_page_with_a_hundred_thousand_bounds_is_summed_per_bound() {
        let bounds: Vec<String> = (0..100_000)
            .map(|i| format!("{}", i as f64 / 1e3))
            .collect();
        let lat: Vec<(&str, u64)> = bounds.iter().map(|b| (b.as_str(), 1)).collect();
        let cur = page(0, 0, &lat);
        let delta = latency_delta(Some(&page(0, 0, &lat[..10])), &cur);
        assert_eq!(delta.len(), 100_000);
        assert_eq!(delta[0], (0.0, 0.0), "the earlier count is taken off");
        assert_eq!(delta[99_999].1, 1.0);
    }

    #[test]
    fn rates_come_from_two_scrapes_and_totals_from_the_last() {
        let a = Snapshot {
            samples: page(100, 1_000_000, &[("0.01", 0), ("0.02", 0), ("+Inf", 0)]),
            at: Duration::from_secs(10),
        };
        let b = Snapshot {
            samples: page(
                160,
                3_000_000,
                &[("0.01", 50), ("0.02", 100), ("+Inf", 100)],
            ),
            at: Duration::from_secs(12),
        };
        let row = Row::new(Some(&a), &b);
        assert_eq!((row.active, row.max, row.total, row.errors), (1, 4, 4, 1));
        assert_eq!(row.fps, Some(30.0));
        assert_eq!(row.mb_in, Some(1.0));
        assert_eq!(row.mb_out, Some(0.0));
        assert_eq!(row.p50, Some(0.01));
        let p99 = row.p99.unwrap();
        assert!((p99 - 0.0198).abs() < 1e-9, "{p99}");
        assert_eq!(row.build, "0.1.0 libavcodec");

        let first = Row::new(None, &b);
        assert_eq!((first.fps, first.p50), (None, None));
        let line = render_row("mac:9555", &row);
        assert!(line.starts_with("mac:9555"), "{line}");
        assert!(line.contains("1/4"), "{line}");
    }

    #[test]
    fn a_restarted_helper_shows_no_rate_rather_than_a_negative_one() {
        let a = Snapshot {
            samples: page(1000, 5, &[]),
            at: Duration::from_secs(1),
        };
        let b = Snapshot {
            samples: page(10, 5, &[]),
            at: Duration::from_secs(2),
        };
        assert_eq!(Row::new(Some(&a), &b).fps, None);
    }

    #[test]
    fn quantiles_interpolate_and_the_open_bucket_says_at_least() {
        let b = [(0.1, 0.0), (0.2, 10.0), (f64::INFINITY, 10.0)];
        assert!((quantile(&b, 0.5).unwrap() - 0.15).abs() < 1e-12);
        let slow = [(0.1, 0.0), (1.0, 0.0), (f64::INFINITY, 4.0)];
        assert_eq!(quantile(&slow, 0.99), Some(1.0));
        assert_eq!(quantile(&[(0.1, 0.0), (f64::INFINITY, 0.0)], 0.5), None);
        assert_eq!(quantile(&[], 0.5), None);
    }
}
