//! The resettable encoder, with failover.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::{Connection, Refused, Resettable};
use crate::config::{ClientConfig, EncoderParams, ServerInfo};
use crate::encode::{EncodeSession, InputFrame, OutputPacket, PendingFrame};
use crate::error::ClientError;
use crate::failover::{self, splice::Splice};
use crate::stats::{SessionStats, Timings};
use crate::totals::SessionKind;
use crate::Received;

impl Connection for EncodeSession {
    type Params = EncoderParams;
    const KIND: SessionKind = SessionKind::Encode;

    fn connect(config: &ClientConfig, params: &EncoderParams) -> Result<Self, ClientError> {
        EncodeSession::connect(config, params)
    }
    fn server_info(&self) -> &ServerInfo {
        EncodeSession::server_info(self)
    }
    fn member(&self) -> &str {
        EncodeSession::member(self)
    }
    fn warnings(&self) -> &[String] {
        EncodeSession::warnings(self)
    }
    fn extradata(&self) -> &[u8] {
        self.extradata_annexb()
    }
    fn stats(&self) -> SessionStats {
        EncodeSession::stats(self)
    }
    fn timings(&self) -> &Timings {
        EncodeSession::timings(self)
    }
}

/// Remote encoding for a whole job. `C` is the caller's per-picture cookie, handed back
/// with the packet of that picture (matched by pts). When the helper fails mid-stream and
/// `ClientConfig::failover` is on, another helper takes over (see `failover::splice`).
pub struct RemoteEncoder<C = ()> {
    core: Resettable<EncodeSession, C>,
    splice: Splice<Arc<PendingFrame>>,
    /// Pictures a helper that took over must encode before any new one.
    replay: VecDeque<Arc<PendingFrame>>,
    /// The caller ended the input: every helper that takes over gets FLUSH too.
    eof: bool,
    /// DONE arrived: only released packets are left.
    done: bool,
    /// Buffers of pictures the failover record let go, for the next pictures: a fresh
    /// multi-megabyte allocation per picture would page-fault on every frame.
    spare: Vec<Vec<u8>>,
    /// Pictures the helper never answered that the log has mentioned.
    lost_reported: u64,
}

/// Spare picture buffers kept at most.
const SPARE_BUFFERS: usize = 4;

impl<C> RemoteEncoder<C> {
    /// Connects and configures the helper.
    pub fn open(config: &ClientConfig, params: &EncoderParams) -> Result<Self, ClientError> {
        Ok(RemoteEncoder {
            core: Resettable::open(config, params.clone())?,
            splice: Splice::new(config.failover),
            replay: VecDeque::new(),
            eof: false,
            done: false,
            spare: Vec::new(),
            lost_reported: 0,
        })
    }

