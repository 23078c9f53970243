//! One connection = one codec session: handshake, streaming, drain, graceful close.
//!
//! The decisions live in I/O-free modules with their own tests: `admission` (token and
//! budget), `negotiate` (CONFIGURE → plan or refusal), `policy` (each streaming message →
//! action) and `codec_loop` (the codec over channels). This module wires them to a
//! [`Connection`]: the handler thread (here, also driving the codec), a reader and a writer
//! thread (`io`), all inside the session's tracing span.

mod admission;
mod codec_loop;
mod error;
mod io;
mod negotiate;
mod policy;
#[cfg(test)]
mod tests;

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info, info_span, warn};
use vtremote_proto::{ConfigureAck, ErrorCode, HelloStatus, Limits, Message};

use admission::{admit, hello_ack, Admission};
pub use admission::{advertised_codecs, OFFERED_FEATURES};
use codec_loop::{codec_loop, Engine, Input, Output, SkipNotices};
use error::protocol_error;
pub use error::SessionError;
use io::{spawn_reader, spawn_writer, StreamShape};
use negotiate::{negotiate, EngineConfig, SessionPlan};
use policy::LINGER_AFTER_DONE;

use crate::backend::Backend;
use crate::connection::Connection;
use crate::message_io::read_message;
use crate::metrics::{Metrics, Outcome};
use crate::slots::{SlotGuard, Slots};
use crate::stats::SessionStats;
use crate::throttle::AuthThrottle;

/// Input queued between reader and codec: small, because each item may be a 4K picture.
const INPUT_QUEUE: usize = 4;
/// The same for a client that did not tell us its window (the original FFmpeg client):
/// everything we hold counts against its window, and a full window makes it duplicate or
/// drop frames (docs/protocol.md, "The original client's window"). With this queue, the
/// small receive buffer (`ORIGINAL_CLIENT_RCVBUF`) and `negotiate::ORIGINAL_CLIENT_DELAY`,
/// the daemon holds 1 (reader) + 1 (queue) + 1 (in the encode call) + 3 (encoder) frames
/// and what 128 KiB of socket buffer holds, and at real-time pacing only what the encoder
/// holds.
const ORIGINAL_CLIENT_INPUT_QUEUE: usize = 1;
/// A client that did not tell us its window counts every frame in our socket buffer as in
/// flight; the kernel's autotuned buffer (megabytes) holds dozens of compressed pictures of
/// simple content. A fixed small buffer keeps a backlog in the client, where it belongs, and
/// still fills a LAN link: 128 KiB per 0.2 ms round trip is 5 Gb/s. (Linux doubles it for
/// bookkeeping.)
const ORIGINAL_CLIENT_RCVBUF: usize = 128 * 1024;
/// Output queued between codec and writer.
const OUTPUT_QUEUE: usize = 16;
/// After an ERROR, how long we keep reading (and discarding) what the client still sends
/// before closing, so it sees our message and a FIN rather than a reset.
const DRAIN_AFTER_ERROR: Duration = Duration::from_secs(2);
/// How often a lingering session looks at the daemon's shutdown flag.
const LINGER_POLL: Duration = Duration::from_millis(100);

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
    /// The daemon is stopping: sessions end with an ERROR saying so. The server sets it,
    /// then shuts every session's socket so that none stays blocked in a read.
    pub shutdown: Arc<AtomicBool>,
    /// Why this connection may not have a session whatever it says (a plain client of a
    /// TLS-only helper): the reply to its HELLO.
    pub transport_refusal: Option<String>,
    /// Wrong tokens per client address (shared by all sessions), and this client's address.
    pub throttle: Arc<AuthThrottle>,
    pub peer_ip: Option<std::net::IpAddr>,
    /// Daemon-wide counters (`--metrics-listen`): the session adds itself when it ends.
    pub metrics: Arc<Metrics>,
}

/// How `serve` reports a client that only wanted HELLO_ACK.
const PROBE: &str = "probe (closed after HELLO_ACK)";

