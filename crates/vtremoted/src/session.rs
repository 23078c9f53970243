//! One connection = one codec session: handshake, streaming, drain, graceful close.
//!
//! Threads per session: the handler (this module's `run`, which also drives the codec), a
//! reader (socket → decompressed input), and a writer (output → compressed socket bytes).
//! Bounded channels between them carry backpressure to TCP and so to the client's window.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};
use vtremote_proto::options::{ConfigureOptions, Mode, OptionError};
use vtremote_proto::{
    encode_frame, Codec, ConfigureAck, ErrorCode, ErrorMsg, Frame, FrameGeometry, HelloAck,
    HelloStatus, Limits, Message, Packet, PixelFormat, PlaneCompressor, PlaneDecompressor,
    PlaneSource, ProtoError, SideData, WireCompression,
};

use crate::auth::token_matches;
use crate::backend::{
    Backend, BackendError, CompressedPacket, DecodedFrame, DecoderConfig, EncodedPacket,
    EncoderConfig, PlaneRef, RawFrame, VideoDecoder, VideoEncoder,
};
use crate::slots::{SlotGuard, Slots};
use crate::stats::SessionStats;
use crate::wire::{read_message, WireError};

/// Input queued between reader and codec: small, because each item may be a 4K picture.
const INPUT_QUEUE: usize = 4;
/// The same for a client that did not tell us its window (the original FFmpeg client):
/// everything we hold counts against its window, and a full window makes it duplicate or
/// drop frames (docs/protocol.md, "The original client's window"). With this queue, the
/// small receive buffer (`limit_receive_buffer`) and `ORIGINAL_CLIENT_DELAY`, the daemon
/// holds 1 (reader) + 1 (queue) + 1 (in the encode call) + 3 (encoder) frames and what
/// 128 KiB of socket buffer holds, and at real-time pacing only what the encoder holds.
const ORIGINAL_CLIENT_INPUT_QUEUE: usize = 1;
/// Encoder delay bound for such a client: a quarter of its default window.
const ORIGINAL_CLIENT_DELAY: u32 = ORIGINAL_CLIENT_WINDOW / 4;
/// Output queued between codec and writer.
const OUTPUT_QUEUE: usize = 16;
/// After an ERROR, how long we keep reading (and discarding) what the client still sends
/// before closing, so it sees our message and a FIN rather than a reset.
const DRAIN_AFTER_ERROR: Duration = Duration::from_secs(2);
/// After DONE the connection stays fully open until the client closes it, at most this
/// long. The original FFmpeg client keeps its last packets queued after reading DONE and
/// reads the socket again before returning each one: a FIN from us at that point is an
/// error to it and the queued packets are lost (docs/protocol.md, "Closing after DONE").
/// Clients close as soon as their codec is closed, so this only bounds a client that
/// keeps an idle codec open.
const LINGER_AFTER_DONE: Duration = Duration::from_secs(30);
/// What a lingering session reads and discards at most (repeated FLUSHes are 12 bytes).
const LINGER_DISCARD_LIMIT: u64 = 64 * 1024 * 1024;
/// How often a lingering session looks at the daemon's shutdown flag.
const LINGER_POLL: Duration = Duration::from_millis(100);
/// The original client's in-flight window when it does not tell us its own.
const ORIGINAL_CLIENT_WINDOW: u32 = 16;
/// VideoToolbox's MaxFrameDelayCount in the original server; our bound for any backend.
const MAX_ENCODER_DELAY: u32 = 8;

/// Extensions offered in HELLO_ACK: VTL wire compression (`wire_compression` 3).
const OFFERED_FEATURES: [&str; 1] = ["vtl"];

pub struct ServerIdentity {
    pub name: String,
    pub version: String,
}

/// Everything a session needs from the server.
pub struct SessionContext {
    pub id: u64,
    pub token: Option<Vec<u8>>,
    pub backend: Arc<dyn Backend>,
    pub slots: Arc<Slots>,
    pub idle_timeout: Duration,
    pub identity: Arc<ServerIdentity>,
    pub shutdown: Arc<AtomicBool>,
}

/// Why a session ended early; `reply` is the ERROR we owe the client, if any.
#[derive(Debug)]
struct SessionError {
    reply: Option<ErrorMsg>,
    message: String,
}

