//! The caller's two callbacks: freeing cookies the library drops, and receiving the
//! library's log lines.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;

use super::ptr::to_cstring;
use super::types::{log_level_code, VtremoteCookieFree, VtremoteLogCallback};
use crate::log::Logger;

/// The session's cookie-free function and its `opaque`, as set before open.
#[derive(Clone, Copy)]
pub(crate) struct CookieFree {
    free: unsafe extern "C" fn(opaque: *mut c_void, cookie: *mut c_void),
    opaque: *mut c_void,
}

impl CookieFree {
    pub fn new(free: VtremoteCookieFree, opaque: *mut c_void) -> Option<Self> {
        free.map(|free| CookieFree { free, opaque })
    }
}

/// A C caller's cookie while the library holds it. Dropping it (reset, free, an input that
/// produced no output) hands it to the free function; [`CCookie::into_raw`] hands it back
/// to the caller instead. NULL is "no cookie" and never freed.
pub(crate) struct CCookie {
    ptr: *mut c_void,
    free: Option<CookieFree>,
}

impl CCookie {
    pub fn new(ptr: *mut c_void, free: Option<CookieFree>) -> Self {
        CCookie { ptr, free }
    }

    /// Ownership back to C.
    pub fn into_raw(self) -> *mut c_void {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }
}

impl Drop for CCookie {
    fn drop(&mut self) {
        if let (false, Some(f)) = (self.ptr.is_null(), self.free) {
            // SAFETY: the function and `opaque` are the ones the caller registered for this
            // session, and the cookie is one it handed over and has not been given back.
            unsafe { (f.free)(f.opaque, self.ptr) }
        }
    }
}

/// The log callback and its `opaque`.
struct CLog {
    callback: unsafe extern "C" fn(opaque: *mut c_void, level: c_int, message: *const c_char),
    opaque: *mut c_void,
}

// SAFETY: the header requires the callback to accept calls from any thread (the session's
// I/O threads log too) with its `opaque`; we never touch `opaque` ourselves, and the mutex
// below makes the calls for one session one at a time.
unsafe impl Send for CLog {}
// SAFETY: as above; shared access only ever calls the callback, under the mutex.
unsafe impl Sync for CLog {}

/// A [`Logger`] that calls the C callback, one call at a time; `None` for a NULL callback
/// (the library's lines then go to `tracing`, which a C program does not see).
pub(crate) fn c_logger(callback: VtremoteLogCallback, opaque: *mut c_void) -> Option<Logger> {
    let log = Mutex::new(CLog {
        callback: callback?,
        opaque,
    });
    Some(Logger::new(move |level, message| {
        let log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let text = to_cstring(message);
        // SAFETY: the registered callback with its own `opaque`; `text` outlives the call,
        // as the header promises the message does.
        unsafe { (log.callback)(log.opaque, log_level_code(level), text.as_ptr()) }
    }))
}
