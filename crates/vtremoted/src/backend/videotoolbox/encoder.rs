//! VTCompressionSession: NV12 → H.264, NV12/P010 → HEVC (videotoolbox.md §5).
//!
//! The decisions that need no VideoToolbox (which status recreates the session, how the
//! delay budget is split, the DTS depth, reading parameter sets when the count query fails,
//! the published extradata) are `policy`'s and unit-tested on every host; this file is
//! the FFI around them.

use std::ffi::{c_int, c_void, CString};
use std::sync::{Arc, Mutex};

use vtremote_media::annexb;
use vtremote_media::sei::CaptionQueue;
use vtremote_proto::Codec;

use super::cf::{self, Cf, Dict};
use super::{check, codec_type, ffi, from_cmtime, pixel_format_type, to_cmtime, ARM64};
use crate::backend::videotoolbox::options_table::{
    self, ColourAttribute, Context, OnFailure, PropValue, Symbol,
};
use crate::backend::videotoolbox::osstatus;
use crate::backend::videotoolbox::policy::{
    self, DropCause, EncodedOutputs, EncoderOutput, RecreateBudget, StatusAction,
};
use crate::backend::{
    BackendCounters, BackendError, EncodedPacket, EncoderConfig, RawFrame, VideoEncoder,
};

/// One encoded sample as the callback saw it.
struct Output {
    pts: ffi::CMTime,
    duration: ffi::CMTime,
    keyframe: bool,
    /// Annex B; parameter sets prepended on keyframes.
    data: Vec<u8>,
    /// Annex B parameter sets of the sample's format description.
    parameter_sets: Vec<u8>,
    /// The format description's own avcC/hvcC record (keyframes only), when it has one.
    atom: Option<Vec<u8>>,
}

/// What the callback reported since the last `take_outputs`.
#[derive(Default)]
struct CallbackState {
    outputs: Vec<Output>,
    /// Pictures that produced no packet.
    dropped: Vec<DropCause>,
    /// The session was invalidated: recreate it before the next frame.
    lost: Option<i32>,
    fatal: Option<String>,
}

/// State the VT callback thread shares with `encode`/`flush`. Never locked across a VT call.
struct Shared {
    codec: Codec,
    state: Mutex<CallbackState>,
}

/// The compression session plus the refcon it was created with; teardown order matters
/// (videotoolbox.md §5 step 11): complete, invalidate, release, then free the refcon.
struct Session {
    raw: ffi::VTCompressionSessionRef,
    shared: *const Shared,
}

// SAFETY: VideoToolbox sessions may be driven from any thread; `shared` is an Arc payload
// that is itself Sync (Mutex inside).
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: `raw` is the live session we created; after Invalidate + CFRelease no callback
        // can use the refcon any more, so reclaiming the Arc last is sound.
        unsafe {
            ffi::VTCompressionSessionCompleteFrames(self.raw, ffi::CMTime::INVALID);
            ffi::VTCompressionSessionInvalidate(self.raw);
            ffi::CFRelease(self.raw as *mut c_void);
            drop(Arc::from_raw(self.shared));
        }
    }
}

unsafe extern "C" fn output_callback(
    refcon: *mut c_void,
    _frame_refcon: *mut c_void,
    status: ffi::OSStatus,
    info_flags: ffi::VTEncodeInfoFlags,
    sample: ffi::CMSampleBufferRef,
) {
    // A panic must not cross into VideoToolbox's thread (it would abort the daemon).
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: refcon is the Arc<Shared> payload kept alive until the session is released.
        let shared = unsafe { &*(refcon as *const Shared) };
        let result = if status != ffi::noErr {
            Err(status)
        } else {
            let dropped = info_flags & ffi::kVTEncodeInfo_FrameDropped != 0;
            // SAFETY: a non-NULL sample buffer is valid for the duration of the callback.
            let ready = !sample.is_null() && unsafe { ffi::CMSampleBufferDataIsReady(sample) } != 0;
            match policy::encoder_output(dropped, !sample.is_null(), ready) {
                EncoderOutput::Nothing => return,
                EncoderOutput::DropPicture => Err(ffi::noErr),
                // SAFETY: as above.
                EncoderOutput::Packet => Ok(unsafe { read_sample(shared.codec, sample) }),
            }
        };
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(Ok(out)) => state.outputs.push(out),
            Ok(Err(e)) => {
                state.fatal.get_or_insert(e);
            }
            Err(ffi::noErr) => state.dropped.push(DropCause::NotReady),
            Err(status) => match policy::encode_status_action(status) {
                StatusAction::RecreateSession => {
                    state.lost.get_or_insert(status);
                }
                StatusAction::DropPicture => state.dropped.push(DropCause::Status(status)),
                StatusAction::Fail => {
                    state
                        .fatal
                        .get_or_insert(format!("encoder callback: {}", osstatus::describe(status)));
                }
            },
        }
    });
}