/// The class of the SUMMARY line's `result=`, as metrics label it.
fn outcome(result: &Result<&'static str, SessionError>) -> Outcome {
    match result {
        Ok(r) if *r == PROBE => Outcome::Probe,
        Ok(_) => Outcome::Ok,
        Err(e) if e.auth_failed => Outcome::AuthFailed,
        Err(e) => match e.code() {
            Some(ErrorCode::Busy) => Outcome::Busy,
            Some(ErrorCode::UnsupportedConfig | ErrorCode::UnsupportedCompression) => {
                Outcome::Unsupported
            }
            Some(_) => Outcome::Error,
            None => Outcome::Aborted,
        },
    }
}

/// Serves one connection to the end and logs its summary line, whatever happens. Returns
/// how it ended (for tests): `Ok` with the outcome, or the error it ended with.
pub fn run<C: Connection>(
    mut stream: C,
    ctx: SessionContext,
) -> Result<&'static str, SessionError> {
    let peer = stream.peer();
    let span = info_span!("session", id = ctx.id, peer = %peer);
    let _entered = span.enter();
    let mut stats = SessionStats::new(ctx.id, peer);
    stats.metrics = Some(ctx.metrics.clone());
    let _ = stream.set_nodelay();
    let _ = stream.set_write_timeout(Some(ctx.idle_timeout));
    let result = serve(&mut stream, &ctx, &mut stats).map_err(|e| {
        // A session stopped by the daemon saw its read fail: tell the client why.
        if e.reply.is_none() && ctx.shutdown.load(Ordering::Acquire) {
            SessionError::shutting_down()
        } else {
            e
        }
    });
    let mut error_sent = None;
    let summary_result = match &result {
        Ok(outcome) => outcome.to_string(),
        Err(e) => {
            if let Some(reply) = &e.reply {
                if let Ok(bytes) = Message::Error(reply.clone()).to_bytes() {
                    if stream.write_all(&bytes).is_ok() {
                        stats.bytes_out += bytes.len() as u64;
                        error_sent = Some(reply.code.code());
                    }
                }
                close_gracefully(&mut stream);
            }
            warn!("session failed: {}", e.message);
            format!("error: {}", e.message)
        }
    };
    info!("{}", stats.summary_line(&summary_result));
    ctx.metrics
        .session_ended(&stats, outcome(&result), error_sent);
    // The FIN goes out now even if another handle on the socket (the server's, to stop
    // sessions) is still open.
    let _ = stream.shutdown(Shutdown::Both);
    result
}

