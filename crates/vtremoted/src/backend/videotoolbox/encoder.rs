//! VTCompressionSession: NV12 → H.264, NV12/P010 → HEVC (videotoolbox.md §5).

use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex};

use vtremote_media::dts::DtsTracker;
use vtremote_media::sei::CaptionQueue;
use vtremote_media::{annexb, extradata};
use vtremote_proto::Codec;

use super::cf::{self, Cf, Dict};
use super::{check, codec_type, ffi, from_cmtime, pixel_format_type, to_cmtime, ARM64};
use crate::backend::vt_options::{self, Context, OnFailure, PropValue, Symbol};
use crate::backend::vt_osstatus;
use crate::backend::{BackendError, EncodedPacket, EncoderConfig, RawFrame, VideoEncoder};

/// One encoded sample as the callback saw it.
struct Output {
    pts: ffi::CMTime,
    duration: ffi::CMTime,
    keyframe: bool,
    /// Annex B; parameter sets prepended on keyframes.
    data: Vec<u8>,
    /// Annex B parameter sets of the sample's format description.
    parameter_sets: Vec<u8>,
}

/// State the VT callback thread shares with `encode`/`flush`. Never locked across a VT call.
struct Shared {
    codec: Codec,
    outputs: Mutex<(Vec<Output>, Option<String>)>,
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
            Err(format!(
                "encoder callback: {}",
                vt_osstatus::describe(status)
            ))
        } else if sample.is_null() || info_flags & ffi::kVTEncodeInfo_FrameDropped != 0 {
            return;
        } else {
            // SAFETY: a non-NULL sample buffer valid for the duration of the callback.
            unsafe { read_sample(shared.codec, sample) }
        };
        let mut guard = shared.outputs.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(out) => guard.0.push(out),
            Err(e) => {
                guard.1.get_or_insert(e);
            }
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
    let (mut count, mut nal_len): (usize, c_int) = (0, 0);
    let status = get(
        0,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut count,
        &mut nal_len,
    );
    if status != ffi::noErr {
        return Err(format!(
            "reading parameter sets: {}",
            vt_osstatus::describe(status)
        ));
    }
    let mut out = Vec::new();
    for i in 0..count {
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
                vt_osstatus::describe(status)
            ));
        }
        // SAFETY: the format description owns `size` bytes at `ptr` while it is alive.
        let nal = unsafe { std::slice::from_raw_parts(ptr, size) };
        annexb::write_annexb(&mut out, [nal]);
    }
    let nal_len = u8::try_from(nal_len).map_err(|_| format!("NAL length size {nal_len}"))?;
    Ok((out, nal_len))
}

/// # Safety
/// `sample` must be a live, non-NULL encoder output sample buffer.
unsafe fn read_sample(codec: Codec, sample: ffi::CMSampleBufferRef) -> Result<Output, String> {
    // SAFETY (whole block): Get-rule accessors on a live sample; nothing is retained past
    // this function and every returned pointer is checked before use.
    unsafe {
        if ffi::CMSampleBufferDataIsReady(sample) == 0 {
            return Err("encoder output sample is not ready".into());
        }
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
                vt_osstatus::describe(status)
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
        // client with a muxer that ignores extradata) need them (videotoolbox.md §6).
        if keyframe {
            annexb.extend_from_slice(&parameter_sets);
        }
        annexb.extend_from_slice(&body);
        Ok(Output {
            pts: ffi::CMSampleBufferGetPresentationTimeStamp(sample),
            duration: ffi::CMSampleBufferGetDuration(sample),
            keyframe,
            data: annexb,
            parameter_sets,
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
    plan: vt_options::Plan,
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
        outputs: Mutex::new((Vec::new(), None)),
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
                vt_osstatus::describe(status)
            );
            match p.on_failure {
                OnFailure::Fatal => return Err(BackendError::unsupported(p.option, text)),
                OnFailure::Warn => warnings.push(format!("{text}; continuing without it")),
            }
        }
    }
    // SAFETY: live session.
    check(
        unsafe { ffi::VTCompressionSessionPrepareToEncodeFrames(raw) },
        "VTCompressionSessionPrepareToEncodeFrames",
    )?;
    Ok(session)
}