impl SessionError {
    fn reply(code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        SessionError {
            reply: Some(ErrorMsg::new(code, message.clone())),
            message,
        }
    }
    fn silent(message: impl Into<String>) -> Self {
        SessionError {
            reply: None,
            message: message.into(),
        }
    }
}

impl From<WireError> for SessionError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Protocol(p) => protocol_error(p),
            other => SessionError::silent(other.to_string()),
        }
    }
}

fn protocol_error(p: ProtoError) -> SessionError {
    SessionError::reply(ErrorCode::BadRequest, format!("protocol violation: {p}"))
}

impl From<BackendError> for SessionError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Unsupported { option, reason } => SessionError::reply(
                ErrorCode::UnsupportedConfig,
                format!("unsupported {option}: {reason}"),
            ),
            BackendError::Failed(m) => SessionError::reply(ErrorCode::Internal, m),
        }
    }
}

/// Serves one connection to the end and logs its summary line, whatever happens.
pub fn run(mut stream: TcpStream, ctx: SessionContext) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let mut stats = SessionStats::new(ctx.id, peer);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(ctx.idle_timeout));
    let outcome = match serve(&mut stream, &ctx, &mut stats) {
        Ok(outcome) => outcome.to_string(),
        Err(e) => {
            if let Some(reply) = &e.reply {
                if let Ok(bytes) = Message::Error(reply.clone()).to_bytes() {
                    if stream.write_all(&bytes).is_ok() {
                        stats.bytes_out += bytes.len() as u64;
                    }
                }
                close_gracefully(&mut stream);
            }
            warn!(session = ctx.id, peer = %stats.peer, "session failed: {}", e.message);
            format!("error: {}", e.message)
        }
    };
    info!("{}", stats.summary_line(&outcome));
}