/// Parameter sets of a format description as Annex B, and its NAL length size.
///
/// # Safety
/// `fmt` must be a live H.264/HEVC video format description.
unsafe fn parameter_sets(
    codec: Codec,
    fmt: ffi::CMFormatDescriptionRef,
) -> Result<(Vec<u8>, u8), String> {
    let get = |index: usize,
               ptr: *mut *const u8,
               size: *mut usize,
               count: *mut usize,
               len: *mut c_int| {
        // SAFETY: out-pointers are valid or NULL as the API allows; `fmt` is live (caller).
        unsafe {
            match codec {
                Codec::H264 => ffi::CMVideoFormatDescriptionGetH264ParameterSetAtIndex(
                    fmt, index, ptr, size, count, len,
                ),
                Codec::Hevc => ffi::CMVideoFormatDescriptionGetHEVCParameterSetAtIndex(
                    fmt, index, ptr, size, count, len,
                ),
            }
        }
    };
    // Count and length size are separate queries, as in FFmpeg: the count may fail where
    // the parameter sets themselves can still be read one by one.
    let mut count = 0usize;
    let count_status = get(
        0,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut count,
        std::ptr::null_mut(),
    );
    let mut nal_len: c_int = 0;
    let status = get(
        0,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut nal_len,
    );
    if status != ffi::noErr {
        return Err(format!(
            "reading the NAL length size: {}",
            osstatus::describe(status)
        ));
    }
    let units =
        policy::collect_parameter_sets((count_status == ffi::noErr).then_some(count), |i| {
            let (mut ptr, mut size): (*const u8, usize) = (std::ptr::null(), 0);
            let status = get(
                i,
                &mut ptr,
                &mut size,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            if status != ffi::noErr || ptr.is_null() {
                return Err(format!(
                    "reading parameter set {i}: {}",
                    osstatus::describe(status)
                ));
            }
            // SAFETY: the format description owns `size` bytes at `ptr` while it is alive.
            Ok(unsafe { std::slice::from_raw_parts(ptr, size) }.to_vec())
        })?;
    let mut out = Vec::new();
    annexb::write_annexb(&mut out, units.iter().map(Vec::as_slice));
    let nal_len = u8::try_from(nal_len).map_err(|_| format!("NAL length size {nal_len}"))?;
    Ok((out, nal_len))
}

/// The avcC/hvcC record VideoToolbox keeps in the format description
/// (`SampleDescriptionExtensionAtoms`), when present.
///
/// # Safety
/// `fmt` must be a live video format description.
unsafe fn sample_description_atom(
    codec: Codec,
    fmt: ffi::CMFormatDescriptionRef,
) -> Option<Vec<u8>> {
    let name = CString::new(match codec {
        Codec::H264 => "avcC",
        Codec::Hevc => "hvcC",
    })
    .ok()?;
    // SAFETY: `name` is NUL-terminated; Create-rule result owned by `key`.
    let key = unsafe {
        Cf::from_create(ffi::CFStringCreateWithCString(
            std::ptr::null(),
            name.as_ptr(),
            ffi::kCFStringEncodingUTF8,
        ))
    }?;
    // SAFETY: Get-rule values of a live format description, each type-checked before use
    // and copied out before returning.
    unsafe {
        let atoms = ffi::CMFormatDescriptionGetExtension(
            fmt,
            ffi::kCMFormatDescriptionExtension_SampleDescriptionExtensionAtoms,
        );
        if atoms.is_null()
            || ffi::CFGetTypeID(atoms as *const c_void) != ffi::CFDictionaryGetTypeID()
        {
            return None;
        }
        let data = ffi::CFDictionaryGetValue(atoms as ffi::CFDictionaryRef, key.as_ptr::<c_void>());
        if data.is_null() || ffi::CFGetTypeID(data) != ffi::CFDataGetTypeID() {
            return None;
        }
        let data = data as ffi::CFDataRef;
        let (ptr, len) = (ffi::CFDataGetBytePtr(data), ffi::CFDataGetLength(data));
        let len = usize::try_from(len).ok()?;
        (!ptr.is_null()).then(|| std::slice::from_raw_parts(ptr, len).to_vec())
    }
}

/// # Safety
/// `sample` must be a live, non-NULL encoder output sample buffer whose data is ready.
unsafe fn read_sample(codec: Codec, sample: ffi::CMSampleBufferRef) -> Result<Output, String> {
    // SAFETY: Get-rule accessors on a live sample; nothing is retained past
    // this function and every returned pointer is checked before use.
    unsafe {
        let fmt = ffi::CMSampleBufferGetFormatDescription(sample);
        if fmt.is_null() {
            return Err("encoder output has no format description".into());
        }
        let (parameter_sets, nal_len) = parameter_sets(codec, fmt)?;
        let block = ffi::CMSampleBufferGetDataBuffer(sample);
        if block.is_null() {
            return Err("encoder output has no data buffer".into());
        }
        let len = ffi::CMBlockBufferGetDataLength(block);
        let mut data = vec![0u8; len];
        // CopyDataBytes handles non-contiguous block buffers.
        let status =
            ffi::CMBlockBufferCopyDataBytes(block, 0, len, data.as_mut_ptr() as *mut c_void);
        if status != ffi::noErr {
            return Err(format!(
                "copying encoder output: {}",
                osstatus::describe(status)
            ));
        }
        let attachments = ffi::CMSampleBufferGetSampleAttachmentsArray(sample, 0);
        // FFmpeg's rule: a sample is a keyframe unless its attachments say NotSync = true.
        let keyframe = attachments.is_null() || ffi::CFArrayGetCount(attachments) == 0 || {
            let dict = ffi::CFArrayGetValueAtIndex(attachments, 0) as ffi::CFDictionaryRef;
            let not_sync = ffi::CFDictionaryGetValue(
                dict,
                ffi::kCMSampleAttachmentKey_NotSync as *const c_void,
            );
            not_sync.is_null() || ffi::CFBooleanGetValue(not_sync as ffi::CFBooleanRef) == 0
        };
        let body = annexb::length_prefixed_to_annexb(&data, nal_len)
            .map_err(|e| format!("encoder output: {e}"))?;
        let mut annexb =
            Vec::with_capacity(body.len() + if keyframe { parameter_sets.len() } else { 0 });
        // In-band parameter sets on every keyframe: Annex B consumers (MPEG-TS, the original
        // client with a muxer that ignores extradata) need them (videotoolbox.md §6); the
        // published hvcC says so (policy::PARAMETER_SETS_IN_BAND).
        if keyframe && policy::PARAMETER_SETS_IN_BAND {
            annexb.extend_from_slice(&parameter_sets);
        }
        annexb.extend_from_slice(&body);
        Ok(Output {
            pts: ffi::CMSampleBufferGetPresentationTimeStamp(sample),
            duration: ffi::CMSampleBufferGetDuration(sample),
            keyframe,
            data: annexb,
            parameter_sets,
            atom: if keyframe {
                sample_description_atom(codec, fmt)
            } else {
                None
            },
        })
    }
}

fn to_cf_value(value: &PropValue) -> Result<(Option<Cf>, *const c_void), BackendError> {
    let owned = match value {
        PropValue::Bool(b) => return Ok((None, cf::boolean(*b) as *const c_void)),
        PropValue::Str(sym) => {
            return Ok(match cf::symbol(sym)? {
                cf::CfString::Constant(p) => (None, p as *const c_void),
                cf::CfString::Owned(o) => {
                    let p = o.as_ptr();
                    (Some(o), p)
                }
            })
        }
        PropValue::I32(v) => cf::i32_number(*v)?,
        PropValue::F32(v) => cf::f32_number(*v)?,
        PropValue::F64(v) => cf::f64_number(*v)?,
        PropValue::I64Array(v) => cf::i64_array(v)?,
        PropValue::AspectRatio {
            horizontal,
            vertical,
        } => {
            let mut d = Dict::new()?;
            let (h, v) = (cf::i32_number(*horizontal)?, cf::i32_number(*vertical)?);
            // SAFETY: reading framework constants.
            let (hk, vk) = unsafe {
                (
                    ffi::kCMFormatDescriptionKey_PixelAspectRatioHorizontalSpacing,
                    ffi::kCMFormatDescriptionKey_PixelAspectRatioVerticalSpacing,
                )
            };
            d.set(hk, h.as_ptr::<c_void>());
            d.set(vk, v.as_ptr::<c_void>());
            let p = d.as_ptr() as *const c_void;
            return Ok((Some(d.into_cf()), p));
        }
    };
    let p = owned.as_ptr();
    Ok((Some(owned), p))
}

/// Everything needed to (re)create identical sessions.
struct Recipe {
    codec: Codec,
    width: i32,
    height: i32,
    spec: Dict,
    attrs: Dict,
    plan: options_table::Plan,
}

fn set_property(
    session: ffi::VTCompressionSessionRef,
    key: &Symbol,
    value: &PropValue,
) -> Result<(), ffi::OSStatus> {
    let key_cf = cf::symbol(key).map_err(|_| -12904)?;
    let (_owned, value_ptr) = to_cf_value(value).map_err(|_| -12904)?;
    // SAFETY: live session, live key and value (kept alive by `key_cf`/`_owned` until return).
    let status = unsafe {
        ffi::VTSessionSetProperty(
            session as ffi::VTSessionRef,
            key_cf.as_ptr(),
            value_ptr as ffi::CFTypeRef,
        )
    };
    if status == ffi::noErr {
        Ok(())
    } else {
        Err(status)
    }
}

fn create_session(recipe: &Recipe, warnings: &mut Vec<String>) -> Result<Session, BackendError> {
    let shared = Arc::new(Shared {
        codec: recipe.codec,
        state: Mutex::new(CallbackState::default()),
    });
    let refcon = Arc::into_raw(shared);
    let mut raw: ffi::VTCompressionSessionRef = std::ptr::null_mut();
    // SAFETY: dictionaries are live; the callback is `extern "C"` and panic-safe; `refcon` stays
    // valid until `Session::drop` reclaims it.
    let status = unsafe {
        ffi::VTCompressionSessionCreate(
            std::ptr::null(),
            recipe.width,
            recipe.height,
            codec_type(recipe.codec),
            recipe.spec.as_ptr(),
            recipe.attrs.as_ptr(),
            std::ptr::null(),
            Some(output_callback),
            refcon as *mut c_void,
            &mut raw,
        )
    };
    if status != ffi::noErr || raw.is_null() {
        // SAFETY: no session holds the refcon, so we still own it.
        drop(unsafe { Arc::from_raw(refcon) });
        check(status, "VTCompressionSessionCreate")?;
        return Err(BackendError::failed(
            "VTCompressionSessionCreate returned no session",
        ));
    }
    let session = Session {
        raw,
        shared: refcon,
    };
    for p in &recipe.plan.properties {
        if let Err(status) = set_property(raw, &p.key, &p.value) {
            let text = format!(
                "{} ({}): {}",
                p.key.literal,
                p.option,
                osstatus::describe(status)
            );
            match p.on_failure {
                OnFailure::Fatal => return Err(BackendError::unsupported(p.option, text)),
                OnFailure::Warn => warnings.push(format!("{text}; continuing without it")),
            }
        }
    }
    check(
        // SAFETY: live session.
        unsafe { ffi::VTCompressionSessionPrepareToEncodeFrames(raw) },
        "VTCompressionSessionPrepareToEncodeFrames",
    )?;
    Ok(session)
}

/// Why a picture could not be submitted.
enum SubmitError {
    /// The session is dead (invalidated): a new one may take the picture.
    SessionLost(ffi::OSStatus),
    Failed(BackendError),
}

impl From<BackendError> for SubmitError {
    fn from(e: BackendError) -> Self {
        SubmitError::Failed(e)
    }
}

impl Session {
    fn shared(&self) -> &Shared {
        // SAFETY: the Arc payload lives until `drop`.
        unsafe { &*self.shared }
    }

    /// Everything the callback reported since the last call.
    fn take_state(&self) -> CallbackState {
        let mut guard = self
            .shared()
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *guard)
    }

    /// Copies one picture into a pool buffer and submits it.
    fn submit(
        &self,
        frame: &RawFrame<'_>,
        force_keyframe: bool,
        geometry: &vtremote_proto::FrameGeometry,
        time_base: (u32, u32),
    ) -> Result<(), SubmitError> {
        // SAFETY: live session; the pool is Get-rule and only used in this call.
        let mut pool = unsafe { ffi::VTCompressionSessionGetPixelBufferPool(self.raw) };
        if pool.is_null() {
            // FFmpeg's sign of an invalidated session: PrepareToEncodeFrames says for sure.
            // SAFETY: live session.
            let status = unsafe { ffi::VTCompressionSessionPrepareToEncodeFrames(self.raw) };
            // SAFETY: as above.
            pool = unsafe { ffi::VTCompressionSessionGetPixelBufferPool(self.raw) };
            if pool.is_null() {
                let status = if status == ffi::noErr {
                    policy::INVALID_SESSION
                } else {
                    status
                };
                return Err(match policy::encode_status_action(status) {
                    StatusAction::RecreateSession => SubmitError::SessionLost(status),
                    _ => SubmitError::Failed(BackendError::failed(format!(
                        "the compression session has no pixel buffer pool: {}",
                        osstatus::describe(status)
                    ))),
                });
            }
        }
        let mut pb: ffi::CVPixelBufferRef = std::ptr::null_mut();
        check(
            // SAFETY: live pool; Create-rule output owned by `buffer` below.
            unsafe { ffi::CVPixelBufferPoolCreatePixelBuffer(std::ptr::null(), pool, &mut pb) },
            "CVPixelBufferPoolCreatePixelBuffer",
        )?;
        // SAFETY: Create rule.
        let buffer = unsafe { Cf::from_create(pb) }
            .ok_or_else(|| BackendError::failed("pool returned no pixel buffer"))?;
        copy_into(pb, frame, geometry)?;
        let pts = to_cmtime(frame.pts, time_base)?;
        let duration = if frame.duration > 0 {
            to_cmtime(frame.duration, time_base)?
        } else {
            ffi::CMTime::INVALID
        };
        let props = if force_keyframe {
            let mut d = Dict::new()?;
            let key = cf::symbol(&options_table::FORCE_KEY_FRAME)?;
            d.set(key.as_ptr(), cf::boolean(true));
            Some((d, key))
        } else {
            None
        };
        let props_ptr = props.as_ref().map_or(std::ptr::null(), |(d, _)| d.as_ptr());
        // SAFETY: live session and pixel buffer (VT retains what it keeps); no lock is held,
        // so the callback may run on another thread meanwhile.
        let status = unsafe {
            ffi::VTCompressionSessionEncodeFrame(
                self.raw,
                pb,
                pts,
                duration,
                props_ptr,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        drop(buffer);
        match policy::encode_status_action(status) {
            StatusAction::RecreateSession => Err(SubmitError::SessionLost(status)),
            _ => check(status, "VTCompressionSessionEncodeFrame").map_err(SubmitError::Failed),
        }
    }

    /// Emits every pending frame; the status of `VTCompressionSessionCompleteFrames`.
    fn complete(&self) -> ffi::OSStatus {
        // SAFETY: live session; an invalid time emits every pending frame before returning.
        unsafe { ffi::VTCompressionSessionCompleteFrames(self.raw, ffi::CMTime::INVALID) }
    }

    fn copy_bool(&self, key: &Symbol) -> Option<bool> {
        let key_cf = cf::symbol(key).ok()?;
        let mut value: ffi::CFTypeRef = std::ptr::null();
        // SAFETY: live session; `value` receives a Create-rule reference we release below.
        let status = unsafe {
            ffi::VTSessionCopyProperty(
                self.raw as ffi::VTSessionRef,
                key_cf.as_ptr(),
                std::ptr::null(),
                &mut value as *mut ffi::CFTypeRef as *mut c_void,
            )
        };
        // SAFETY: Copy rule.
        let owned = unsafe { Cf::from_create(value) }?;
        // SAFETY: the documented value type of the keys we read is CFBoolean.
        (status == ffi::noErr).then(|| unsafe { ffi::CFBooleanGetValue(owned.as_ptr()) } != 0)
    }
}

/// Copies the client's planes into a locked pixel buffer, row by row with both strides.
/// Chroma may arrive one row short (original client, odd heights): the last row repeats.
fn copy_into(
    pb: ffi::CVPixelBufferRef,
    frame: &RawFrame<'_>,
    geometry: &vtremote_proto::FrameGeometry,
) -> Result<(), BackendError> {
    check(
        // SAFETY: `pb` is a live pixel buffer we own; locked for writing until the unlock below.
        unsafe { ffi::CVPixelBufferLockBaseAddress(pb, 0) },
        "CVPixelBufferLockBaseAddress",
    )?;
    let result = (|| {
        // SAFETY: plane accessors on a locked buffer.
        if unsafe { ffi::CVPixelBufferGetPlaneCount(pb) } < 2 {
            return Err(BackendError::failed(
                "the encoder's pixel buffer is not bi-planar",
            ));
        }
        for (i, plane) in frame.planes.iter().enumerate() {
            // SAFETY: as above; the base address spans `height × bytes_per_row` bytes.
            let (base, dst_stride, dst_rows) = unsafe {
                (
                    ffi::CVPixelBufferGetBaseAddressOfPlane(pb, i) as *mut u8,
                    ffi::CVPixelBufferGetBytesPerRowOfPlane(pb, i),
                    ffi::CVPixelBufferGetHeightOfPlane(pb, i),
                )
            };
            if base.is_null() {
                return Err(BackendError::failed(format!(
                    "pixel buffer plane {i} has no base address"
                )));
            }
            let row_bytes = geometry.row_bytes(i).min(dst_stride);
            if plane.rows == 0 || plane.stride < geometry.row_bytes(i) {
                return Err(BackendError::failed(format!(
                    "plane {i}: {} rows of stride {} cannot hold {}-byte rows",
                    plane.rows,
                    plane.stride,
                    geometry.row_bytes(i)
                )));
            }
            let needed = (plane.rows - 1) * plane.stride + geometry.row_bytes(i);
            if plane.data.len() < needed {
                return Err(BackendError::failed(format!(
                    "plane {i}: {} bytes, need {needed}",
                    plane.data.len()
                )));
            }
            for row in 0..dst_rows.min(geometry.plane_rows(i)) {
                let src_row = row.min(plane.rows - 1);
                let src = &plane.data[src_row * plane.stride..src_row * plane.stride + row_bytes];
                // SAFETY: row < dst_rows and row_bytes ≤ dst_stride keep the write inside the plane.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        base.add(row * dst_stride),
                        row_bytes,
                    )
                };
            }
        }
        Ok(())
    })();
    // SAFETY: same flags as the lock.
    unsafe { ffi::CVPixelBufferUnlockBaseAddress(pb, 0) };
    result
}