impl Session {
    fn shared(&self) -> &Shared {
        // SAFETY: the Arc payload lives until `drop`.
        unsafe { &*self.shared }
    }

    fn take_outputs(&self) -> Result<Vec<Output>, BackendError> {
        let mut guard = self
            .shared()
            .outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = guard.1.take() {
            return Err(BackendError::failed(e));
        }
        Ok(std::mem::take(&mut guard.0))
    }

    /// Copies one picture into a pool buffer and submits it.
    fn submit(
        &self,
        frame: &RawFrame<'_>,
        geometry: &vtremote_proto::FrameGeometry,
        time_base: (u32, u32),
    ) -> Result<(), BackendError> {
        // SAFETY: live session; the pool is Get-rule and only used in this call.
        let pool = unsafe { ffi::VTCompressionSessionGetPixelBufferPool(self.raw) };
        if pool.is_null() {
            return Err(BackendError::failed(
                "the compression session has no pixel buffer pool (session invalidated?)",
            ));
        }
        let mut pb: ffi::CVPixelBufferRef = std::ptr::null_mut();
        // SAFETY: live pool; Create-rule output owned by `buffer` below.
        check(
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
        let props = if frame.force_keyframe {
            let mut d = Dict::new()?;
            let key = cf::symbol(&vt_options::FORCE_KEY_FRAME)?;
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
        check(status, "VTCompressionSessionEncodeFrame")
    }

    fn complete(&self) -> Result<(), BackendError> {
        // SAFETY: live session; an invalid time emits every pending frame before returning.
        check(
            unsafe { ffi::VTCompressionSessionCompleteFrames(self.raw, ffi::CMTime::INVALID) },
            "VTCompressionSessionCompleteFrames",
        )
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
    // SAFETY: `pb` is a live pixel buffer we own; locked for writing until the unlock below.
    check(
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

pub struct VtEncoder {
    session: Session,
    geometry: vtremote_proto::FrameGeometry,
    time_base: (u32, u32),
    dts: DtsTracker<(bool, Vec<u8>, i64)>,
    last_pts: Option<i64>,
    extradata: Vec<u8>,
    warnings: Vec<String>,
    name: String,
    /// VideoToolbox takes no caption input, so A53 SEI is inserted into the output access
    /// units (as FFmpeg's own videotoolboxenc does). `None` when the client said a53_cc=0.
    captions: Option<CaptionQueue>,
}

impl VtEncoder {
    pub fn open(config: &EncoderConfig) -> Result<Self, BackendError> {
        let geometry = config.geometry;
        let ctx = Context {
            codec: config.codec,
            pix_fmt: geometry.pix_fmt,
            options: &config.options,
            frame_rate: config.frame_rate,
            arm64: ARM64,
        };
        let plan = vt_options::plan(&ctx, config.max_delay_frames)
            .map_err(|r| BackendError::unsupported(r.option, r.reason))?;
        let mut warnings = plan.warnings.clone();
        let mut spec = Dict::new()?;
        for (key, value) in vt_options::encoder_specification(&ctx) {
            let k = cf::symbol(&key)?;
            spec.set(k.as_ptr(), cf::boolean(value));
        }
        let mut attrs = Dict::new()?;
        let fourcc = pixel_format_type(geometry.pix_fmt, vt_options::full_range(&config.options));
        let dims = |v: u32, what: &str| {
            i32::try_from(v).map_err(|_| {
                BackendError::unsupported(what.to_string(), format!("{v} is too large"))
            })
        };
        let (width, height) = (
            dims(geometry.width, "width")?,
            dims(geometry.height, "height")?,
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
        let recipe = Recipe {
            codec: config.codec,
            width,
            height,
            spec,
            attrs,
            plan,
        };

        // Parameter sets at open time from a throwaway session, never the live one
        // (videotoolbox.md §5 step 8, §10: the original's warm-up broke PTS ordering).
        let parameter_sets = {
            let warm = create_session(&recipe, &mut Vec::new())?;
            let blank = blank_frame(&geometry);
            let planes = [
                crate::backend::PlaneRef {
                    data: &blank[0],
                    stride: geometry.row_bytes(0),
                    rows: geometry.plane_rows(0),
                },
                crate::backend::PlaneRef {
                    data: &blank[1],
                    stride: geometry.row_bytes(1),
                    rows: geometry.plane_rows(1),
                },
            ];
            let frame = RawFrame {
                pts: 0,
                duration: 0,
                force_keyframe: true,
                planes,
                a53_cc: None,
            };
            warm.submit(&frame, &geometry, config.time_base)?;
            warm.complete()?;
            let outputs = warm.take_outputs()?;
            outputs
                .into_iter()
                .map(|o| o.parameter_sets)
                .find(|ps| !ps.is_empty())
                .ok_or_else(|| {
                    BackendError::failed("the warm-up encode produced no parameter sets")
                })?
        };
        let media = config.codec;
        let extradata = extradata::annexb_to_record(media, &parameter_sets).map_err(|e| {
            BackendError::failed(format!("building {} extradata: {e}", config.codec))
        })?;

        let session = create_session(&recipe, &mut warnings)?;
        // Some encoders refuse B-frames even when allowed: read back what VT decided.
        let reordering = recipe.plan.frame_reordering
            && session
                .copy_bool(&Symbol {
                    name: "kVTCompressionPropertyKey_AllowFrameReordering",
                    literal: "AllowFrameReordering",
                })
                .unwrap_or(true);
        // The SPS says how deep the encoder reorders; without it assume 2 (b-pyramid on Apple
        // Silicon, videotoolbox.md §5 step 7 — too large only delays DTS).
        let depth = if reordering {
            vtremote_media::stream_info_from_annexb(media, &parameter_sets)
                .ok()
                .and_then(|i| i.max_num_reorder_frames)
                .map_or(2, |n| n as usize)
        } else {
            0
        };
        let frame_ticks = config
            .frame_rate
            .and_then(|(n, d)| {
                (i64::from(d) * i64::from(config.time_base.1))
                    .checked_div(i64::from(n) * i64::from(config.time_base.0))
            })
            .unwrap_or(0);
        let hw = session
            .copy_bool(&vt_options::USING_HW_ENCODER)
            .unwrap_or(false);
        Ok(VtEncoder {
            session,
            geometry,
            time_base: config.time_base,
            dts: DtsTracker::new(depth).with_frame_duration(frame_ticks),
            last_pts: None,
            extradata,
            warnings,
            name: format!(
                "VideoToolbox {} {}",
                if hw { "HW" } else { "SW" },
                config.codec
            ),
            // Like FFmpeg's native a53cc (default on): embed unless the client said 0.
            captions: (config.options.a53_cc != 0).then(|| CaptionQueue::new(media)),
        })
    }

    fn drain(&mut self, out: &mut Vec<EncodedPacket>, finish: bool) -> Result<(), BackendError> {
        for o in self.session.take_outputs()? {
            let pts = from_cmtime(o.pts, self.time_base)
                .ok_or_else(|| BackendError::failed("encoder output without a numeric PTS"))?;
            let duration = from_cmtime(o.duration, self.time_base).unwrap_or(0);
            let data = match &mut self.captions {
                Some(q) => q.apply(pts, o.data).map_err(|e| {
                    BackendError::failed(format!("A53 captions of the frame at pts {pts}: {e}"))
                })?,
                None => o.data,
            };
            self.dts.push(pts, (o.keyframe, data, duration));
        }
        loop {
            let next = if finish {
                self.dts.flush()
            } else {
                self.dts.pop()
            };
            let Some(p) = next else { break };
            let (keyframe, data, duration) = p.payload;
            out.push(EncodedPacket {
                pts: p.pts,
                dts: p.dts,
                duration,
                keyframe,
                data,
            });
        }
        Ok(())
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
        self.session.submit(frame, &self.geometry, self.time_base)?;
        self.last_pts = Some(frame.pts);
        if let (Some(q), Some(cc)) = (&mut self.captions, frame.a53_cc) {
            q.remember(frame.pts, cc);
        }
        self.drain(out, false)
    }

    fn flush(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), BackendError> {
        self.session.complete()?;
        self.drain(out, true)?;
        if self.dts.late_violations() > 0 {
            tracing::warn!(
                count = self.dts.late_violations(),
                "VideoToolbox reordered deeper than its SPS declared; some packets have dts > pts"
            );
        }
        Ok(())
    }
}
