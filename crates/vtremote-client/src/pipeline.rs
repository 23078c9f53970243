//! A configured session's machinery: the writer thread (compress, write), the reader thread
//! (read, check, decompress, answer PING) and the bounded channels between them and the
//! caller. The flow rules that drive it are in `flow.rs`, behind `Link`.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use vtremote_proto::{
    Codec, Configure, ConfigureAck, FrameGeometry, Limits, Message, PlaneCompressor,
    PlaneDecompressor, WireCompression,
};

use crate::config::{ClientConfig, ServerInfo};
use crate::connection::{handshake, read_message, Configured};
use crate::error::ClientError;
use crate::flow::Link;
use crate::log::Logger;

/// Messages we skip (unknown types, PING, misdirected ones) in a row before the server is
/// taken for a broken or hostile peer. Skipping keeps us compatible with servers that send
/// something we do not know; a server that sends nothing else would otherwise only time
/// out, after spending our CPU on every message of its flood.
const MAX_SKIPPED_IN_A_ROW: u32 = 10_000;

/// Reader-channel room beyond the window: DONE, an ERROR, a failure report.
const READER_SLACK: usize = 4;

/// Writer-channel room beyond the window: FLUSH and PONGs queue behind the inputs.
const WRITER_SLACK: usize = 2;

/// Wire buffers the writer hands back for reuse; more would only hold memory.
const RECYCLED_BUFFERS: usize = 4;

/// Counts consecutive messages that carry nothing for the session.
#[derive(Default)]
struct SkippedRun {
    count: u32,
}

impl SkippedRun {
    /// `Some(error)` once the run is too long; any useful message ends the run.
    fn note(&mut self, msg: &Message, host: &str) -> Option<ClientError> {
        let useful = matches!(
            msg,
            Message::Packet(_)
                | Message::Frame(_)
                | Message::Skipped(_)
                | Message::Done
                | Message::Error(_)
        );
        if useful {
            self.count = 0;
            return None;
        }
        self.count += 1;
        (self.count > MAX_SKIPPED_IN_A_ROW).then(|| ClientError::Unexpected {
            host: host.into(),
            got: format!("{} messages in a row ending with {}", self.count, msg.ty()),
            expected: "PACKET, FRAME or DONE",
        })
    }
}

/// What the reader thread hands to the caller.
pub(crate) enum Incoming<F> {
    Packet(vtremote_proto::Packet),
    Frame(F),
    /// SKIPPED: this many packets will produce no picture (decode mode).
    Skipped(u32),
    Done,
    Failed(ClientError),
}

/// What waiting on the reader produced.
pub(crate) enum Next<F> {
    Item(Incoming<F>),
    /// Non-blocking and nothing ready.
    Empty,
    /// Blocking and nothing arrived within the timeout.
    TimedOut,
    /// The reader thread is gone without a last word (it always sends one when it can).
    Disconnected,
}

/// What the caller hands to the writer thread.
pub(crate) enum Outgoing {
    /// A complete message, ready to write.
    Bytes(Vec<u8>),
    /// A picture to write as a FRAME (encode mode), shared with the failover record that
    /// may send it again to another helper.
    Frame(std::sync::Arc<crate::encode::PendingFrame>),
}

/// A configured session: socket plus reader and writer threads.
pub(crate) struct Pipeline<F: Send + 'static> {
    pub host: String,
    pub info: ServerInfo,
    pub ack: ConfigureAck,
    /// What this session's FRAMEs use: the request, or zstd where the helper lacks it.
    pub compression: WireCompression,
    tx: Option<SyncSender<Outgoing>>,
    rx: Receiver<Incoming<F>>,
    /// Wire buffers returned by the writer for reuse (large allocations page-fault).
    pub recycled: Receiver<Vec<u8>>,
    bytes_sent: Arc<AtomicU64>,
    bytes_received: Arc<AtomicU64>,
    timeout: Duration,
    stream: TcpStream,
    threads: Vec<JoinHandle<()>>,
}

/// Turns a received FRAME into the caller's frame type (decode mode) on the reader thread,
/// with the session's decompressor (negotiated compression, state kept across frames).
pub(crate) type FrameHandler<F> =
    Box<dyn FnMut(vtremote_proto::Frame, &mut PlaneDecompressor) -> Result<F, ClientError> + Send>;

/// Everything the writer thread owns.
struct Writer<F> {
    host: String,
    stream: TcpStream,
    inputs: Receiver<Outgoing>,
    compression: WireCompression,
    pix_fmt: vtremote_proto::PixelFormat,
    /// Where a failure is reported: the reader's channel, so the caller sees it in order
    /// with the outputs before it.
    failed: SyncSender<Incoming<F>>,
    recycle: SyncSender<Vec<u8>>,
    sent: Arc<AtomicU64>,
}