/// The throwaway encode that yields the parameter sets before the first real frame:
/// (Annex B parameter sets, the format description's own avcC/hvcC record).
fn warm_up(
    recipe: &Recipe,
    geometry: &vtremote_proto::FrameGeometry,
    time_base: (u32, u32),
) -> Result<(Vec<u8>, Option<Vec<u8>>), BackendError> {
    let warm = create_session(recipe, &mut Vec::new())?;
    let blank = blank_frame(geometry);
    let planes = [0, 1].map(|p| crate::backend::PlaneRef {
        data: &blank[p],
        stride: geometry.row_bytes(p),
        rows: geometry.plane_rows(p),
    });
    let frame = RawFrame {
        pts: 0,
        duration: 0,
        force_keyframe: true,
        planes,
        a53_cc: None,
    };
    warm.submit(&frame, true, geometry, time_base)
        .map_err(|e| match e {
            SubmitError::Failed(e) => e,
            SubmitError::SessionLost(status) => BackendError::failed(format!(
                "the warm-up encode lost its session: {}",
                osstatus::describe(status)
            )),
        })?;
    check(warm.complete(), "VTCompressionSessionCompleteFrames")?;
    let state = warm.take_state();
    if let Some(e) = state.fatal {
        return Err(BackendError::failed(format!("warm-up encode: {e}")));
    }
    state
        .outputs
        .into_iter()
        .find(|o| !o.parameter_sets.is_empty())
        .map(|o| (o.parameter_sets, o.atom))
        .ok_or_else(|| BackendError::failed("the warm-up encode produced no parameter sets"))
}

