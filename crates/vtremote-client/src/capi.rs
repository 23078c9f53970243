//! C ABI over [`EncodeSession`] / [`DecodeSession`] (feature `capi`), declared in
//! `include/vtremote.h`.
//!
//! Shape (after rav1e's capi, rustls-ffi and dav1d):
//! * one opaque handle, `VtremoteSession`, created for encode or decode, configured with
//!   key/value strings (new options never add symbols), then opened;
//! * every function returns a [`VtremoteStatus`]; `VTREMOTE_AGAIN` from a send means "call
//!   receive", from a receive "call send";
//! * nothing the library returns needs freeing except the handle itself: packets, pictures
//!   and strings stay valid until the next call on the same handle;
//! * every `extern "C"` body runs inside [`catch_unwind`]; null pointers are rejected in one
//!   place ([`with_session`], [`c_str`]).
//!
//! The header is hand-written; `header_declares_every_exported_function` below fails when the
//! two drift apart.

mod options;

use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::time::{Duration, Instant};

use crate::config::{ClientConfig, DecoderParams, EncoderParams};
use crate::decode::{DecodeSession, InputPacket, OutputFrame};
use crate::encode::{EncodeSession, InputFrame, OutputPacket};
use crate::error::ClientError;
use crate::stats::SessionStats;
use crate::Received;
use options::OptionSet;
use vtremote_proto::{Codec, PixelFormat, PlaneSource, SideData, WireCompression};

/// Result of every call. Non-negative values are normal outcomes, negative ones failures;
/// the failure's text is in `vtremote_session_last_error`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VtremoteStatus {
    Ok = 0,
    /// send: window full, call receive first. receive: nothing ready, call send.
    Again = 1,
    /// receive: the stream is finished.
    Eof = 2,
    /// Null pointer, bad option value, wrong mode, call out of order.
    InvalidArgument = -1,
    /// The host name does not resolve.
    Resolve = -2,
    /// Refused or unreachable.
    Connect = -3,
    Timeout = -4,
    /// Wrong or missing token.
    Auth = -5,
    /// The helper has no free session.
    Busy = -6,
    /// The helper refused the configuration or reported an error.
    Server = -7,
    /// The peer broke the protocol (not a vtremote server, corrupt data).
    Protocol = -8,
    Io = -9,
    /// The helper closed the connection.
    Closed = -10,
    /// A bug in this library (a caught panic); the handle is unusable afterwards.
    Internal = -11,
}

use VtremoteStatus as St;

const ALL_STATUSES: [VtremoteStatus; 14] = [
    St::Ok,
    St::Again,
    St::Eof,
    St::InvalidArgument,
    St::Resolve,
    St::Connect,
    St::Timeout,
    St::Auth,
    St::Busy,
    St::Server,
    St::Protocol,
    St::Io,
    St::Closed,
    St::Internal,
];

impl VtremoteStatus {
    fn text(self) -> &'static CStr {
        match self {
            St::Ok => c"success",
            St::Again => c"try again after calling the other half of the send/receive pair",
            St::Eof => c"end of stream",
            St::InvalidArgument => c"invalid argument",
            St::Resolve => c"cannot resolve host name",
            St::Connect => c"cannot connect",
            St::Timeout => c"timed out",
            St::Auth => c"authentication failed",
            St::Busy => c"server busy",
            St::Server => c"server error",
            St::Protocol => c"protocol error",
            St::Io => c"I/O error",
            St::Closed => c"connection closed by the server",
            St::Internal => c"internal error in libvtremote",
        }
    }
}

fn status_of(e: &ClientError) -> VtremoteStatus {
    #[allow(unreachable_patterns)]
    match e {
        ClientError::Resolve { .. } => St::Resolve,
        ClientError::Refused { .. } | ClientError::Connect { .. } => St::Connect,
        ClientError::Timeout { .. } => St::Timeout,
        ClientError::AuthFailed { .. } => St::Auth,
        ClientError::Busy { .. } => St::Busy,
        ClientError::Server { .. } => St::Server,
        ClientError::Protocol { .. } | ClientError::Unexpected { .. } => St::Protocol,
        ClientError::Io { .. } => St::Io,
        ClientError::Closed { .. } => St::Closed,
        ClientError::InvalidArgument(_) => St::InvalidArgument,
        ClientError::WouldBlock => St::Again,
        _ => St::Io,
    }
}

/// A failure on its way to C: a status and the sentence for `last_error`.
struct Failure(VtremoteStatus, String);

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure(status_of(&e), e.to_string())
    }
}

fn invalid(msg: impl Into<String>) -> Failure {
    Failure(St::InvalidArgument, msg.into())
}

pub const VTREMOTE_MODE_ENCODE: c_int = 0;
pub const VTREMOTE_MODE_DECODE: c_int = 1;
pub const VTREMOTE_FRAME_FORCE_KEYFRAME: u32 = 1;
pub const VTREMOTE_PACKET_KEYFRAME: u32 = 1;
pub const VTREMOTE_PIX_FMT_NV12: c_int = 1;
pub const VTREMOTE_PIX_FMT_P010: c_int = 2;

/// Side data attached to an input picture (`AV_FRAME_DATA_*` numbering; only A53 captions,
/// type 1, mean anything to a helper today).
#[repr(C)]
pub struct VtremoteSideData {
    pub type_: u32,
    pub data: *const u8,
    pub size: usize,
}

/// An input picture (encode). Borrowed for the duration of the call only.
#[repr(C)]
pub struct VtremoteFrame {
    pub pts: i64,
    pub duration: i64,
    /// `VTREMOTE_FRAME_FORCE_KEYFRAME`.
    pub flags: u32,
    /// Plane 0 luma, plane 1 interleaved chroma; rows and row sizes follow from the
    /// configured width, height and pixel format.
    pub data: [*const u8; 2],
    /// Bytes between rows; must be ≥ the row size (negative strides are not supported).
    pub linesize: [isize; 2],
    pub side_data: *const VtremoteSideData,
    pub nb_side_data: usize,
}

/// A compressed access unit (Annex B). Input to `send_packet` (borrowed for the call) or
/// output of `receive_packet` (data owned by the session, valid until its next call).
#[repr(C)]
pub struct VtremotePacket {
    pub data: *const u8,
    pub size: usize,
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    /// `VTREMOTE_PACKET_KEYFRAME`.
    pub flags: u32,
}

/// A decoded picture; planes owned by the session, valid until its next call.
#[repr(C)]
pub struct VtremotePicture {
    pub pts: i64,
    pub duration: i64,
    pub width: u32,
    pub height: u32,
    /// `VTREMOTE_PIX_FMT_NV12` or `VTREMOTE_PIX_FMT_P010`.
    pub pix_fmt: c_int,
    pub data: [*const u8; 2],
    pub linesize: [usize; 2],
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct VtremoteStats {
    /// Pictures sent (encode) or received (decode).
    pub frames: u64,
    /// Packets received (encode) or sent (decode).
    pub packets: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub max_inflight: u32,
    pub elapsed_s: f64,
    pub sent_mbps: f64,
    pub received_mbps: f64,
    pub mean_send_ms: f64,
    pub mean_wait_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Encode,
    Decode,
}

/// What the caller asked for; survives `reset`.
#[derive(Debug, Clone)]
struct Settings {
    config: ClientConfig,
    codec: Option<Codec>,
    width: u32,
    height: u32,
    pix_fmt: PixelFormat,
    time_base: (u32, u32),
    framerate: (u32, u32),
    options: OptionSet,
    extradata: Vec<u8>,
}

enum Live {
    Encode(EncodeSession),
    Decode(DecodeSession),
}

impl Live {
    fn stats(&self) -> SessionStats {
        match self {
            Live::Encode(s) => s.stats(),
            Live::Decode(s) => s.stats(),
        }
    }
}

/// Totals of sessions already closed by `reset`, so the summary covers the whole run.
#[derive(Debug, Default, Clone, Copy)]
struct Carried {
    frames: u64,
    packets: u64,
    bytes_sent: u64,
    bytes_received: u64,
    max_inflight: u32,
    send_ms_total: f64,
    sends: u64,
    wait_ms_total: f64,
    waits: u64,
}

/// Opaque to C.
pub struct VtremoteSession {
    mode: Mode,
    settings: Settings,
    live: Option<Live>,
    opened: bool,
    started: Option<Instant>,
    carried: Carried,
    /// Decode: durations of packets in flight by pts, for helpers that return frames without
    /// one (the original server always sends 0).
    durations: std::collections::VecDeque<(i64, i64)>,
    packet: Option<OutputPacket>,
    picture: Option<OutputFrame>,
    extradata: Vec<u8>,
    warnings: Vec<CString>,
    last_error: CString,
    summary: CString,
    poisoned: bool,
}

const MAX_REMEMBERED_DURATIONS: usize = 512;

const NOT_OPEN: &str =
    "the session is not open: call vtremote_session_open first and check that it succeeded";

impl VtremoteSession {
    fn new(mode: Mode) -> Self {
        let mut config = ClientConfig::new(String::new());
        config.client_name = "libvtremote".into();
        VtremoteSession {
            mode,
            settings: Settings {
                config,
                codec: None,
                width: 0,
                height: 0,
                pix_fmt: PixelFormat::Nv12,
                time_base: (1, 1),
                framerate: (0, 0),
                options: OptionSet::default(),
                extradata: Vec::new(),
            },
            live: None,
            opened: false,
            started: None,
            carried: Carried::default(),
            durations: Default::default(),
            packet: None,
            picture: None,
            extradata: Vec::new(),
            warnings: Vec::new(),
            last_error: CString::default(),
            summary: CString::default(),
            poisoned: false,
        }
    }