/// Half-close, then read to EOF (bounded) so the client sees our last message and a FIN,
/// never a reset with unread data (design.md: the original client sends extra FLUSHes).
fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + DRAIN_AFTER_ERROR;
    let mut sink = [0u8; 16 * 1024];
    let mut total = 0usize;
    while Instant::now() < deadline && total < 256 * 1024 * 1024 {
        let _ = stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ));
        match std::io::Read::read(stream, &mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

fn write_msg(
    stream: &mut TcpStream,
    msg: &Message,
    stats: &mut SessionStats,
) -> Result<(), SessionError> {
    let bytes = msg.to_bytes().map_err(protocol_error)?;
    stream
        .write_all(&bytes)
        .map_err(|e| SessionError::silent(format!("writing {}: {e}", msg.ty())))?;
    stats.bytes_out += bytes.len() as u64;
    Ok(())
}

fn expect_message(
    stream: &mut TcpStream,
    ctx: &SessionContext,
    stats: &mut SessionStats,
    what: &str,
) -> Result<Message, SessionError> {
    match read_message(stream, &Limits::default(), ctx.idle_timeout)? {
        Some((m, n)) => {
            stats.bytes_in += n as u64;
            Ok(m)
        }
        None => Err(SessionError::silent(format!(
            "client closed the connection before {what}"
        ))),
    }
}

fn serve(
    stream: &mut TcpStream,
    ctx: &SessionContext,
    stats: &mut SessionStats,
) -> Result<&'static str, SessionError> {
    // --- HELLO -----------------------------------------------------------------------
    let hello = match expect_message(stream, ctx, stats, "HELLO")? {
        Message::Hello(h) => h,
        other => {
            return Err(SessionError::reply(
                ErrorCode::BadRequest,
                format!("first message must be HELLO, got {}", other.ty()),
            ))
        }
    };
    stats.client = format!("{} {}", hello.client_name, hello.client_build);
    // Codecs, then the extensions we offer as `+name` entries: the original client ignores
    // the list, ours reads the entries to know what it may ask for (docs/protocol.md).
    let codecs: Vec<String> = ctx
        .backend
        .capabilities()
        .iter()
        .filter(|c| c.encode || c.decode)
        .map(|c| c.codec.wire_name().to_string())
        .chain(OFFERED_FEATURES.iter().map(|f| format!("+{f}")))
        .collect();
    let ack = |status: HelloStatus, active: usize| {
        Message::HelloAck(HelloAck {
            status,
            server_name: ctx.identity.name.clone(),
            server_version: ctx.identity.version.clone(),
            codecs: codecs.clone(),
            max_sessions: ctx.slots.max().min(u16::MAX as usize) as u16,
            active_sessions: active.min(u16::MAX as usize) as u16,
        })
    };
    if let Some(expected) = &ctx.token {
        if !token_matches(expected, hello.token.as_bytes()) {
            info!(session = ctx.id, client = %hello.client_name, codec = %hello.codec, "HELLO authfail");
            write_msg(
                stream,
                &ack(HelloStatus::AuthFailed, ctx.slots.active()),
                stats,
            )?;
            close_gracefully(stream);
            return Err(SessionError::silent(
                "authentication failed: wrong or missing token",
            ));
        }
    }
    let Some(slot) = ctx.slots.try_acquire() else {
        let active = ctx.slots.active();
        write_msg(stream, &ack(HelloStatus::Busy, active), stats)?;
        // Old clients stop at the status byte; ours reads this for the full reason.
        return Err(SessionError::reply(
            ErrorCode::Busy,
            format!("busy: {active} of {} sessions in use", ctx.slots.max()),
        ));
    };
    write_msg(
        stream,
        &ack(HelloStatus::Accepted, ctx.slots.active()),
        stats,
    )?;
    info!(session = ctx.id, client = %hello.client_name, build = %hello.client_build, codec = %hello.codec, "HELLO ok");

    // --- CONFIGURE -------------------------------------------------------------------
    // A clean close right after HELLO_ACK is how `vtremote probe` works: not an error.
    let Some((first, size)) = read_message(stream, &Limits::default(), ctx.idle_timeout)? else {
        return Ok("probe (closed after HELLO_ACK)");
    };
    stats.bytes_in += size as u64;
    let configure = match first {
        Message::Configure(c) => c,
        other => {
            return Err(SessionError::reply(
                ErrorCode::BadRequest,
                format!("second message must be CONFIGURE, got {}", other.ty()),
            ))
        }
    };
    let options = ConfigureOptions::parse(&configure.options).map_err(|e| match e {
        OptionError::Proto(ProtoError::UnknownCompression(n)) => SessionError::reply(
            ErrorCode::UnsupportedCompression,
            format!("unsupported wire_compression={n}"),
        ),
        other => SessionError::reply(ErrorCode::UnsupportedConfig, other.to_string()),
    })?;
    stats.mode = Some(options.mode);
    stats.compression = options.wire_compression;
    let codec = Codec::from_wire_name(&hello.codec).ok_or_else(|| {
        SessionError::reply(
            ErrorCode::UnsupportedConfig,
            format!(
                "unsupported codec {:?}: this helper does h264 and hevc",
                hello.codec
            ),
        )
    })?;
    stats.codec = Some(codec);
    let pix_fmt = PixelFormat::from_wire_code(configure.pix_fmt).ok_or_else(|| {
        SessionError::reply(
            ErrorCode::UnsupportedConfig,
            format!(
                "unsupported pix_fmt code {} (1 = nv12, 2 = p010)",
                configure.pix_fmt
            ),
        )
    })?;
    let geometry = FrameGeometry::new(configure.width, configure.height, pix_fmt).map_err(|e| {
        SessionError::reply(
            ErrorCode::UnsupportedConfig,
            format!("unsupported size: {e}"),
        )
    })?;
    stats.geometry = Some(geometry);
    let time_base = (configure.time_base.0.max(1), configure.time_base.1.max(1));
    stats.time_base = time_base;
    let frame_rate =
        (configure.framerate.0 > 0 && configure.framerate.1 > 0).then_some(configure.framerate);
    stats.frame_rate = frame_rate.map(|(n, d)| n as f64 / d as f64);
    info!(
        session = ctx.id,
        "CONFIGURE req mode={} codec={codec} {}x{} pix={pix_fmt} tb={}/{} fr={}/{} br={} gop={} wc={}",
        options.mode.name(), configure.width, configure.height, time_base.0, time_base.1,
        configure.framerate.0, configure.framerate.1, options.bitrate, options.gop, options.wire_compression
    );
    let mut warnings = options.notes.clone();
    let mode = options.mode;
    let compression = options.wire_compression;
    let window_negotiated = options.client_inflight.is_some();
    let skip_notices = options.skip_notices;
    let engine = match mode {
        Mode::Encode => {
            if codec == Codec::H264 && pix_fmt == PixelFormat::P010 {
                return Err(SessionError::reply(
                    ErrorCode::UnsupportedConfig,
                    "unsupported pix_fmt p010 for h264: H.264 encoding takes nv12 (use hevc for 10-bit)",
                ));
            }
            let max_delay_frames = match options.client_inflight {
                Some(window) => window.saturating_sub(1).min(MAX_ENCODER_DELAY),
                None => {
                    limit_receive_buffer(stream, ctx.id);
                    ORIGINAL_CLIENT_DELAY
                }
            };
            let config = EncoderConfig {
                codec,
                geometry,
                time_base,
                frame_rate,
                max_delay_frames,
                options,
            };
            let enc = ctx.backend.open_encoder(&config)?;
            warnings.extend(enc.warnings().iter().cloned());
            stats.backend = enc.name().to_string();
            Engine::Encoder(enc)
        }
        Mode::Decode => {
            let config = DecoderConfig {
                codec,
                geometry,
                time_base,
                extradata: configure.extradata.clone(),
                options,
            };
            let dec = ctx.backend.open_decoder(&config)?;
            warnings.extend(dec.warnings().iter().cloned());
            stats.backend = dec.name().to_string();
            Engine::Decoder(dec)
        }
    };
    for w in &warnings {
        warn!(session = ctx.id, "WARN {w}");
    }
    let extradata = match &engine {
        Engine::Encoder(e) => e.extradata().to_vec(),
        Engine::Decoder(_) => Vec::new(),
    };
    write_msg(
        stream,
        &Message::ConfigureAck(ConfigureAck {
            status: 0,
            extradata,
            pix_fmt: pix_fmt.wire_code(),
            warnings,
        }),
        stats,
    )?;
    info!(
        session = ctx.id,
        "CONFIGURE ok mode={} codec={codec} {}x{} pixfmt={pix_fmt} backend={}",
        mode.name(),
        geometry.width,
        geometry.height,
        stats.backend
    );

    let negotiated = Negotiated {
        engine,
        geometry,
        compression,
        window_negotiated,
        skip_notices,
        slot,
    };
    stream_session(stream, ctx, stats, negotiated).map(|()| "ok")
}

