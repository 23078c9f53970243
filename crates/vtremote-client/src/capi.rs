//! C ABI over [`RemoteEncoder`] / [`RemoteDecoder`] (feature `capi`), declared in
//! `include/vtremote.h`. Translation only: options, reconnecting, counters, the summary
//! line and cookies are the Rust types' business; this file turns C arguments into them
//! and their results into C.
//!
//! Shape (after rav1e's capi, rustls-ffi and dav1d):
//! * one opaque handle, `VtremoteSession`, created for encode or decode, configured with
//!   key/value strings (new options never add symbols), then opened;
//! * every function returns a [`VtremoteStatus`]; `VTREMOTE_AGAIN` from a send means "call
//!   receive", from a receive "call send";
//! * nothing the library returns needs freeing except the handle itself: packets, pictures
//!   and strings stay valid until the next call on the same handle (see the header for the
//!   two that live longer);
//! * every `extern "C"` body runs inside a panic boundary, and every pointer argument goes
//!   through one checked conversion (`capi/ptr.rs`).
//!
//! The header is hand-written; `capi/tests/drift.rs` fails when it and this file drift
//! apart, and checks the `#[repr(C)]` layouts against `tests/ffmpeg/capi_smoke.c`.

mod callbacks;
mod ptr;
mod types;

#[cfg(test)]
mod tests;

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr as raw;
use std::time::{Duration, Instant};

use callbacks::{c_logger, CCookie, CookieFree};
use ptr::{
    c_bytes, c_out, c_ref, c_slice, c_str, guard, invalid, to_cstring, with_session,
    with_session_ref, Failure,
};
pub use types::*;
use VtremoteStatus as St;

use crate::decode::{InputPacket, OutputFrame};
use crate::encode::{InputFrame, OutputPacket};
use crate::error::ClientError;
use crate::resettable::{Refused, RemoteDecoder, RemoteEncoder};
use crate::settings::Settings;
use crate::stats::SessionStats;
use crate::totals::{summary_line, SessionKind};
use crate::Received;
use vtremote_proto::{PlaneSource, SideData};

/// Boxed: an encoder keeps its plane compressor inline and is half again as large as a
/// decoder; the handle is allocated once anyway.
enum Live {
    Encode(Box<RemoteEncoder<CCookie>>),
    Decode(Box<RemoteDecoder<CCookie>>),
}

/// Opaque to C.
pub struct VtremoteSession {
    kind: SessionKind,
    settings: Settings,
    cookie_free: Option<CookieFree>,
    /// Some once `vtremote_session_open` succeeded.
    live: Option<Live>,
    /// When open was last tried: the clock of a session that never opened.
    started: Option<Instant>,
    /// What the last receive returned; C reads into it until the next call.
    packet: Option<OutputPacket>,
    picture: Option<OutputFrame>,
    /// C copies of the live connection's warnings, and which connection they are from.
    warnings: Vec<CString>,
    warnings_of: u64,
    last_error: CString,
    summary: CString,
    poisoned: bool,
}

const NOT_OPEN: &str =
    "the session is not open: call vtremote_session_open first and check that it succeeded";

/// Why a setter was called too late: options, callbacks and extradata shape the connection.
fn too_late(what: &str) -> Failure {
    invalid(format!("{what} must be set before vtremote_session_open"))
}

impl VtremoteSession {
    fn new(kind: SessionKind) -> Self {
        VtremoteSession {
            kind,
            settings: Settings::new("libvtremote"),
            cookie_free: None,
            live: None,
            started: None,
            packet: None,
            picture: None,
            warnings: Vec::new(),
            warnings_of: 0,
            last_error: CString::default(),
            summary: CString::default(),
            poisoned: false,
        }
    }

    fn set_option(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        if self.live.is_some() {
            return Err(too_late(&format!("option {key}: options")));
        }
        match key {
            "mode" => Err(invalid("option mode: set by vtremote_session_new")),
            #[cfg(test)]
            "test_panic" => panic!("test panic: {value}"),
            _ => Ok(self.settings.set(key, value)?),
        }
    }