/// Everything the reader thread owns.
struct Reader<F> {
    host: String,
    stream: TcpStream,
    limits: Limits,
    decompressor: PlaneDecompressor,
    on_frame: FrameHandler<F>,
    outputs: SyncSender<Incoming<F>>,
    pongs: SyncSender<Outgoing>,
    received: Arc<AtomicU64>,
    log: Logger,
}

impl<F> Writer<F> {
    /// Writes until the caller closes the channel or something fails; a failure is
    /// reported once and ends the thread.
    fn run(mut self) {
        let mut compressor = match PlaneCompressor::new(self.compression, self.pix_fmt) {
            Ok(c) => c,
            Err(e) => {
                return self.report(ClientError::io(&self.host, "creating the compressor", e))
            }
        };
        let mut wire = Vec::new();
        let mut scratch = Vec::new();
        while let Ok(item) = self.inputs.recv() {
            let result = match item {
                Outgoing::Bytes(b) => self.stream.write_all(&b).map(|_| b.len()),
                Outgoing::Frame(f) => {
                    let bytes = match f.wire(&mut wire, &mut compressor, &mut scratch) {
                        Ok(b) => b,
                        Err(cause) => {
                            return self.report(ClientError::Protocol {
                                host: self.host.clone(),
                                what: "encoding FRAME".into(),
                                cause,
                            })
                        }
                    };
                    let r = self.stream.write_all(bytes).map(|_| bytes.len());
                    // Held for failover: its buffer goes back when the record lets go.
                    if let Ok(f) = Arc::try_unwrap(f) {
                        let _ = self.recycle.try_send(f.into_buffer());
                    }
                    r
                }
            };
            match result {
                Ok(n) => {
                    self.sent.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    return self.report(ClientError::io(&self.host, "sending to the server", e))
                }
            }
        }
    }

    /// try_send: a full channel already holds a failure or outputs the caller has yet to
    /// read, and a writer must never wait on the caller.
    fn report(&self, e: ClientError) {
        let _ = self.failed.try_send(Incoming::Failed(e));
    }
}

impl<F> Reader<F> {
    /// Reads until DONE, a failure, or the caller going away; every ending but the last is
    /// reported to the caller.
    fn run(mut self) {
        let mut skipped = SkippedRun::default();
        loop {
            let msg = match read_message(
                &mut self.stream,
                &self.limits,
                &self.host,
                "reading from the server",
                Some(&self.received),
            ) {
                Ok(m) => m,
                Err(e) => {
                    let _ = self.outputs.send(Incoming::Failed(e));
                    return;
                }
            };
            if let Some(e) = skipped.note(&msg, &self.host) {
                let _ = self.outputs.send(Incoming::Failed(e));
                return;
            }
            let item = match msg {
                Message::Packet(p) => Incoming::Packet(p),
                Message::Frame(f) => match (self.on_frame)(f, &mut self.decompressor) {
                    Ok(f) => Incoming::Frame(f),
                    Err(e) => Incoming::Failed(e),
                },
                Message::Skipped(n) => Incoming::Skipped(n),
                Message::Done => Incoming::Done,
                Message::Error(error) => Incoming::Failed(ClientError::Server {
                    host: self.host.clone(),
                    error,
                }),
                Message::Ping => {
                    let pong = Message::Pong.to_bytes().expect("PONG encodes");
                    // Best effort: a writer backed up by a helper that does not read must
                    // not stall the reader too.
                    let _ = self.pongs.try_send(Outgoing::Bytes(pong));
                    continue;
                }
                // Unknown or misdirected messages are skipped, like both originals.
                other => {
                    if skipped.count == 1 {
                        self.log.debug(format_args!(
                            "{}: skipping {} (not used by this session)",
                            self.host,
                            other.ty()
                        ));
                    }
                    continue;
                }
            };
            let stop = matches!(item, Incoming::Done | Incoming::Failed(_));
            if self.outputs.send(item).is_err() || stop {
                return;
            }
        }
    }
}

fn clone_stream(stream: &TcpStream, host: &str) -> Result<TcpStream, ClientError> {
    stream
        .try_clone()
        .map_err(|e| ClientError::io(host, "cloning the socket", e))
}

