//! Sessions an application holds for a whole job: [`RemoteEncoder`] and [`RemoteDecoder`].
//!
//! One [`EncodeSession`](crate::EncodeSession) or [`DecodeSession`](crate::DecodeSession) is
//! one connection. VTRemote v1 cannot rewind a connection, so a decoder seek (FFmpeg's
//! `flush`) drops it and the next input opens a fresh one with the same settings. The types
//! here own that: reconnect after [`reset`](RemoteDecoder::reset), counters summed over every
//! connection, the summary line, and a cookie per input handed back with the output made
//! from it. The C ABI and the `vtremote` CLI both use them.

mod decoder;
mod encoder;

use std::time::Instant;

pub use decoder::RemoteDecoder;
pub use encoder::RemoteEncoder;

use crate::config::{ClientConfig, ServerInfo};
use crate::error::{clone_error, ClientError};
use crate::failover;
use crate::ledger::Ledger;
use crate::stats::{SessionStats, Timings};
use crate::totals::{summary_line, SessionKind, Totals};

/// An input the session did not take, with its cookie handed back (a full window is
/// `ClientError::WouldBlock`: receive, then send the same input again).
#[derive(Debug)]
pub struct Refused<C> {
    pub error: ClientError,
    pub cookie: C,
}

impl<C> From<Refused<C>> for ClientError {
    fn from(r: Refused<C>) -> Self {
        r.error
    }
}

/// What a resettable session needs from one connection's session.
pub(crate) trait Connection: Sized {
    type Params;
    const KIND: SessionKind;
    fn connect(config: &ClientConfig, params: &Self::Params) -> Result<Self, ClientError>;
    fn server_info(&self) -> &ServerInfo;
    /// The pool member the connection runs on, as the pool names it.
    fn member(&self) -> &str;
    fn warnings(&self) -> &[String];
    /// Parameter sets as Annex B (encoders; decoders have none).
    fn extradata(&self) -> &[u8] {
        &[]
    }
    fn stats(&self) -> SessionStats;
    fn timings(&self) -> &Timings;
}

/// What the last connection said at CONFIGURE time; kept through a reset until the next
/// connection replaces it, so what a caller borrowed stays put in between.
#[derive(Debug, Default)]
struct Handshake {
    warnings: Vec<String>,
    extradata: Vec<u8>,
}

/// The part both kinds share: settings, the live connection, the sums and the cookies.
struct Resettable<S: Connection, C> {
    config: ClientConfig,
    params: S::Params,
    live: Option<S>,
    /// Connections made so far.
    connections: u64,
    handshake: Handshake,
    started: Instant,
    closed: Totals,
    ledger: Ledger<C>,
    /// Helpers that took over a failed session.
    takeovers: u64,
    /// Takeovers in a row after which nothing reached the caller.
    fruitless: u32,
    /// A takeover that failed: the stream cannot go on (a silent reconnect would continue
    /// it with pictures missing), so every call says so until a reset.
    failed: Option<ClientError>,
    /// What the last takeover replaced, for errors found later in its stream.
    last_lost: String,
    /// The loss that started the current run of fruitless takeovers: the cause worth
    /// naming when they give up.
    first_lost: String,
}

impl<S: Connection, C> Resettable<S, C> {
    /// Connects now: a helper that cannot be reached is an error at open, not at the first
    /// send.
    fn open(config: &ClientConfig, params: S::Params) -> Result<Self, ClientError> {
        let started = Instant::now();
        let mut core = Resettable {
            config: config.clone(),
            params,
            live: None,
            connections: 0,
            handshake: Handshake::default(),
            started,
            closed: Totals::default(),
            ledger: Ledger::default(),
            takeovers: 0,
            fruitless: 0,
            failed: None,
            last_lost: String::new(),
            first_lost: String::new(),
        };
        core.live()?;
        Ok(core)
    }

    /// The live connection, reconnecting after a reset.
    fn live(&mut self) -> Result<&mut S, ClientError> {
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        if self.live.is_none() {
            if self.connections > 0 {
                self.config.log.info(format_args!(
                    "{}: reconnecting after a reset",
                    self.config.host
                ));
            }
            let session = S::connect(&self.config, &self.params)?;
            self.connections += 1;
            self.handshake = Handshake {
                warnings: session.warnings().to_vec(),
                extradata: session.extradata().to_vec(),
            };
            self.live = Some(session);
        }
        Ok(self.live.as_mut().expect("connected above"))
    }

    /// Drops the connection and every pending output and cookie; the counters so far are
    /// kept for the summary.
    fn reset(&mut self) {
        self.drop_live();
        self.ledger.clear();
        self.fruitless = 0;
        self.failed = None;
        self.first_lost.clear();
    }

