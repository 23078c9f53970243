//! The resettable decoder.

use super::{Connection, Refused, Resettable};
use crate::config::{ClientConfig, DecoderParams, ServerInfo};
use crate::decode::{DecodeSession, InputPacket, OutputFrame};
use crate::error::ClientError;
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
/// handed back with the picture decoded from that packet (matched by pts).
pub struct RemoteDecoder<C = ()> {
    core: Resettable<DecodeSession, C>,
}

impl<C> RemoteDecoder<C> {
    /// Connects and configures the helper.
    pub fn open(config: &ClientConfig, params: &DecoderParams) -> Result<Self, ClientError> {
        Ok(RemoteDecoder {
            core: Resettable::open(config, params.clone())?,
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

    /// Connections made so far; it grows when a call reconnects after a reset.
    pub fn connections(&self) -> u64 {
        self.core.connections
    }

    /// Queues one access unit; `cookie` comes back with its picture. `WouldBlock` when
    /// the window is full: receive first. The cookie is handed back with any refusal.
    pub fn send_packet(&mut self, packet: &InputPacket<'_>, cookie: C) -> Result<(), Refused<C>> {
        match self.core.live().and_then(|s| s.send_packet(packet)) {
            Ok(()) => {
                self.core.ledger.record(packet.pts, packet.duration, cookie);
                Ok(())
            }
            Err(error) => Err(Refused { error, cookie }),
        }
    }

    /// Ends the input: the helper drains its decoder and answers DONE. Idempotent.
    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        self.core.live()?.send_eof()
    }

    /// Next picture with the cookie of its packet (`None` if it cannot be matched). A
    /// picture without a duration (the original helper sends none) gets its packet's.
    pub fn receive_frame(&mut self) -> Result<Received<(OutputFrame, Option<C>)>, ClientError> {
        let received = self.core.live()?.receive_frame()?;
        Ok(received.map(|mut f| {
            let cookie = self.core.ledger.take(f.pts).map(|(duration, c)| {
                if f.duration <= 0 && duration > 0 {
                    f.duration = duration;
                }
                c
            });
            (f, cookie)
        }))
    }

    /// Drops the connection, pending pictures and cookies (a seek); the next call
    /// reconnects with the same settings.
    pub fn reset(&mut self) {
        self.core.reset();
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