impl<F: Send + 'static> Pipeline<F> {
    /// Connects, handshakes, configures, then starts the writer and reader threads.
    pub fn open(
        config: &ClientConfig,
        codec: Codec,
        configure: Configure,
        geometry: FrameGeometry,
        on_frame: FrameHandler<F>,
    ) -> Result<Self, ClientError> {
        let received = Arc::new(AtomicU64::new(0));
        let Configured {
            host,
            stream,
            info,
            ack,
            compression,
            sent,
        } = handshake(config, codec, configure, &received)?;
        let sent = Arc::new(AtomicU64::new(sent));

        let window = config.inflight.max(1) as usize;
        let (tx, writer_rx) = mpsc::sync_channel::<Outgoing>(window + WRITER_SLACK);
        // Bounded: at most one output per input is legitimate, so the window plus a little
        // holds everything a helper may send; a flooding one is slowed by TCP instead of
        // filling our memory while the caller catches up.
        let (in_tx, rx) = mpsc::sync_channel::<Incoming<F>>(window + READER_SLACK);
        let (recycle_tx, recycled) = mpsc::sync_channel::<Vec<u8>>(RECYCLED_BUFFERS);

        let writer = Writer {
            host: host.clone(),
            stream: clone_stream(&stream, &host)?,
            inputs: writer_rx,
            compression,
            pix_fmt: geometry.pix_fmt,
            failed: in_tx.clone(),
            recycle: recycle_tx,
            sent: sent.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("vtremote-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| ClientError::io(&host, "starting the writer thread", e))?;
        let reader = Reader {
            host: host.clone(),
            stream: clone_stream(&stream, &host)?,
            limits: Limits::with_geometry(&geometry),
            decompressor: PlaneDecompressor::new(compression, geometry.pix_fmt)
                .map_err(|e| ClientError::io(&host, "creating the decompressor", e))?,
            on_frame,
            outputs: in_tx,
            pongs: tx.clone(),
            received: received.clone(),
            log: config.log.clone(),
        };
        let reader = std::thread::Builder::new()
            .name("vtremote-reader".into())
            .spawn(move || reader.run())
            .map_err(|e| ClientError::io(&host, "starting the reader thread", e))?;
        Ok(Pipeline {
            host,
            info,
            ack,
            compression,
            tx: Some(tx),
            rx,
            recycled,
            bytes_sent: sent,
            bytes_received: received,
            timeout: config.timeout,
            stream,
            threads: vec![writer, reader],
        })
    }

    pub fn timeout_error(&self, what: &'static str) -> ClientError {
        ClientError::Timeout {
            host: self.host.clone(),
            ms: self.timeout.as_millis(),
            what,
        }
    }

    pub fn timeout_ms(&self) -> u128 {
        self.timeout.as_millis()
    }

    /// Bytes (sent, received) on this connection so far, message headers included.
    pub fn traffic(&self) -> (u64, u64) {
        (
            self.bytes_sent.load(Ordering::Relaxed),
            self.bytes_received.load(Ordering::Relaxed),
        )
    }
}

impl<F: Send + 'static> Link<F> for Pipeline<F> {
    fn send(&self, item: Outgoing) -> Result<(), ClientError> {
        match &self.tx {
            Some(tx) => tx.send(item).map_err(|_| ClientError::Closed {
                host: self.host.clone(),
                what: "while sending (writer stopped)",
            }),
            None => Err(ClientError::InvalidArgument(
                "input after end of stream".into(),
            )),
        }
    }

    fn next(&self, block: bool) -> Next<F> {
        if !block {
            return match self.rx.try_recv() {
                Ok(item) => Next::Item(item),
                Err(TryRecvError::Empty) => Next::Empty,
                Err(TryRecvError::Disconnected) => Next::Disconnected,
            };
        }
        match self.rx.recv_timeout(self.timeout) {
            Ok(item) => Next::Item(item),
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Next::Disconnected,
        }
    }
}

impl<F: Send + 'static> Drop for Pipeline<F> {
    fn drop(&mut self) {
        self.tx = None;
        // A reader blocked on a full channel must see it closed, or joining it would hang.
        let (_, closed) = mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.rx, closed));
        // Unblocks the reader; the writer ends when its channel closes.
        let _ = self.stream.shutdown(Shutdown::Both);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_skipped_messages_is_an_error_and_a_useful_one_resets_the_count() {
        let mut run = SkippedRun::default();
        for _ in 0..MAX_SKIPPED_IN_A_ROW {
            assert!(run.note(&Message::Ping, "h:1").is_none());
        }
        assert!(run.note(&Message::Done, "h:1").is_none());
        for _ in 0..MAX_SKIPPED_IN_A_ROW {
            assert!(run.note(&Message::Pong, "h:1").is_none());
        }
        let e = run.note(&Message::Pong, "h:1").expect("one too many");
        let text = e.to_string();
        assert!(
            text.starts_with("h:1: unexpected 10001 messages in a row"),
            "{text}"
        );
    }
}