pub struct VtEncoder {
    session: Session,
    /// Everything needed to build the same session again after the system invalidated it.
    recipe: Recipe,
    geometry: vtremote_proto::FrameGeometry,
    time_base: (u32, u32),
    /// Captions, DTS and lost pictures of what VideoToolbox delivered.
    outputs: EncodedOutputs,
    last_pts: Option<i64>,
    extradata: Vec<u8>,
    warnings: Vec<String>,
    name: String,
    recreations: RecreateBudget,
    session_restarts: u64,
    /// The callback reported the session dead; a new one is built before the next frame.
    session_lost: Option<ffi::OSStatus>,
    /// A new session cannot reference the old one's pictures: its first frame is a keyframe.
    force_keyframe: bool,
}

/// The pixel buffer pool's attributes: format, size, IOSurface backing, and the colour
/// tags that carry into the encoder, as FFmpeg's do.
fn source_attributes(
    config: &EncoderConfig,
    width: i32,
    height: i32,
) -> Result<Dict, BackendError> {
    let mut attrs = Dict::new()?;
    let fourcc = pixel_format_type(
        config.geometry.pix_fmt,
        options_table::full_range(&config.options),
    );
    let (f, w, h) = (
        cf::i32_number(fourcc as i32)?,
        cf::i32_number(width)?,
        cf::i32_number(height)?,
    );
    let io_surface = Dict::new()?;
    // SAFETY: reading framework constants.
    unsafe {
        attrs.set(ffi::kCVPixelBufferPixelFormatTypeKey, f.as_ptr::<c_void>());
        attrs.set(ffi::kCVPixelBufferWidthKey, w.as_ptr::<c_void>());
        attrs.set(ffi::kCVPixelBufferHeightKey, h.as_ptr::<c_void>());
        attrs.set(
            ffi::kCVPixelBufferIOSurfacePropertiesKey,
            io_surface.as_ptr(),
        );
    }
    for (attribute, value) in options_table::source_colour_attributes(&config.options) {
        // SAFETY: reading framework constants.
        let key = unsafe {
            match attribute {
                ColourAttribute::Primaries => ffi::kCVImageBufferColorPrimariesKey,
                ColourAttribute::TransferFunction => ffi::kCVImageBufferTransferFunctionKey,
                ColourAttribute::YCbCrMatrix => ffi::kCVImageBufferYCbCrMatrixKey,
            }
        };
        // The dictionary retains the value, so `value` may go after this.
        let value = cf::symbol(&value)?;
        attrs.set(key, value.as_ptr());
    }
    Ok(attrs)
}

