//! Owned CoreFoundation references and the few constructors the backend needs. Every
//! Create/Copy result goes into [`Cf`], whose `Drop` releases it exactly once; Get-rule
//! values and `kCF…`/`kVT…` constants stay raw pointers and are never released.

use std::ffi::{c_void, CString};
use std::ptr::NonNull;

use super::ffi;
use crate::backend::videotoolbox::options_table::Symbol;
use crate::backend::BackendError;

/// One owned (+1) CoreFoundation reference.
pub struct Cf(NonNull<c_void>);

// SAFETY: CoreFoundation retain/release is thread-safe, and every object we own is either
// immutable once built (dictionaries, numbers, strings) or a VideoToolbox session, which
// Apple documents as usable from any thread (calls are serialised by `&mut self` anyway).
unsafe impl Send for Cf {}
// SAFETY: shared references only read immutable objects or pass them to thread-safe APIs.
unsafe impl Sync for Cf {}

impl Cf {
    /// Takes ownership of a Create/Copy-rule result; NULL becomes `None`.
    ///
    /// # Safety
    /// `ptr` must be NULL or a CoreFoundation object the caller owns one reference to.
    pub unsafe fn from_create<T>(ptr: *const T) -> Option<Cf> {
        NonNull::new(ptr as *mut c_void).map(Cf)
    }

    pub fn as_ptr<T>(&self) -> *const T {
        self.0.as_ptr() as *const T
    }

    pub fn as_mut_ptr<T>(&self) -> *mut T {
        self.0.as_ptr() as *mut T
    }
}

impl Drop for Cf {
    fn drop(&mut self) {
        // SAFETY: we own exactly one reference (see `from_create`) and the pointer is non-NULL.
        unsafe { ffi::CFRelease(self.0.as_ptr()) }
    }
}

fn created(what: &str) -> BackendError {
    BackendError::failed(format!(
        "CoreFoundation could not create {what} (out of memory?)"
    ))
}

/// A CFString for a table [`Symbol`]: the system's constant when this macOS exports it, else
/// a string with the same text (FFmpeg's fallback, videotoolbox.md §1).
pub enum CfString {
    Constant(ffi::CFStringRef),
    Owned(Cf),
}

impl CfString {
    pub fn as_ptr(&self) -> ffi::CFStringRef {
        match self {
            CfString::Constant(p) => *p,
            CfString::Owned(cf) => cf.as_ptr(),
        }
    }
}

pub fn symbol(sym: &Symbol) -> Result<CfString, BackendError> {
    let name = CString::new(sym.name).map_err(|_| created(sym.name))?;
    // SAFETY: every table symbol names a CFStringRef variable (checked by the FFI cross-check).
    let constant = unsafe { ffi::lookup_cfstring(&name) };
    if !constant.is_null() {
        return Ok(CfString::Constant(constant));
    }
    let text = CString::new(sym.literal).map_err(|_| created(sym.literal))?;
    // SAFETY: `text` is NUL-terminated UTF-8; the result is a Create-rule CFString.
    let s = unsafe {
        ffi::CFStringCreateWithCString(std::ptr::null(), text.as_ptr(), ffi::kCFStringEncodingUTF8)
    };
    // SAFETY: Create rule, see above.
    unsafe { Cf::from_create(s) }
        .map(CfString::Owned)
        .ok_or_else(|| created(sym.literal))
}

fn number(kind: ffi::CFNumberType, value: *const c_void) -> Result<Cf, BackendError> {
    // SAFETY: `value` points at a live value of the width `kind` names (callers below).
    let n = unsafe { ffi::CFNumberCreate(std::ptr::null(), kind, value) };
    // SAFETY: CFNumberCreate follows the Create rule.
    unsafe { Cf::from_create(n) }.ok_or_else(|| created("a CFNumber"))
}

pub fn i32_number(v: i32) -> Result<Cf, BackendError> {
    number(ffi::kCFNumberSInt32Type, &v as *const i32 as *const c_void)
}

pub fn i64_number(v: i64) -> Result<Cf, BackendError> {
    number(ffi::kCFNumberSInt64Type, &v as *const i64 as *const c_void)
}

pub fn f32_number(v: f32) -> Result<Cf, BackendError> {
    number(ffi::kCFNumberFloat32Type, &v as *const f32 as *const c_void)
}

pub fn f64_number(v: f64) -> Result<Cf, BackendError> {
    number(ffi::kCFNumberFloat64Type, &v as *const f64 as *const c_void)
}

/// `kCFBooleanTrue` / `kCFBooleanFalse` (constants: never released).
pub fn boolean(v: bool) -> ffi::CFBooleanRef {
    // SAFETY: reading an immutable framework constant.
    unsafe {
        if v {
            ffi::kCFBooleanTrue
        } else {
            ffi::kCFBooleanFalse
        }
    }
}

/// CFArray of SInt64 CFNumbers.
pub fn i64_array(values: &[i64]) -> Result<Cf, BackendError> {
    let numbers = values
        .iter()
        .map(|&v| i64_number(v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ptrs: Vec<*const c_void> = numbers.iter().map(|n| n.as_ptr()).collect();
    // SAFETY: `ptrs` holds `len` live CFNumbers; the type callbacks make the array retain them,
    // so dropping `numbers` afterwards is correct.
    let array = unsafe {
        ffi::CFArrayCreate(
            std::ptr::null(),
            ptrs.as_mut_ptr(),
            ptrs.len() as ffi::CFIndex,
            &ffi::kCFTypeArrayCallBacks,
        )
    };
    // SAFETY: Create rule.
    unsafe { Cf::from_create(array) }.ok_or_else(|| created("a CFArray"))
}

/// A mutable CFDictionary with CFType callbacks (keys and values are retained).
pub struct Dict(Cf);

impl Dict {
    pub fn new() -> Result<Dict, BackendError> {
        // SAFETY: the callback structs are framework constants; Create rule result.
        let d = unsafe {
            ffi::CFDictionaryCreateMutable(
                std::ptr::null(),
                0,
                &ffi::kCFTypeDictionaryKeyCallBacks,
                &ffi::kCFTypeDictionaryValueCallBacks,
            )
        };
        // SAFETY: Create rule.
        unsafe { Cf::from_create(d) }
            .map(Dict)
            .ok_or_else(|| created("a CFDictionary"))
    }

    /// Sets `key` → `value`; both must be live CF objects (the dictionary retains them).
    pub fn set<K, V>(&mut self, key: *const K, value: *const V) {
        // SAFETY: the dictionary is ours and mutable; the type callbacks retain key and value.
        unsafe {
            ffi::CFDictionarySetValue(
                self.0.as_mut_ptr(),
                key as *const c_void,
                value as *const c_void,
            )
        }
    }

    pub fn as_ptr(&self) -> ffi::CFDictionaryRef {
        self.0.as_ptr()
    }

    pub fn into_cf(self) -> Cf {
        self.0
    }
}