    fn drop_live(&mut self) {
        if let Some(s) = self.live.take() {
            self.closed.add(&s.stats(), s.timings());
        }
    }

    /// Whether `e` from the live session calls for another helper.
    fn should_take_over(&self, e: &ClientError) -> bool {
        self.config.failover && failover::helper_lost(e)
    }

    /// The error a failed takeover reports; it sticks until a reset.
    fn failover_error(&mut self, lost: &dyn std::fmt::Display, outcome: String) -> ClientError {
        let e = ClientError::Failover {
            pool: self.config.host.clone(),
            lost: lost.to_string(),
            outcome,
        };
        self.drop_live();
        self.failed = Some(clone_error(&e));
        e
    }

    /// Replaces the live connection that failed with `lost` by a new one on the least
    /// loaded helper that answers within the failover wait (the pool's other members, or the
    /// same helper back). `progressed`: something reached the caller since the last
    /// takeover. Cookies stay: the inputs sent again come back with the same pts. The
    /// handshake the caller saw stays too (its extradata is in the container already).
    fn take_over(&mut self, lost: &ClientError, progressed: bool) -> Result<(), ClientError> {
        let failed_member = self.live.as_ref().map(|s| s.member().to_string());
        let misbehaving = failover::loss(lost) == Some(failover::Loss::Misbehaving);
        if misbehaving && !crate::pool::has_others(&self.config.host) {
            // Still there, answering wrongly or not at all, and nobody else to ask: trying
            // it again would only repeat the failure, more slowly.
            if progressed || self.first_lost.is_empty() {
                return Err(clone_error(lost));
            }
            // It took over after an earlier loss and produced nothing: name both.
            let first = self.first_lost.clone();
            let outcome = format!("the helper that took over failed too: {lost}");
            return Err(self.failover_error(&first, outcome));
        }
        if progressed || self.first_lost.is_empty() {
            self.first_lost = lost.to_string();
        }
        self.last_lost = lost.to_string();
        self.fruitless = if progressed { 0 } else { self.fruitless + 1 };
        if self.fruitless >= failover::MAX_FRUITLESS_TAKEOVERS {
            let outcome = format!(
                "gave up after {} takeovers in a row that produced nothing (the last lost it: {lost})",
                self.fruitless
            );
            let first = self.first_lost.clone();
            return Err(self.failover_error(&first, outcome));
        }
        let failed_on = self
            .live
            .as_ref()
            .map(|s| s.server_info().address.clone())
            .unwrap_or_default();
        self.drop_live();
        let wait = self.config.failover_wait;
        self.config.log.warn(format_args!(
            "{}: lost the helper{} ({lost}); resuming on the least loaded {}helper that answers within {} ms",
            self.config.host,
            if failed_on.is_empty() { String::new() } else { format!(" at {failed_on}") },
            if misbehaving { "other " } else { "" },
            wait.as_millis()
        ));
        let mut config = self.config.clone();
        if misbehaving {
            config.avoid = failed_member;
        }
        let params = &self.params;
        let session = match failover::reconnect(wait, || S::connect(&config, params)) {
            Ok(s) => s,
            Err(last) => {
                let outcome = format!("no helper took over within {} ms: {last}", wait.as_millis());
                return Err(self.failover_error(lost, outcome));
            }
        };
        self.config.log.info(format_args!(
            "{}: {} took over",
            self.config.host,
            session.server_info().address
        ));
        self.connections += 1;
        self.takeovers += 1;
        self.live = Some(session);
        Ok(())
    }

    /// Counters since open, over every connection.
    fn stats(&self) -> SessionStats {
        let mut totals = self.closed;
        if let Some(s) = &self.live {
            totals.add(&s.stats(), s.timings());
        }
        totals.stats(self.started.elapsed())
    }

    fn summary(&self) -> String {
        summary_line(S::KIND, &self.config.host, &self.stats())
    }
}

#[cfg(test)]
mod tests {
    //! The reconnect, carry-over and cookie rules against a fake connection: no socket.

    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    /// What the fake helper does on each connect.
    #[derive(Default)]
    struct Helper {
        connects: u32,
        refuse: bool,
    }

    struct FakeSession {
        number: u32,
        info: ServerInfo,
        warnings: Vec<String>,
        extradata: Vec<u8>,
        timings: Timings,
    }

    impl Connection for FakeSession {
        type Params = Rc<RefCell<Helper>>;
        const KIND: SessionKind = SessionKind::Encode;