/// The reorder depth the SPS in Annex B parameter sets declares, if it says.
fn sps_reorder_depth(codec: Codec, annexb_ps: &[u8]) -> Option<u32> {
    vtremote_media::stream_info_from_annexb(codec, annexb_ps)
        .ok()
        .and_then(|i| i.max_num_reorder_frames)
}

/// Parameter sets (Annex B) and the extradata record, from a throwaway session, never the
/// live one (videotoolbox.md §5 step 8, §10: the original's warm-up broke PTS ordering).
/// The SPS then says how deep VideoToolbox reorders: the DTS tracker's share of the budget
/// may grow and B-frames may have to go, which may take a second warm-up.
fn warm_parameter_sets(
    recipe: &mut Recipe,
    ctx: &Context<'_>,
    config: &EncoderConfig,
) -> Result<(Vec<u8>, Vec<u8>), BackendError> {
    let refused = |r: options_table::Refusal| BackendError::unsupported(r.option, r.reason);
    let mut warm = warm_up(recipe, &config.geometry, config.time_base)?;
    let known = options_table::plan_with_depth(
        ctx,
        config.max_delay_frames,
        sps_reorder_depth(config.codec, &warm.0),
    )
    .map_err(refused)?;
    if known.delay != recipe.plan.delay {
        let rewarm = policy::needs_new_warm_up(recipe.plan.delay, known.delay);
        recipe.plan = known;
        if rewarm {
            warm = warm_up(recipe, &config.geometry, config.time_base)?;
        }
    }
    let (parameter_sets, atom) = warm;
    let extradata = policy::encoder_extradata(config.codec, atom.as_deref(), &parameter_sets)
        .map_err(|e| BackendError::failed(format!("building {} extradata: {e}", config.codec)))?;
    Ok((parameter_sets, extradata))
}

