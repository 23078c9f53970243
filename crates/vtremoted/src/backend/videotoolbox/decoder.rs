//! VTDecompressionSession: Annex B H.264/HEVC → NV12/P010 at exactly the configured size,
//! in display order (videotoolbox.md §8).
//!
//! Frames are decoded synchronously (flags 0) and put in display order here rather than
//! trusting `kVTDecodeFrame_EnableTemporalProcessing`, whose display-order output Apple does
//! not promise (videotoolbox.md §8 step 6, §12). Every decision that needs no VideoToolbox
//! (what a status means, when a picture leaves the reorder buffer, how parameter sets merge,
//! which packets are decoded, the output range, cropping and padding) is `policy`'s and
//! unit-tested on every host; this file is the FFI around it.

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use vtremote_media::paramsets::ParameterSets;
use vtremote_media::{extradata, sps, StreamInfo};
use vtremote_proto::{Codec, FrameGeometry};

use super::cf::{self, Cf, Dict};
use super::{check, ffi, from_cmtime, pixel_format_type, to_cmtime};
use crate::backend::videotoolbox::osstatus;
use crate::backend::videotoolbox::policy::{
    self, DecodedPlane, DropCause, DropLog, RecreateBudget, ReorderBuffer, StatusAction,
};
use crate::backend::{
    BackendCounters, BackendError, CompressedPacket, DecodedFrame, DecoderConfig, VideoDecoder,
};

/// What the output callback reported since the last `decode`/`flush` collected it.
#[derive(Default)]
struct CallbackState {
    frames: Vec<DecodedFrame>,
    /// Pictures VideoToolbox could not decode.
    dropped: Vec<DropCause>,
    /// A session-level failure: the session must be recreated.
    lost: Option<i32>,
    /// Anything else fails the next call.
    fatal: Option<String>,
}

struct Shared {
    geometry: FrameGeometry,
    time_base: (u32, u32),
    /// The session outputs '420f'/'xf20' (padding black is Y 0 then).
    full_range: bool,
    state: Mutex<CallbackState>,
}

struct Session {
    raw: ffi::VTDecompressionSessionRef,
    shared: *const Shared,
    format: Cf,
}

// SAFETY: see the encoder's Session: VT sessions are thread-agnostic, Shared is Sync.
unsafe impl Send for Session {}

impl Session {
    fn shared(&self) -> &Shared {
        // SAFETY: the Arc payload lives until `drop`.
        unsafe { &*self.shared }
    }

    fn take_state(&self) -> CallbackState {
        let mut guard = self
            .shared()
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *guard)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: live session; after Invalidate + CFRelease no callback uses the refcon.
        unsafe {
            ffi::VTDecompressionSessionWaitForAsynchronousFrames(self.raw);
            ffi::VTDecompressionSessionInvalidate(self.raw);
            ffi::CFRelease(self.raw as *mut c_void);
            drop(Arc::from_raw(self.shared));
        }
    }
}

unsafe extern "C" fn output_callback(
    refcon: *mut c_void,
    _frame_refcon: *mut c_void,
    status: ffi::OSStatus,
    info_flags: ffi::VTDecodeInfoFlags,
    image: ffi::CVImageBufferRef,
    pts: ffi::CMTime,
    duration: ffi::CMTime,
) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: refcon is the Arc<Shared> payload alive until the session is released.
        let shared = unsafe { &*(refcon as *const Shared) };
        let picture = if status != ffi::noErr {
            Err(status)
        } else if image.is_null() || info_flags & ffi::kVTDecodeInfo_FrameDropped != 0 {
            Err(ffi::noErr)
        } else {
            // SAFETY: a live image buffer for the duration of the callback.
            Ok(
                unsafe { copy_out(image, &shared.geometry, shared.full_range) }.map(|planes| {
                    DecodedFrame {
                        pts: from_cmtime(pts, shared.time_base).unwrap_or(0),
                        duration: from_cmtime(duration, shared.time_base).unwrap_or(0),
                        planes,
                    }
                }),
            )
        };
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        match picture {
            Ok(Ok(frame)) => state.frames.push(frame),
            Ok(Err(e)) => {
                state.fatal.get_or_insert(e);
            }
            // VideoToolbox chose not to output the picture: lost, but nothing failed.
            Err(ffi::noErr) => state.dropped.push(DropCause::NoOutput),
            Err(status) => match policy::decode_status_action(status) {
                StatusAction::DropPicture => state.dropped.push(DropCause::Status(status)),
                StatusAction::RecreateSession => {
                    state.lost.get_or_insert(status);
                }
                StatusAction::Fail => {
                    state
                        .fatal
                        .get_or_insert(format!("decoder callback: {}", osstatus::describe(status)));
                }
            },
        }
    });
}

