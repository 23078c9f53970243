//! Connecting, the HELLO/CONFIGURE handshake, and the reader/writer threads that carry a
//! configured session.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vtremote_proto::{
    Codec, Configure, ConfigureAck, FrameGeometry, Header, Hello, HelloStatus, Limits, Message,
    PlaneCompressor, HEADER_LEN,
};

use crate::config::{ClientConfig, ServerInfo, DEFAULT_PORT};
use crate::error::ClientError;
use crate::stats::Timings;

/// Splits `host:port`, `[v6]:port`, bare `host` or bare IPv6 into host and port.
pub(crate) fn split_host_port(spec: &str) -> Result<(String, u16), ClientError> {
    let bad = || ClientError::InvalidArgument(format!("bad host {spec:?}: expected HOST:PORT"));
    if spec.is_empty() {
        return Err(ClientError::InvalidArgument(
            "no host given: expected HOST:PORT of a vtremoted helper".into(),
        ));
    }
    if let Some(rest) = spec.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        return Ok((h.to_string(), port));
    }
    match spec.matches(':').count() {
        0 => Ok((spec.to_string(), DEFAULT_PORT)),
        1 => {
            let (h, p) = spec.split_once(':').expect("one colon");
            if h.is_empty() {
                return Err(bad());
            }
            Ok((h.to_string(), p.parse().map_err(|_| bad())?))
        }
        // A bare IPv6 literal has several colons and no port.
        _ => Ok((spec.to_string(), DEFAULT_PORT)),
    }
}

pub(crate) fn connect(config: &ClientConfig) -> Result<(TcpStream, SocketAddr), ClientError> {
    let host = &config.host;
    let (name, port) = split_host_port(host)?;
    let addrs: Vec<SocketAddr> = (name.as_str(), port)
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            host: host.clone(),
            cause: source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, config.timeout) {
            Ok(s) => {
                s.set_nodelay(true)
                    .and_then(|_| s.set_read_timeout(Some(config.timeout)))
                    .and_then(|_| s.set_write_timeout(Some(config.timeout)))
                    .map_err(|e| ClientError::io(host, "configuring the socket", e))?;
                return Ok((s, addr));
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other("no address"));
    Err(match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ClientError::Refused { host: host.clone() },
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ClientError::Timeout {
            host: host.clone(),
            ms: config.timeout.as_millis(),
            what: "connecting",
        },
        _ => ClientError::Connect {
            host: host.clone(),
            cause: e,
        },
    })
}

/// Reads one whole message, checking the header against `limits` before allocating.
pub(crate) fn read_message(
    stream: &mut TcpStream,
    limits: &Limits,
    host: &str,
    what: &'static str,
    counter: Option<&AtomicU64>,
) -> Result<Message, ClientError> {
    let mut h = [0u8; HEADER_LEN];
    stream
        .read_exact(&mut h)
        .map_err(|e| ClientError::io(host, what, e))?;
    let proto = |what: &str, source| ClientError::Protocol {
        host: host.into(),
        what: what.into(),
        cause: source,
    };
    let header = Header::decode(&h).map_err(|e| proto("reading a message header", e))?;
    limits
        .check(&header)
        .map_err(|e| proto("message size", e))?;
    let mut payload = vec![0u8; header.len as usize];
    stream
        .read_exact(&mut payload)
        .map_err(|e| ClientError::io(host, what, e))?;
    if let Some(c) = counter {
        c.fetch_add(HEADER_LEN as u64 + header.len as u64, Ordering::Relaxed);
    }
    Message::decode(header.ty, payload).map_err(|e| proto(&format!("decoding {}", header.ty), e))
}

fn write_message(
    stream: &mut TcpStream,
    msg: &Message,
    host: &str,
    what: &'static str,
) -> Result<usize, ClientError> {
    let bytes = msg.to_bytes().map_err(|source| ClientError::Protocol {
        host: host.into(),
        what: format!("encoding {}", msg.ty()),
        cause: source,
    })?;
    stream
        .write_all(&bytes)
        .map_err(|e| ClientError::io(host, what, e))?;
    Ok(bytes.len())
}

fn with_timeout_ms(e: ClientError, ms: u128) -> ClientError {
    match e {
        ClientError::Timeout { host, what, .. } => ClientError::Timeout { host, ms, what },
        other => other,
    }
}

