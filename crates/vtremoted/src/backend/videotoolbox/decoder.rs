//! VTDecompressionSession: Annex B H.264/HEVC → NV12/P010 at exactly the configured size,
//! in display order (videotoolbox.md §8).
//!
//! Frames are decoded synchronously (flags 0) and reordered here rather than trusting
//! `kVTDecodeFrame_EnableTemporalProcessing`, whose display-order output Apple does not
//! promise (videotoolbox.md §8 step 6, §12): a frame is released once more frames are held
//! than the SPS's reorder depth allows, or at flush.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use vtremote_media::{annexb, extradata, nal};
use vtremote_proto::{Codec, FrameGeometry, PixelFormat};

use super::cf::{self, Cf, Dict};
use super::{check, from_cmtime, pixel_format_type, to_cmtime};
use crate::backend::vt_osstatus;
use crate::backend::{BackendError, CompressedPacket, DecodedFrame, DecoderConfig, VideoDecoder};

/// Reorder depth when the SPS does not say: a DPB never holds more than 16 pictures.
const MAX_REORDER: usize = 16;

struct Shared {
    geometry: FrameGeometry,
    time_base: (u32, u32),
    frames: Mutex<(Vec<DecodedFrame>, Option<String>)>,
}

struct Session {
    raw: ffi::VTDecompressionSessionRef,
    shared: *const Shared,
    format: Cf,
}

use super::ffi;

// SAFETY: see the encoder's Session: VT sessions are thread-agnostic, Shared is Sync.
unsafe impl Send for Session {}

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
        // A missing reference (stream joined mid-GOP) is benign, as in FFmpeg.
        if status == ffi::kVTVideoDecoderReferenceMissingErr {
            return;
        }
        let result = if status != ffi::noErr {
            Err(format!(
                "decoder callback: {}",
                vt_osstatus::describe(status)
            ))
        } else if image.is_null() || info_flags & ffi::kVTDecodeInfo_FrameDropped != 0 {
            return;
        } else {
            // SAFETY: a live image buffer for the duration of the callback.
            unsafe { copy_out(image, &shared.geometry) }.map(|planes| DecodedFrame {
                pts: from_cmtime(pts, shared.time_base).unwrap_or(0),
                duration: from_cmtime(duration, shared.time_base).unwrap_or(0),
                planes,
            })
        };
        let mut guard = shared.frames.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(f) => guard.0.push(f),
            Err(e) => {
                guard.1.get_or_insert(e);
            }
        }
    });
}

/// Black in each plane: Y 16, CbCr 128 (video range), MSB-aligned for P010.
fn black(pix_fmt: PixelFormat, plane: usize) -> &'static [u8] {
    match (pix_fmt, plane) {
        (PixelFormat::Nv12, 0) => &[16],
        (PixelFormat::Nv12, _) => &[128],
        (PixelFormat::P010, 0) => &[0x00, 0x10],
        (PixelFormat::P010, _) => &[0x00, 0x80],
    }
}

/// Copies the decoded picture into tightly packed planes of exactly `geometry`, cropping
/// what is larger and padding with black what is smaller (design.md: the original client
/// trusts the configured geometry).
///
/// # Safety
/// `image` must be a live bi-planar pixel buffer.
unsafe fn copy_out(
    image: ffi::CVImageBufferRef,
    geometry: &FrameGeometry,
) -> Result<[Vec<u8>; 2], String> {
    // SAFETY: read-only lock on a live buffer, unlocked with the same flags below.
    let status =
        unsafe { ffi::CVPixelBufferLockBaseAddress(image, ffi::kCVPixelBufferLock_ReadOnly) };
    if status != ffi::noErr {
        return Err(format!(
            "locking a decoded picture: {}",
            vt_osstatus::describe(status)
        ));
    }
    let result = (|| {
        // SAFETY: accessors on a locked buffer.
        if unsafe { ffi::CVPixelBufferGetPlaneCount(image) } < 2 {
            return Err("decoded picture is not bi-planar".to_string());
        }
        let mut planes: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for (i, out) in planes.iter_mut().enumerate() {
            let (row_bytes, rows) = (geometry.row_bytes(i), geometry.plane_rows(i));
            // SAFETY: as above; base spans height × bytes_per_row bytes.
            let (base, stride, height) = unsafe {
                (
                    ffi::CVPixelBufferGetBaseAddressOfPlane(image, i) as *const u8,
                    ffi::CVPixelBufferGetBytesPerRowOfPlane(image, i),
                    ffi::CVPixelBufferGetHeightOfPlane(image, i),
                )
            };
            if base.is_null() {
                return Err(format!("decoded plane {i} has no base address"));
            }
            let fill = black(geometry.pix_fmt, i);
            *out = fill.repeat(row_bytes * rows / fill.len());
            let copy = row_bytes.min(stride);
            for row in 0..rows.min(height) {
                // SAFETY: row < height and copy ≤ stride stay inside the plane.
                let src = unsafe { std::slice::from_raw_parts(base.add(row * stride), copy) };
                out[row * row_bytes..row * row_bytes + copy].copy_from_slice(src);
            }
        }
        Ok(planes)
    })();
    // SAFETY: same flags as the lock.
    unsafe { ffi::CVPixelBufferUnlockBaseAddress(image, ffi::kCVPixelBufferLock_ReadOnly) };
    result
}

