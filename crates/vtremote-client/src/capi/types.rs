//! What C sees: the status enum, the constants and the `#[repr(C)]` structs of
//! `include/vtremote.h`, field for field (`tests/drift.rs` checks the layouts against the
//! header's mirror in `tests/ffmpeg/capi_smoke.c`).

use std::ffi::{c_char, c_int, c_void, CStr};

use crate::error::ClientError;
use crate::log::LogLevel;
use crate::stats::SessionStats;

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

pub(crate) const ALL_STATUSES: [VtremoteStatus; 14] = [
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
    pub(crate) fn text(self) -> &'static CStr {
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

pub(crate) fn status_of(e: &ClientError) -> VtremoteStatus {
    #[allow(unreachable_patterns)]
    match e {
        ClientError::Resolve { .. } => St::Resolve,
        ClientError::Refused { .. } | ClientError::Connect { .. } => St::Connect,
        ClientError::Timeout { .. } => St::Timeout,
        // The helper failed to prove it is the pinned one: an authentication failure.
        ClientError::AuthFailed { .. } | ClientError::TlsFingerprint { .. } => St::Auth,
        ClientError::Tls { .. } | ClientError::NoHelper { .. } => St::Connect,
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

pub const VTREMOTE_MODE_ENCODE: c_int = 0;
pub const VTREMOTE_MODE_DECODE: c_int = 1;
pub const VTREMOTE_FRAME_FORCE_KEYFRAME: u32 = 1;
pub const VTREMOTE_PACKET_KEYFRAME: u32 = 1;
pub const VTREMOTE_PIX_FMT_NV12: c_int = 1;
pub const VTREMOTE_PIX_FMT_P010: c_int = 2;
pub const VTREMOTE_LOG_ERROR: c_int = 0;
pub const VTREMOTE_LOG_WARNING: c_int = 1;
pub const VTREMOTE_LOG_INFO: c_int = 2;
pub const VTREMOTE_LOG_DEBUG: c_int = 3;

pub(crate) fn log_level_code(level: LogLevel) -> c_int {
    match level {
        LogLevel::Error => VTREMOTE_LOG_ERROR,
        LogLevel::Warning => VTREMOTE_LOG_WARNING,
        LogLevel::Info => VTREMOTE_LOG_INFO,
        LogLevel::Debug => VTREMOTE_LOG_DEBUG,
    }
}

/// `void (*)(void *opaque, int level, const char *message)`; NULL for none.
pub type VtremoteLogCallback =
    Option<unsafe extern "C" fn(opaque: *mut c_void, level: c_int, message: *const c_char)>;

/// `void (*)(void *opaque, void *cookie)`; NULL for none.
pub type VtremoteCookieFree =
    Option<unsafe extern "C" fn(opaque: *mut c_void, cookie: *mut c_void)>;

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

impl From<&SessionStats> for VtremoteStats {
    fn from(st: &SessionStats) -> Self {
        VtremoteStats {
            frames: st.frames,
            packets: st.packets,
            bytes_sent: st.bytes_sent,
            bytes_received: st.bytes_received,
            max_inflight: st.max_inflight,
            elapsed_s: st.elapsed.as_secs_f64(),
            sent_mbps: st.sent_mbps(),
            received_mbps: st.received_mbps(),
            mean_send_ms: st.mean_send.as_secs_f64() * 1e3,
            mean_wait_ms: st.mean_wait.as_secs_f64() * 1e3,
        }
    }
}