    fn set_option(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        if self.opened {
            return Err(invalid(format!(
                "option {key}: options must be set before vtremote_session_open"
            )));
        }
        let s = &mut self.settings;
        let bad = |what: &str| invalid(format!("option {key}: {value:?} is not {what}"));
        match key {
            "host" => s.config.host = value.to_string(),
            "token" => s.config.token = value.to_string(),
            "timeout_ms" => {
                let ms: u64 = value.trim().parse().map_err(|_| bad("a number"))?;
                if !(100..=60_000).contains(&ms) {
                    return Err(bad("within 100..60000 ms"));
                }
                s.config.timeout = Duration::from_millis(ms);
            }
            "inflight" => {
                let n: u32 = value.trim().parse().map_err(|_| bad("a number"))?;
                if !(1..=128).contains(&n) {
                    return Err(bad("within 1..128"));
                }
                s.config.inflight = n;
            }
            "wire_compression" => {
                s.config.wire_compression = WireCompression::from_name(value.trim())
                    .ok_or_else(|| bad("none, lz4 or zstd"))?
            }
            "client_name" => s.config.client_name = value.to_string(),
            "client_build" => s.config.client_build = value.to_string(),
            "codec" => {
                s.codec = Some(Codec::from_wire_name(value).ok_or_else(|| bad("h264 or hevc"))?)
            }
            "width" => s.width = value.trim().parse().map_err(|_| bad("a width"))?,
            "height" => s.height = value.trim().parse().map_err(|_| bad("a height"))?,
            "pix_fmt" => {
                s.pix_fmt = match value.trim() {
                    "nv12" | "1" => PixelFormat::Nv12,
                    "p010" | "p010le" | "2" => PixelFormat::P010,
                    _ => return Err(bad("nv12 or p010le")),
                }
            }
            "time_base" => s.time_base = parse_ratio(value).ok_or_else(|| bad("NUM/DEN"))?,
            "framerate" => s.framerate = parse_ratio(value).ok_or_else(|| bad("NUM/DEN"))?,
            "mode" => return Err(invalid("option mode: set by vtremote_session_new")),
            #[cfg(test)]
            "test_panic" => panic!("test panic: {value}"),
            _ => s.options.set(key, value).map_err(invalid)?,
        }
        Ok(())
    }

    fn connect(&mut self) -> Result<(), Failure> {
        let s = &self.settings;
        let codec = s
            .codec
            .ok_or_else(|| invalid("option codec is required (h264 or hevc)"))?;
        if s.config.host.is_empty() {
            return Err(invalid(
                "option host is required: HOST:PORT of a vtremoted helper",
            ));
        }
        let live = match self.mode {
            Mode::Encode => {
                let params = EncoderParams {
                    codec,
                    width: s.width,
                    height: s.height,
                    pix_fmt: s.pix_fmt,
                    time_base: s.time_base,
                    framerate: s.framerate,
                    options: s.options.to_wire(),
                };
                Live::Encode(EncodeSession::connect(&s.config, &params)?)
            }
            Mode::Decode => {
                let params = DecoderParams {
                    codec,
                    width: s.width,
                    height: s.height,
                    pix_fmt: s.pix_fmt,
                    time_base: s.time_base,
                    extradata: s.extradata.clone(),
                    options: s.options.to_wire(),
                };
                Live::Decode(DecodeSession::connect(&s.config, &params)?)
            }
        };
        let warnings = match &live {
            Live::Encode(e) => e.warnings(),
            Live::Decode(d) => d.warnings(),
        };
        self.warnings = warnings.iter().map(|w| to_cstring(w)).collect();
        if let Live::Encode(e) = &live {
            self.extradata = e.extradata_annexb().to_vec();
        }
        self.live = Some(live);
        Ok(())
    }

    fn open(&mut self) -> Result<(), Failure> {
        if self.opened {
            return Err(invalid("vtremote_session_open called twice"));
        }
        self.started = Some(Instant::now());
        self.connect()?;
        self.opened = true;
        Ok(())
    }

    fn live(&mut self) -> Result<&mut Live, Failure> {
        self.check_open()?;
        if self.live.is_none() {
            // After reset: reconnect with the same settings.
            self.connect()?;
        }
        Ok(self.live.as_mut().expect("connected above"))
    }

    /// Refuses a call that needs a connection on a session that never opened or whose open
    /// failed, without touching the connection (no reconnect after `reset`).
    fn check_open(&self) -> Result<(), Failure> {
        if self.opened {
            Ok(())
        } else {
            Err(invalid(NOT_OPEN))
        }
    }

    /// [`check_open`](Self::check_open) plus the session kind: run before any caller-provided
    /// size is looked at, so an unopened session never computes a length from one.
    fn check_ready(&self, want: Mode) -> Result<(), Failure> {
        self.check_open()?;
        match (self.mode, want) {
            (Mode::Encode, Mode::Decode) => Err(invalid("this is an encode session")),
            (Mode::Decode, Mode::Encode) => Err(invalid("this is a decode session")),
            _ => Ok(()),
        }
    }

    fn encoder(&mut self) -> Result<&mut EncodeSession, Failure> {
        match self.live()? {
            Live::Encode(e) => Ok(e),
            Live::Decode(_) => Err(invalid("this is a decode session")),
        }
    }

    fn decoder(&mut self) -> Result<&mut DecodeSession, Failure> {
        match self.live()? {
            Live::Decode(d) => Ok(d),
            Live::Encode(_) => Err(invalid("this is an encode session")),
        }
    }

    fn reset(&mut self) {
        if let Some(live) = self.live.take() {
            let st = live.stats();
            let c = &mut self.carried;
            c.frames += st.frames;
            c.packets += st.packets;
            c.bytes_sent += st.bytes_sent;
            c.bytes_received += st.bytes_received;
            c.max_inflight = c.max_inflight.max(st.max_inflight);
            c.send_ms_total += st.mean_send.as_secs_f64() * 1e3 * st.sends_estimate();
            c.sends += st.sends_estimate() as u64;
            c.wait_ms_total += st.mean_wait.as_secs_f64() * 1e3 * st.packets.max(1) as f64;
            c.waits += st.packets.max(1);
        }
        self.durations.clear();
        self.packet = None;
        self.picture = None;
    }

    fn stats(&self) -> VtremoteStats {
        let c = self.carried;
        let mut out = VtremoteStats {
            frames: c.frames,
            packets: c.packets,
            bytes_sent: c.bytes_sent,
            bytes_received: c.bytes_received,
            max_inflight: c.max_inflight,
            ..Default::default()
        };
        let (mut send_ms, mut sends, mut wait_ms, mut waits) = (
            c.send_ms_total,
            c.sends as f64,
            c.wait_ms_total,
            c.waits as f64,
        );
        if let Some(live) = &self.live {
            let st = live.stats();
            out.frames += st.frames;
            out.packets += st.packets;
            out.bytes_sent += st.bytes_sent;
            out.bytes_received += st.bytes_received;
            out.max_inflight = out.max_inflight.max(st.max_inflight);
            let n = st.sends_estimate();
            send_ms += st.mean_send.as_secs_f64() * 1e3 * n;
            sends += n;
            let w = st.packets.max(1) as f64;
            wait_ms += st.mean_wait.as_secs_f64() * 1e3 * w;
            waits += w;
        }
        out.elapsed_s = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        if out.elapsed_s > 0.0 {
            out.sent_mbps = out.bytes_sent as f64 * 8.0 / out.elapsed_s / 1e6;
            out.received_mbps = out.bytes_received as f64 * 8.0 / out.elapsed_s / 1e6;
        }
        out.mean_send_ms = if sends > 0.0 { send_ms / sends } else { 0.0 };
        out.mean_wait_ms = if waits > 0.0 { wait_ms / waits } else { 0.0 };
        out
    }