/// A client that did not tell us its window counts every frame in our socket buffer as in
/// flight; the kernel's autotuned buffer (megabytes) holds dozens of compressed pictures of
/// simple content. A fixed small buffer keeps a backlog in the client, where it belongs, and
/// still fills a LAN link: 128 KiB per 0.2 ms round trip is 5 Gb/s.
fn limit_receive_buffer(stream: &TcpStream, session: u64) {
    if let Err(e) = socket2::SockRef::from(stream).set_recv_buffer_size(ORIGINAL_CLIENT_RCVBUF) {
        warn!(
            session,
            "cannot limit the receive buffer to {ORIGINAL_CLIENT_RCVBUF} bytes: {e}"
        );
    }
}

/// `limit_receive_buffer`'s size (Linux doubles it for bookkeeping).
const ORIGINAL_CLIENT_RCVBUF: usize = 128 * 1024;

enum Engine {
    Encoder(Box<dyn VideoEncoder>),
    Decoder(Box<dyn VideoDecoder>),
}

/// Planes of a received picture, uncompressed: either still inside the FRAME payload
/// (no compression: zero copies) or decompressed by the reader thread.
struct InputPicture {
    frame: Frame,
    decompressed: Option<[Vec<u8>; 2]>,
    strides: [usize; 2],
    rows: [usize; 2],
}

impl InputPicture {
    fn planes(&self) -> [PlaneRef<'_>; 2] {
        let data = |i: usize| -> &[u8] {
            match &self.decompressed {
                Some(bufs) => &bufs[i],
                None => &self.frame.plane_data(i)[..self.strides[i] * self.rows[i]],
            }
        };
        [0, 1].map(|i| PlaneRef {
            data: data(i),
            stride: self.strides[i],
            rows: self.rows[i],
        })
    }
}