/// Ticks of the time base per frame at the given frame rate; 0 when unknown.
fn frame_ticks(config: &EncoderConfig) -> i64 {
    config
        .frame_rate
        .and_then(|(n, d)| {
            (i64::from(d) * i64::from(config.time_base.1))
                .checked_div(i64::from(n) * i64::from(config.time_base.0))
        })
        .unwrap_or(0)
}

impl VtEncoder {
    pub fn open(config: &EncoderConfig) -> Result<Self, BackendError> {
        let geometry = config.geometry;
        let media = config.codec;
        let ctx = Context {
            codec: config.codec,
            pix_fmt: geometry.pix_fmt,
            options: &config.options,
            frame_rate: config.frame_rate,
            arm64: ARM64,
        };
        let refused = |r: options_table::Refusal| BackendError::unsupported(r.option, r.reason);
        // The delay budget assumes the usual reorder depth until the warm-up shows the SPS.
        let plan = options_table::plan(&ctx, config.max_delay_frames).map_err(refused)?;
        let mut spec = Dict::new()?;
        for (key, value) in options_table::encoder_specification(&ctx) {
            let k = cf::symbol(&key)?;
            spec.set(k.as_ptr(), cf::boolean(value));
        }
        let dims = |v: u32, what: &str| {
            i32::try_from(v).map_err(|_| {
                BackendError::unsupported(what.to_string(), format!("{v} is too large"))
            })
        };
        let (width, height) = (
            dims(geometry.width, "width")?,
            dims(geometry.height, "height")?,
        );
        let attrs = source_attributes(config, width, height)?;
        let mut recipe = Recipe {
            codec: config.codec,
            width,
            height,
            spec,
            attrs,
            plan,
        };

        let (parameter_sets, extradata) = warm_parameter_sets(&mut recipe, &ctx, config)?;
        let mut warnings = recipe.plan.warnings.clone();
        let session = create_session(&recipe, &mut warnings)?;
        // Some encoders refuse B-frames even when allowed: read back what VT decided.
        let reordering = recipe.plan.delay.frame_reordering
            && session
                .copy_bool(&options_table::ALLOW_FRAME_REORDERING)
                .unwrap_or(true);
        let depth =
            policy::encoder_dts_depth(reordering, sps_reorder_depth(media, &parameter_sets));
        let frame_ticks = frame_ticks(config);
        let hw = session
            .copy_bool(&options_table::USING_HW_ENCODER)
            .unwrap_or(false);
        Ok(VtEncoder {
            session,
            recipe,
            geometry,
            time_base: config.time_base,
            // Like FFmpeg's native a53cc (default on): embed unless the client said 0.
            outputs: EncodedOutputs::new(
                depth,
                frame_ticks,
                (config.options.a53_cc != 0).then(|| CaptionQueue::new(media)),
            ),
            last_pts: None,
            extradata,
            warnings,
            name: format!(
                "VideoToolbox {} {}",
                if hw { "HW" } else { "SW" },
                config.codec
            ),
            recreations: RecreateBudget::default(),
            session_restarts: 0,
            session_lost: None,
            force_keyframe: false,
        })
    }

