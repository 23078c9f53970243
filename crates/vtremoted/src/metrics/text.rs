//! Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then one sample per line.

use std::fmt::Write;

use super::histogram::{HistogramSnapshot, BOUNDS_US};

/// What `Content-Type` a scraper expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a metric family; its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        // HELP text escapes only backslash and newline; label values also escape quotes.
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", value.into());
    }

    /// The `_bucket` (cumulative, `le` in seconds), `_sum` and `_count` samples of one
    /// histogram; `labels` come before `le`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        let bounds = BOUNDS_US
            .iter()
            .map(|&us| seconds(us))
            .chain(std::iter::once("+Inf".to_string()));
        for (le, &n) in bounds.zip(&h.cumulative) {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, n);
        }
        self.sample(
            &format!("{name}_sum"),
            labels,
            Value::Float(h.sum_us as f64 / 1e6),
        );
        self.sample(&format!("{name}_count"), labels, h.count);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A sample value: counters stay exact integers however large.
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) if v.is_nan() => f.write_str("NaN"),
            Value::Float(v) if v.is_infinite() => {
                f.write_str(if *v > 0.0 { "+Inf" } else { "-Inf" })
            }
            Value::Float(v) => write!(f, "{v}"),
        }
    }
}

fn seconds(us: u64) -> String {
    format!("{}", us as f64 / 1e6)
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::Histogram;
    use std::time::Duration;

    #[test]
    fn families_and_samples_follow_the_format() {
        let mut e = Exposition::default();
        e.family(
            "vtremote_x_total",
            Kind::Counter,
            "Things.\nMore \\ things.",
        );
        e.sample(
            "vtremote_x_total",
            &[("codec", "h264"), ("outcome", "ok")],
            3,
        );
        e.sample("vtremote_y", &[], 0.5);
        assert_eq!(
            e.finish(),
            "# HELP vtremote_x_total Things.\\nMore \\\\ things.\n\
             # TYPE vtremote_x_total counter\n\
             vtremote_x_total{codec=\"h264\",outcome=\"ok\"} 3\n\
             vtremote_y 0.5\n"
        );
    }

    #[test]
    fn label_values_escape_quotes_backslashes_and_newlines() {
        let mut e = Exposition::default();
        e.sample("m", &[("v", "a\"b\\c\nd")], 1);
        assert_eq!(e.finish(), "m{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn histograms_have_cumulative_buckets_in_seconds_then_sum_and_count() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(30));
        let mut e = Exposition::default();
        e.histogram("lat_seconds", &[("mode", "encode")], &h.snapshot());
        let text = e.finish();
        assert!(
            text.contains("lat_seconds_bucket{mode=\"encode\",le=\"0.0025\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("lat_seconds_bucket{mode=\"encode\",le=\"0.005\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{mode=\"encode\",le=\"0.05\"} 2\n"));
        assert!(text.contains("lat_seconds_bucket{mode=\"encode\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("lat_seconds_sum{mode=\"encode\"} 0.033\n"));
        assert!(text.ends_with("lat_seconds_count{mode=\"encode\"} 2\n"));
        assert_eq!(text.matches("_bucket").count(), BOUNDS_US.len() + 1);
    }

    #[test]
    fn special_floats_use_the_formats_spelling() {
        assert_eq!(Value::Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Value::Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Float(1e-7).to_string(), "0.0000001");
    }
}