/// Copies the decoded picture into tightly packed planes of exactly `geometry`
/// (`policy::fit_plane`: cropped where larger, black where smaller).
///
/// # Safety
/// `image` must be a live bi-planar pixel buffer.
unsafe fn copy_out(
    image: ffi::CVImageBufferRef,
    geometry: &FrameGeometry,
    full_range: bool,
) -> Result<[Vec<u8>; 2], String> {
    // SAFETY: read-only lock on a live buffer, unlocked with the same flags below.
    let status =
        unsafe { ffi::CVPixelBufferLockBaseAddress(image, ffi::kCVPixelBufferLock_ReadOnly) };
    if status != ffi::noErr {
        return Err(format!(
            "locking a decoded picture: {}",
            osstatus::describe(status)
        ));
    }
    let result = (|| {
        // SAFETY: accessors on a locked buffer.
        if unsafe { ffi::CVPixelBufferGetPlaneCount(image) } < 2 {
            return Err("decoded picture is not bi-planar".to_string());
        }
        let mut planes: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for (i, out) in planes.iter_mut().enumerate() {
            // SAFETY: as above.
            let (base, stride, rows, width) = unsafe {
                (
                    ffi::CVPixelBufferGetBaseAddressOfPlane(image, i) as *const u8,
                    ffi::CVPixelBufferGetBytesPerRowOfPlane(image, i),
                    ffi::CVPixelBufferGetHeightOfPlane(image, i),
                    ffi::CVPixelBufferGetWidthOfPlane(image, i),
                )
            };
            if base.is_null() {
                return Err(format!("decoded plane {i} has no base address"));
            }
            // The width bounds what is picture: the rest of each row is CoreVideo's
            // alignment padding, which must not reach the client.
            let visible = policy::visible_row_bytes(geometry.pix_fmt, i, width);
            let len = match rows {
                0 => 0,
                _ => (rows - 1)
                    .checked_mul(stride)
                    .and_then(|n| n.checked_add(visible.min(stride)))
                    .ok_or_else(|| format!("decoded plane {i}: {rows} rows of {stride} bytes"))?,
            };
            // SAFETY: a locked plane spans `rows` rows of `stride` bytes from `base`; `len`
            // ends inside the last row.
            let data = unsafe { std::slice::from_raw_parts(base, len) };
            *out = policy::fit_plane(
                geometry,
                i,
                full_range,
                DecodedPlane {
                    data,
                    stride,
                    rows,
                    visible_row_bytes: visible,
                },
            );
        }
        Ok(planes)
    })();
    // SAFETY: same flags as the lock.
    unsafe { ffi::CVPixelBufferUnlockBaseAddress(image, ffi::kCVPixelBufferLock_ReadOnly) };
    result
}

/// `kCMFormatDescriptionExtension_FullRangeVideo` of a format description, when set.
fn format_full_range(format: &Cf) -> Option<bool> {
    // SAFETY: live format description; the Get-rule value is type-checked before use and
    // not kept past this function.
    unsafe {
        let value = ffi::CMFormatDescriptionGetExtension(
            format.as_ptr(),
            ffi::kCMFormatDescriptionExtension_FullRangeVideo,
        );
        if value.is_null() || ffi::CFGetTypeID(value as *const c_void) != ffi::CFBooleanGetTypeID()
        {
            return None;
        }
        Some(ffi::CFBooleanGetValue(value as ffi::CFBooleanRef) != 0)
    }
}