    /// The spec §10.3 summary line, with "in" = bytes sent to the helper and "out" = bytes
    /// received from it, like the original client.
    fn summary(&self) -> String {
        let st = self.stats();
        let host = &self.settings.config.host;
        match self.mode {
            Mode::Encode => format!(
                "VT remote summary: host={host} frames={} packets={} bytes_in={} bytes_out={} max_inflight={} elapsed={:.3}s in={:.2}Mb/s out={:.2}Mb/s avg_send_ms={:.2} avg_wait_ms={:.2}",
                st.frames, st.packets, st.bytes_sent, st.bytes_received, st.max_inflight,
                st.elapsed_s, st.sent_mbps, st.received_mbps, st.mean_send_ms, st.mean_wait_ms
            ),
            Mode::Decode => format!(
                "VT remote decode summary: host={host} packets={} frames={} bytes_in={} bytes_out={} elapsed={:.3}s in={:.2}Mb/s out={:.2}Mb/s avg_wait_ms={:.2}",
                st.packets, st.frames, st.bytes_sent, st.bytes_received, st.elapsed_s,
                st.sent_mbps, st.received_mbps, st.mean_wait_ms
            ),
        }
    }
}

trait SendsEstimate {
    fn sends_estimate(&self) -> f64;
}

impl SendsEstimate for SessionStats {
    /// Inputs handed over: frames when encoding, packets when decoding. Either way the larger
    /// counter bounds it; it only weights the mean across reconnects.
    fn sends_estimate(&self) -> f64 {
        self.frames.max(self.packets) as f64
    }
}

fn parse_ratio(s: &str) -> Option<(u32, u32)> {
    let (n, d) = s.trim().split_once(['/', ':'])?;
    Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
}

fn to_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The one place that turns a C handle into a session: null check, poisoning after a panic,
/// the panic boundary, and recording the failure text.
fn with_session(
    s: *mut VtremoteSession,
    f: impl FnOnce(&mut VtremoteSession) -> Result<VtremoteStatus, Failure>,
) -> VtremoteStatus {
    // SAFETY: the caller promises `s` is null or a live handle from vtremote_session_new not
    // used concurrently from another thread (documented in the header).
    let Some(session) = (unsafe { s.as_mut() }) else {
        return St::InvalidArgument;
    };
    if session.poisoned {
        return St::Internal;
    }
    match catch_unwind(AssertUnwindSafe(|| f(&mut *session))) {
        Ok(Ok(st)) => st,
        Ok(Err(Failure(st, msg))) => {
            session.last_error = to_cstring(&msg);
            st
        }
        Err(p) => {
            session.poisoned = true;
            session.last_error = to_cstring(&format!(
                "internal error in libvtremote: {}",
                panic_message(&*p)
            ));
            St::Internal
        }
    }
}

/// Panic boundary for calls without a session.
fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The one place that reads a C string argument.
///
/// # Safety
/// `p` must be null or a NUL-terminated string valid for the call.
unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| invalid(format!("{what} is not UTF-8")))
}

/// The one place that turns a (pointer, count) argument into a slice. Refuses what
/// `slice::from_raw_parts` may not be given: NULL, a misaligned pointer, or a count whose
/// size in bytes overflows or exceeds `isize::MAX`.
///
/// # Safety
/// `p` must be valid for `len` elements, or `len` must be 0.
unsafe fn c_slice<'a, T>(p: *const T, len: usize, what: &str) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL but its size is {len}")));
    }
    let fits = len
        .checked_mul(std::mem::size_of::<T>())
        .is_some_and(|bytes| isize::try_from(bytes).is_ok());
    if !fits {
        return Err(invalid(format!(
            "{what}: size {len} is larger than any buffer can be"
        )));
    }
    if !p.is_aligned() {
        return Err(invalid(format!("{what} is not suitably aligned")));
    }
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// [`c_slice`] for byte buffers.
///
/// # Safety
/// `p` must be valid for `len` bytes, or `len` must be 0.
unsafe fn c_bytes<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    unsafe { c_slice(p, len, what) }
}

/// Bytes spanned by a plane of `rows` rows `stride` apart whose last row is `row_bytes` long:
/// `stride * (rows - 1) + row_bytes`, or `None` when there are no rows or it overflows.
fn plane_span(stride: usize, rows: usize, row_bytes: usize) -> Option<usize> {
    stride
        .checked_mul(rows.checked_sub(1)?)?
        .checked_add(row_bytes)
}

const VERSION_STRING: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("version string"),
    };