        fn connect(config: &ClientConfig, helper: &Self::Params) -> Result<Self, ClientError> {
            let mut helper = helper.borrow_mut();
            if helper.refuse {
                return Err(ClientError::Refused {
                    host: config.host.clone(),
                });
            }
            helper.connects += 1;
            let number = helper.connects;
            let mut timings = Timings::new();
            timings.sends = 10;
            timings.send_total = Duration::from_millis(10);
            Ok(FakeSession {
                number,
                info: ServerInfo::default(),
                warnings: vec![format!("warning of connection {number}")],
                extradata: vec![number as u8; 4],
                timings,
            })
        }
        fn server_info(&self) -> &ServerInfo {
            &self.info
        }
        fn member(&self) -> &str {
            "mac:5555"
        }
        fn warnings(&self) -> &[String] {
            &self.warnings
        }
        fn extradata(&self) -> &[u8] {
            &self.extradata
        }
        fn stats(&self) -> SessionStats {
            SessionStats {
                frames: 10,
                packets: 9,
                bytes_sent: 1000,
                bytes_received: 100,
                max_inflight: 3 + self.number,
                elapsed: Duration::from_secs(1),
                mean_send: self.timings.mean_send(),
                mean_wait: Duration::ZERO,
            }
        }
        fn timings(&self) -> &Timings {
            &self.timings
        }
    }

    fn open(helper: &Rc<RefCell<Helper>>) -> Resettable<FakeSession, Rc<()>> {
        Resettable::open(&ClientConfig::new("mac:5555"), helper.clone()).unwrap()
    }

    #[test]
    fn open_connects_at_once_and_a_refusal_is_an_error_then() {
        let helper = Rc::new(RefCell::new(Helper {
            refuse: true,
            ..Default::default()
        }));
        let e = Resettable::<FakeSession, ()>::open(&ClientConfig::new("mac:5555"), helper)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "mac:5555: connection refused (is vtremoted running and listening on that port?)"
        );
    }

    #[test]
    fn a_reset_session_reconnects_on_next_use_and_only_then() {
        let helper = Rc::new(RefCell::new(Helper::default()));
        let mut core = open(&helper);
        assert_eq!(core.connections, 1);
        core.reset();
        assert!(core.live.is_none());
        assert_eq!(
            helper.borrow().connects,
            1,
            "a reset alone does not connect"
        );
        assert_eq!(core.live().unwrap().number, 2);
        assert_eq!(core.live().unwrap().number, 2, "one reconnect per reset");
        assert_eq!(core.connections, 2);
    }

    #[test]
    fn a_failed_reconnect_is_tried_again_by_the_next_call() {
        let helper = Rc::new(RefCell::new(Helper::default()));
        let mut core = open(&helper);
        core.reset();
        helper.borrow_mut().refuse = true;
        assert!(core.live().is_err());
        assert!(core.live().is_err());
        helper.borrow_mut().refuse = false;
        assert_eq!(core.live().unwrap().number, 2);
    }

    #[test]
    fn warnings_and_extradata_stay_through_a_reset_until_a_reconnect_replaces_them() {
        let helper = Rc::new(RefCell::new(Helper::default()));
        let mut core = open(&helper);
        let before = core.handshake.extradata.as_ptr();
        core.reset();
        assert_eq!(core.handshake.extradata.as_ptr(), before);
        assert_eq!(core.handshake.warnings, ["warning of connection 1"]);
        core.live().unwrap();
        assert_eq!(core.handshake.extradata, [2; 4]);
        assert_eq!(core.handshake.warnings, ["warning of connection 2"]);
    }

    #[test]
    fn counters_of_every_connection_add_up_and_the_deepest_window_wins() {
        let helper = Rc::new(RefCell::new(Helper::default()));
        let mut core = open(&helper);
        core.reset();
        core.live().unwrap();
        let st = core.stats();
        assert_eq!((st.frames, st.packets), (20, 18));
        assert_eq!((st.bytes_sent, st.bytes_received), (2000, 200));
        assert_eq!(st.max_inflight, 5);
        assert_eq!(st.mean_send, Duration::from_millis(1));
        assert!(core.summary().starts_with(
            "VT remote summary: host=mac:5555 frames=20 packets=18 bytes_in=2000 bytes_out=200 max_inflight=5 "
        ));
        core.reset();
        assert_eq!(core.stats().frames, 20, "nothing lost while disconnected");
    }

    #[test]
    fn a_reset_drops_the_cookies_of_inputs_still_in_flight() {
        let helper = Rc::new(RefCell::new(Helper::default()));
        let mut core = open(&helper);
        let cookie = Rc::new(());
        core.ledger.record(0, 1, cookie.clone());
        core.ledger.record(1, 1, cookie.clone());
        assert_eq!(core.ledger.take(0).map(|(d, _)| d), Some(1));
        core.reset();
        assert_eq!(Rc::strong_count(&cookie), 1);
    }
}