enum Input {
    Picture(InputPicture, Instant),
    Packet(Packet, Instant),
    Flush,
    /// The reader stopped: `None` on a clean close by the client.
    Stopped(Option<SessionError>),
}

enum Output {
    Bytes(Vec<u8>),
    Picture(DecodedFrame),
    /// Nothing follows: the reader's PONG sender may outlive the session's last message.
    End,
}

#[derive(Default)]
struct WireCounters {
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    raw_picture: AtomicU64,
    wire_picture: AtomicU64,
}

/// What the negotiated session looks like, as the reader needs it.
struct StreamShape {
    mode: Mode,
    geometry: FrameGeometry,
    compression: WireCompression,
    idle: Duration,
}

fn spawn_reader(
    mut stream: TcpStream,
    shape: StreamShape,
    counters: Arc<WireCounters>,
    to_codec: SyncSender<Input>,
    to_writer: SyncSender<Output>,
) -> std::io::Result<JoinHandle<()>> {
    let StreamShape {
        mode,
        geometry,
        compression,
        idle,
    } = shape;
    std::thread::Builder::new()
        .name("vtremoted-reader".into())
        .spawn(move || {
            let limits = Limits::with_geometry(&geometry);
            let mut decompressor = match PlaneDecompressor::new(compression, geometry.pix_fmt) {
                Ok(d) => d,
                Err(e) => {
                    let _ = to_codec.send(Input::Stopped(Some(SessionError::reply(
                        ErrorCode::Internal,
                        format!("zstd context: {e}"),
                    ))));
                    return;
                }
            };
            let mut flushed = false;
            let mut discarded = 0u64;
            loop {
                // After FLUSH the client only owes us its close (and maybe more FLUSHes):
                // wait for it as long as the session lingers, not the idle timeout.
                let timeout = if flushed { LINGER_AFTER_DONE } else { idle };
                let (msg, size) = match read_message(&mut stream, &limits, timeout) {
                    Ok(Some(m)) => m,
                    Ok(None) => {
                        let _ = to_codec.send(Input::Stopped(None));
                        return;
                    }
                    Err(e) => {
                        if !flushed {
                            let _ = to_codec.send(Input::Stopped(Some(e.into())));
                        }
                        return;
                    }
                };
                counters.bytes_in.fetch_add(size as u64, Ordering::Relaxed);
                let now = Instant::now();
                if flushed {
                    // Repeated FLUSH and anything after it: tolerated and ignored, within
                    // a bound so a client cannot keep a finished session busy.
                    discarded += size as u64;
                    if discarded > LINGER_DISCARD_LIMIT {
                        debug!("client kept sending after FLUSH ({discarded} bytes); closing");
                        return;
                    }
                    continue;
                }
                let item = match msg {
                    Message::Frame(f) if mode == Mode::Encode => {
                        let raw = geometry.tight_frame_bytes();
                        counters
                            .raw_picture
                            .fetch_add(raw as u64, Ordering::Relaxed);
                        let wire: usize = (0..f.planes.len()).map(|i| f.plane_data(i).len()).sum();
                        counters
                            .wire_picture
                            .fetch_add(wire as u64, Ordering::Relaxed);
                        match unpack_picture(f, &geometry, &mut decompressor) {
                            Ok(p) => Input::Picture(p, now),
                            Err(e) => Input::Stopped(Some(protocol_error(e))),
                        }
                    }
                    Message::Packet(p) if mode == Mode::Decode => Input::Packet(p, now),
                    // FRAME/PACKET in the other mode: read and ignored like the original (§5.1).
                    Message::Frame(_) | Message::Packet(_) => {
                        debug!(
                            "ignoring a message that does not belong to {} mode",
                            mode.name()
                        );
                        continue;
                    }
                    Message::Flush => {
                        flushed = true;
                        Input::Flush
                    }
                    Message::Ping => {
                        let _ = to_writer.send(Output::Bytes(
                            Message::Pong.to_bytes().expect("PONG encodes"),
                        ));
                        continue;
                    }
                    Message::Hello(_) | Message::Configure(_) => {
                        Input::Stopped(Some(SessionError::reply(
                            ErrorCode::BadRequest,
                            format!("{} after the handshake", msg.ty()),
                        )))
                    }
                    _ => continue,
                };
                let stop = matches!(item, Input::Stopped(_));
                if to_codec.send(item).is_err() || stop {
                    return;
                }
            }
        })
}