fn format_description(codec: Codec, parameter_sets: &[&[u8]]) -> Result<Cf, BackendError> {
    let ptrs: Vec<*const u8> = parameter_sets.iter().map(|p| p.as_ptr()).collect();
    let sizes: Vec<usize> = parameter_sets.iter().map(|p| p.len()).collect();
    let mut fmt: ffi::CMFormatDescriptionRef = std::ptr::null();
    // SAFETY: `ptrs`/`sizes` describe live NAL units (with emulation prevention, no start
    // codes); 4 is the length-prefix size of the samples we build.
    let status = unsafe {
        match codec {
            Codec::H264 => ffi::CMVideoFormatDescriptionCreateFromH264ParameterSets(
                std::ptr::null(),
                ptrs.len(),
                ptrs.as_ptr(),
                sizes.as_ptr(),
                4,
                &mut fmt,
            ),
            Codec::Hevc => ffi::CMVideoFormatDescriptionCreateFromHEVCParameterSets(
                std::ptr::null(),
                ptrs.len(),
                ptrs.as_ptr(),
                sizes.as_ptr(),
                4,
                std::ptr::null(),
                &mut fmt,
            ),
        }
    };
    check(status, "CMVideoFormatDescriptionCreateFromParameterSets")?;
    // SAFETY: Create rule.
    unsafe { Cf::from_create(fmt) }
        .ok_or_else(|| BackendError::failed("no format description returned"))
}

fn create_session(shared: Arc<Shared>, format: Cf) -> Result<Session, BackendError> {
    let mut spec = Dict::new()?;
    // Enable, not Require: Macs without HEVC hardware fall back to software (FFmpeg does the same).
    // SAFETY: reading a framework constant.
    spec.set(
        unsafe { ffi::kVTVideoDecoderSpecification_EnableHardwareAcceleratedVideoDecoder },
        cf::boolean(true),
    );
    let mut attrs = Dict::new()?;
    // Always request an explicit CPU-readable format (never compressed buffers, §4.1), in
    // the stream's range so full-range pictures are not squeezed into video range.
    let fourcc = pixel_format_type(shared.geometry.pix_fmt, shared.full_range);
    let fourcc = cf::i32_number(fourcc as i32)?;
    let io_surface = Dict::new()?;
    // SAFETY: reading framework constants.
    unsafe {
        attrs.set(
            ffi::kCVPixelBufferPixelFormatTypeKey,
            fourcc.as_ptr::<c_void>(),
        );
        attrs.set(
            ffi::kCVPixelBufferIOSurfacePropertiesKey,
            io_surface.as_ptr(),
        );
    }
    let refcon = Arc::into_raw(shared);
    let record = ffi::VTDecompressionOutputCallbackRecord {
        decompression_output_callback: Some(output_callback),
        decompression_output_ref_con: refcon as *mut c_void,
    };
    let mut raw: ffi::VTDecompressionSessionRef = std::ptr::null_mut();
    // SAFETY: live format description and dictionaries; VT copies the callback record.
    let status = unsafe {
        ffi::VTDecompressionSessionCreate(
            std::ptr::null(),
            format.as_ptr(),
            spec.as_ptr(),
            attrs.as_ptr(),
            &record,
            &mut raw,
        )
    };
    if status != ffi::noErr || raw.is_null() {
        // SAFETY: no session holds the refcon.
        drop(unsafe { Arc::from_raw(refcon) });
        check(status, "VTDecompressionSessionCreate")?;
        return Err(BackendError::failed(
            "VTDecompressionSessionCreate returned no session",
        ));
    }
    Ok(Session {
        raw,
        shared: refcon,
        format,
    })
}

pub struct VtDecoder {
    codec: Codec,
    geometry: FrameGeometry,
    time_base: (u32, u32),
    session: Option<Session>,
    /// Every parameter set seen so far (extradata, then in-band), by type and id.
    parameter_sets: ParameterSets,
    reorder: ReorderBuffer<DecodedFrame>,
    drops: DropLog,
    recreations: RecreateBudget,
    skipped_packets: u64,
    session_restarts: u64,
    warned_no_parameter_sets: bool,
    warnings: Vec<String>,
    name: String,
}