fn format_description(codec: Codec, parameter_sets: &[Vec<u8>]) -> Result<Cf, BackendError> {
    let ptrs: Vec<*const u8> = parameter_sets.iter().map(|p| p.as_ptr()).collect();
    let sizes: Vec<usize> = parameter_sets.iter().map(Vec::len).collect();
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

fn create_session(
    shared: Arc<Shared>,
    codec: Codec,
    parameter_sets: &[Vec<u8>],
) -> Result<Session, BackendError> {
    let format = format_description(codec, parameter_sets)?;
    let mut spec = Dict::new()?;
    // Enable, not Require: Macs without HEVC hardware fall back to software (FFmpeg does the same).
    // SAFETY: reading a framework constant.
    spec.set(
        unsafe { ffi::kVTVideoDecoderSpecification_EnableHardwareAcceleratedVideoDecoder },
        cf::boolean(true),
    );
    let mut attrs = Dict::new()?;
    // Always request an explicit CPU-readable format (never compressed buffers, §4.1).
    let fourcc = cf::i32_number(pixel_format_type(shared.geometry.pix_fmt, false) as i32)?;
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
    parameter_sets: Vec<Vec<u8>>,
    reorder_depth: usize,
    /// Decoded frames not yet released, by (pts, arrival) so equal PTS keep their order.
    held: BTreeMap<(i64, u64), DecodedFrame>,
    arrivals: u64,
    warnings: Vec<String>,
    name: String,
}

impl VtDecoder {
    pub fn open(config: &DecoderConfig) -> Result<Self, BackendError> {
        let media = config.codec;
        let parameter_sets = extradata::parameter_sets(media, &config.extradata)
            .map_err(|e| BackendError::unsupported("extradata", e.to_string()))?;
        let mut decoder = VtDecoder {
            codec: config.codec,
            geometry: config.geometry,
            time_base: config.time_base,
            session: None,
            parameter_sets: Vec::new(),
            reorder_depth: MAX_REORDER,
            held: BTreeMap::new(),
            arrivals: 0,
            warnings: Vec::new(),
            name: format!("VideoToolbox {} decoder", config.codec),
        };
        // Without extradata the session waits for in-band parameter sets (videotoolbox.md §8.1).
        if !parameter_sets.is_empty() {
            decoder.start(parameter_sets)?;
        }
        Ok(decoder)
    }

    fn start(&mut self, parameter_sets: Vec<Vec<u8>>) -> Result<(), BackendError> {
        let media = self.codec;
        let mut annexb_ps = Vec::new();
        annexb::write_annexb(&mut annexb_ps, parameter_sets.iter().map(Vec::as_slice));
        let info = vtremote_media::stream_info_from_annexb(media, &annexb_ps)
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
        self.reorder_depth = info
            .max_num_reorder_frames
            .map_or(MAX_REORDER, |n| n as usize);
        let shared = Arc::new(Shared {
            geometry: self.geometry,
            time_base: self.time_base,
            frames: Mutex::new((Vec::new(), None)),
        });
        self.session = Some(create_session(shared, self.codec, &parameter_sets)?);
        self.parameter_sets = parameter_sets;
        Ok(())
    }

    /// Collects decoded frames; releases those the reorder depth no longer needs to hold.
    fn collect(&mut self, out: &mut Vec<DecodedFrame>, all: bool) -> Result<(), BackendError> {
        if let Some(s) = &self.session {
            // SAFETY: Arc payload alive while the session is.
            let shared = unsafe { &*s.shared };
            let mut guard = shared.frames.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = guard.1.take() {
                return Err(BackendError::failed(e));
            }
            for f in guard.0.drain(..) {
                self.held.insert((f.pts, self.arrivals), f);
                self.arrivals += 1;
            }
        }
        while self.held.len() > if all { 0 } else { self.reorder_depth } {
            if let Some((_, f)) = self.held.pop_first() {
                out.push(f);
            }
        }
        Ok(())
    }

    fn finish_session(&mut self, out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        if let Some(s) = &self.session {
            // SAFETY: live session; waits for delayed frames (calls FinishDelayedFrames itself).
            check(
                unsafe { ffi::VTDecompressionSessionWaitForAsynchronousFrames(s.raw) },
                "VTDecompressionSessionWaitForAsynchronousFrames",
            )?;
        }
        self.collect(out, true)
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
        let media = self.codec;
        let in_band: Vec<Vec<u8>> = annexb::nal_units(packet.data)
            .filter(|n| nal::is_parameter_set(media, n))
            .map(<[u8]>::to_vec)
            .collect();
        if !in_band.is_empty() && in_band != self.parameter_sets {
            // New parameter sets: drain the old session and start one for them (§8.8).
            self.finish_session(out)?;
            self.session = None;
            self.start(in_band)?;
        }
        let Some(session) = &self.session else {
            if self.warnings.is_empty() {
                self.warnings
                    .push("packets before the first parameter sets were skipped".into());
            }
            return Ok(());
        };
        let sample_data = annexb::annexb_to_length_prefixed(packet.data, 4)
            .map_err(|e| BackendError::failed(format!("packet at pts {}: {e}", packet.pts)))?;
        if sample_data.is_empty() {
            return Ok(());
        }
        let timing = ffi::CMSampleTimingInfo {
            duration: if packet.duration > 0 {
                to_cmtime(packet.duration, self.time_base)?
            } else {
                ffi::CMTime::INVALID
            },
            presentation_time_stamp: to_cmtime(packet.pts, self.time_base)?,
            decode_time_stamp: to_cmtime(packet.dts, self.time_base)?,
        };
        let mut block: ffi::CMBlockBufferRef = std::ptr::null_mut();
        // SAFETY: CoreMedia allocates `len` bytes now (AssureMemoryNow); Create-rule output.
        check(
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
        // SAFETY: copies `len` bytes from our live Vec into the block buffer of the same size.
        check(
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
        // SAFETY: live block buffer and format description; one sample with one timing and
        // one size entry; the sample retains both.
        check(
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
        check(status, "VTDecompressionSessionDecodeFrame")?;
        self.collect(out, false)
    }

    fn flush(&mut self, out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        self.finish_session(out)
    }
}
