//! Owning wrappers around the few libav* objects this backend uses. Every raw pointer lives
//! in one of these types, so each is freed exactly once on every path (including early `?`
//! returns while a session is being set up).

use std::ffi::{CStr, CString};
use std::ptr;

use ffmpeg_sys_next as ff;

use crate::backend::BackendError;

/// `av_err2str`: FFmpeg's text for an error code.
pub fn err_text(code: i32) -> String {
    let mut buf = [0 as std::os::raw::c_char; 128];
    // SAFETY: `buf` is a writable buffer of the length we pass; av_strerror always
    // NUL-terminates within that length.
    unsafe {
        ff::av_strerror(code, buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

pub fn failed(what: &str, code: i32) -> BackendError {
    BackendError::failed(format!("{what}: {}", err_text(code)))
}

pub fn is_again(code: i32) -> bool {
    code == ff::AVERROR(ff::EAGAIN)
}

pub fn is_eof(code: i32) -> bool {
    code == ff::AVERROR_EOF
}

/// libavcodec's id for a protocol codec.
pub fn codec_id(c: vtremote_proto::Codec) -> ff::AVCodecID {
    match c {
        vtremote_proto::Codec::H264 => ff::AVCodecID::AV_CODEC_ID_H264,
        vtremote_proto::Codec::Hevc => ff::AVCodecID::AV_CODEC_ID_HEVC,
    }
}

/// A registered codec (static data owned by libavcodec, never freed).
#[derive(Clone, Copy)]
pub struct Codec(*const ff::AVCodec);

// SAFETY: AVCodec descriptors are immutable static tables inside libavcodec.
unsafe impl Send for Codec {}
// SAFETY: as above, nothing in them is ever written after library load.
unsafe impl Sync for Codec {}

impl Codec {
    pub fn find_encoder(name: &str) -> Option<Codec> {
        let cname = CString::new(name).ok()?;
        // SAFETY: `cname` is a valid NUL-terminated string for the duration of the call.
        let p = unsafe { ff::avcodec_find_encoder_by_name(cname.as_ptr()) };
        (!p.is_null()).then_some(Codec(p))
    }

    pub fn find_decoder(name: &str) -> Option<Codec> {
        let cname = CString::new(name).ok()?;
        // SAFETY: as in `find_encoder`.
        let p = unsafe { ff::avcodec_find_decoder_by_name(cname.as_ptr()) };
        (!p.is_null()).then_some(Codec(p))
    }

    pub fn id(&self) -> ff::AVCodecID {
        // SAFETY: `self.0` is a non-null static AVCodec.
        unsafe { (*self.0).id }
    }

    /// Whether libavcodec flags the implementation as hardware-backed (or a hybrid
    /// wrapper such as NVENC, which sets AV_CODEC_CAP_HARDWARE too).
    pub fn is_hardware(&self) -> bool {
        // SAFETY: `self.0` is a non-null static AVCodec.
        let caps = unsafe { (*self.0).capabilities };
        caps & ff::AV_CODEC_CAP_HARDWARE as i32 != 0
    }

    /// The input pixel formats the codec declares (empty when it declares none).
    pub fn pix_fmts(&self) -> Vec<ff::AVPixelFormat> {
        let mut out = Vec::new();
        // SAFETY: `pix_fmts` is either null or a static array terminated by
        // AV_PIX_FMT_NONE; we stop at the terminator.
        unsafe {
            let mut p = (*self.0).pix_fmts;
            if p.is_null() {
                return out;
            }
            while *p != ff::AVPixelFormat::AV_PIX_FMT_NONE {
                out.push(*p);
                p = p.add(1);
            }
        }
        out
    }

    pub fn as_ptr(&self) -> *const ff::AVCodec {
        self.0
    }
}

/// An `AVCodecContext`, freed with `avcodec_free_context`.
pub struct CodecContext {
    ptr: *mut ff::AVCodecContext,
}

// SAFETY: a codec context is used by one thread at a time (the owning session); libavcodec
// contexts carry no thread affinity.
unsafe impl Send for CodecContext {}

impl CodecContext {
    pub fn new(codec: Codec) -> Result<Self, BackendError> {
        // SAFETY: `codec` points to a registered codec; a null return is handled.
        let ptr = unsafe { ff::avcodec_alloc_context3(codec.as_ptr()) };
        if ptr.is_null() {
            return Err(BackendError::failed(
                "avcodec_alloc_context3: out of memory",
            ));
        }
        Ok(CodecContext { ptr })
    }

    /// Mutable access to the plain fields before `avcodec_open2`.
    pub fn raw(&mut self) -> &mut ff::AVCodecContext {
        // SAFETY: `ptr` is non-null, exclusively owned by `self`, and the borrow is tied to
        // `&mut self`.
        unsafe { &mut *self.ptr }
    }

    pub fn get(&self) -> &ff::AVCodecContext {
        // SAFETY: as in `raw`, shared borrow.
        unsafe { &*self.ptr }
    }

    /// Sets a codec-private AVOption (x264 `preset`, NVENC `rc`, …). Returns the raw
    /// FFmpeg code so callers can tell "no such option" from "bad value".
    pub fn set_private(&mut self, key: &str, value: &str) -> i32 {
        let (Ok(k), Ok(v)) = (CString::new(key), CString::new(value)) else {
            return ff::AVERROR(ff::EINVAL);
        };
        // SAFETY: `priv_data` is allocated by avcodec_alloc_context3 for codecs that have a
        // private class (and is null otherwise, which we check); the strings are valid.
        unsafe {
            let priv_data = (*self.ptr).priv_data;
            if priv_data.is_null() {
                return ff::AVERROR_OPTION_NOT_FOUND;
            }
            ff::av_opt_set(priv_data, k.as_ptr(), v.as_ptr(), 0)
        }
    }

    /// Copies `data` into `extradata` (libavcodec requires av_malloc'd, padded storage).
    pub fn set_extradata(&mut self, data: &[u8]) -> Result<(), BackendError> {
        if data.is_empty() {
            return Ok(());
        }
        let len = i32::try_from(data.len())
            .map_err(|_| BackendError::unsupported("extradata", "larger than 2 GiB"))?;
        let pad = ff::AV_INPUT_BUFFER_PADDING_SIZE as usize;
        // SAFETY: we allocate len + padding zeroed bytes, copy `data` into the front and hand
        // ownership to the context, which frees it in avcodec_free_context. Any previous
        // buffer is freed first.
        unsafe {
            let buf = ff::av_mallocz(data.len() + pad) as *mut u8;
            if buf.is_null() {
                return Err(BackendError::failed("extradata: out of memory"));
            }
            ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
            ff::av_freep(&mut (*self.ptr).extradata as *mut *mut u8 as *mut std::ffi::c_void);
            (*self.ptr).extradata = buf;
            (*self.ptr).extradata_size = len;
        }
        Ok(())
    }

    pub fn extradata(&self) -> &[u8] {
        let c = self.get();
        if c.extradata.is_null() || c.extradata_size <= 0 {
            return &[];
        }
        // SAFETY: libavcodec owns `extradata_size` valid bytes at `extradata` for the
        // context's lifetime; the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(c.extradata, c.extradata_size as usize) }
    }

    pub fn open(&mut self, codec: Codec) -> Result<(), i32> {
        // SAFETY: the context was allocated for `codec`; no options dictionary is passed.
        let r = unsafe { ff::avcodec_open2(self.ptr, codec.as_ptr(), ptr::null_mut()) };
        if r < 0 {
            Err(r)
        } else {
            Ok(())
        }
    }

    /// `frame = None` enters draining mode.
    pub fn send_frame(&mut self, frame: Option<&Frame>) -> i32 {
        let f = frame.map_or(ptr::null(), |f| f.ptr as *const ff::AVFrame);
        // SAFETY: the context is open; `f` is null or a valid frame we own.
        unsafe { ff::avcodec_send_frame(self.ptr, f) }
    }

    pub fn receive_packet(&mut self, pkt: &mut Packet) -> i32 {
        // SAFETY: the context is open and `pkt` is a valid, owned packet.
        unsafe { ff::avcodec_receive_packet(self.ptr, pkt.ptr) }
    }

    /// `pkt = None` enters draining mode.
    pub fn send_packet(&mut self, pkt: Option<&Packet>) -> i32 {
        let p = pkt.map_or(ptr::null(), |p| p.ptr as *const ff::AVPacket);
        // SAFETY: the context is open; `p` is null or a valid packet we own.
        unsafe { ff::avcodec_send_packet(self.ptr, p) }
    }

    pub fn receive_frame(&mut self, frame: &mut Frame) -> i32 {
        // SAFETY: the context is open and `frame` is a valid, owned frame.
        unsafe { ff::avcodec_receive_frame(self.ptr, frame.ptr) }
    }

    /// Attaches a hardware frames context (VAAPI) before opening.
    pub fn set_hw_frames(&mut self, frames: &BufferRef) -> Result<(), BackendError> {
        let r = frames.new_ref()?;
        // SAFETY: the context takes ownership of the new reference and unrefs it when freed.
        unsafe {
            (*self.ptr).hw_frames_ctx = r;
        }
        Ok(())
    }
}

impl Drop for CodecContext {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from avcodec_alloc_context3 and is freed only here.
        unsafe { ff::avcodec_free_context(&mut self.ptr) }
    }
}

/// An `AVFrame`, freed with `av_frame_free`.
pub struct Frame {
    ptr: *mut ff::AVFrame,
}

// SAFETY: frames are plain reference-counted data; we never share one between threads.
unsafe impl Send for Frame {}

impl Frame {
    pub fn new() -> Result<Self, BackendError> {
        // SAFETY: plain allocation; null is handled.
        let ptr = unsafe { ff::av_frame_alloc() };
        if ptr.is_null() {
            return Err(BackendError::failed("av_frame_alloc: out of memory"));
        }
        Ok(Frame { ptr })
    }

    pub fn as_ptr(&self) -> *mut ff::AVFrame {
        self.ptr
    }

    pub fn get(&self) -> &ff::AVFrame {
        // SAFETY: `ptr` is non-null and owned by `self`.
        unsafe { &*self.ptr }
    }

    pub fn raw(&mut self) -> &mut ff::AVFrame {
        // SAFETY: as in `get`, exclusive.
        unsafe { &mut *self.ptr }
    }

    /// Allocates (or reuses, when nobody else holds a reference) buffers for a picture of
    /// this format and size.
    pub fn alloc_picture(
        &mut self,
        format: ff::AVPixelFormat,
        width: i32,
        height: i32,
    ) -> Result<(), BackendError> {
        let f = self.raw();
        let same = f.format == format as i32
            && f.width == width
            && f.height == height
            && !f.data[0].is_null();
        if same {
            // SAFETY: the frame holds buffers of the right shape; make_writable copies them
            // only if the encoder still references them.
            let r = unsafe { ff::av_frame_make_writable(self.ptr) };
            if r < 0 {
                return Err(failed("av_frame_make_writable", r));
            }
            return Ok(());
        }
        // SAFETY: unref releases old buffers; get_buffer allocates new ones for the fields
        // we set just before.
        unsafe {
            ff::av_frame_unref(self.ptr);
            (*self.ptr).format = format as i32;
            (*self.ptr).width = width;
            (*self.ptr).height = height;
            let r = ff::av_frame_get_buffer(self.ptr, 0);
            if r < 0 {
                return Err(failed("av_frame_get_buffer", r));
            }
        }
        Ok(())
    }

    /// Rows of plane `i` for the 4:2:0 layouts this backend uses (luma full height, chroma
    /// rounded up). For any other layout (4:2:2, 4:4:4) this never overstates a plane.
    fn plane_rows(&self, i: usize) -> usize {
        let h = self.get().height.max(0) as usize;
        if i == 0 {
            h
        } else {
            h.div_ceil(2)
        }
    }

    /// Plane `i` (< 3) of a picture allocated by `alloc_picture`, with its stride.
    pub fn plane_mut(&mut self, i: usize) -> (&mut [u8], usize) {
        let [a, b, c] = self.planes_mut();
        match i {
            0 => a,
            1 => b,
            _ => c,
        }
    }

    /// All three plane slots at once (disjoint mutable slices; empty for absent planes).
    pub fn planes_mut(&mut self) -> [(&mut [u8], usize); 3] {
        let rows = [self.plane_rows(0), self.plane_rows(1), self.plane_rows(2)];
        let f = self.get();
        let (data, linesize) = (f.data, f.linesize);
        let plane = |i: usize| -> (&mut [u8], usize) {
            if data[i].is_null() || linesize[i] <= 0 {
                return (&mut [], 0);
            }
            let stride = linesize[i] as usize;
            // SAFETY: the frame's buffers were allocated for its own format and height, so
            // plane `i` holds at least `linesize * rows` bytes (rows never overstated, see
            // plane_rows); distinct planes do not overlap, and `&mut self` plus
            // av_frame_make_writable in alloc_picture make this the only reference.
            let s = unsafe { std::slice::from_raw_parts_mut(data[i], stride * rows[i]) };
            (s, stride)
        };
        [plane(0), plane(1), plane(2)]
    }

    /// Plane `i` of a decoded frame; `None` when absent or stored bottom-up.
    pub fn plane(&self, i: usize) -> Option<(&[u8], usize)> {
        let f = self.get();
        if f.data[i].is_null() || f.linesize[i] <= 0 {
            return None;
        }
        let stride = f.linesize[i] as usize;
        // SAFETY: as in planes_mut: the decoder allocated this plane for the frame's own
        // format and height, which plane_rows never overstates; the slice borrows `self`.
        let s = unsafe { std::slice::from_raw_parts(f.data[i], stride * self.plane_rows(i)) };
        Some((s, stride))
    }

    /// Adds A53 closed-caption side data (copied).
    pub fn add_a53(&mut self, cc: &[u8]) -> Result<(), BackendError> {
        // SAFETY: new_side_data allocates `len` bytes owned by the frame; we fill them.
        unsafe {
            let sd = ff::av_frame_new_side_data(
                self.ptr,
                ff::AVFrameSideDataType::AV_FRAME_DATA_A53_CC,
                cc.len() as _,
            );
            if sd.is_null() {
                return Err(BackendError::failed("A53 side data: out of memory"));
            }
            ptr::copy_nonoverlapping(cc.as_ptr(), (*sd).data, cc.len());
        }
        Ok(())
    }

    pub fn clear_side_data(&mut self) {
        // SAFETY: removes (and frees) side data of that type, if any.
        unsafe {
            ff::av_frame_remove_side_data(self.ptr, ff::AVFrameSideDataType::AV_FRAME_DATA_A53_CC)
        }
    }

    pub fn unref(&mut self) {
        // SAFETY: releases the frame's buffers; the AVFrame itself stays allocated.
        unsafe { ff::av_frame_unref(self.ptr) }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from av_frame_alloc and is freed only here.
        unsafe { ff::av_frame_free(&mut self.ptr) }
    }
}

/// An `AVPacket`, freed with `av_packet_free`.
pub struct Packet {
    ptr: *mut ff::AVPacket,
}

// SAFETY: as for Frame.
unsafe impl Send for Packet {}

impl Packet {
    pub fn new() -> Result<Self, BackendError> {
        // SAFETY: plain allocation; null is handled.
        let ptr = unsafe { ff::av_packet_alloc() };
        if ptr.is_null() {
            return Err(BackendError::failed("av_packet_alloc: out of memory"));
        }
        Ok(Packet { ptr })
    }

    pub fn get(&self) -> &ff::AVPacket {
        // SAFETY: `ptr` is non-null and owned by `self`.
        unsafe { &*self.ptr }
    }

    pub fn data(&self) -> &[u8] {
        let p = self.get();
        if p.data.is_null() || p.size <= 0 {
            return &[];
        }
        // SAFETY: a received packet owns `size` bytes at `data`.
        unsafe { std::slice::from_raw_parts(p.data, p.size as usize) }
    }

    /// Fills the packet with a padded copy of `data` (decoders may read past the end).
    pub fn fill(
        &mut self,
        data: &[u8],
        pts: i64,
        dts: i64,
        duration: i64,
        key: bool,
    ) -> Result<(), BackendError> {
        let size = i32::try_from(data.len())
            .map_err(|_| BackendError::failed("packet larger than 2 GiB"))?;
        // SAFETY: unref drops any previous payload; new_packet allocates `size` bytes plus
        // zeroed padding, which we fill with `data`.
        unsafe {
            ff::av_packet_unref(self.ptr);
            let r = ff::av_new_packet(self.ptr, size);
            if r < 0 {
                return Err(failed("av_new_packet", r));
            }
            ptr::copy_nonoverlapping(data.as_ptr(), (*self.ptr).data, data.len());
            (*self.ptr).pts = pts;
            (*self.ptr).dts = dts;
            (*self.ptr).duration = duration;
            (*self.ptr).flags = if key { ff::AV_PKT_FLAG_KEY } else { 0 };
        }
        Ok(())
    }

    pub fn unref(&mut self) {
        // SAFETY: releases the payload; the AVPacket stays allocated.
        unsafe { ff::av_packet_unref(self.ptr) }
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from av_packet_alloc and is freed only here.
        unsafe { ff::av_packet_free(&mut self.ptr) }
    }
}

/// An `AVBufferRef` (hardware device / frames contexts), unreffed on drop.
pub struct BufferRef {
    ptr: *mut ff::AVBufferRef,
}

// SAFETY: hardware contexts are reference counted with atomic counts and documented as
// usable from any thread once initialised.
unsafe impl Send for BufferRef {}

impl BufferRef {
    pub fn as_ptr(&self) -> *mut ff::AVBufferRef {
        self.ptr
    }

    pub fn new_ref(&self) -> Result<*mut ff::AVBufferRef, BackendError> {
        // SAFETY: `ptr` is a live buffer reference.
        let r = unsafe { ff::av_buffer_ref(self.ptr) };
        if r.is_null() {
            return Err(BackendError::failed("av_buffer_ref: out of memory"));
        }
        Ok(r)
    }

    /// Opens a VAAPI device on `node` (a DRM render node path).
    pub fn vaapi_device(node: &str) -> Result<BufferRef, BackendError> {
        let cnode = CString::new(node).map_err(|_| BackendError::failed("bad device path"))?;
        let mut ptr = ptr::null_mut();
        // SAFETY: `ptr` receives a new reference on success; the path string is valid.
        let r = unsafe {
            ff::av_hwdevice_ctx_create(
                &mut ptr,
                ff::AVHWDeviceType::AV_HWDEVICE_TYPE_VAAPI,
                cnode.as_ptr(),
                ptr::null_mut(),
                0,
            )
        };
        if r < 0 || ptr.is_null() {
            return Err(failed(&format!("VAAPI device {node}"), r));
        }
        Ok(BufferRef { ptr })
    }

    /// A pool of VAAPI surfaces of `sw_format` uploaded from system memory.
    pub fn vaapi_frames(
        device: &BufferRef,
        sw_format: ff::AVPixelFormat,
        width: i32,
        height: i32,
    ) -> Result<BufferRef, BackendError> {
        // SAFETY: frames_ctx_alloc returns a new reference (checked); we fill the
        // AVHWFramesContext it wraps before init, as the API requires.
        unsafe {
            let mut ptr = ff::av_hwframe_ctx_alloc(device.ptr);
            if ptr.is_null() {
                return Err(BackendError::failed("av_hwframe_ctx_alloc: out of memory"));
            }
            let fc = (*ptr).data as *mut ff::AVHWFramesContext;
            (*fc).format = ff::AVPixelFormat::AV_PIX_FMT_VAAPI;
            (*fc).sw_format = sw_format;
            (*fc).width = width;
            (*fc).height = height;
            (*fc).initial_pool_size = 20;
            let r = ff::av_hwframe_ctx_init(ptr);
            if r < 0 {
                ff::av_buffer_unref(&mut ptr);
                return Err(failed("av_hwframe_ctx_init", r));
            }
            Ok(BufferRef { ptr })
        }
    }
}

impl Drop for BufferRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference, released only here.
        unsafe { ff::av_buffer_unref(&mut self.ptr) }
    }
}

/// Uploads a system-memory frame into a surface from `frames` (VAAPI input path).
pub fn hw_upload(frames: &BufferRef, src: &Frame, dst: &mut Frame) -> Result<(), BackendError> {
    dst.unref();
    // SAFETY: get_buffer takes a surface from the pool into `dst`; transfer_data copies the
    // pixels; both frames are valid and owned by the caller.
    unsafe {
        let r = ff::av_hwframe_get_buffer(frames.as_ptr(), dst.as_ptr(), 0);
        if r < 0 {
            return Err(failed("av_hwframe_get_buffer", r));
        }
        let r = ff::av_hwframe_transfer_data(dst.as_ptr(), src.as_ptr(), 0);
        if r < 0 {
            return Err(failed("av_hwframe_transfer_data", r));
        }
    }
    Ok(())
}

/// Keeps libav*'s own logging at errors only: libx264/libx265 print banners and statistics
/// at info level for every session, which would drown the daemon's log.
pub fn quiet_logging() {
    // SAFETY: sets a global integer; safe to call at any time.
    unsafe { ff::av_log_set_level(ff::AV_LOG_ERROR) }
}