impl VtDecoder {
    pub fn open(config: &DecoderConfig) -> Result<Self, BackendError> {
        let units = extradata::parameter_sets(config.codec, &config.extradata)
            .map_err(|e| BackendError::unsupported("extradata", e.to_string()))?;
        let mut parameter_sets = ParameterSets::new(config.codec);
        parameter_sets.merge(units.iter().map(Vec::as_slice));
        let mut decoder = VtDecoder {
            codec: config.codec,
            geometry: config.geometry,
            time_base: config.time_base,
            session: None,
            parameter_sets,
            reorder: ReorderBuffer::new(vtremote_media::dts::MAX_REORDER_DEPTH),
            drops: DropLog::default(),
            recreations: RecreateBudget::default(),
            skipped_packets: 0,
            session_restarts: 0,
            warned_no_parameter_sets: false,
            warnings: Vec::new(),
            name: format!("VideoToolbox {} decoder", config.codec),
        };
        // Without extradata the session waits for in-band parameter sets (videotoolbox.md
        // §8.1); bad or partial extradata is refused here, at CONFIGURE.
        if decoder.parameter_sets.is_complete() {
            decoder.start()?;
        } else if !decoder.parameter_sets.is_empty() {
            return Err(BackendError::unsupported(
                "extradata",
                match config.codec {
                    Codec::H264 => "needs at least one SPS and one PPS",
                    Codec::Hevc => "needs at least one VPS, SPS and PPS",
                },
            ));
        }
        Ok(decoder)
    }

    /// What the known parameter sets describe, and a format description for them.
    fn describe(&self) -> Result<(StreamInfo, Cf), BackendError> {
        let sps = self
            .parameter_sets
            .first_sps()
            .ok_or_else(|| BackendError::unsupported("extradata", "no SPS"))?;
        let info = sps::stream_info_from_sps(self.codec, sps)
            .map_err(|e| BackendError::unsupported("extradata", format!("SPS: {e}")))?;
        if info.bit_depth_luma > self.geometry.pix_fmt.bit_depth() {
            return Err(BackendError::unsupported(
                "pix_fmt",
                format!(
                    "a {}-bit stream cannot be output as {}",
                    info.bit_depth_luma, self.geometry.pix_fmt
                ),
            ));
        }
        let units: Vec<&[u8]> = self.parameter_sets.units().collect();
        let format = format_description(self.codec, &units)?;
        Ok((info, format))
    }

    fn start(&mut self) -> Result<(), BackendError> {
        let (info, format) = self.describe()?;
        let full_range =
            policy::decoder_full_range(info.video_full_range, format_full_range(&format));
        self.reorder.set_depth(policy::decoder_reorder_depth(&info));
        let shared = Arc::new(Shared {
            geometry: self.geometry,
            time_base: self.time_base,
            full_range,
            state: Mutex::new(CallbackState::default()),
        });
        self.session = Some(create_session(shared, format)?);
        Ok(())
    }

    /// New parameter sets arrived in-band: keep the session when VideoToolbox can take the
    /// new format description, else drain it and start another (videotoolbox.md §8.8).
    fn apply_new_parameter_sets(
        &mut self,
        out: &mut Vec<DecodedFrame>,
    ) -> Result<(), BackendError> {
        let (info, format) = self.describe()?;
        let Some(session) = &mut self.session else {
            return self.start();
        };
        let full_range =
            policy::decoder_full_range(info.video_full_range, format_full_range(&format));
        // SAFETY: live session and format description.
        let can_accept = unsafe {
            ffi::VTDecompressionSessionCanAcceptFormatDescription(session.raw, format.as_ptr())
        } != 0;
        if policy::keep_session_for_new_parameter_sets(
            can_accept,
            session.shared().full_range,
            full_range,
        ) {
            session.format = format;
            self.reorder.set_depth(policy::decoder_reorder_depth(&info));
            return Ok(());
        }
        self.finish_session(out)?;
        self.session = None;
        self.start()
    }

    /// The system invalidated the session: start a new one from the same parameter sets,
    /// unless new sessions keep dying.
    fn recreate(&mut self, status: ffi::OSStatus) -> Result<(), BackendError> {
        if !self.recreations.try_recreate() {
            return Err(BackendError::failed(format!(
                "VideoToolbox decoder still failing after {} new sessions: {}",
                policy::MAX_RECREATIONS_IN_A_ROW,
                osstatus::describe(status)
            )));
        }
        tracing::warn!(
            "VideoToolbox decoder: {}; starting a new session",
            osstatus::describe(status)
        );
        self.session = None;
        self.session_restarts += 1;
        self.start()
    }