    /// The system invalidated the session: send what it delivered, then build a new one
    /// from the same recipe (FFmpeg's `vtenc_reset`), unless new sessions keep dying. The
    /// pictures the dead session still held are lost.
    fn recreate(
        &mut self,
        status: ffi::OSStatus,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), BackendError> {
        self.drain(out, false)?;
        // The dead session may have said so in its callback too: one new session is enough.
        self.session_lost = None;
        if !self.recreations.try_recreate() {
            return Err(BackendError::failed(format!(
                "VideoToolbox encoder still failing after {} new sessions: {}",
                policy::MAX_RECREATIONS_IN_A_ROW,
                osstatus::describe(status)
            )));
        }
        tracing::warn!(
            "VideoToolbox encoder: {}; starting a new session",
            osstatus::describe(status)
        );
        // Property refusals were reported at CONFIGURE; the same ones again say nothing new.
        self.session = create_session(&self.recipe, &mut Vec::new())?;
        self.session_restarts += 1;
        self.force_keyframe = true;
        Ok(())
    }

    /// Turns what the callback delivered into packets (`policy::EncodedOutputs`); an
    /// error is reported only after every sample was handled.
    fn drain(&mut self, out: &mut Vec<EncodedPacket>, finish: bool) -> Result<(), BackendError> {
        let state = self.session.take_state();
        for cause in state.dropped {
            self.outputs.drop_picture(cause);
        }
        if !state.outputs.is_empty() {
            self.recreations.succeeded();
        }
        for o in state.outputs {
            let pts = from_cmtime(o.pts, self.time_base);
            let duration = from_cmtime(o.duration, self.time_base).unwrap_or(0);
            self.outputs.push(pts, duration, o.keyframe, o.data);
        }
        self.outputs.pop_into(out, finish);
        if let Some(status) = state.lost {
            self.session_lost.get_or_insert(status);
        }
        match state.fatal {
            Some(e) => Err(BackendError::failed(e)),
            None => Ok(()),
        }
    }
}