    /// The helper of the live connection; `None` after a reset until the next call
    /// reconnects.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.core.live.as_ref().map(Connection::server_info)
    }

    /// Options the helper accepted but could not follow (first connection of the stream).
    pub fn warnings(&self) -> &[String] {
        &self.core.handshake.warnings
    }

    /// Parameter sets as Annex B (what FFmpeg keeps in `extradata`), from the connection
    /// the stream started on: unchanged until a reconnect after [`reset`](Self::reset)
    /// replaces them. A helper that takes over after a failure puts its own in band.
    pub fn extradata_annexb(&self) -> &[u8] {
        &self.core.handshake.extradata
    }

    /// Connections made so far; it grows when a call reconnects after a reset (which is
    /// when [`warnings`](Self::warnings) and [`extradata_annexb`](Self::extradata_annexb)
    /// change) and when a helper takes over after a failure.
    pub fn connections(&self) -> u64 {
        self.core.connections
    }

    /// Helpers that took over after a failure.
    pub fn takeovers(&self) -> u64 {
        self.core.takeovers
    }

    /// Queues one picture; `cookie` comes back with its packet. `WouldBlock` when the
    /// window is full (or a helper that took over is still catching up): receive first.
    /// The cookie is handed back with any refusal.
    pub fn send_frame(&mut self, frame: &InputFrame<'_>, cookie: C) -> Result<(), Refused<C>> {
        match self.try_send(frame) {
            Ok(()) => {
                self.core.ledger.record(frame.pts, frame.duration, cookie);
                Ok(())
            }
            Err(error) => Err(Refused { error, cookie }),
        }
    }

    fn try_send(&mut self, frame: &InputFrame<'_>) -> Result<(), ClientError> {
        self.catch_up()?;
        if !self.replay.is_empty() {
            return Err(ClientError::WouldBlock);
        }
        let t0 = Instant::now();
        let session = self.core.live()?;
        if !session.can_send() {
            // The window is full, or the session failed: the check says which.
            return match session.check_send() {
                Err(e) if self.core.should_take_over(&e) => {
                    self.take_over(e)?;
                    Err(ClientError::WouldBlock)
                }
                Err(e) => Err(e),
                Ok(()) => Err(ClientError::WouldBlock),
            };
        }
        let buf = match self.spare.pop() {
            Some(b) => b,
            None => session.spare_buffer(),
        };
        let pending = Arc::new(session.pack(frame, buf)?);
        match session.submit(pending.clone(), t0) {
            Ok(()) => {
                self.splice.on_sent(frame.pts, pending);
                Ok(())
            }
            Err(e) if self.core.should_take_over(&e) => {
                self.take_over(e)?;
                // Not taken: the caller sends it again after receiving.
                Err(ClientError::WouldBlock)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends the input: the helper drains its encoder and answers DONE. Idempotent.
    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        self.eof = true;
        self.catch_up()
    }

    /// Next packet with the cookie of its picture (`None` if it cannot be matched). Blocks
    /// (up to the timeout) only when the window is full or the input has ended.
    pub fn receive_packet(&mut self) -> Result<Received<(OutputPacket, Option<C>)>, ClientError> {
        loop {
            if let Some(p) = self.splice.take_ready() {
                let cookie = self.core.ledger.take(p.pts).map(|(_, c)| c);
                return Ok(Received::Item((p, cookie)));
            }
            if self.done {
                return Ok(Received::Eof);
            }
            self.catch_up()?;
            match self.core.live()?.receive_packet() {
                Ok(Received::Item(p)) => {
                    self.splice.on_packet(p);
                    self.after_packets()?;
                }
                // After the end of input nothing but a packet, DONE or an error may come
                // back: the C glue takes `Again` then as a bug.
                Ok(Received::Again) if self.replay.is_empty() && !self.eof => {
                    return Ok(Received::Again)
                }
                Ok(Received::Again) => {}
                Ok(Received::Eof) => {
                    self.splice.on_done();
                    self.after_packets()?;
                    self.done = true;
                }
                Err(e) if self.core.should_take_over(&e) => self.take_over(e)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// What the failover record found in the packets it just took: a timestamp it cannot
    /// keep valid (the job cannot go on), pictures the helper never answered (said once
    /// each: they cannot be resumed), buffers to reuse.
    fn after_packets(&mut self) -> Result<(), ClientError> {
        if let Some(why) = self.splice.take_fault() {
            let outcome = format!("cannot keep the stream's timestamps valid: {why}");
            let lost = self.core.last_lost.clone();
            return Err(self.core.failover_error(&lost, outcome));
        }
        if self.splice.lost > self.lost_reported {
            self.core.config.log.warn(format_args!(
                "{}: the helper returned no packet for {} picture(s); they are missing from the output",
                self.core.config.host,
                self.splice.lost - self.lost_reported
            ));
            self.lost_reported = self.splice.lost;
        }
        self.reuse_finished();
        Ok(())
    }

    /// Keeps the buffers of pictures nobody holds any more (the writer may still be
    /// sending one whose packet already came back: that one is simply dropped later).
    fn reuse_finished(&mut self) {
        for f in self.splice.take_finished() {
            if self.spare.len() < SPARE_BUFFERS {
                if let Ok(f) = Arc::try_unwrap(f) {
                    self.spare.push(f.into_buffer());
                }
            }
        }
    }

    /// Sends what a helper that took over still has to encode, as far as its window allows,
    /// then FLUSH if the input has ended.
    fn catch_up(&mut self) -> Result<(), ClientError> {
        loop {
            let session = self.core.live()?;
            let result = match self.replay.front() {
                Some(_) if !session.can_send() => return Ok(()),
                Some(front) => session.submit(front.clone(), Instant::now()),
                None if self.eof && !session.eof_sent() => session.send_eof(),
                None => return Ok(()),
            };
            match result {
                Ok(()) => {
                    if let Some(f) = self.replay.pop_front() {
                        self.splice.on_sent(f.pts(), f);
                    }
                }
                Err(e) if self.core.should_take_over(&e) => self.take_over(e)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Another helper takes over after `lost`: the pictures whose packets the caller has
    /// not got are encoded again, from an IDR, before anything new.
    fn take_over(&mut self, lost: ClientError) -> Result<(), ClientError> {
        if let Err(why) = self.splice.resumable() {
            let outcome = format!("cannot resume elsewhere: {why}");
            return Err(self.core.failover_error(&lost, outcome));
        }
        let progressed = self.splice.released_since_splice > 0;
        self.core.take_over(&lost, progressed)?;
        let again = self.splice.restart().expect("resumable, checked above");
        let headers = self.core.live.as_ref().map(|s| s.extradata().to_vec());
        let original = &self.core.handshake.extradata;
        self.splice.lead_with(headers.unwrap_or_default(), original);
        self.core.config.log.info(format_args!(
            "{}: encoding {} picture(s) again from an IDR",
            self.core.config.host,
            again.len() + self.replay.len()
        ));
        failover::requeue(again, &mut self.replay);
        Ok(())
    }

    /// Drops the connection, pending packets and cookies; the next call reconnects with
    /// the same settings.
    pub fn reset(&mut self) {
        self.core.reset();
        self.splice.clear();
        self.replay.clear();
        self.eof = false;
        self.done = false;
        self.lost_reported = 0;
    }

    /// Counters since open, summed over every connection.
    pub fn stats(&self) -> SessionStats {
        self.core.stats()
    }

    /// The original client's summary line (`VT remote summary: host=… frames=…`).
    pub fn summary(&self) -> String {
        self.core.summary()
    }
}