    fn note_drop(&mut self, cause: DropCause) {
        if self.drops.note(cause) {
            tracing::warn!(
                "VideoToolbox decoder: dropped a picture ({cause}); decoding goes on, further drops are counted in the SUMMARY line"
            );
        }
    }

    /// A packet that is not decoded. Logged once (CONFIGURE_ACK, where warnings go, has
    /// already been sent), counted for the SUMMARY line.
    fn skip(&mut self, pts: i64, no_parameter_sets: bool) {
        self.skipped_packets += 1;
        if no_parameter_sets && !self.warned_no_parameter_sets {
            self.warned_no_parameter_sets = true;
            tracing::warn!(
                "VideoToolbox decoder: skipped the packet at pts {pts} and any more before the stream's first SPS/PPS (no extradata); they are counted in the SUMMARY line"
            );
        } else if !no_parameter_sets {
            tracing::debug!("VideoToolbox decoder: packet at pts {pts} has no slice; not decoded");
        }
    }

    /// Collects what the callback reported; releases the pictures display order allows
    /// (`all`: every one, at the end of a session).
    fn collect(&mut self, out: &mut Vec<DecodedFrame>, all: bool) -> Result<(), BackendError> {
        let state = self
            .session
            .as_ref()
            .map(Session::take_state)
            .unwrap_or_default();
        if let Some(e) = state.fatal {
            return Err(BackendError::failed(e));
        }
        for cause in state.dropped {
            self.note_drop(cause);
        }
        if !state.frames.is_empty() {
            self.recreations.succeeded();
        }
        for f in state.frames {
            self.reorder.push(f.pts, f);
        }
        if all {
            self.reorder.release_all(out);
        } else {
            self.reorder.release(out);
        }
        match state.lost {
            Some(status) => self.recreate(status),
            None => Ok(()),
        }
    }

    fn finish_session(&mut self, out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        if let Some(s) = &self.session {
            // SAFETY: live session; waits for delayed frames (calls FinishDelayedFrames itself).
            let status = unsafe { ffi::VTDecompressionSessionWaitForAsynchronousFrames(s.raw) };
            match policy::decode_status_action(status) {
                _ if status == ffi::noErr => {}
                StatusAction::DropPicture => self.note_drop(DropCause::Status(status)),
                // Nothing more will come out of it; the next packet starts a new one.
                StatusAction::RecreateSession => {
                    self.collect(out, true)?;
                    self.session = None;
                    return Ok(());
                }
                StatusAction::Fail => {
                    check(status, "VTDecompressionSessionWaitForAsynchronousFrames")?
                }
            }
        }
        self.collect(out, true)
    }

