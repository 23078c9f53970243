//! Failover: when the helper of a running session dies or its connection breaks, the job
//! goes on with another helper of the pool (or the same one when it comes back) and the
//! caller still gets every picture or packet exactly once, in order.
//!
//! `splice` (encode) and `resume` (decode) decide what to send again and what to hold back
//! or drop; both are pure and tested without a socket. This module decides which failures
//! a takeover can cure and waits for a helper to take over.

pub(crate) mod resume;
pub(crate) mod splice;

use std::time::{Duration, Instant};

use vtremote_proto::ErrorCode;

use crate::error::ClientError;

/// Takeovers in a row that produce nothing: a session that kills every helper it reaches
/// (or a helper that fails every session) ends with the error instead of looping.
pub(crate) const MAX_FRUITLESS_TAKEOVERS: u32 = 3;

/// First wait between connection attempts; doubles up to `MAX_RETRY_WAIT`.
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(100);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(1);

/// How a running session lost its helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    /// The helper or the link went away (closed, reset, shutting down): any helper may go
    /// on, the same one too once it is back.
    Gone,
    /// The helper is still there but answers wrongly or not at all: only another one can
    /// do better, and with no other the job fails at once instead of trying it again.
    Misbehaving,
}

/// How `e` lost the helper, or `None` when it is about the job itself and would fail the
/// same way anywhere.
pub(crate) fn loss(e: &ClientError) -> Option<Loss> {
    match e {
        ClientError::Closed { .. } | ClientError::Io { .. } => Some(Loss::Gone),
        // Our daemon says "daemon shutting down" with Internal; the original says Internal
        // when its encoder or decoder breaks: another helper may do better either way.
        ClientError::Server { error, .. } if error.code == ErrorCode::Internal => Some(Loss::Gone),
        ClientError::Timeout { .. }
        | ClientError::Protocol { .. }
        | ClientError::Unexpected { .. } => Some(Loss::Misbehaving),
        _ => None,
    }
}

/// Whether a running session's failure is the helper or the link, as opposed to something
/// about the job itself.
pub(crate) fn helper_lost(e: &ClientError) -> bool {
    loss(e).is_some()
}

/// Whether a failed connection attempt is worth repeating while the deadline allows: the
/// helpers may be restarting, busy, or coming back.
fn worth_retrying(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Refused { .. }
            | ClientError::Connect { .. }
            | ClientError::Timeout { .. }
            | ClientError::Closed { .. }
            | ClientError::Io { .. }
            | ClientError::Busy { .. }
            | ClientError::NoHelper { .. }
            | ClientError::Discovery {
                nothing_found: true,
                ..
            }
    ) || helper_lost(e)
}

/// What a helper that took over must be sent first: `again` (what the record kept), then
/// what was still queued for an earlier takeover.
pub(crate) fn requeue<T>(again: Vec<T>, queued: &mut std::collections::VecDeque<T>) {
    let mut replay: std::collections::VecDeque<T> = again.into();
    replay.append(queued);
    *queued = replay;
}

/// Calls `connect` until it succeeds, fails for good, or `wait` has passed.
pub(crate) fn reconnect<S>(
    wait: Duration,
    mut connect: impl FnMut() -> Result<S, ClientError>,
) -> Result<S, ClientError> {
    let deadline = Instant::now() + wait;
    let mut pause = FIRST_RETRY_WAIT;
    loop {
        match connect() {
            Ok(s) => return Ok(s),
            Err(e) if worth_retrying(&e) && Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_RETRY_WAIT);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_proto::ErrorMsg;

    fn closed() -> ClientError {
        ClientError::Closed {
            host: "a:1".into(),
            what: "while encoding",
        }
    }

    #[test]
    fn a_lost_helper_is_told_from_a_job_that_fails_anywhere() {
        assert!(helper_lost(&closed()));
        assert!(helper_lost(&ClientError::Server {
            host: "a:1".into(),
            error: ErrorMsg::new(ErrorCode::Internal, "daemon shutting down"),
        }));
        assert!(!helper_lost(&ClientError::Server {
            host: "a:1".into(),
            error: ErrorMsg::new(ErrorCode::UnsupportedConfig, "no such profile"),
        }));
        assert!(!helper_lost(&ClientError::AuthFailed {
            host: "a:1".into()
        }));
        assert!(!helper_lost(&ClientError::InvalidArgument(
            "plane 0".into()
        )));
        assert!(!helper_lost(&ClientError::WouldBlock));
    }

    #[test]
    fn reconnect_retries_a_helper_that_is_coming_back() {
        let mut tries = 0;
        let got = reconnect(Duration::from_secs(5), || {
            tries += 1;
            if tries < 3 {
                Err(ClientError::Refused { host: "a:1".into() })
            } else {
                Ok(tries)
            }
        });
        assert_eq!(got.unwrap(), 3);
    }

    #[test]
    fn an_empty_mdns_browse_is_retried_but_an_unusable_mdns_is_not() {
        let browse = |nothing_found| ClientError::Discovery {
            cause: "no helper answered".into(),
            nothing_found,
        };
        assert!(worth_retrying(&browse(true)));
        assert!(!worth_retrying(&browse(false)));
    }

    #[test]
    fn reconnect_stops_at_an_error_no_wait_cures() {
        let mut tries = 0;
        let got: Result<(), _> = reconnect(Duration::from_secs(5), || {
            tries += 1;
            Err(ClientError::AuthFailed { host: "b:1".into() })
        });
        assert!(matches!(got, Err(ClientError::AuthFailed { .. })));
        assert_eq!(tries, 1);
    }

    #[test]
    fn reconnect_gives_up_at_the_deadline_with_the_last_error() {
        let got: Result<(), _> = reconnect(Duration::from_millis(250), || Err(closed()));
        assert!(matches!(got, Err(ClientError::Closed { .. })));
    }
}
