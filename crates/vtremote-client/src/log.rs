//! Where a session's own log lines go.
//!
//! A Rust program gets them as `tracing` events (target `vtremote_client`); a C caller
//! installs a callback (`vtremote_session_set_log_callback`), so FFmpeg prints them through
//! `av_log` with the codec's context, as it does for libdav1d.

use std::fmt;
use std::sync::Arc;

/// Severity of a log line, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warning,
    Info,
    Debug,
}

type Sink = dyn Fn(LogLevel, &str) + Send + Sync;

/// A session's log destination. Cloned into the reader and writer threads, so a sink may be
/// called from them as well as from the caller's thread.
#[derive(Clone, Default)]
pub struct Logger {
    sink: Option<Arc<Sink>>,
}

impl Logger {
    /// Sends every line to `sink` instead of `tracing`.
    pub fn new(sink: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Self {
        Logger {
            sink: Some(Arc::new(sink)),
        }
    }

    pub fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        match &self.sink {
            Some(sink) => sink(level, &message.to_string()),
            None => match level {
                LogLevel::Error => tracing::error!("{message}"),
                LogLevel::Warning => tracing::warn!("{message}"),
                LogLevel::Info => tracing::info!("{message}"),
                LogLevel::Debug => tracing::debug!("{message}"),
            },
        }
    }

    pub fn warn(&self, message: fmt::Arguments<'_>) {
        self.log(LogLevel::Warning, message);
    }

    pub fn info(&self, message: fmt::Arguments<'_>) {
        self.log(LogLevel::Info, message);
    }

    pub fn debug(&self, message: fmt::Arguments<'_>) {
        self.log(LogLevel::Debug, message);
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.sink.is_some() {
            "Logger(callback)"
        } else {
            "Logger(tracing)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_sink_gets_each_line_with_its_level() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let log = Logger::new(move |level, msg| seen.lock().unwrap().push((level, msg.into())));
        log.warn(format_args!("{} is {}", "mac:5555", "slow"));
        log.clone().debug(format_args!("x"));
        assert_eq!(
            *lines.lock().unwrap(),
            [
                (LogLevel::Warning, "mac:5555 is slow".to_string()),
                (LogLevel::Debug, "x".to_string())
            ]
        );
    }
}
