//! The resettable decoder, with failover.

use std::collections::VecDeque;

use super::{Connection, Refused, Resettable};
use crate::config::{ClientConfig, DecoderParams, ServerInfo};
use crate::decode::{DecodeSession, InputPacket, OutputFrame};
use crate::error::ClientError;
use crate::failover::{
    self,
    resume::{KeptPacket, Resume},
};
use crate::stats::{SessionStats, Timings};
use crate::totals::SessionKind;
use crate::Received;

impl Connection for DecodeSession {
    type Params = DecoderParams;
    const KIND: SessionKind = SessionKind::Decode;

    fn connect(config: &ClientConfig, params: &DecoderParams) -> Result<Self, ClientError> {
        DecodeSession::connect(config, params)
    }
    fn server_info(&self) -> &ServerInfo {
        DecodeSession::server_info(self)
    }
    fn member(&self) -> &str {
        DecodeSession::member(self)
    }
    fn warnings(&self) -> &[String] {
        DecodeSession::warnings(self)
    }
    fn stats(&self) -> SessionStats {
        DecodeSession::stats(self)
    }
    fn timings(&self) -> &Timings {
        DecodeSession::timings(self)
    }
}

/// Remote decoding for a whole job, seeks included. `C` is the caller's per-packet cookie,
/// handed back with the picture decoded from that packet (matched by pts). When the helper
/// fails mid-stream and `ClientConfig::failover` is on, another helper takes over from the
/// last keyframe (see `failover::resume`).
pub struct RemoteDecoder<C = ()> {
    core: Resettable<DecodeSession, C>,
    resume: Resume,
    /// Access units a helper that took over must decode before any new one.
    replay: VecDeque<KeptPacket>,
    /// The caller ended the input: every helper that takes over gets FLUSH too.
    eof: bool,
    /// Pictures delivered since the last takeover (a takeover that yields none made no
    /// progress).
    delivered_since_takeover: u64,
}

impl<C> RemoteDecoder<C> {
    /// Connects and configures the helper.
    pub fn open(config: &ClientConfig, params: &DecoderParams) -> Result<Self, ClientError> {
        Ok(RemoteDecoder {
            core: Resettable::open(config, params.clone())?,
            resume: Resume::new(config.failover, params.codec),
            replay: VecDeque::new(),
            eof: false,
            delivered_since_takeover: 0,
        })
    }

    /// The helper of the live connection; `None` after a reset until the next call
    /// reconnects.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.core.live.as_ref().map(Connection::server_info)
    }

    /// Options the helper accepted but could not follow (last connection).
    pub fn warnings(&self) -> &[String] {
        &self.core.handshake.warnings
    }

    /// Connections made so far; it grows when a call reconnects after a reset and when a
    /// helper takes over after a failure.
    pub fn connections(&self) -> u64 {
        self.core.connections
    }

    /// Helpers that took over after a failure.
    pub fn takeovers(&self) -> u64 {
        self.core.takeovers
    }

    /// Queues one access unit; `cookie` comes back with its picture. `WouldBlock` when
    /// the window is full (or a helper that took over is still catching up): receive
    /// first. The cookie is handed back with any refusal.
    pub fn send_packet(&mut self, packet: &InputPacket<'_>, cookie: C) -> Result<(), Refused<C>> {
        match self.try_send(packet) {
            Ok(()) => {
                self.core.ledger.record(packet.pts, packet.duration, cookie);
                Ok(())
            }
            Err(error) => Err(Refused { error, cookie }),
        }
    }

    fn try_send(&mut self, packet: &InputPacket<'_>) -> Result<(), ClientError> {
        self.catch_up()?;
        if !self.replay.is_empty() {
            return Err(ClientError::WouldBlock);
        }
        match self.core.live()?.send_packet(packet) {
            Ok(()) => {
                self.resume.on_sent(packet);
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

    /// Ends the input: the helper drains its decoder and answers DONE. Idempotent.
    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        self.eof = true;
        self.catch_up()
    }

    /// Next picture with the cookie of its packet (`None` if it cannot be matched). A
    /// picture without a duration (the original helper sends none) gets its packet's.
    pub fn receive_frame(&mut self) -> Result<Received<(OutputFrame, Option<C>)>, ClientError> {
        loop {
            self.catch_up()?;
            match self.core.live()?.receive_frame() {
                Ok(Received::Item(f)) if !self.resume.deliver(f.pts) => {}
                Ok(Received::Item(mut f)) => {
                    self.delivered_since_takeover += 1;
                    let cookie = self.core.ledger.take(f.pts).map(|(duration, c)| {
                        if f.duration <= 0 && duration > 0 {
                            f.duration = duration;
                        }
                        c
                    });
                    return Ok(Received::Item((f, cookie)));
                }
                // After the end of input only a picture, DONE or an error may come back:
                // the C glue takes `Again` then as a bug.
                Ok(Received::Again) if self.replay.is_empty() && !self.eof => {
                    return Ok(Received::Again)
                }
                Ok(Received::Again) => {}
                Ok(Received::Eof) => return Ok(Received::Eof),
                Err(e) if self.core.should_take_over(&e) => self.take_over(e)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends what a helper that took over still has to decode, as far as its window
    /// allows, then FLUSH if the input has ended.
    fn catch_up(&mut self) -> Result<(), ClientError> {
        loop {
            let session = self.core.live()?;
            let result = match self.replay.front() {
                Some(_) if !session.can_send() => return Ok(()),
                Some(front) => session.send_packet(&front.as_input()),
                None if self.eof && !session.eof_sent() => session.send_eof(),
                None => return Ok(()),
            };
            match result {
                Ok(()) => {
                    if let Some(p) = self.replay.pop_front() {
                        self.resume.on_sent(&p.as_input());
                    }
                }
                Err(e) if self.core.should_take_over(&e) => self.take_over(e)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Another helper takes over after `lost`, from the keyframe before the first picture
    /// the caller has not got.
    fn take_over(&mut self, lost: ClientError) -> Result<(), ClientError> {
        if let Err(why) = self.resume.resumable() {
            let outcome = format!("cannot resume elsewhere: {why}");
            return Err(self.core.failover_error(&lost, outcome));
        }
        let progressed = self.delivered_since_takeover > 0;
        self.core.take_over(&lost, progressed)?;
        let again = self.resume.restart().expect("resumable, checked above");
        self.delivered_since_takeover = 0;
        self.core.config.log.info(format_args!(
            "{}: decoding {} access unit(s) again from the last keyframe",
            self.core.config.host,
            again.len() + self.replay.len()
        ));
        failover::requeue(again, &mut self.replay);
        Ok(())
    }

    /// Drops the connection, pending pictures and cookies (a seek); the next call
    /// reconnects with the same settings.
    pub fn reset(&mut self) {
        self.core.reset();
        self.resume.clear();
        self.replay.clear();
        self.eof = false;
        self.delivered_since_takeover = 0;
    }

    /// Counters since open, summed over every connection.
    pub fn stats(&self) -> SessionStats {
        self.core.stats()
    }

    /// The original client's summary line (`VT remote decode summary: host=…`).
    pub fn summary(&self) -> String {
        self.core.summary()
    }
}
