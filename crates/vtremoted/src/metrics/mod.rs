//! `--metrics-listen`: the daemon's counters in Prometheus text format on `GET /metrics`.
//!
//! `registry` keeps the numbers (updated where the SUMMARY line is written, and live from
//! the session's own counters), `histogram` the lock-free latency buckets, `text` writes the
//! exposition format and `http` is the small, bounded responder that serves it.

pub mod histogram;
pub mod http;
pub mod registry;
pub mod text;

pub use http::serve;
pub use registry::{BuildInfo, Metrics, Outcome};