fn unpack_picture(
    frame: Frame,
    geometry: &FrameGeometry,
    decompressor: &mut PlaneDecompressor,
) -> Result<InputPicture, ProtoError> {
    let mut scratch = [Vec::new(), Vec::new()];
    let (strides, rows, copied) = {
        let views = frame.unpack(geometry, decompressor, &mut scratch)?;
        (
            [views[0].stride, views[1].stride],
            [views[0].rows, views[1].rows],
            decompressor.kind() != WireCompression::None,
        )
    };
    Ok(InputPicture {
        frame,
        decompressed: copied.then_some(scratch),
        strides,
        rows,
    })
}

fn spawn_writer(
    mut stream: TcpStream,
    geometry: FrameGeometry,
    compression: WireCompression,
    counters: Arc<WireCounters>,
    from_codec: Receiver<Output>,
    failed: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vtremoted-writer".into())
        .spawn(move || {
            let Ok(mut compressor) = PlaneCompressor::new(compression, geometry.pix_fmt) else {
                failed.store(true, Ordering::Release);
                return;
            };
            let mut wire = Vec::new();
            let mut scratch = Vec::new();
            for out in from_codec {
                let bytes: &[u8] = match &out {
                    Output::End => return,
                    Output::Bytes(b) => b,
                    Output::Picture(f) => {
                        wire.clear();
                        let planes = [0, 1].map(|i| PlaneSource {
                            data: &f.planes[i],
                            stride: geometry.row_bytes(i),
                            row_bytes: geometry.row_bytes(i),
                            rows: geometry.plane_rows(i),
                        });
                        if encode_frame(
                            &mut wire,
                            f.pts,
                            f.duration,
                            0,
                            &planes,
                            &[],
                            &mut compressor,
                            &mut scratch,
                        )
                        .is_err()
                        {
                            failed.store(true, Ordering::Release);
                            return;
                        }
                        counters
                            .raw_picture
                            .fetch_add(geometry.tight_frame_bytes() as u64, Ordering::Relaxed);
                        counters
                            .wire_picture
                            .fetch_add((wire.len() - 12 - 21 - 24) as u64, Ordering::Relaxed);
                        &wire
                    }
                };
                if stream.write_all(bytes).is_err() {
                    failed.store(true, Ordering::Release);
                    return;
                }
                counters
                    .bytes_out
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        })
}

/// What the handshake settled, handed to the streaming phase.
struct Negotiated {
    engine: Engine,
    geometry: FrameGeometry,
    compression: WireCompression,
    /// The client told us its in-flight window (CONFIGURE `vtr_inflight`).
    window_negotiated: bool,
    /// The client counts SKIPPED messages (CONFIGURE `vtr_skip_notices`).
    skip_notices: bool,
    /// Held while the session works; released at DONE.
    slot: SlotGuard,
}

fn stream_session(
    stream: &mut TcpStream,
    ctx: &SessionContext,
    stats: &mut SessionStats,
    negotiated: Negotiated,
) -> Result<(), SessionError> {
    let Negotiated {
        mut engine,
        geometry,
        compression,
        window_negotiated,
        skip_notices,
        slot,
    } = negotiated;
    let clone = || {
        stream
            .try_clone()
            .map_err(|e| SessionError::reply(ErrorCode::Internal, format!("socket clone: {e}")))
    };
    let counters = Arc::new(WireCounters::default());
    let writer_failed = Arc::new(AtomicBool::new(false));
    let mode = match engine {
        Engine::Encoder(_) => Mode::Encode,
        Engine::Decoder(_) => Mode::Decode,
    };
    let input_queue = if window_negotiated {
        INPUT_QUEUE
    } else {
        ORIGINAL_CLIENT_INPUT_QUEUE
    };
    let (in_tx, in_rx) = mpsc::sync_channel::<Input>(input_queue);
    let (out_tx, out_rx) = mpsc::sync_channel::<Output>(OUTPUT_QUEUE);
    let spawn_err =
        |e: std::io::Error| SessionError::reply(ErrorCode::Internal, format!("thread: {e}"));
    let reader = spawn_reader(
        clone()?,
        StreamShape {
            mode,
            geometry,
            compression,
            idle: ctx.idle_timeout,
        },
        counters.clone(),
        in_tx,
        out_tx.clone(),
    )
    .map_err(spawn_err)?;
    let writer = spawn_writer(
        clone()?,
        geometry,
        compression,
        counters.clone(),
        out_rx,
        writer_failed.clone(),
    )
    .map_err(spawn_err)?;

    let skips = SkipNotices {
        enabled: skip_notices,
        announced: 0,
    };
    let result = codec_loop(
        &mut engine,
        &in_rx,
        &out_tx,
        stats,
        &writer_failed,
        ctx,
        skips,
    );
    stats.backend_counters = match &engine {
        Engine::Encoder(e) => e.counters(),
        Engine::Decoder(d) => d.counters(),
    };
    // Let the writer finish everything queued (DONE included) before anything closes.
    let _ = out_tx.send(Output::End);
    drop(out_tx);
    let _ = writer.join();
    let collect = |stats: &mut SessionStats| {
        stats.bytes_in += counters.bytes_in.load(Ordering::Relaxed);
        stats.bytes_out += counters.bytes_out.load(Ordering::Relaxed);
        stats.raw_picture_bytes = counters.raw_picture.load(Ordering::Relaxed);
        stats.wire_picture_bytes = counters.wire_picture.load(Ordering::Relaxed);
    };
    match result {
        Ok(()) => {
            stats.finished = Some(Instant::now());
            // The work is done: another client may have the slot while this one lingers.
            drop(slot);
            linger_until_client_closes(&in_rx, ctx);
            let _ = stream.shutdown(Shutdown::Both);
            drop(in_rx);
            let _ = reader.join();
            collect(stats);
            Ok(())
        }
        Err(e) => {
            // Unblock the reader; the caller sends the ERROR on the original stream.
            let _ = stream.shutdown(Shutdown::Read);
            drop(in_rx);
            let _ = reader.join();
            collect(stats);
            Err(e)
        }
    }
}

/// After DONE: no half-close. Waits until the reader has seen the client close (or gave up
/// on it), the linger bound passed, or the daemon is shutting down. The reader discards
/// the client's trailing FLUSHes meanwhile.
fn linger_until_client_closes(from_reader: &Receiver<Input>, ctx: &SessionContext) {
    let deadline = Instant::now() + LINGER_AFTER_DONE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || ctx.shutdown.load(Ordering::Acquire) {
            debug!(
                session = ctx.id,
                "client kept the connection open after DONE; closing"
            );
            return;
        }
        match from_reader.recv_timeout(left.min(LINGER_POLL)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Stopped (client closed) or the reader ended on an error: nothing more to wait for.
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Tells a decode client about packets that will never produce a picture (a stream that
/// starts mid-GOP: everything before the first keyframe), so they stop counting against its
/// window; without this, more such packets than the window stall the client. Only for a
/// client that asked (`vtr_skip_notices`), and only with a decoder that knows its delay.
struct SkipNotices {
    enabled: bool,
    announced: u64,
}

impl SkipNotices {
    /// Packets beyond what the decoder may still hold that produced no picture, not yet
    /// announced. Counting only beyond the decoder's reorder delay never announces a packet
    /// whose picture is still coming, unless that delay grows later: then the client's
    /// window runs one short for a while, which is harmless.
    fn due(&mut self, packets_in: u64, frames_out: u64, max_held: Option<u32>) -> Option<u32> {
        let held = u64::from(max_held?);
        if !self.enabled {
            return None;
        }
        let pictureless = packets_in.saturating_sub(frames_out + self.announced + held);
        if pictureless == 0 {
            return None;
        }
        let n = u32::try_from(pictureless).unwrap_or(u32::MAX);
        self.announced += u64::from(n);
        Some(n)
    }
}

fn codec_loop(
    engine: &mut Engine,
    inputs: &Receiver<Input>,
    outputs: &SyncSender<Output>,
    stats: &mut SessionStats,
    writer_failed: &AtomicBool,
    ctx: &SessionContext,
    mut skips: SkipNotices,
) -> Result<(), SessionError> {
    let mut packets: Vec<EncodedPacket> = Vec::new();
    let mut frames: Vec<DecodedFrame> = Vec::new();
    let send = |o: Output| -> Result<(), SessionError> {
        if writer_failed.load(Ordering::Acquire) {
            return Err(SessionError::silent(
                "client connection broke while sending",
            ));
        }
        outputs
            .send(o)
            .map_err(|_| SessionError::silent("client connection broke while sending"))
    };
    loop {
        if ctx.shutdown.load(Ordering::Acquire) {
            return Err(SessionError::reply(
                ErrorCode::Internal,
                "daemon shutting down",
            ));
        }
        let input = inputs
            .recv()
            .map_err(|_| SessionError::silent("reader stopped"))?;
        let flushing = matches!(input, Input::Flush);
        match (input, &mut *engine) {
            (Input::Picture(p, at), Engine::Encoder(enc)) => {
                stats.input_arrived(at, p.frame.pts);
                stats.frames += 1;
                let a53 = p
                    .frame
                    .side_data
                    .iter()
                    .find(|s| s.ty == SideData::A53_CC)
                    .map(|s| s.data.as_slice());
                let raw = RawFrame {
                    pts: p.frame.pts,
                    duration: p.frame.duration,
                    force_keyframe: p.frame.force_keyframe(),
                    planes: p.planes(),
                    a53_cc: a53,
                };
                enc.encode(&raw, &mut packets)?;
            }
            (Input::Packet(pkt, at), Engine::Decoder(dec)) => {
                stats.input_arrived(at, pkt.pts);
                stats.packets += 1;
                dec.decode(
                    &CompressedPacket {
                        pts: pkt.pts,
                        dts: pkt.dts,
                        duration: pkt.duration,
                        keyframe: pkt.is_keyframe(),
                        data: &pkt.data,
                    },
                    &mut frames,
                )?;
            }
            (Input::Flush, Engine::Encoder(enc)) => enc.flush(&mut packets)?,
            (Input::Flush, Engine::Decoder(dec)) => dec.flush(&mut frames)?,
            (Input::Stopped(None), _) => {
                return Err(SessionError::silent(format!(
                    "client disconnected before FLUSH ({} frames, {} packets so far)",
                    stats.frames, stats.packets
                )))
            }
            (Input::Stopped(Some(e)), _) => return Err(e),
            _ => {}
        }
        for p in packets.drain(..) {
            let mut bytes = Vec::with_capacity(p.data.len() + 44);
            Packet::encode_message(
                &mut bytes,
                p.pts,
                p.dts,
                p.duration,
                p.keyframe as u32,
                &p.data,
            );
            send(Output::Bytes(bytes))?;
            stats.packets += 1;
            stats.output_sent(Instant::now());
        }
        for f in frames.drain(..) {
            send(Output::Picture(f))?;
            stats.frames += 1;
            stats.output_sent(Instant::now());
        }
        if let Engine::Decoder(dec) = &*engine {
            if let Some(n) = skips.due(stats.packets, stats.frames, dec.max_held()) {
                send(Output::Bytes(
                    Message::Skipped(n).to_bytes().expect("SKIPPED encodes"),
                ))?;
            }
        }
        if flushing {
            send(Output::Bytes(
                Message::Done.to_bytes().expect("DONE encodes"),
            ))?;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_beyond_the_decoders_delay_without_pictures_are_announced_once() {
        let mut s = SkipNotices {
            enabled: true,
            announced: 0,
        };
        // Mid-GOP start: 5 packets in, nothing out, the decoder may hold 2.
        assert_eq!(s.due(5, 0, Some(2)), Some(3));
        assert_eq!(s.due(5, 0, Some(2)), None, "announced already");
        // The keyframe arrives and pictures flow: nothing more is due.
        assert_eq!(s.due(6, 1, Some(2)), None);
        assert_eq!(s.due(9, 4, Some(2)), None);
        // One more picture-less packet beyond the delay.
        assert_eq!(s.due(11, 5, Some(2)), Some(1));
    }

    #[test]
    fn no_notices_unless_asked_or_when_the_delay_is_unknown() {
        let mut off = SkipNotices {
            enabled: false,
            announced: 0,
        };
        assert_eq!(off.due(50, 0, Some(0)), None);
        let mut unknown = SkipNotices {
            enabled: true,
            announced: 0,
        };
        assert_eq!(unknown.due(50, 0, None), None);
    }
}