    fn open(&mut self) -> Result<(), Failure> {
        if self.live.is_some() {
            return Err(invalid("vtremote_session_open called twice"));
        }
        self.started = Some(Instant::now());
        let (config, settings) = (&self.settings.config, &self.settings);
        self.live = Some(match self.kind {
            SessionKind::Encode => {
                let encoder = RemoteEncoder::open(config, &settings.encoder_params()?)?;
                Live::Encode(Box::new(encoder))
            }
            SessionKind::Decode => {
                let decoder = RemoteDecoder::open(config, &settings.decoder_params()?)?;
                Live::Decode(Box::new(decoder))
            }
        });
        Ok(())
    }

    /// Refuses a call that needs a connection on a session that never opened or whose open
    /// failed, and a call for the other kind of session. Runs before any caller-provided
    /// size is looked at, so an unopened session never computes a length from one.
    fn check_ready(&self, want: SessionKind) -> Result<(), Failure> {
        if self.live.is_none() {
            return Err(invalid(NOT_OPEN));
        }
        match (self.kind, want) {
            (SessionKind::Encode, SessionKind::Decode) => Err(invalid("this is an encode session")),
            (SessionKind::Decode, SessionKind::Encode) => Err(invalid("this is a decode session")),
            _ => Ok(()),
        }
    }

    fn live(&mut self) -> Result<&mut Live, Failure> {
        self.live.as_mut().ok_or_else(|| invalid(NOT_OPEN))
    }

    fn encoder(&mut self) -> Result<&mut RemoteEncoder<CCookie>, Failure> {
        match self.live()? {
            Live::Encode(e) => Ok(e),
            Live::Decode(_) => Err(invalid("this is a decode session")),
        }
    }

    fn decoder(&mut self) -> Result<&mut RemoteDecoder<CCookie>, Failure> {
        match self.live()? {
            Live::Decode(d) => Ok(d),
            Live::Encode(_) => Err(invalid("this is an encode session")),
        }
    }

    fn cookie(&self, ptr: *mut c_void) -> CCookie {
        CCookie::new(ptr, self.cookie_free)
    }

    /// After every call: a call may have reconnected (after a reset), bringing new warnings.
    fn after_call(&mut self) {
        let (connections, warnings) = match &self.live {
            Some(Live::Encode(e)) => (e.connections(), e.warnings()),
            Some(Live::Decode(d)) => (d.connections(), d.warnings()),
            None => return,
        };
        if connections != self.warnings_of {
            self.warnings = warnings.iter().map(|w| to_cstring(w)).collect();
            self.warnings_of = connections;
        }
    }

    fn stats(&self) -> SessionStats {
        match &self.live {
            Some(Live::Encode(e)) => e.stats(),
            Some(Live::Decode(d)) => d.stats(),
            None => SessionStats {
                frames: 0,
                packets: 0,
                bytes_sent: 0,
                bytes_received: 0,
                max_inflight: 0,
                elapsed: self.started.map_or(Duration::ZERO, |t| t.elapsed()),
                mean_send: Duration::ZERO,
                mean_wait: Duration::ZERO,
            },
        }
    }

    fn summary(&self) -> String {
        match &self.live {
            Some(Live::Encode(e)) => e.summary(),
            Some(Live::Decode(d)) => d.summary(),
            None => summary_line(self.kind, &self.settings.config.host, &self.stats()),
        }
    }
}

/// Bytes spanned by a plane of `rows` rows `stride` apart whose last row is `row_bytes` long:
/// `stride * (rows - 1) + row_bytes`, or `None` when there are no rows or it overflows.
fn plane_span(stride: usize, rows: usize, row_bytes: usize) -> Option<usize> {
    stride
        .checked_mul(rows.checked_sub(1)?)?
        .checked_add(row_bytes)
}