/// Sends HELLO and interprets HELLO_ACK.
fn hello(
    stream: &mut TcpStream,
    config: &ClientConfig,
    codec: Codec,
    addr: SocketAddr,
) -> Result<(ServerInfo, u64, u64), ClientError> {
    let host = config.host.as_str();
    let ms = config.timeout.as_millis();
    let sent = write_message(
        stream,
        &Message::Hello(Hello {
            token: config.token.clone(),
            codec: codec.wire_name().into(),
            client_name: config.client_name.clone(),
            client_build: config.client_build.clone(),
        }),
        host,
        "sending HELLO",
    )
    .map_err(|e| with_timeout_ms(e, ms))?;
    let msg = read_message(
        stream,
        &Limits::default(),
        host,
        "waiting for HELLO_ACK (is it a vtremote server?)",
        None,
    )
    .map_err(|e| match e {
        ClientError::Protocol {
            cause: vtremote_proto::ProtoError::BadMagic(_),
            ..
        } => ClientError::Unexpected {
            host: host.into(),
            got: "non-vtremote bytes".into(),
            expected: "HELLO_ACK",
        },
        ClientError::Closed { host, .. } => ClientError::Closed {
            host,
            what: "before HELLO_ACK (not a vtremote server, or it refused the connection)",
        },
        e => with_timeout_ms(e, ms),
    })?;
    let ack = match msg {
        Message::HelloAck(a) => a,
        Message::Error(error) => {
            return Err(ClientError::Server {
                host: host.into(),
                error,
            })
        }
        other => {
            return Err(ClientError::Unexpected {
                host: host.into(),
                got: other.ty().to_string(),
                expected: "HELLO_ACK",
            })
        }
    };
    match ack.status {
        HelloStatus::Accepted => {}
        HelloStatus::AuthFailed => return Err(ClientError::AuthFailed { host: host.into() }),
        HelloStatus::Busy => {
            return Err(ClientError::Busy {
                host: host.into(),
                active: ack.active_sessions,
                max: ack.max_sessions,
            })
        }
        HelloStatus::Other(c) => {
            return Err(ClientError::Server {
                host: host.into(),
                error: vtremote_proto::ErrorMsg::new(
                    vtremote_proto::ErrorCode::Other(c as u32),
                    format!("HELLO_ACK status {c}"),
                ),
            })
        }
    }
    let info = ServerInfo {
        address: addr.to_string(),
        name: ack.server_name,
        version: ack.server_version,
        codecs: ack.codecs,
        max_sessions: ack.max_sessions,
        active_sessions: ack.active_sessions,
    };
    Ok((info, sent as u64, 0))
}

pub(crate) fn probe(config: &ClientConfig, codec: Codec) -> Result<ServerInfo, ClientError> {
    let (mut stream, addr) = connect(config)?;
    let (info, _, _) = hello(&mut stream, config, codec, addr)?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(info)
}

/// Messages we skip (unknown types, PING, misdirected ones) in a row before the server is
/// taken for a broken or hostile peer. Skipping keeps us compatible with servers that send
/// something we do not know; a server that sends nothing else would otherwise only time
/// out, after spending our CPU on every message of its flood.
const MAX_SKIPPED_IN_A_ROW: u32 = 10_000;

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
            Message::Packet(_) | Message::Frame(_) | Message::Done | Message::Error(_)
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
}

/// What the caller hands to the writer thread.
pub(crate) enum Outgoing {
    /// A complete message, ready to write.
    Bytes(Vec<u8>),
    /// Tightly packed planes to compress into a FRAME (encode mode).
    Frame(crate::encode::PendingFrame),
}

/// A configured session: socket plus reader and writer threads.
pub(crate) struct Pipeline<F: Send + 'static> {
    pub host: String,
    pub info: ServerInfo,
    pub ack: ConfigureAck,
    pub tx: Option<SyncSender<Outgoing>>,
    pub rx: Receiver<Incoming<F>>,
    /// Wire buffers returned by the writer for reuse (large allocations page-fault).
    pub recycled: Receiver<Vec<u8>>,
    pub bytes_sent: Arc<AtomicU64>,
    pub bytes_received: Arc<AtomicU64>,
    pub timeout: Duration,
    stream: TcpStream,
    threads: Vec<JoinHandle<()>>,
}

/// Turns a received FRAME into the caller's frame type (decode mode) on the reader thread.
pub(crate) type FrameHandler<F> =
    Box<dyn FnMut(vtremote_proto::Frame) -> Result<F, ClientError> + Send>;

