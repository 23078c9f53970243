//! The resettable encoder.

use super::{Connection, Refused, Resettable};
use crate::config::{ClientConfig, EncoderParams, ServerInfo};
use crate::encode::{EncodeSession, InputFrame, OutputPacket};
use crate::error::ClientError;
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
/// with the packet of that picture (matched by pts).
pub struct RemoteEncoder<C = ()> {
    core: Resettable<EncodeSession, C>,
}

impl<C> RemoteEncoder<C> {
    /// Connects and configures the helper.
    pub fn open(config: &ClientConfig, params: &EncoderParams) -> Result<Self, ClientError> {
        Ok(RemoteEncoder {
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

    /// Parameter sets as Annex B (what FFmpeg keeps in `extradata`), from the last
    /// connection: unchanged until a reconnect after [`reset`](Self::reset) replaces them.
    pub fn extradata_annexb(&self) -> &[u8] {
        &self.core.handshake.extradata
    }

    /// Connections made so far; it grows when a call reconnects after a reset, which is
    /// when [`warnings`](Self::warnings) and [`extradata_annexb`](Self::extradata_annexb)
    /// change.
    pub fn connections(&self) -> u64 {
        self.core.connections
    }

    /// Queues one picture; `cookie` comes back with its packet. `WouldBlock` when the
    /// window is full: receive first. The cookie is handed back with any refusal.
    pub fn send_frame(&mut self, frame: &InputFrame<'_>, cookie: C) -> Result<(), Refused<C>> {
        match self.core.live().and_then(|s| s.send_frame(frame)) {
            Ok(()) => {
                self.core.ledger.record(frame.pts, frame.duration, cookie);
                Ok(())
            }
            Err(error) => Err(Refused { error, cookie }),
        }
    }

    /// Ends the input: the helper drains its encoder and answers DONE. Idempotent.
    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        self.core.live()?.send_eof()
    }

    /// Next packet with the cookie of its picture (`None` if it cannot be matched). Blocks
    /// (up to the timeout) only when the window is full or the input has ended.
    pub fn receive_packet(&mut self) -> Result<Received<(OutputPacket, Option<C>)>, ClientError> {
        let received = self.core.live()?.receive_packet()?;
        Ok(received.map(|p| {
            let cookie = self.core.ledger.take(p.pts).map(|(_, c)| c);
            (p, cookie)
        }))
    }

    /// Drops the connection, pending packets and cookies; the next call reconnects with
    /// the same settings.
    pub fn reset(&mut self) {
        self.core.reset();
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