/// A mid-grey picture for the warm-up encode (content is irrelevant; grey avoids an
/// all-zero P010 buffer that is below legal video range).
fn blank_frame(geometry: &vtremote_proto::FrameGeometry) -> [Vec<u8>; 2] {
    [0, 1].map(|p| {
        let len = geometry.row_bytes(p) * geometry.plane_rows(p);
        match geometry.pix_fmt {
            vtremote_proto::PixelFormat::Nv12 => vec![128u8; len],
            // 512 << 6 = 0x8000 little-endian: mid-grey in MSB-aligned 10-bit.
            vtremote_proto::PixelFormat::P010 => [0x00u8, 0x80].repeat(len / 2),
        }
    })
}

impl VideoEncoder for VtEncoder {
    fn extradata(&self) -> &[u8] {
        &self.extradata
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn encode(
        &mut self,
        frame: &RawFrame<'_>,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), BackendError> {
        // VideoToolbox requires strictly increasing PTS per session (VT/CS).
        if let Some(last) = self.last_pts {
            if frame.pts <= last {
                return Err(BackendError::failed(format!(
                    "frame pts {} is not after the previous pts {last}; VideoToolbox needs strictly increasing timestamps",
                    frame.pts
                )));
            }
        }
        if let Some(status) = self.session_lost {
            self.recreate(status, out)?;
        }
        let force = frame.force_keyframe || self.force_keyframe;
        match self
            .session
            .submit(frame, force, &self.geometry, self.time_base)
        {
            Ok(()) => {}
            Err(SubmitError::Failed(e)) => return Err(e),
            Err(SubmitError::SessionLost(status)) => {
                self.recreate(status, out)?;
                self.session
                    .submit(frame, true, &self.geometry, self.time_base)
                    .map_err(|e| match e {
                        SubmitError::Failed(e) => e,
                        SubmitError::SessionLost(status) => BackendError::failed(format!(
                            "VideoToolbox encoder: the new session failed at once: {}",
                            osstatus::describe(status)
                        )),
                    })?;
            }
        }
        self.force_keyframe = false;
        self.last_pts = Some(frame.pts);
        self.outputs.remember_captions(frame.pts, frame.a53_cc);
        self.drain(out, false)
    }

    fn flush(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), BackendError> {
        let status = self.session.complete();
        if status != ffi::noErr {
            match policy::encode_status_action(status) {
                // The session died holding its last pictures; what it delivered still goes
                // out, and a later frame gets a new session.
                StatusAction::RecreateSession => {
                    tracing::warn!(
                        "VideoToolbox encoder: {} at flush; its last pictures are lost",
                        osstatus::describe(status)
                    );
                    self.session_lost.get_or_insert(status);
                }
                _ => check(status, "VTCompressionSessionCompleteFrames")?,
            }
        }
        self.drain(out, true)?;
        if self.outputs.late_violations() > 0 {
            tracing::warn!(
                count = self.outputs.late_violations(),
                "VideoToolbox reordered deeper than its SPS declared; some packets have dts > pts"
            );
        }
        Ok(())
    }

    fn counters(&self) -> BackendCounters {
        BackendCounters {
            dropped_pictures: self.outputs.dropped(),
            skipped_packets: 0,
            session_restarts: self.session_restarts,
        }
    }
}

impl Drop for VtEncoder {
    fn drop(&mut self) {
        // Until the session layer copies these into its SUMMARY line, the log keeps them.
        let c = self.counters();
        if !c.is_zero() {
            tracing::info!(
                dropped_pictures = c.dropped_pictures,
                session_restarts = c.session_restarts,
                "VideoToolbox encoder finished"
            );
        }
    }
}