impl<F: Send + 'static> Pipeline<F> {
    pub fn open(
        config: &ClientConfig,
        codec: Codec,
        configure: Configure,
        geometry: FrameGeometry,
        mut on_frame: FrameHandler<F>,
    ) -> Result<Self, ClientError> {
        let host = config.host.clone();
        let ms = config.timeout.as_millis();
        let (mut stream, addr) = connect(config)?;
        let (info, hello_bytes, _) = hello(&mut stream, config, codec, addr)?;
        let cfg_bytes = write_message(
            &mut stream,
            &Message::Configure(configure),
            &host,
            "sending CONFIGURE",
        )
        .map_err(|e| with_timeout_ms(e, ms))?;
        // Opening a hardware session or x265 can take a while; allow more than one timeout.
        let received = Arc::new(AtomicU64::new(0));
        let msg = read_message(
            &mut stream,
            &Limits::default(),
            &host,
            "waiting for CONFIGURE_ACK",
            Some(&received),
        )
        .map_err(|e| match e {
            ClientError::Closed { host, .. } => ClientError::Closed {
                host,
                what: "after CONFIGURE (the server refused this configuration; see its log)",
            },
            e => with_timeout_ms(e, ms),
        })?;
        let ack = match msg {
            Message::ConfigureAck(a) if a.status == 0 => a,
            Message::ConfigureAck(a) => {
                return Err(ClientError::Server {
                    host,
                    error: vtremote_proto::ErrorMsg::new(
                        vtremote_proto::ErrorCode::Other(a.status as u32),
                        format!("CONFIGURE_ACK status {}", a.status),
                    ),
                })
            }
            Message::Error(error) => return Err(ClientError::Server { host, error }),
            other => {
                return Err(ClientError::Unexpected {
                    host,
                    got: other.ty().to_string(),
                    expected: "CONFIGURE_ACK",
                })
            }
        };
        // From here the caller's channel waits carry the timeout; the reader may idle for
        // as long as the caller's pipeline stalls.
        stream
            .set_read_timeout(None)
            .map_err(|e| ClientError::io(&host, "configuring the socket", e))?;
        let sent = Arc::new(AtomicU64::new(hello_bytes + cfg_bytes as u64));
        let window = config.inflight.max(1) as usize;
        let (tx, writer_rx) = mpsc::sync_channel::<Outgoing>(window + 2);
        let (in_tx, rx) = mpsc::channel::<Incoming<F>>();
        let (recycle_tx, recycled) = mpsc::sync_channel::<Vec<u8>>(4);

        let mut writer_stream = stream
            .try_clone()
            .map_err(|e| ClientError::io(&host, "cloning the socket", e))?;
        let mut reader_stream = stream
            .try_clone()
            .map_err(|e| ClientError::io(&host, "cloning the socket", e))?;
        let writer = {
            let thread_host = host.clone();
            let sent = sent.clone();
            let failed = in_tx.clone();
            let compression = config.wire_compression;
            std::thread::Builder::new()
                .name("vtremote-writer".into())
                .spawn(move || {
                    let mut compressor = match PlaneCompressor::new(compression) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = failed.send(Incoming::Failed(ClientError::io(
                                &thread_host,
                                "creating the compressor",
                                e,
                            )));
                            return;
                        }
                    };
                    let mut wire = Vec::new();
                    let mut scratch = Vec::new();
                    for item in writer_rx {
                        let result = match item {
                            Outgoing::Bytes(b) => writer_stream.write_all(&b).map(|_| b.len()),
                            Outgoing::Frame(f) => {
                                let bytes = match f.wire(&mut wire, &mut compressor, &mut scratch) {
                                    Ok(b) => b,
                                    Err(source) => {
                                        let _ =
                                            failed.send(Incoming::Failed(ClientError::Protocol {
                                                host: thread_host.clone(),
                                                what: "encoding FRAME".into(),
                                                cause: source,
                                            }));
                                        return;
                                    }
                                };
                                let r = writer_stream.write_all(bytes).map(|_| bytes.len());
                                let _ = recycle_tx.try_send(f.into_buffer());
                                r
                            }
                        };
                        match result {
                            Ok(n) => {
                                sent.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            Err(e) => {
                                let _ = failed.send(Incoming::Failed(ClientError::io(
                                    &thread_host,
                                    "sending to the server",
                                    e,
                                )));
                                return;
                            }
                        }
                    }
                })
                .map_err(|e| ClientError::io(&host, "starting the writer thread", e))?
        };
        let reader = {
            let thread_host = host.clone();
            let received = received.clone();
            let pong_tx = tx.clone();
            let limits = Limits::with_geometry(&geometry);
            std::thread::Builder::new()
                .name("vtremote-reader".into())
                .spawn(move || {
                    let mut skipped = SkippedRun::default();
                    loop {
                        let msg = match read_message(
                            &mut reader_stream,
                            &limits,
                            &thread_host,
                            "reading from the server",
                            Some(&received),
                        ) {
                            Ok(m) => m,
                            Err(e) => {
                                let _ = in_tx.send(Incoming::Failed(e));
                                return;
                            }
                        };
                        if let Some(e) = skipped.note(&msg, &thread_host) {
                            let _ = in_tx.send(Incoming::Failed(e));
                            return;
                        }
                        let item = match msg {
                            Message::Packet(p) => Incoming::Packet(p),
                            Message::Frame(f) => match on_frame(f) {
                                Ok(f) => Incoming::Frame(f),
                                Err(e) => Incoming::Failed(e),
                            },
                            Message::Done => Incoming::Done,
                            Message::Error(error) => Incoming::Failed(ClientError::Server {
                                host: thread_host.clone(),
                                error,
                            }),
                            Message::Ping => {
                                let pong = Message::Pong.to_bytes().expect("PONG encodes");
                                let _ = pong_tx.send(Outgoing::Bytes(pong));
                                continue;
                            }
                            // Unknown or misdirected messages are skipped, like both originals.
                            _ => continue,
                        };
                        let stop = matches!(item, Incoming::Done | Incoming::Failed(_));
                        if in_tx.send(item).is_err() || stop {
                            return;
                        }
                    }
                })
                .map_err(|e| ClientError::io(&host, "starting the reader thread", e))?
        };
        Ok(Pipeline {
            host,
            info,
            ack,
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

    pub fn send(&self, item: Outgoing) -> Result<(), ClientError> {
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

    /// Next item from the reader: waits up to the timeout when `block` (and accounts the
    /// wait in `timings`), otherwise returns at once. A vanished reader reads as `Closed`.
    pub fn next(&self, block: bool, timings: &mut Timings, what: &'static str) -> Next<F> {
        let closed = || {
            Incoming::Failed(ClientError::Closed {
                host: self.host.clone(),
                what,
            })
        };
        if !block {
            return match self.rx.try_recv() {
                Ok(item) => Next::Item(item),
                Err(TryRecvError::Empty) => Next::Empty,
                Err(TryRecvError::Disconnected) => Next::Item(closed()),
            };
        }
        let t0 = Instant::now();
        let r = self.rx.recv_timeout(self.timeout);
        timings.wait_total += t0.elapsed();
        timings.waits += 1;
        match r {
            Ok(item) => Next::Item(item),
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Next::Item(closed()),
        }
    }

    pub fn timeout_error(&self, what: &'static str) -> ClientError {
        ClientError::Timeout {
            host: self.host.clone(),
            ms: self.timeout.as_millis(),
            what,
        }
    }

    pub fn message_bytes(&self, msg: &Message) -> Result<Vec<u8>, ClientError> {
        msg.to_bytes().map_err(|source| ClientError::Protocol {
            host: self.host.clone(),
            what: format!("encoding {}", msg.ty()),
            cause: source,
        })
    }

    /// Queues FLUSH behind everything already sent. Sessions call it once (they track
    /// whether input has ended); the socket stays open to read the drained output and DONE.
    pub fn finish_input(&self) -> Result<(), ClientError> {
        let flush = self.message_bytes(&Message::Flush)?;
        self.send(Outgoing::Bytes(flush))
    }
}

impl<F: Send + 'static> Drop for Pipeline<F> {
    fn drop(&mut self) {
        self.tx = None;
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

    #[test]
    fn host_specs_split_like_users_write_them() {
        assert_eq!(split_host_port("mac:5555").unwrap(), ("mac".into(), 5555));
        assert_eq!(split_host_port("mac").unwrap(), ("mac".into(), 5555));
        assert_eq!(split_host_port("[::1]:6000").unwrap(), ("::1".into(), 6000));
        assert_eq!(split_host_port("::1").unwrap(), ("::1".into(), 5555));
        assert!(split_host_port("mac:port").is_err());
        assert!(split_host_port("").is_err());
        assert!(split_host_port(":5555").is_err());
    }
}