    /// Submits one access unit; the status of `VTDecompressionSessionDecodeFrame`.
    fn submit(
        &self,
        session: &Session,
        packet: &CompressedPacket<'_>,
    ) -> Result<ffi::OSStatus, BackendError> {
        let sample_data = vtremote_media::annexb::annexb_to_length_prefixed(packet.data, 4)
            .map_err(|e| BackendError::failed(format!("packet at pts {}: {e}", packet.pts)))?;
        let timing = ffi::CMSampleTimingInfo {
            duration: if packet.duration > 0 {
                to_cmtime(packet.duration, self.time_base)?
            } else {
                ffi::CMTime::INVALID
            },
            presentation_time_stamp: to_cmtime(packet.pts, self.time_base)?,
            decode_time_stamp: if packet.dts == policy::NO_TIMESTAMP {
                ffi::CMTime::INVALID
            } else {
                to_cmtime(packet.dts, self.time_base)?
            },
        };
        let mut block: ffi::CMBlockBufferRef = std::ptr::null_mut();
        check(
            // SAFETY: CoreMedia allocates `len` bytes now (AssureMemoryNow); Create-rule output.
            unsafe {
                ffi::CMBlockBufferCreateWithMemoryBlock(
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    sample_data.len(),
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                    sample_data.len(),
                    ffi::kCMBlockBufferAssureMemoryNowFlag,
                    &mut block,
                )
            },
            "CMBlockBufferCreateWithMemoryBlock",
        )?;
        // SAFETY: Create rule.
        let block_owned = unsafe { Cf::from_create(block) }
            .ok_or_else(|| BackendError::failed("no block buffer"))?;
        check(
            // SAFETY: copies `len` bytes from our live Vec into the block buffer of the same size.
            unsafe {
                ffi::CMBlockBufferReplaceDataBytes(
                    sample_data.as_ptr() as *const c_void,
                    block,
                    0,
                    sample_data.len(),
                )
            },
            "CMBlockBufferReplaceDataBytes",
        )?;
        let size = sample_data.len();
        let mut sample: ffi::CMSampleBufferRef = std::ptr::null_mut();
        check(
            // SAFETY: live block buffer and format description; one sample with one timing and
            // one size entry; the sample retains both.
            unsafe {
                ffi::CMSampleBufferCreateReady(
                    std::ptr::null(),
                    block,
                    session.format.as_ptr(),
                    1,
                    1,
                    &timing,
                    1,
                    &size,
                    &mut sample,
                )
            },
            "CMSampleBufferCreateReady",
        )?;
        // SAFETY: Create rule.
        let sample_owned = unsafe { Cf::from_create(sample) }
            .ok_or_else(|| BackendError::failed("no sample buffer"))?;
        drop(block_owned);
        // SAFETY: flags 0 = synchronous: the callback has run when this returns. No lock held.
        let status = unsafe {
            ffi::VTDecompressionSessionDecodeFrame(
                session.raw,
                sample,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        drop(sample_owned);
        Ok(status)
    }
}

impl VideoDecoder for VtDecoder {
    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn decode(
        &mut self,
        packet: &CompressedPacket<'_>,
        out: &mut Vec<DecodedFrame>,
    ) -> Result<(), BackendError> {
        let merged = policy::merge_in_band(&mut self.parameter_sets, self.codec, packet.data);
        if merged.unreadable > 0 {
            tracing::debug!(
                "VideoToolbox decoder: {} in-band parameter set(s) at pts {} without a readable id; ignored",
                merged.unreadable,
                packet.pts
            );
        }
        if merged.changed && self.parameter_sets.is_complete() {
            self.apply_new_parameter_sets(out)?;
        } else if self.session.is_none() && self.parameter_sets.is_complete() {
            // A session that ended (invalidated at flush) restarts with the next packet.
            self.start()?;
        }
        if !policy::packet_has_picture(self.codec, packet.data) {
            self.skip(packet.pts, false);
            return Ok(());
        }
        let Some(session) = &self.session else {
            self.skip(packet.pts, true);
            return Ok(());
        };
        self.reorder.note_packet(packet.pts, packet.dts);
        let status = self.submit(session, packet)?;
        if status != ffi::noErr {
            // Apple: no callback comes for a frame whose DecodeFrame failed.
            match policy::decode_status_action(status) {
                StatusAction::DropPicture => self.note_drop(DropCause::Status(status)),
                StatusAction::RecreateSession => {
                    self.collect(out, false)?;
                    return self.recreate(status);
                }
                StatusAction::Fail => check(status, "VTDecompressionSessionDecodeFrame")?,
            }
        }
        self.collect(out, false)
    }

    fn flush(&mut self, out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        self.finish_session(out)
    }

    fn max_held(&self) -> Option<u32> {
        // Decoding is synchronous (each picture is out before the next packet goes in), so
        // only the reorder buffer holds pictures back.
        Some(u32::try_from(self.reorder.depth()).unwrap_or(u32::MAX))
    }

    fn counters(&self) -> BackendCounters {
        BackendCounters {
            dropped_pictures: self.drops.count(),
            skipped_packets: self.skipped_packets,
            session_restarts: self.session_restarts,
        }
    }
}

impl Drop for VtDecoder {
    fn drop(&mut self) {
        // Until the session layer copies these into its SUMMARY line, the log keeps them.
        let c = self.counters();
        if !c.is_zero() {
            tracing::info!(
                dropped_pictures = c.dropped_pictures,
                skipped_packets = c.skipped_packets,
                session_restarts = c.session_restarts,
                "VideoToolbox decoder finished"
            );
        }
    }
}