/// Half-close, then read to EOF (bounded) so the client sees our last message and a FIN,
/// never a reset with unread data (design.md: the original client sends extra FLUSHes).
fn close_gracefully<C: Connection>(stream: &mut C) {
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
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

fn write_msg<C: Connection>(
    stream: &mut C,
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

/// The next handshake message; `None` on a clean close. A read that ends because the
/// daemon shut the socket to stop is the daemon's doing, not the client's.
fn next_message<C: Connection>(
    stream: &mut C,
    ctx: &SessionContext,
    stats: &mut SessionStats,
) -> Result<Option<Message>, SessionError> {
    let read = read_message(stream, &Limits::default(), ctx.idle_timeout);
    if ctx.shutdown.load(Ordering::Acquire) && !matches!(read, Ok(Some(_))) {
        return Err(SessionError::shutting_down());
    }
    Ok(read?.map(|(m, n)| {
        stats.bytes_in += n as u64;
        m
    }))
}

fn serve<C: Connection>(
    stream: &mut C,
    ctx: &SessionContext,
    stats: &mut SessionStats,
) -> Result<&'static str, SessionError> {
    // --- HELLO -----------------------------------------------------------------------
    let hello = match next_message(stream, ctx, stats)? {
        Some(Message::Hello(h)) => h,
        Some(other) => {
            return Err(SessionError::reply(
                ErrorCode::BadRequest,
                format!("first message must be HELLO, got {}", other.ty()),
            ))
        }
        None => {
            return Err(SessionError::silent(
                "client closed the connection before HELLO",
            ))
        }
    };
    stats.client = format!("{} {}", hello.client_name, hello.client_build);
    if let Some(why) = &ctx.transport_refusal {
        return Err(SessionError::reply(ErrorCode::BadRequest, why.clone()));
    }
    let codecs = advertised_codecs(ctx.backend.capabilities());
    let server = (ctx.identity.name.as_str(), ctx.identity.version.as_str());
    if let (Some(ip), Some(_)) = (ctx.peer_ip, &ctx.token) {
        if let Some(wait) = ctx.throttle.wait(ip, Instant::now()) {
            let ack = hello_ack(HelloStatus::AuthFailed, server, codecs, &ctx.slots);
            write_msg(stream, &Message::HelloAck(ack), stats)?;
            close_gracefully(stream);
            return Err(SessionError::auth_failed(format!(
                "authentication refused: too many wrong tokens from {ip}; its token is not \
                 checked for another {:.1} s",
                wait.as_secs_f64()
            )));
        }
    }
    let admission = admit(ctx.token.as_deref(), &hello.token, &ctx.slots);
    if let (Some(ip), Some(_)) = (ctx.peer_ip, &ctx.token) {
        match admission {
            Admission::AuthFailed => ctx.throttle.failed(ip, Instant::now()),
            _ => ctx.throttle.succeeded(ip),
        }
    }
    let slot = match admission {
        Admission::Accepted(slot) => slot,
        Admission::AuthFailed => {
            info!(client = %hello.client_name, codec = %hello.codec, "HELLO authfail");
            let ack = hello_ack(HelloStatus::AuthFailed, server, codecs, &ctx.slots);
            write_msg(stream, &Message::HelloAck(ack), stats)?;
            close_gracefully(stream);
            return Err(SessionError::auth_failed(
                "authentication failed: wrong or missing token",
            ));
        }
        Admission::Busy { active, max } => {
            let ack = hello_ack(HelloStatus::Busy, server, codecs, &ctx.slots);
            write_msg(stream, &Message::HelloAck(ack), stats)?;
            // Old clients stop at the status byte; ours reads this for the full reason.
            return Err(SessionError::reply(
                ErrorCode::Busy,
                format!("busy: {active} of {max} sessions in use"),
            ));
        }
    };
    let ack = hello_ack(HelloStatus::Accepted, server, codecs, &ctx.slots);
    write_msg(stream, &Message::HelloAck(ack), stats)?;
    info!(client = %hello.client_name, build = %hello.client_build, codec = %hello.codec, "HELLO ok");

    // --- CONFIGURE -------------------------------------------------------------------
    // A clean close right after HELLO_ACK is how `vtremote probe` works: not an error.
    let configure = match next_message(stream, ctx, stats)? {
        Some(Message::Configure(c)) => c,
        Some(other) => {
            return Err(SessionError::reply(
                ErrorCode::BadRequest,
                format!("second message must be CONFIGURE, got {}", other.ty()),
            ))
        }
        None => return Ok(PROBE),
    };
    let plan = negotiate(&hello.codec, &configure, stats)?;
    info!(
        "CONFIGURE req mode={} codec={} {}x{} pix={} tb={}/{} fr={}/{} br={} gop={} wc={}",
        plan.mode().name(),
        hello.codec,
        configure.width,
        configure.height,
        plan.geometry.pix_fmt,
        stats.time_base.0,
        stats.time_base.1,
        configure.framerate.0,
        configure.framerate.1,
        plan.options().bitrate,
        plan.options().gop,
        plan.options().wire_compression
    );
    if plan.limits_receive_buffer() {
        if let Err(e) = stream.set_receive_buffer(ORIGINAL_CLIENT_RCVBUF) {
            warn!("cannot limit the receive buffer to {ORIGINAL_CLIENT_RCVBUF} bytes: {e}");
        }
    }
    let (engine, warnings) = open_engine(ctx.backend.as_ref(), &plan, stats)?;
    for w in &warnings {
        warn!("WARN {w}");
    }
    let extradata = match &engine {
        Engine::Encoder(e) => e.extradata().to_vec(),
        Engine::Decoder(_) => Vec::new(),
    };
    let ack = ConfigureAck {
        status: 0,
        extradata,
        pix_fmt: plan.geometry.pix_fmt.wire_code(),
        warnings,
    };
    write_msg(stream, &Message::ConfigureAck(ack), stats)?;
    info!(
        "CONFIGURE ok mode={} codec={} {}x{} pixfmt={} backend={}",
        plan.mode().name(),
        hello.codec,
        plan.geometry.width,
        plan.geometry.height,
        plan.geometry.pix_fmt,
        stats.backend
    );
    stream_session(stream, ctx, stats, engine, &plan, slot).map(|()| "ok")
}

/// Asks the backend for the planned encoder or decoder; its warnings follow the notes on
/// the options.
fn open_engine(
    backend: &dyn Backend,
    plan: &SessionPlan,
    stats: &mut SessionStats,
) -> Result<(Engine, Vec<String>), SessionError> {
    let mut warnings = plan.notes.clone();
    let engine = match &plan.engine {
        EngineConfig::Encode(config) => {
            let enc = backend.open_encoder(config)?;
            warnings.extend(enc.warnings().iter().cloned());
            stats.backend = enc.name().to_string();
            Engine::Encoder(enc)
        }
        EngineConfig::Decode(config) => {
            let dec = backend.open_decoder(config)?;
            warnings.extend(dec.warnings().iter().cloned());
            stats.backend = dec.name().to_string();
            Engine::Decoder(dec)
        }
    };
    Ok((engine, warnings))
}

fn stream_session<C: Connection>(
    stream: &mut C,
    ctx: &SessionContext,
    stats: &mut SessionStats,
    mut engine: Engine,
    plan: &SessionPlan,
    slot: SlotGuard,
) -> Result<(), SessionError> {
    let clone = || {
        stream
            .try_clone()
            .map_err(|e| SessionError::reply(ErrorCode::Internal, format!("socket clone: {e}")))
    };
    let counters = stats.live.clone();
    ctx.metrics.stream_started(stats);
    let writer_failed = Arc::new(AtomicBool::new(false));
    let input_queue = if plan.window_negotiated {
        INPUT_QUEUE
    } else {
        ORIGINAL_CLIENT_INPUT_QUEUE
    };
    let (in_tx, in_rx) = mpsc::sync_channel::<Input>(input_queue);
    let (out_tx, out_rx) = mpsc::sync_channel::<Output>(OUTPUT_QUEUE);
    let spawn_err =
        |e: std::io::Error| SessionError::reply(ErrorCode::Internal, format!("thread: {e}"));
    let span = tracing::Span::current();
    let reader = spawn_reader(
        clone()?,
        StreamShape {
            mode: plan.mode(),
            geometry: plan.geometry,
            compression: plan.compression,
            idle: ctx.idle_timeout,
        },
        counters.clone(),
        in_tx,
        out_tx.clone(),
        span.clone(),
    )
    .map_err(spawn_err)?;
    let writer = spawn_writer(
        clone()?,
        plan.geometry,
        plan.compression,
        counters.clone(),
        out_rx,
        writer_failed.clone(),
        span,
    )
    .map_err(spawn_err)?;

    let result = codec_loop(
        &mut engine,
        &in_rx,
        &out_tx,
        stats,
        &writer_failed,
        &ctx.shutdown,
        SkipNotices::new(plan.skip_notices),
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
            debug!("client kept the connection open after DONE; closing");
            return;
        }
        match from_reader.recv_timeout(left.min(LINGER_POLL)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Stopped (client closed) or the reader ended on an error: nothing more to wait for.
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}
