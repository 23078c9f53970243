//! The one place where C arguments become Rust references: the session handle (with the
//! panic boundary), strings, (pointer, count) slices, input structs and out-parameters.
//! Each refuses what Rust may not be given (NULL, misaligned, a size no buffer can have)
//! with a sentence for `vtremote_session_last_error`, never a crash.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::types::{status_of, VtremoteStatus};
use super::VtremoteSession;
use crate::error::ClientError;
use crate::settings::SettingError;

/// A failure on its way to C: a status and the sentence for `last_error`.
pub(crate) struct Failure(pub VtremoteStatus, pub String);

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure(status_of(&e), e.to_string())
    }
}

impl From<SettingError> for Failure {
    fn from(e: SettingError) -> Self {
        invalid(e.to_string())
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> Failure {
    Failure(VtremoteStatus::InvalidArgument, msg.into())
}

/// Text for C: an interior NUL (never produced by us, but a helper's warning could hold
/// one) becomes a space rather than truncating or failing.
pub(crate) fn to_cstring(s: &str) -> CString {
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
pub(crate) fn with_session(
    s: *mut VtremoteSession,
    f: impl FnOnce(&mut VtremoteSession) -> Result<VtremoteStatus, Failure>,
) -> VtremoteStatus {
    // SAFETY: the header requires `s` to be NULL or a live handle from vtremote_session_new,
    // used by one thread at a time; as_mut turns NULL into None.
    let Some(session) = (unsafe { s.as_mut() }) else {
        return VtremoteStatus::InvalidArgument;
    };
    if session.poisoned {
        return VtremoteStatus::Internal;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        let r = f(&mut *session);
        session.after_call();
        r
    }));
    match result {
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
            VtremoteStatus::Internal
        }
    }
}

/// A read-only look at a handle for the accessors that return a value instead of a status:
/// `fallback` for NULL and after a panic.
pub(crate) fn with_session_ref<T>(
    s: *const VtremoteSession,
    fallback: T,
    f: impl FnOnce(&VtremoteSession) -> T,
) -> T {
    // SAFETY: as in `with_session`: NULL or a live handle not used concurrently.
    match unsafe { s.as_ref() } {
        Some(session) => guard(fallback, || f(session)),
        None => fallback,
    }
}

/// Panic boundary for calls without a session.
pub(crate) fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// A C string argument.
///
/// # Safety
/// `p` must be null or a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: not NULL (checked above) and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| invalid(format!("{what} is not UTF-8")))
}

/// A (pointer, count) argument as a slice. Refuses what `slice::from_raw_parts` may not be
/// given: NULL, a misaligned pointer, or a count whose size in bytes overflows or exceeds
/// `isize::MAX`.
///
/// # Safety
/// `p` must be valid for `len` elements, or `len` must be 0.
pub(crate) unsafe fn c_slice<'a, T>(
    p: *const T,
    len: usize,
    what: &str,
) -> Result<&'a [T], Failure> {
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
    // SAFETY: non-null, aligned, `len * size_of::<T>()` ≤ isize::MAX (checked above), and
    // valid for `len` elements for the call (the caller's contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// [`c_slice`] for byte buffers.
///
/// # Safety
/// `p` must be valid for `len` bytes, or `len` must be 0.
pub(crate) unsafe fn c_bytes<'a>(
    p: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    // SAFETY: the same contract, passed on.
    unsafe { c_slice(p, len, what) }
}

/// An input struct passed by pointer (`const VtremoteFrame *` and the like).
///
/// # Safety
/// `p` must be null or point to a `T` valid for the call.
pub(crate) unsafe fn c_ref<'a, T>(p: *const T, what: &str) -> Result<&'a T, Failure> {
    if !p.is_aligned() {
        return Err(invalid(format!("{what} is not suitably aligned")));
    }
    // SAFETY: aligned (checked), NULL becomes None, otherwise a valid `T` (the contract).
    unsafe { p.as_ref() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// An out-parameter (`VtremotePacket *out`, `size_t *size`, …), to be written whole.
///
/// # Safety
/// `p` must be null or point to memory valid for writing a `T` during the call.
pub(crate) unsafe fn c_out<'a, T>(p: *mut T, what: &str) -> Result<Out<'a, T>, Failure> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    if !p.is_aligned() {
        return Err(invalid(format!("{what} is not suitably aligned")));
    }
    Ok(Out {
        p,
        _life: std::marker::PhantomData,
    })
}

/// A checked out-parameter. Written with `write`, never read: C may hand over
/// uninitialised memory, which a `&mut T` must not point to.
pub(crate) struct Out<'a, T> {
    p: *mut T,
    _life: std::marker::PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    pub fn write(&mut self, value: T) {
        // SAFETY: non-null and aligned (checked by c_out), writable for a `T` (c_out's
        // contract); `ptr::write` neither reads nor drops the old contents.
        unsafe { self.p.write(value) }
    }
}