/// A C picture as the planes of the configured geometry; `settings` is an open encoder's,
/// so the geometry has been validated and sizes computed from it are bounded.
///
/// # Safety
/// `f`'s pointers must be valid for the sizes its geometry and counts imply, for the call.
unsafe fn input_frame<'a>(
    f: &'a VtremoteFrame,
    settings: &Settings,
) -> Result<InputFrame<'a>, Failure> {
    let (w, h, pix) = (settings.width(), settings.height(), settings.pix_fmt());
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
        // SAFETY: the caller's contract: plane i holds `rows` rows `stride` apart.
        let data = unsafe { c_bytes(f.data[i], len, &format!("plane {i} data")) }?;
        *plane = PlaneSource {
            data,
            stride,
            row_bytes,
            rows,
        };
    }
    // SAFETY: the caller's contract: `nb_side_data` entries at `side_data`.
    let items = unsafe { c_slice(f.side_data, f.nb_side_data, "side_data") }?;
    let mut side_data = Vec::with_capacity(items.len());
    for sd in items {
        // SAFETY: the caller's contract: each entry's data is valid for its size.
        let data = unsafe { c_bytes(sd.data, sd.size, "side data") }?;
        side_data.push(SideData {
            ty: sd.type_,
            data: data.to_vec(),
        });
    }
    Ok(InputFrame {
        pts: f.pts,
        duration: f.duration,
        force_keyframe: f.flags & VTREMOTE_FRAME_FORCE_KEYFRAME != 0,
        planes,
        side_data,
    })
}

/// A send's outcome for C: a full window is `VTREMOTE_AGAIN`. The refused cookie goes back
/// to the caller untouched (forgotten here, not freed).
fn send_status(r: Result<(), Refused<CCookie>>) -> Result<VtremoteStatus, Failure> {
    match r {
        Ok(()) => Ok(St::Ok),
        Err(Refused { error, cookie }) => {
            cookie.into_raw();
            match error {
                ClientError::WouldBlock => Ok(St::Again),
                e => Err(e.into()),
            }
        }
    }
}

/// Hands an output's cookie to `cookie_out`, or frees it when the caller did not ask.
fn hand_back(cookie: Option<CCookie>, cookie_out: Option<&mut ptr::Out<'_, *mut c_void>>) {
    if let Some(out) = cookie_out {
        out.write(cookie.map_or(raw::null_mut(), CCookie::into_raw));
    }
}

fn packet_to_c(p: &OutputPacket) -> VtremotePacket {
    VtremotePacket {
        data: p.data.as_ptr(),
        size: p.data.len(),
        pts: p.pts,
        dts: p.dts,
        duration: p.duration,
        flags: if p.keyframe {
            VTREMOTE_PACKET_KEYFRAME
        } else {
            0
        },
    }
}

fn picture_to_c(f: &OutputFrame) -> VtremotePicture {
    VtremotePicture {
        pts: f.pts,
        duration: f.duration,
        width: f.width,
        height: f.height,
        pix_fmt: c_int::from(f.pix_fmt.wire_code()),
        data: [f.planes[0].as_ptr(), f.planes[1].as_ptr()],
        linesize: f.strides,
    }
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
    guard(raw::null_mut(), || {
        let kind = match mode {
            VTREMOTE_MODE_ENCODE => SessionKind::Encode,
            VTREMOTE_MODE_DECODE => SessionKind::Decode,
            _ => return raw::null_mut(),
        };
        Box::into_raw(Box::new(VtremoteSession::new(kind)))
    })
}