/// `VTREMOTE_VERSION_INT(major, minor, patch)` of the library actually linked.
#[no_mangle]
pub extern "C" fn vtremote_version() -> u32 {
    guard(0, || {
        let p = |s: &str| s.parse::<u32>().unwrap_or(0);
        (p(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
            | (p(env!("CARGO_PKG_VERSION_MINOR")) << 8)
            | p(env!("CARGO_PKG_VERSION_PATCH"))
    })
}

#[no_mangle]
pub extern "C" fn vtremote_version_string() -> *const c_char {
    guard(c"".as_ptr(), || VERSION_STRING.as_ptr())
}

/// Static text for a status; unknown values get a generic text.
#[no_mangle]
pub extern "C" fn vtremote_status_string(status: c_int) -> *const c_char {
    guard(c"unknown status".as_ptr(), || {
        ALL_STATUSES
            .iter()
            .find(|s| **s as c_int == status)
            .map_or(c"unknown status", |s| s.text())
            .as_ptr()
    })
}

#[no_mangle]
pub extern "C" fn vtremote_session_new(mode: c_int) -> *mut VtremoteSession {
    guard(ptr::null_mut(), || {
        let mode = match mode {
            VTREMOTE_MODE_ENCODE => Mode::Encode,
            VTREMOTE_MODE_DECODE => Mode::Decode,
            _ => return ptr::null_mut(),
        };
        Box::into_raw(Box::new(VtremoteSession::new(mode)))
    })
}

/// Closes the connection (if any) and frees the handle. NULL is a no-op.
///
/// # Safety
/// `s` must be null or a handle from `vtremote_session_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_free(s: *mut VtremoteSession) {
    if s.is_null() {
        return;
    }
    // A panic while dropping (joining the I/O threads) must not unwind into C; the memory is
    // then leaked rather than freed twice.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(s) })));
}

/// # Safety
/// `s` a live handle; `key`/`value` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_set_option(
    s: *mut VtremoteSession,
    key: *const c_char,
    value: *const c_char,
) -> VtremoteStatus {
    with_session(s, |s| {
        let key = unsafe { c_str(key, "key") }?;
        let value = unsafe { c_str(value, "value") }?;
        s.set_option(key, value)?;
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle; `data` valid for `size` bytes (copied).
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_set_extradata(
    s: *mut VtremoteSession,
    data: *const u8,
    size: usize,
) -> VtremoteStatus {
    with_session(s, |s| {
        if s.opened {
            return Err(invalid(
                "extradata must be set before vtremote_session_open",
            ));
        }
        s.settings.extradata = unsafe { c_bytes(data, size, "extradata") }?.to_vec();
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_open(s: *mut VtremoteSession) -> VtremoteStatus {
    with_session(s, |s| {
        s.open()?;
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` null or a live handle. The string stays valid until the next call on `s`.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_last_error(s: *const VtremoteSession) -> *const c_char {
    guard(c"".as_ptr(), || match unsafe { s.as_ref() } {
        Some(s) => s.last_error.as_ptr(),
        None => c"no session (NULL handle)".as_ptr(),
    })
}

/// # Safety
/// `s` a live handle; `data`/`size` writable.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_extradata(
    s: *mut VtremoteSession,
    data: *mut *const u8,
    size: *mut usize,
) -> VtremoteStatus {
    with_session(s, |s| {
        if data.is_null() || size.is_null() {
            return Err(invalid("data or size is NULL"));
        }
        // Written in every state (NULL/0 before open), so a caller that ignores the status
        // still reads defined values.
        unsafe {
            *data = if s.extradata.is_empty() {
                ptr::null()
            } else {
                s.extradata.as_ptr()
            };
            *size = s.extradata.len();
        }
        s.check_open()?;
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_warning_count(s: *const VtremoteSession) -> usize {
    guard(0, || unsafe { s.as_ref() }.map_or(0, |s| s.warnings.len()))
}

/// # Safety
/// `s` null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_warning(
    s: *const VtremoteSession,
    index: usize,
) -> *const c_char {
    guard(ptr::null(), || {
        unsafe { s.as_ref() }
            .and_then(|s| s.warnings.get(index))
            .map_or(ptr::null(), |w| w.as_ptr())
    })
}

/// # Safety
/// `s` a live handle; `frame` points to a frame whose planes hold the configured geometry.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_frame(
    s: *mut VtremoteSession,
    frame: *const VtremoteFrame,
) -> VtremoteStatus {
    with_session(s, |s| {
        // State first: only an open encoder has a validated geometry (non-zero, bounded) to
        // compute plane sizes from.
        s.check_ready(Mode::Encode)?;
        let f = unsafe { frame.as_ref() }.ok_or_else(|| invalid("frame is NULL"))?;
        let (w, h, pix) = (s.settings.width, s.settings.height, s.settings.pix_fmt);
        let mut planes = [PlaneSource {
            data: &[],
            stride: 0,
            row_bytes: 0,
            rows: 0,
        }; 2];
        for (i, plane) in planes.iter_mut().enumerate() {
            let row_bytes = pix.row_bytes(i, w);
            let rows = pix.plane_rows(i, h);
            let stride = usize::try_from(f.linesize[i])
                .ok()
                .filter(|st| *st >= row_bytes)
                .ok_or_else(|| {
                    invalid(format!(
                        "plane {i}: linesize {} is negative or below the {row_bytes}-byte row",
                        f.linesize[i]
                    ))
                })?;
            let len = plane_span(stride, rows, row_bytes).ok_or_else(|| {
                invalid(format!(
                    "plane {i}: linesize {stride} over {rows} rows of {row_bytes} bytes \
                     is not a buffer size"
                ))
            })?;
            let data = unsafe { c_bytes(f.data[i], len, &format!("plane {i} data")) }?;
            *plane = PlaneSource {
                data,
                stride,
                row_bytes,
                rows,
            };
        }
        let mut side_data = Vec::new();
        let items = unsafe { c_slice(f.side_data, f.nb_side_data, "side_data") }?;
        for sd in items {
            let data = unsafe { c_bytes(sd.data, sd.size, "side data") }?;
            side_data.push(SideData {
                ty: sd.type_,
                data: data.to_vec(),
            });
        }
        let input = InputFrame {
            pts: f.pts,
            duration: f.duration,
            force_keyframe: f.flags & VTREMOTE_FRAME_FORCE_KEYFRAME != 0,
            planes,
            side_data,
        };
        match s.encoder()?.send_frame(&input) {
            Ok(()) => Ok(St::Ok),
            Err(ClientError::WouldBlock) => Ok(St::Again),
            Err(e) => Err(e.into()),
        }
    })
}

/// # Safety
/// `s` a live handle; `out` writable. `out->data` stays valid until the next call on `s`.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_receive_packet(
    s: *mut VtremoteSession,
    out: *mut VtremotePacket,
) -> VtremoteStatus {
    with_session(s, |s| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        s.packet = None;
        let st = match s.encoder()?.receive_packet()? {
            Received::Item(p) => {
                let pkt = s.packet.insert(p);
                unsafe {
                    *out = VtremotePacket {
                        data: pkt.data.as_ptr(),
                        size: pkt.data.len(),
                        pts: pkt.pts,
                        dts: pkt.dts,
                        duration: pkt.duration,
                        flags: if pkt.keyframe {
                            VTREMOTE_PACKET_KEYFRAME
                        } else {
                            0
                        },
                    }
                };
                St::Ok
            }
            Received::Again => St::Again,
            Received::Eof => St::Eof,
        };
        Ok(st)
    })
}

/// # Safety
/// `s` a live handle; `packet` points to a packet whose data is valid for the call.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_packet(
    s: *mut VtremoteSession,
    packet: *const VtremotePacket,
) -> VtremoteStatus {
    with_session(s, |s| {
        s.check_ready(Mode::Decode)?;
        let p = unsafe { packet.as_ref() }.ok_or_else(|| invalid("packet is NULL"))?;
        let data = unsafe { c_bytes(p.data, p.size, "packet data") }?;
        let input = InputPacket {
            pts: p.pts,
            dts: p.dts,
            duration: p.duration,
            keyframe: p.flags & VTREMOTE_PACKET_KEYFRAME != 0,
            data,
        };
        match s.decoder()?.send_packet(&input) {
            Ok(()) => {
                if p.duration > 0 {
                    if s.durations.len() == MAX_REMEMBERED_DURATIONS {
                        s.durations.pop_front();
                    }
                    s.durations.push_back((p.pts, p.duration));
                }
                Ok(St::Ok)
            }
            Err(ClientError::WouldBlock) => Ok(St::Again),
            Err(e) => Err(e.into()),
        }
    })
}

/// # Safety
/// `s` a live handle; `out` writable. Planes stay valid until the next call on `s`.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_receive_frame(
    s: *mut VtremoteSession,
    out: *mut VtremotePicture,
) -> VtremoteStatus {
    with_session(s, |s| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        s.picture = None;
        let st = match s.decoder()?.receive_frame()? {
            Received::Item(mut f) => {
                if let Some(i) = s.durations.iter().position(|(pts, _)| *pts == f.pts) {
                    let (_, d) = s.durations.remove(i).expect("index from position");
                    if f.duration <= 0 {
                        f.duration = d;
                    }
                }
                let f = s.picture.insert(f);
                unsafe {
                    *out = VtremotePicture {
                        pts: f.pts,
                        duration: f.duration,
                        width: f.width,
                        height: f.height,
                        pix_fmt: c_int::from(f.pix_fmt.wire_code()),
                        data: [f.planes[0].as_ptr(), f.planes[1].as_ptr()],
                        linesize: f.strides,
                    }
                };
                St::Ok
            }
            Received::Again => St::Again,
            Received::Eof => St::Eof,
        };
        Ok(st)
    })
}

/// # Safety
/// `s` a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_eof(s: *mut VtremoteSession) -> VtremoteStatus {
    with_session(s, |s| {
        match s.live()? {
            Live::Encode(e) => e.send_eof()?,
            Live::Decode(d) => d.send_eof()?,
        }
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_reset(s: *mut VtremoteSession) -> VtremoteStatus {
    with_session(s, |s| {
        s.check_open()?;
        s.reset();
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_get_stats(
    s: *mut VtremoteSession,
    out: *mut VtremoteStats,
) -> VtremoteStatus {
    with_session(s, |s| {
        let out = unsafe { out.as_mut() }.ok_or_else(|| invalid("out is NULL"))?;
        *out = s.stats();
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle. The string stays valid until the next call on `s`.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_summary(s: *mut VtremoteSession) -> *const c_char {
    let mut text = ptr::null();
    with_session(s, |s| {
        s.summary = to_cstring(&s.summary());
        text = s.summary.as_ptr();
        Ok(St::Ok)
    });
    if text.is_null() {
        c"".as_ptr()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    //! The C ABI driven the way FFmpeg drives it, against an in-process v1 server that
    //! speaks only what the spec describes (no extensions).

    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;
    use vtremote_proto::{
        encode_frame, ConfigureAck, Header, HelloAck, HelloStatus, Message, Packet,
        PlaneCompressor, HEADER_LEN,
    };

    /// What the fake server saw, for assertions.
    #[derive(Debug, Default)]
    struct Seen {
        options: Vec<(String, String)>,
        extradata: Vec<u8>,
        frames: Vec<(i64, u32)>,
        packets: usize,
        flushes: usize,
    }

    fn read_msg(sock: &mut TcpStream) -> Option<Message> {
        let mut h = [0u8; HEADER_LEN];
        sock.read_exact(&mut h).ok()?;
        let h = Header::decode(&h).ok()?;
        let mut payload = vec![0; h.len as usize];
        sock.read_exact(&mut payload).ok()?;
        Message::decode(h.ty, payload).ok()
    }

    fn write_msg(sock: &mut TcpStream, m: &Message) {
        sock.write_all(&m.to_bytes().unwrap()).unwrap();
    }

    fn avcc_record() -> Vec<u8> {
        let boxed = include_bytes!("../../vtremote-media/tests/fixtures/h264_318x238.avcC.box");
        assert_eq!(&boxed[4..8], b"avcC");
        boxed[8..].to_vec()
    }

    /// A plain v1 server for one connection. `token`: required token, if any.
    fn fake_server(token: Option<&'static str>) -> (String, thread::JoinHandle<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = thread::spawn(move || {
            let mut seen = Seen::default();
            let (mut sock, _) = listener.accept().unwrap();
            let Some(Message::Hello(hello)) = read_msg(&mut sock) else {
                return seen;
            };
            let ok = token.is_none_or(|t| hello.token == t);
            write_msg(
                &mut sock,
                &Message::HelloAck(HelloAck {
                    status: if ok {
                        HelloStatus::Accepted
                    } else {
                        HelloStatus::AuthFailed
                    },
                    server_name: String::new(),
                    server_version: String::new(),
                    codecs: vec!["h264".into(), "hevc".into()],
                    max_sessions: 4,
                    active_sessions: 1,
                }),
            );
            if !ok {
                return seen;
            }
            let Some(Message::Configure(cfg)) = read_msg(&mut sock) else {
                return seen;
            };
            seen.options = cfg.options.clone();
            seen.extradata = cfg.extradata.clone();
            let decode = cfg.option("mode") == Some("decode");
            let wc = cfg
                .option("wire_compression")
                .and_then(|v| v.parse::<i64>().ok())
                .map_or(WireCompression::None, |c| {
                    WireCompression::from_code(c).unwrap()
                });
            let mut compressor = PlaneCompressor::new(wc).unwrap();
            write_msg(
                &mut sock,
                &Message::ConfigureAck(ConfigureAck {
                    status: 0,
                    extradata: if decode { Vec::new() } else { avcc_record() },
                    pix_fmt: cfg.pix_fmt,
                    warnings: Vec::new(),
                }),
            );
            let pix = PixelFormat::from_wire_code(cfg.pix_fmt).unwrap();
            while let Some(m) = read_msg(&mut sock) {
                match m {
                    Message::Frame(f) => {
                        seen.frames.push((f.pts, f.flags));
                        let mut out = Vec::new();
                        Packet::encode_message(
                            &mut out,
                            f.pts,
                            f.pts,
                            0,
                            f.flags & 1,
                            &[0, 0, 0, 1, 0x65, 0x88],
                        );
                        sock.write_all(&out).unwrap();
                    }
                    Message::Packet(p) => {
                        seen.packets += 1;
                        let fill = *p.data.last().unwrap_or(&0);
                        let planes: Vec<Vec<u8>> = (0..2)
                            .map(|i| {
                                vec![
                                    fill;
                                    pix.row_bytes(i, cfg.width) * pix.plane_rows(i, cfg.height)
                                ]
                            })
                            .collect();
                        let src: Vec<PlaneSource> = (0..2)
                            .map(|i| PlaneSource {
                                data: &planes[i],
                                stride: pix.row_bytes(i, cfg.width),
                                row_bytes: pix.row_bytes(i, cfg.width),
                                rows: pix.plane_rows(i, cfg.height),
                            })
                            .collect();
                        let mut out = Vec::new();
                        encode_frame(
                            &mut out,
                            p.pts,
                            0,
                            0,
                            &src,
                            &[],
                            &mut compressor,
                            &mut Vec::new(),
                        )
                        .unwrap();
                        sock.write_all(&out).unwrap();
                    }
                    Message::Flush => {
                        seen.flushes += 1;
                        write_msg(&mut sock, &Message::Done);
                        let _ = sock.shutdown(std::net::Shutdown::Write);
                    }
                    _ => {}
                }
            }
            seen
        });
        (addr, handle)
    }

    fn set(s: *mut VtremoteSession, k: &str, v: &str) -> VtremoteStatus {
        let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
        unsafe { vtremote_session_set_option(s, k.as_ptr(), v.as_ptr()) }
    }

    fn last_error(s: *mut VtremoteSession) -> String {
        unsafe { CStr::from_ptr(vtremote_session_last_error(s)) }
            .to_string_lossy()
            .into_owned()
    }

    fn encoder(host: &str, w: u32, h: u32) -> *mut VtremoteSession {
        let s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
        assert!(!s.is_null());
        for (k, v) in [
            ("host", host),
            ("codec", "h264"),
            ("width", &w.to_string()),
            ("height", &h.to_string()),
            ("pix_fmt", "nv12"),
            ("time_base", "1/30"),
            ("framerate", "30/1"),
            ("timeout_ms", "2000"),
            ("inflight", "4"),
            ("bitrate", "4000000"),
            ("gop", "60"),
            ("qmin", "-1"),
            ("colorspace", "2"),
            ("wire_compression", "lz4"),
        ] {
            assert_eq!(set(s, k, v), St::Ok, "{k}={v}: {}", last_error(s));
        }
        s
    }

    #[test]
    fn status_strings_are_static_and_cover_unknown_values() {
        for st in ALL_STATUSES {
            let p = vtremote_status_string(st as c_int);
            assert!(!unsafe { CStr::from_ptr(p) }.to_bytes().is_empty());
        }
        let p = vtremote_status_string(12345);
        assert_eq!(
            unsafe { CStr::from_ptr(p) }.to_str().unwrap(),
            "unknown status"
        );
    }

    #[test]
    fn version_matches_the_crate() {
        let v = vtremote_version();
        let s = unsafe { CStr::from_ptr(vtremote_version_string()) }
            .to_str()
            .unwrap();
        let parts: Vec<u32> = s.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(v, (parts[0] << 16) | (parts[1] << 8) | parts[2]);
    }

    #[test]
    fn null_handles_and_pointers_are_refused_not_dereferenced() {
        assert!(vtremote_session_new(7).is_null());
        assert_eq!(
            unsafe { vtremote_session_open(ptr::null_mut()) },
            St::InvalidArgument
        );
        unsafe { vtremote_session_free(ptr::null_mut()) };
        let s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
        let k = CString::new("host").unwrap();
        assert_eq!(
            unsafe { vtremote_session_set_option(s, k.as_ptr(), ptr::null()) },
            St::InvalidArgument
        );
        assert!(last_error(s).contains("value is NULL"));
        assert_eq!(
            unsafe { vtremote_session_send_frame(s, ptr::null()) },
            St::InvalidArgument
        );
        assert_eq!(
            unsafe { vtremote_session_set_extradata(s, ptr::null(), 4) },
            St::InvalidArgument
        );
        unsafe { vtremote_session_free(s) };
    }

    #[test]
    fn a_panic_is_caught_and_poisons_the_handle() {
        let s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
        assert_eq!(set(s, "test_panic", "boom"), St::Internal);
        assert!(
            last_error(s).contains("test panic: boom"),
            "{}",
            last_error(s)
        );
        // Unusable afterwards, but still answerable and freeable.
        assert_eq!(set(s, "host", "127.0.0.1:1"), St::Internal);
        assert!(!unsafe { vtremote_session_summary(s) }.is_null());
        unsafe { vtremote_session_free(s) };
    }

    #[test]
    fn bad_option_values_name_the_option() {
        let s = vtremote_session_new(VTREMOTE_MODE_DECODE);
        assert_eq!(set(s, "timeout_ms", "5"), St::InvalidArgument);
        assert!(last_error(s).contains("timeout_ms"), "{}", last_error(s));
        assert_eq!(set(s, "inflight", "0"), St::InvalidArgument);
        assert_eq!(set(s, "wire_compression", "brotli"), St::InvalidArgument);
        assert_eq!(set(s, "pix_fmt", "yuv420p"), St::InvalidArgument);
        assert_eq!(set(s, "bitrate", "lots"), St::InvalidArgument);
        assert_eq!(set(s, "mode", "encode"), St::InvalidArgument);
        assert_eq!(set(s, "some_future_vt_property", "x"), St::Ok);
        // Opening without a host says so.
        assert_eq!(set(s, "codec", "hevc"), St::Ok);
        assert_eq!(unsafe { vtremote_session_open(s) }, St::InvalidArgument);
        assert!(last_error(s).contains("host"), "{}", last_error(s));
        unsafe { vtremote_session_free(s) };
    }

    /// The loop FFmpeg's receive_packet callback runs: send until AGAIN, receive until AGAIN,
    /// EOF drains.
    #[test]
    fn encode_loop_gets_one_packet_per_frame_and_annexb_extradata() {
        let (host, server) = fake_server(None);
        let (w, h) = (64u32, 36u32);
        let s = encoder(&host, w, h);
        assert_eq!(
            unsafe { vtremote_session_open(s) },
            St::Ok,
            "{}",
            last_error(s)
        );
        let (mut ed, mut ed_len) = (ptr::null(), 0usize);
        assert_eq!(
            unsafe { vtremote_session_extradata(s, &mut ed, &mut ed_len) },
            St::Ok
        );
        let ed = unsafe { std::slice::from_raw_parts(ed, ed_len) };
        assert_eq!(&ed[..5], &[0, 0, 0, 1, 0x67], "SPS first, as Annex B");

        let stride = 96usize;
        let luma = vec![16u8; stride * h as usize];
        let chroma = vec![128u8; stride * (h as usize / 2)];
        let total = 20i64;
        let (mut next, mut got, mut eof_sent) = (0i64, Vec::new(), false);
        loop {
            let mut pkt = VtremotePacket {
                data: ptr::null(),
                size: 0,
                pts: 0,
                dts: 0,
                duration: 0,
                flags: 0,
            };
            match unsafe { vtremote_session_receive_packet(s, &mut pkt) } {
                St::Ok => {
                    let data = unsafe { std::slice::from_raw_parts(pkt.data, pkt.size) };
                    assert_eq!(data, &[0, 0, 0, 1, 0x65, 0x88]);
                    got.push((pkt.pts, pkt.flags));
                    continue;
                }
                St::Eof => break,
                St::Again => {}
                other => panic!("receive: {other:?} {}", last_error(s)),
            }
            assert!(!eof_sent, "AGAIN after EOF was sent");
            if next == total {
                assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
                eof_sent = true;
                continue;
            }
            let frame = VtremoteFrame {
                pts: next,
                duration: 1,
                flags: if next == 10 {
                    VTREMOTE_FRAME_FORCE_KEYFRAME
                } else {
                    0
                },
                data: [luma.as_ptr(), chroma.as_ptr()],
                linesize: [stride as isize, stride as isize],
                side_data: ptr::null(),
                nb_side_data: 0,
            };
            match unsafe { vtremote_session_send_frame(s, &frame) } {
                St::Ok => next += 1,
                St::Again => {}
                other => panic!("send: {other:?} {}", last_error(s)),
            }
        }
        assert_eq!(got.len(), total as usize);
        assert_eq!(got[10], (10, VTREMOTE_PACKET_KEYFRAME));
        let mut stats = VtremoteStats::default();
        assert_eq!(unsafe { vtremote_session_get_stats(s, &mut stats) }, St::Ok);
        assert_eq!((stats.frames, stats.packets), (20, 20));
        assert!(stats.max_inflight <= 4);
        let summary = unsafe { CStr::from_ptr(vtremote_session_summary(s)) }
            .to_str()
            .unwrap()
            .to_owned();
        assert!(summary.starts_with("VT remote summary: host="), "{summary}");
        assert!(summary.contains("frames=20 packets=20"), "{summary}");
        unsafe { vtremote_session_free(s) };

        let seen = server.join().unwrap();
        assert_eq!(seen.frames.len(), 20);
        assert_eq!(seen.frames[10], (10, 1));
        let keys: Vec<&str> = seen.options.iter().map(|(k, _)| k.as_str()).collect();
        // mode first, compression next, then §6.1 order; FFmpeg's "unset" values stay off the wire.
        assert_eq!(&keys[..4], ["mode", "wire_compression", "bitrate", "gop"]);
        assert!(!keys.contains(&"qmin") && !keys.contains(&"colorspace"));
        assert!(seen
            .options
            .contains(&("wire_compression".into(), "1".into())));
        assert_eq!(seen.flushes, 1);
    }

    #[test]
    fn frames_with_short_or_negative_linesize_are_refused() {
        let (host, server) = fake_server(None);
        let s = encoder(&host, 64, 36);
        assert_eq!(
            unsafe { vtremote_session_open(s) },
            St::Ok,
            "{}",
            last_error(s)
        );
        let buf = vec![0u8; 64 * 36];
        let frame = VtremoteFrame {
            pts: 0,
            duration: 0,
            flags: 0,
            data: [buf.as_ptr(), buf.as_ptr()],
            linesize: [-64, 64],
            side_data: ptr::null(),
            nb_side_data: 0,
        };
        assert_eq!(
            unsafe { vtremote_session_send_frame(s, &frame) },
            St::InvalidArgument
        );
        assert!(last_error(s).contains("linesize"), "{}", last_error(s));
        unsafe { vtremote_session_free(s) };
        drop(server.join());
    }

    #[test]
    fn decode_loop_returns_pictures_and_fills_missing_durations() {
        let (host, server) = fake_server(None);
        let s = vtremote_session_new(VTREMOTE_MODE_DECODE);
        for (k, v) in [
            ("host", host.as_str()),
            ("codec", "h264"),
            ("width", "32"),
            ("height", "18"),
            ("pix_fmt", "nv12"),
            ("time_base", "1/90000"),
            ("wire_compression", "zstd"),
        ] {
            assert_eq!(set(s, k, v), St::Ok);
        }
        let record = avcc_record();
        assert_eq!(
            unsafe { vtremote_session_set_extradata(s, record.as_ptr(), record.len()) },
            St::Ok
        );
        assert_eq!(
            unsafe { vtremote_session_open(s) },
            St::Ok,
            "{}",
            last_error(s)
        );
        let mut pics = Vec::new();
        let mut sent = 0u8;
        loop {
            let mut pic = VtremotePicture {
                pts: 0,
                duration: 0,
                width: 0,
                height: 0,
                pix_fmt: 0,
                data: [ptr::null(); 2],
                linesize: [0; 2],
            };
            match unsafe { vtremote_session_receive_frame(s, &mut pic) } {
                St::Ok => {
                    let y =
                        unsafe { std::slice::from_raw_parts(pic.data[0], pic.linesize[0] * 18) };
                    pics.push((
                        pic.pts,
                        pic.duration,
                        pic.width,
                        pic.height,
                        pic.pix_fmt,
                        y[0],
                    ));
                    continue;
                }
                St::Eof => break,
                St::Again => {}
                other => panic!("receive: {other:?} {}", last_error(s)),
            }
            if sent == 3 {
                assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
                continue;
            }
            let data = [0u8, 0, 0, 1, 0x65, 10 + sent];
            let pkt = VtremotePacket {
                data: data.as_ptr(),
                size: data.len(),
                pts: i64::from(sent) * 3000,
                dts: i64::from(sent) * 3000,
                duration: 3000,
                flags: u32::from(sent == 0),
            };
            match unsafe { vtremote_session_send_packet(s, &pkt) } {
                St::Ok => sent += 1,
                St::Again => {}
                other => panic!("send: {other:?} {}", last_error(s)),
            }
        }
        assert_eq!(
            pics,
            vec![
                (0, 3000, 32, 18, VTREMOTE_PIX_FMT_NV12, 10),
                (3000, 3000, 32, 18, VTREMOTE_PIX_FMT_NV12, 11),
                (6000, 3000, 32, 18, VTREMOTE_PIX_FMT_NV12, 12),
            ]
        );
        unsafe { vtremote_session_free(s) };
        let seen = server.join().unwrap();
        assert_eq!(
            seen.extradata, record,
            "container extradata goes to CONFIGURE as-is"
        );
        assert_eq!(seen.options[0], ("mode".into(), "decode".into()));
        assert_eq!(seen.packets, 3);
    }

    #[test]
    fn wrong_token_and_refused_port_fail_with_the_host_in_the_message() {
        let (host, server) = fake_server(Some("right"));
        let s = encoder(&host, 64, 36);
        assert_eq!(set(s, "token", "wrong"), St::Ok);
        assert_eq!(unsafe { vtremote_session_open(s) }, St::Auth);
        assert!(last_error(s).contains(&host), "{}", last_error(s));
        unsafe { vtremote_session_free(s) };
        server.join().unwrap();

        // A port nobody listens on (bound, then released).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let s = encoder(&host, 64, 36);
        assert_eq!(unsafe { vtremote_session_open(s) }, St::Connect);
        assert!(last_error(s).contains(&host), "{}", last_error(s));
        unsafe { vtremote_session_free(s) };
    }

    #[test]
    fn reset_reconnects_a_decoder_lazily() {
        let (host1, server1) = fake_server(None);
        let s = vtremote_session_new(VTREMOTE_MODE_DECODE);
        for (k, v) in [
            ("host", host1.as_str()),
            ("codec", "h264"),
            ("width", "16"),
            ("height", "16"),
        ] {
            assert_eq!(set(s, k, v), St::Ok);
        }
        assert_eq!(
            unsafe { vtremote_session_open(s) },
            St::Ok,
            "{}",
            last_error(s)
        );
        assert_eq!(unsafe { vtremote_session_reset(s) }, St::Ok);
        drop(server1.join());
        // The next send connects again, to the same host: nobody listens now.
        let data = [0u8, 0, 0, 1, 0x65];
        let pkt = VtremotePacket {
            data: data.as_ptr(),
            size: 5,
            pts: 0,
            dts: 0,
            duration: 0,
            flags: 1,
        };
        assert_eq!(
            unsafe { vtremote_session_send_packet(s, &pkt) },
            St::Connect
        );
        unsafe { vtremote_session_free(s) };
    }

    /// Names of the `extern "C"` functions defined in this file, sorted.
    fn exported_functions() -> Vec<&'static str> {
        let source = include_str!("capi.rs");
        let mut exported: Vec<&str> = source
            .split("extern \"C\" fn ")
            .skip(1)
            .map(|rest| rest.split('(').next().unwrap())
            .filter(|name| name.starts_with("vtremote_"))
            .collect();
        exported.sort();
        exported
    }

    /// Every `extern "C"` function here is declared in the committed header and vice versa,
    /// and the status values agree.
    #[test]
    fn header_declares_every_exported_function() {
        let header = include_str!("../../../include/vtremote.h");
        let exported = exported_functions();
        let mut declared: Vec<&str> = header
            .lines()
            .filter(|l| !l.trim_start().starts_with('*') && !l.trim_start().starts_with("//"))
            .filter_map(|l| {
                let (before, _) = l.split_once('(')?;
                let name = before.split_whitespace().last()?.trim_start_matches('*');
                name.starts_with("vtremote_").then_some(name)
            })
            .collect();
        declared.sort();
        declared.dedup();
        assert_eq!(
            exported, declared,
            "include/vtremote.h and capi.rs disagree"
        );
        for st in ALL_STATUSES {
            let name = format!("{st:?}");
            let mut c_name = String::from("VTREMOTE_");
            for (i, ch) in name.chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    c_name.push('_');
                }
                c_name.push(ch.to_ascii_uppercase());
            }
            if st as c_int <= 0 && st != St::Ok {
                c_name = c_name.replacen("VTREMOTE_", "VTREMOTE_ERROR_", 1);
            }
            let decl = format!("{c_name} = {}", st as c_int);
            assert!(header.contains(&decl), "header lacks `{decl}`");
        }
        let version = format!(
            "#define VTREMOTE_VERSION_MAJOR {}",
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert!(header.contains(&version), "header lacks `{version}`");
    }

    #[test]
    fn decode_order_from_an_original_daemon_is_returned_in_display_order() {
        // The fake server answers each PACKET at once with a FRAME carrying that packet's
        // pts: decode order, exactly what the original daemon does (spec §5.3).
        let (addr, server) = fake_server(None);
        let mut cfg = crate::ClientConfig::new(addr);
        cfg.inflight = 4;
        let extradata = avcc_record();
        let depth = crate::reorder::reorder_depth(vtremote_media::Codec::H264, &extradata);
        assert!(
            (2..crate::reorder::UNKNOWN_DEPTH).contains(&depth),
            "depth {depth}"
        );
        let params = crate::DecoderParams {
            codec: crate::Codec::H264,
            width: 318,
            height: 238,
            pix_fmt: PixelFormat::Nv12,
            time_base: (1, 25),
            extradata,
            options: vec![],
        };
        let mut s = crate::DecodeSession::connect(&cfg, &params).unwrap();
        assert!(!s.server_info().is_vtremoted_rs());
        let decode_order = [0i64, 3, 1, 2, 6, 4, 5, 9, 7, 8];
        let mut shown = Vec::new();
        let take = |r: crate::Received<crate::OutputFrame>, shown: &mut Vec<i64>| match r {
            crate::Received::Item(f) => {
                shown.push(f.pts);
                true
            }
            _ => false,
        };
        for &pts in &decode_order {
            let data = [0, 0, 0, 1, 0x41, pts as u8];
            let pkt = crate::InputPacket {
                pts,
                dts: pts,
                duration: 1,
                keyframe: pts == 0,
                data: &data,
            };
            loop {
                match s.send_packet(&pkt) {
                    Ok(()) => break,
                    Err(crate::ClientError::WouldBlock) => {
                        let r = s.receive_frame().unwrap();
                        take(r, &mut shown);
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            while take(s.receive_frame().unwrap(), &mut shown) {}
        }
        s.send_eof().unwrap();
        loop {
            match s.receive_frame().unwrap() {
                crate::Received::Item(f) => shown.push(f.pts),
                crate::Received::Eof => break,
                crate::Received::Again => {}
            }
        }
        assert_eq!(shown, (0..10).collect::<Vec<i64>>());
        drop(s);
        assert_eq!(server.join().unwrap().packets, 10);
    }

    // ---- Hostile arguments: every entry point on sessions that are not open, then open ones

    /// Every exported function, each called by `every_entry_point_*` below; checked against
    /// the definitions in this file so a new entry point cannot be forgotten.
    const EXERCISED: [&str; 20] = [
        "vtremote_version",
        "vtremote_version_string",
        "vtremote_status_string",
        "vtremote_session_new",
        "vtremote_session_free",
        "vtremote_session_set_option",
        "vtremote_session_set_extradata",
        "vtremote_session_open",
        "vtremote_session_last_error",
        "vtremote_session_extradata",
        "vtremote_session_warning_count",
        "vtremote_session_warning",
        "vtremote_session_send_frame",
        "vtremote_session_receive_packet",
        "vtremote_session_send_packet",
        "vtremote_session_receive_frame",
        "vtremote_session_send_eof",
        "vtremote_session_reset",
        "vtremote_session_get_stats",
        "vtremote_session_summary",
    ];

    #[test]
    fn the_hostile_argument_tests_cover_every_exported_function() {
        let mut exercised = EXERCISED.to_vec();
        exercised.sort();
        assert_eq!(exercised, exported_functions());
    }

    /// `127.0.0.1:PORT` where nothing listens (bound, then released): connecting is refused.
    fn refused_host() -> String {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("127.0.0.1:{port}")
    }

    /// A session of `mode` for `host`, `width` × `height` pixels, not opened.
    fn configured(mode: c_int, host: &str, width: &str, height: &str) -> *mut VtremoteSession {
        let s = vtremote_session_new(mode);
        assert!(!s.is_null());
        for (k, v) in [
            ("host", host),
            ("codec", "h264"),
            ("width", width),
            ("height", height),
            ("pix_fmt", "nv12"),
            ("time_base", "1/30"),
            ("timeout_ms", "500"),
        ] {
            assert_eq!(set(s, k, v), St::Ok, "{k}={v}: {}", last_error(s));
        }
        s
    }

    /// A failure with its sentence, the handle still usable (a caught panic would say
    /// `Internal` and poison it).
    #[track_caller]
    fn assert_refused(s: *mut VtremoteSession, st: VtremoteStatus, needle: &str) {
        assert_eq!(st, St::InvalidArgument, "{}", last_error(s));
        let msg = last_error(s);
        assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
    }

    #[track_caller]
    fn assert_not_open(s: *mut VtremoteSession, st: VtremoteStatus) {
        assert_refused(s, st, "not open");
    }

    fn empty_packet() -> VtremotePacket {
        VtremotePacket {
            data: ptr::null(),
            size: 0,
            pts: 0,
            dts: 0,
            duration: 0,
            flags: 0,
        }
    }

    fn empty_picture() -> VtremotePicture {
        VtremotePicture {
            pts: 0,
            duration: 0,
            width: 0,
            height: 0,
            pix_fmt: 0,
            data: [ptr::null(); 2],
            linesize: [0; 2],
        }
    }

    /// Input frames from plausible to hostile. `buf` must outlive their use; `big` is a
    /// non-null, aligned pointer valid for nothing, for sizes no buffer can have.
    fn frames(buf: &[u8], side: &[VtremoteSideData]) -> Vec<(&'static str, VtremoteFrame)> {
        let big = ptr::NonNull::<VtremoteSideData>::dangling()
            .as_ptr()
            .cast_const();
        let frame = |data: [*const u8; 2], linesize: [isize; 2]| VtremoteFrame {
            pts: 0,
            duration: 1,
            flags: VTREMOTE_FRAME_FORCE_KEYFRAME,
            data,
            linesize,
            side_data: ptr::null(),
            nb_side_data: 0,
        };
        let planes = [buf.as_ptr(), buf.as_ptr()];
        let mut out = vec![
            ("plausible", frame(planes, [64, 64])),
            ("null planes", frame([ptr::null(); 2], [64, 64])),
            ("zero linesize", frame(planes, [0, 0])),
            ("negative linesize", frame(planes, [isize::MIN, -64])),
            ("huge linesize", frame(planes, [isize::MAX, isize::MAX])),
            (
                "linesize near overflow",
                frame(planes, [isize::MAX / 35, 64]),
            ),
        ];
        let mut f = frame(planes, [64, 64]);
        f.side_data = side.as_ptr();
        f.nb_side_data = side.len();
        out.push(("side data", f));
        let mut f = frame(planes, [64, 64]);
        f.nb_side_data = 3;
        out.push(("null side data", f));
        let mut f = frame(planes, [64, 64]);
        f.side_data = big;
        f.nb_side_data = usize::MAX;
        out.push(("huge side data count", f));
        let mut f = frame(planes, [64, 64]);
        f.side_data = side.as_ptr().cast::<u8>().wrapping_add(1).cast();
        f.nb_side_data = 1;
        out.push(("misaligned side data", f));
        out
    }

    /// Calls every session entry point except new/open/free on `s`, which is not open (never
    /// opened, or its open failed), with plausible and hostile arguments. Calls that need a
    /// connection must fail with INVALID_ARGUMENT and a sentence before looking at any size
    /// (no panic, no wrapped length); setters and read-only accessors keep their documented
    /// pre-open behaviour.
    fn poke_every_session_call(s: *mut VtremoteSession) {
        let buf = vec![0x80u8; 64 * 64];
        let cc = [0xfcu8, 0x80, 0x80];
        let big_bytes = ptr::NonNull::<u8>::dangling().as_ptr().cast_const();
        let side = [VtremoteSideData {
            type_: 1,
            data: cc.as_ptr(),
            size: cc.len(),
        }];

        for (what, frame) in frames(&buf, &side) {
            let st = unsafe { vtremote_session_send_frame(s, &frame) };
            assert_eq!(st, St::InvalidArgument, "{what}: {}", last_error(s));
            assert_not_open(s, st);
        }
        assert_not_open(s, unsafe { vtremote_session_send_frame(s, ptr::null()) });

        let au = [0u8, 0, 0, 1, 0x65, 0x88];
        let packets = [
            (au.as_ptr(), au.len()),
            (ptr::null(), 0),
            (ptr::null(), 100),
            (big_bytes, usize::MAX),
            (big_bytes, isize::MAX as usize + 1),
        ];
        for (data, size) in packets {
            let pkt = VtremotePacket {
                data,
                size,
                pts: i64::MIN,
                dts: i64::MAX,
                duration: -1,
                flags: u32::MAX,
            };
            assert_not_open(s, unsafe { vtremote_session_send_packet(s, &pkt) });
        }
        assert_not_open(s, unsafe { vtremote_session_send_packet(s, ptr::null()) });

        let mut pkt = empty_packet();
        assert_not_open(s, unsafe { vtremote_session_receive_packet(s, &mut pkt) });
        assert!(
            pkt.data.is_null() && pkt.size == 0,
            "out untouched on failure"
        );
        assert_refused(
            s,
            unsafe { vtremote_session_receive_packet(s, ptr::null_mut()) },
            "NULL",
        );
        let mut pic = empty_picture();
        assert_not_open(s, unsafe { vtremote_session_receive_frame(s, &mut pic) });
        assert!(pic.data[0].is_null());
        assert_refused(
            s,
            unsafe { vtremote_session_receive_frame(s, ptr::null_mut()) },
            "NULL",
        );
        assert_not_open(s, unsafe { vtremote_session_send_eof(s) });
        assert_not_open(s, unsafe { vtremote_session_send_eof(s) });
        assert_not_open(s, unsafe { vtremote_session_reset(s) });

        // Encoder parameter sets exist only once open; the outputs are still defined.
        let (mut ed, mut ed_len) = (au.as_ptr(), 99usize);
        assert_not_open(s, unsafe {
            vtremote_session_extradata(s, &mut ed, &mut ed_len)
        });
        assert!(ed.is_null() && ed_len == 0);
        assert_refused(
            s,
            unsafe { vtremote_session_extradata(s, ptr::null_mut(), &mut ed_len) },
            "NULL",
        );
        assert_refused(
            s,
            unsafe { vtremote_session_extradata(s, &mut ed, ptr::null_mut()) },
            "NULL",
        );

        // Setters: plausible values are what an unopened session is for; hostile ones fail.
        let key = CString::new("bitrate").unwrap();
        assert_refused(
            s,
            unsafe { vtremote_session_set_option(s, ptr::null(), key.as_ptr()) },
            "key is NULL",
        );
        assert_refused(
            s,
            unsafe { vtremote_session_set_option(s, key.as_ptr(), ptr::null()) },
            "value is NULL",
        );
        let not_utf8 = [0xffu8, 0xfe, 0];
        assert_refused(
            s,
            unsafe { vtremote_session_set_option(s, not_utf8.as_ptr().cast(), key.as_ptr()) },
            "UTF-8",
        );
        for (k, v) in [
            ("width", "-1"),
            ("height", "99999999999"),
            ("inflight", "0"),
            ("timeout_ms", "18446744073709551616"),
            ("time_base", "1/"),
        ] {
            assert_refused(s, set(s, k, v), k);
        }
        assert_eq!(set(s, "bitrate", "1000000"), St::Ok, "{}", last_error(s));
        assert_refused(
            s,
            unsafe { vtremote_session_set_extradata(s, ptr::null(), 4) },
            "NULL",
        );
        assert_refused(
            s,
            unsafe { vtremote_session_set_extradata(s, big_bytes, usize::MAX) },
            "larger than any buffer",
        );
        assert_eq!(
            unsafe { vtremote_session_set_extradata(s, ptr::null(), 0) },
            St::Ok
        );
        let record = avcc_record();
        assert_eq!(
            unsafe { vtremote_session_set_extradata(s, record.as_ptr(), record.len()) },
            St::Ok
        );

        // Read-only accessors answer in every state.
        assert_eq!(unsafe { vtremote_session_warning_count(s) }, 0);
        for i in [0, 1, usize::MAX] {
            assert!(unsafe { vtremote_session_warning(s, i) }.is_null());
        }
        let mut stats = VtremoteStats {
            frames: 7,
            ..Default::default()
        };
        assert_eq!(unsafe { vtremote_session_get_stats(s, &mut stats) }, St::Ok);
        assert_eq!((stats.frames, stats.packets, stats.bytes_sent), (0, 0, 0));
        assert_refused(
            s,
            unsafe { vtremote_session_get_stats(s, ptr::null_mut()) },
            "NULL",
        );
        let summary = unsafe { CStr::from_ptr(vtremote_session_summary(s)) }
            .to_str()
            .unwrap();
        assert!(summary.starts_with("VT remote "), "{summary}");
        assert!(!last_error(s).is_empty());
    }

    #[test]
    fn every_entry_point_refuses_politely_on_unopened_and_failed_sessions() {
        // Session-less entry points, any input.
        assert_ne!(vtremote_version(), 0);
        assert!(!unsafe { CStr::from_ptr(vtremote_version_string()) }
            .to_bytes()
            .is_empty());
        for st in [c_int::MIN, -12, 3, c_int::MAX] {
            let text = unsafe { CStr::from_ptr(vtremote_status_string(st)) };
            assert_eq!(text.to_str().unwrap(), "unknown status");
        }
        for mode in [-1, 2, c_int::MIN, c_int::MAX] {
            assert!(vtremote_session_new(mode).is_null());
        }

        let host = refused_host();
        for mode in [VTREMOTE_MODE_ENCODE, VTREMOTE_MODE_DECODE] {
            // Never opened: plausible geometry, then zero rows, then sizes no machine has.
            for (w, h) in [
                ("64", "36"),
                ("0", "0"),
                ("64", "0"),
                ("4294967295", "4294967295"),
            ] {
                let s = configured(mode, &host, w, h);
                poke_every_session_call(s);
                unsafe { vtremote_session_free(s) };
            }

            // Open failed: refused connection, or a geometry the library rejects.
            for (w, h, want) in [
                ("64", "36", St::Connect),
                ("0", "0", St::InvalidArgument),
                ("4294967295", "1", St::InvalidArgument),
            ] {
                let s = configured(mode, &host, w, h);
                assert_eq!(
                    unsafe { vtremote_session_open(s) },
                    want,
                    "{w}x{h}: {}",
                    last_error(s)
                );
                assert!(!last_error(s).is_empty());
                poke_every_session_call(s);
                // Opening again retries (and fails the same way); it is not "called twice".
                assert_eq!(unsafe { vtremote_session_open(s) }, want);
                poke_every_session_call(s);
                unsafe { vtremote_session_free(s) };
            }

            // No host at all.
            let s = vtremote_session_new(mode);
            assert_eq!(set(s, "codec", "hevc"), St::Ok);
            assert_refused(s, unsafe { vtremote_session_open(s) }, "host");
            poke_every_session_call(s);
            unsafe { vtremote_session_free(s) };
        }

        // A NULL handle: every call refuses without dereferencing it.
        let null = ptr::null_mut::<VtremoteSession>();
        let key = CString::new("host").unwrap();
        let (mut pkt, mut pic, mut stats) =
            (empty_packet(), empty_picture(), VtremoteStats::default());
        let (mut ed, mut ed_len) = (ptr::null(), 0usize);
        unsafe {
            assert_eq!(
                vtremote_session_set_option(null, key.as_ptr(), key.as_ptr()),
                St::InvalidArgument
            );
            assert_eq!(
                vtremote_session_set_extradata(null, ptr::null(), 0),
                St::InvalidArgument
            );
            assert_eq!(vtremote_session_open(null), St::InvalidArgument);
            assert!(!vtremote_session_last_error(null).is_null());
            assert_eq!(
                vtremote_session_extradata(null, &mut ed, &mut ed_len),
                St::InvalidArgument
            );
            assert_eq!(vtremote_session_warning_count(null), 0);
            assert!(vtremote_session_warning(null, 0).is_null());
            assert_eq!(
                vtremote_session_send_frame(null, ptr::null()),
                St::InvalidArgument
            );
            assert_eq!(
                vtremote_session_receive_packet(null, &mut pkt),
                St::InvalidArgument
            );
            assert_eq!(
                vtremote_session_send_packet(null, &pkt),
                St::InvalidArgument
            );
            assert_eq!(
                vtremote_session_receive_frame(null, &mut pic),
                St::InvalidArgument
            );
            assert_eq!(vtremote_session_send_eof(null), St::InvalidArgument);
            assert_eq!(vtremote_session_reset(null), St::InvalidArgument);
            assert_eq!(
                vtremote_session_get_stats(null, &mut stats),
                St::InvalidArgument
            );
            assert_eq!(
                CStr::from_ptr(vtremote_session_summary(null)).to_bytes(),
                b""
            );
            vtremote_session_free(null);
        }
    }

    /// An open encoder refuses the same hostile frames with checked sizes (no wrapped length
    /// reaches `slice::from_raw_parts`), stays usable, and never sends them.
    #[test]
    fn hostile_frames_on_an_open_encoder_are_refused_and_the_session_stays_usable() {
        let (host, server) = fake_server(None);
        let (w, h) = (64u32, 36u32);
        let s = encoder(&host, w, h);
        assert_eq!(
            unsafe { vtremote_session_open(s) },
            St::Ok,
            "{}",
            last_error(s)
        );
        let buf = vec![0x80u8; 64 * 64];
        let cc = [0xfcu8, 0x80, 0x80];
        let side = [VtremoteSideData {
            type_: 1,
            data: cc.as_ptr(),
            size: cc.len(),
        }];
        let expected = [
            ("null planes", "plane 0 data is NULL"),
            ("zero linesize", "linesize 0"),
            ("negative linesize", "negative"),
            ("huge linesize", "is not a buffer size"),
            ("linesize near overflow", "larger than any buffer"),
            ("null side data", "side_data is NULL"),
            ("huge side data count", "larger than any buffer"),
            ("misaligned side data", "aligned"),
        ];
        for (what, frame) in frames(&buf, &side) {
            let st = unsafe { vtremote_session_send_frame(s, &frame) };
            if let Some((_, needle)) = expected.iter().find(|(w, _)| *w == what) {
                assert_refused(s, st, needle);
            } else {
                assert_eq!(st, St::Ok, "{what}: {}", last_error(s));
            }
        }
        // A decode call on an encoder is refused before its arguments are read.
        let pkt = VtremotePacket {
            data: ptr::NonNull::<u8>::dangling().as_ptr().cast_const(),
            size: usize::MAX,
            ..empty_packet()
        };
        assert_refused(
            s,
            unsafe { vtremote_session_send_packet(s, &pkt) },
            "encode session",
        );
        let mut pic = empty_picture();
        assert_refused(
            s,
            unsafe { vtremote_session_receive_frame(s, &mut pic) },
            "encode session",
        );
        // Still usable: drain the two good frames.
        assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
        let mut got = 0;
        loop {
            let mut pkt = empty_packet();
            match unsafe { vtremote_session_receive_packet(s, &mut pkt) } {
                St::Ok => got += 1,
                St::Eof => break,
                St::Again => {}
                other => panic!("receive: {other:?} {}", last_error(s)),
            }
        }
        assert_eq!(got, 2);
        unsafe { vtremote_session_free(s) };
        let seen = server.join().unwrap();
        assert_eq!(seen.frames.len(), 2, "only the plausible frames were sent");
    }

    /// An open decoder refuses hostile packet sizes and encode calls the same way.
    #[test]
    fn hostile_packets_on_an_open_decoder_are_refused() {
        let (host, server) = fake_server(None);
        let s = configured(VTREMOTE_MODE_DECODE, &host, "32", "18");
        assert_eq!(
            unsafe { vtremote_session_open(s) },
            St::Ok,
            "{}",
            last_error(s)
        );
        let big = ptr::NonNull::<u8>::dangling().as_ptr().cast_const();
        for (data, size, needle) in [
            (ptr::null(), 100, "NULL"),
            (big, usize::MAX, "larger than any buffer"),
            (big, isize::MAX as usize + 1, "larger than any buffer"),
        ] {
            let pkt = VtremotePacket {
                data,
                size,
                ..empty_packet()
            };
            assert_refused(s, unsafe { vtremote_session_send_packet(s, &pkt) }, needle);
        }
        assert_refused(
            s,
            unsafe { vtremote_session_send_packet(s, ptr::null()) },
            "packet is NULL",
        );
        let buf = vec![0u8; 64 * 64];
        let hostile = frames(&buf, &[]);
        assert_eq!(hostile[4].0, "huge linesize");
        assert_refused(
            s,
            unsafe { vtremote_session_send_frame(s, &hostile[4].1) },
            "decode session",
        );
        let mut pkt = empty_packet();
        assert_refused(
            s,
            unsafe { vtremote_session_receive_packet(s, &mut pkt) },
            "decode session",
        );
        let (mut ed, mut ed_len) = (ptr::null(), 0usize);
        assert_eq!(
            unsafe { vtremote_session_extradata(s, &mut ed, &mut ed_len) },
            St::Ok
        );
        assert!(
            ed.is_null() && ed_len == 0,
            "a decoder has no parameter sets"
        );
        unsafe { vtremote_session_free(s) };
        assert_eq!(server.join().unwrap().packets, 0);
    }
}