/// Closes the connection (if any), frees the cookies still held and the handle. NULL is a
/// no-op.
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
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: a handle from vtremote_session_new (Box::into_raw), freed once (the
        // contract).
        drop(unsafe { Box::from_raw(s) })
    }));
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
        // SAFETY: NUL-terminated strings valid for the call (the contract).
        let (key, value) = unsafe { (c_str(key, "key")?, c_str(value, "value")?) };
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
        if s.live.is_some() {
            return Err(too_late("extradata"));
        }
        // SAFETY: valid for `size` bytes (the contract).
        let data = unsafe { c_bytes(data, size, "extradata") }?;
        s.settings.set_extradata(data);
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle; `callback` NULL or callable from any thread with `opaque`.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_set_log_callback(
    s: *mut VtremoteSession,
    callback: VtremoteLogCallback,
    opaque: *mut c_void,
) -> VtremoteStatus {
    with_session(s, |s| {
        if s.live.is_some() {
            return Err(too_late("the log callback"));
        }
        s.settings.config.log = c_logger(callback, opaque).unwrap_or_default();
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle; `free_cookie` NULL or callable with `opaque` and any cookie given.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_set_cookie_free(
    s: *mut VtremoteSession,
    free_cookie: VtremoteCookieFree,
    opaque: *mut c_void,
) -> VtremoteStatus {
    with_session(s, |s| {
        if s.live.is_some() {
            return Err(too_late("the cookie free function"));
        }
        s.cookie_free = CookieFree::new(free_cookie, opaque);
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
    with_session_ref(s, c"no session (NULL handle)".as_ptr(), |s| {
        s.last_error.as_ptr()
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
        // SAFETY: writable out-parameters (the contract).
        let (mut data, mut size) = unsafe { (c_out(data, "data")?, c_out(size, "size")?) };
        let extradata = match &s.live {
            Some(Live::Encode(e)) => e.extradata_annexb(),
            _ => &[],
        };
        // Written in every state (NULL/0 before open), so a caller that ignores the status
        // still reads defined values.
        data.write(if extradata.is_empty() {
            raw::null()
        } else {
            extradata.as_ptr()
        });
        size.write(extradata.len());
        s.live()?;
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_warning_count(s: *const VtremoteSession) -> usize {
    with_session_ref(s, 0, |s| s.warnings.len())
}

/// # Safety
/// `s` null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_warning(
    s: *const VtremoteSession,
    index: usize,
) -> *const c_char {
    with_session_ref(s, raw::null(), |s| {
        s.warnings.get(index).map_or(raw::null(), |w| w.as_ptr())
    })
}

/// # Safety
/// `s` a live handle; `frame` points to a frame whose planes hold the configured geometry.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_frame(
    s: *mut VtremoteSession,
    frame: *const VtremoteFrame,
) -> VtremoteStatus {
    // SAFETY: the same contract, and no cookie.
    unsafe { vtremote_session_send_frame_with_cookie(s, frame, raw::null_mut()) }
}

/// # Safety
/// As `vtremote_session_send_frame`; `cookie` is any value (freed with the cookie-free
/// function if the library drops it).
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_frame_with_cookie(
    s: *mut VtremoteSession,
    frame: *const VtremoteFrame,
    cookie: *mut c_void,
) -> VtremoteStatus {
    with_session(s, |s| {
        // State first: only an open encoder has a validated geometry (non-zero, bounded) to
        // compute plane sizes from.
        s.check_ready(SessionKind::Encode)?;
        // SAFETY: NULL or a frame valid for the call, whose planes and side data are valid
        // for the sizes the configured geometry implies (the contract).
        let input = unsafe { input_frame(c_ref(frame, "frame")?, &s.settings)? };
        let cookie = s.cookie(cookie);
        send_status(s.encoder()?.send_frame(&input, cookie))
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
        // SAFETY: writable (the contract).
        let mut out = unsafe { c_out(out, "out") }?;
        receive_packet(s, &mut out, None)
    })
}

/// # Safety
/// As `vtremote_session_receive_packet`; `cookie` writable.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_receive_packet_with_cookie(
    s: *mut VtremoteSession,
    out: *mut VtremotePacket,
    cookie: *mut *mut c_void,
) -> VtremoteStatus {
    with_session(s, |s| {
        // SAFETY: writable out-parameters (the contract).
        let (mut out, mut cookie) = unsafe { (c_out(out, "out")?, c_out(cookie, "cookie")?) };
        cookie.write(raw::null_mut());
        receive_packet(s, &mut out, Some(&mut cookie))
    })
}

fn receive_packet(
    s: &mut VtremoteSession,
    out: &mut ptr::Out<'_, VtremotePacket>,
    cookie_out: Option<&mut ptr::Out<'_, *mut c_void>>,
) -> Result<VtremoteStatus, Failure> {
    s.packet = None;
    Ok(match s.encoder()?.receive_packet()? {
        Received::Item((p, cookie)) => {
            out.write(packet_to_c(s.packet.insert(p)));
            hand_back(cookie, cookie_out);
            St::Ok
        }
        Received::Again => St::Again,
        Received::Eof => St::Eof,
    })
}

/// # Safety
/// `s` a live handle; `packet` points to a packet whose data is valid for the call.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_packet(
    s: *mut VtremoteSession,
    packet: *const VtremotePacket,
) -> VtremoteStatus {
    // SAFETY: the same contract, and no cookie.
    unsafe { vtremote_session_send_packet_with_cookie(s, packet, raw::null_mut()) }
}

/// # Safety
/// As `vtremote_session_send_packet`; `cookie` is any value (freed with the cookie-free
/// function if the library drops it).
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_send_packet_with_cookie(
    s: *mut VtremoteSession,
    packet: *const VtremotePacket,
    cookie: *mut c_void,
) -> VtremoteStatus {
    with_session(s, |s| {
        s.check_ready(SessionKind::Decode)?;
        // SAFETY: NULL or a packet valid for the call, its data valid for its size.
        let p = unsafe { c_ref(packet, "packet") }?;
        // SAFETY: as above.
        let data = unsafe { c_bytes(p.data, p.size, "packet data") }?;
        let input = InputPacket {
            pts: p.pts,
            dts: p.dts,
            duration: p.duration,
            keyframe: p.flags & VTREMOTE_PACKET_KEYFRAME != 0,
            data,
        };
        let cookie = s.cookie(cookie);
        send_status(s.decoder()?.send_packet(&input, cookie))
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
        // SAFETY: writable (the contract).
        let mut out = unsafe { c_out(out, "out") }?;
        receive_frame(s, &mut out, None)
    })
}

/// # Safety
/// As `vtremote_session_receive_frame`; `cookie` writable.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_receive_frame_with_cookie(
    s: *mut VtremoteSession,
    out: *mut VtremotePicture,
    cookie: *mut *mut c_void,
) -> VtremoteStatus {
    with_session(s, |s| {
        // SAFETY: writable out-parameters (the contract).
        let (mut out, mut cookie) = unsafe { (c_out(out, "out")?, c_out(cookie, "cookie")?) };
        cookie.write(raw::null_mut());
        receive_frame(s, &mut out, Some(&mut cookie))
    })
}

fn receive_frame(
    s: &mut VtremoteSession,
    out: &mut ptr::Out<'_, VtremotePicture>,
    cookie_out: Option<&mut ptr::Out<'_, *mut c_void>>,
) -> Result<VtremoteStatus, Failure> {
    s.picture = None;
    Ok(match s.decoder()?.receive_frame()? {
        Received::Item((f, cookie)) => {
            out.write(picture_to_c(s.picture.insert(f)));
            hand_back(cookie, cookie_out);
            St::Ok
        }
        Received::Again => St::Again,
        Received::Eof => St::Eof,
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
        match s.live()? {
            Live::Encode(e) => e.reset(),
            Live::Decode(d) => d.reset(),
        }
        s.packet = None;
        s.picture = None;
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
        // SAFETY: writable (the contract).
        let mut out = unsafe { c_out(out, "out") }?;
        out.write(VtremoteStats::from(&s.stats()));
        Ok(St::Ok)
    })
}

/// # Safety
/// `s` a live handle. The string stays valid until the next call on `s`.
#[no_mangle]
pub unsafe extern "C" fn vtremote_session_summary(s: *mut VtremoteSession) -> *const c_char {
    let mut text = raw::null();
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
