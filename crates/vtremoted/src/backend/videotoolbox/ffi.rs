//! Hand-written declarations of exactly the CoreFoundation, CoreMedia, CoreVideo and
//! VideoToolbox symbols this backend uses.
//!
//! Each declaration is transcribed from the raw `extern "C-unwind"` signature in the objc2
//! generated bindings (objc2-* 0.3.2, see videotoolbox.md §0, §3) and checked against them by
//! `scripts/vt-ffi-crosscheck`: same names, argument counts, types (after resolving type
//! aliases) and constant values. Opaque types carry the objc2 names so that check can compare
//! pointee types, not just "some pointer".
//!
//! The `link` attributes exist only on macOS, so `--features vt-typecheck` type-checks the
//! whole backend on Linux; nothing there may call into this module (the symbols do not exist).
//!
//! Keys newer than macOS 11.0 are not declared as statics (dyld would refuse to start the
//! daemon on older systems, videotoolbox.md §1); [`lookup_cfstring`] resolves every property
//! key at run time instead.
#![allow(non_upper_case_globals, non_snake_case, dead_code)]

use std::ffi::{c_char, c_int, c_void};

macro_rules! opaque {
    ($($name:ident),* $(,)?) => {$(
        /// Opaque CoreFoundation-family object; only ever used behind a pointer.
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}

opaque!(
    CFType,
    CFAllocator,
    CFDictionary,
    CFString,
    CFNumber,
    CFBoolean,
    CFArray,
    CFData,
    CFDictionaryKeyCallBacks,
    CFDictionaryValueCallBacks,
    CFArrayCallBacks,
    CMBlockBuffer,
    CMBlockBufferCustomBlockSource,
    CMSampleBuffer,
    CMFormatDescription,
    CVImageBuffer,
    CVPixelBufferPool,
    VTCompressionSession,
    VTDecompressionSession,
);

// ---- Scalar types (videotoolbox.md §2) ----
pub type OSStatus = i32;
pub type Boolean = u8;
pub type CFIndex = isize;
pub type CFTypeID = usize;
pub type CFNumberType = CFIndex;
pub type CFStringEncoding = u32;
pub type FourCharCode = u32;
pub type OSType = FourCharCode;
pub type CMVideoCodecType = FourCharCode;
pub type CMItemCount = CFIndex;
pub type CMBlockBufferFlags = u32;
pub type CMTimeValue = i64;
pub type CMTimeScale = i32;
pub type CMTimeFlags = u32;
pub type CMTimeEpoch = i64;
pub type CVReturn = i32;
pub type CVOptionFlags = u64;
pub type CVPixelBufferLockFlags = CVOptionFlags;
pub type VTEncodeInfoFlags = u32;
pub type VTDecodeFrameFlags = u32;
pub type VTDecodeInfoFlags = u32;

// ---- Reference types ----
pub type CFTypeRef = *const CFType;
pub type CFAllocatorRef = *const CFAllocator;
pub type CFDictionaryRef = *const CFDictionary;
/// objc2 distinguishes `CFMutableDictionary`; the C ABI does not.
pub type CFMutableDictionaryRef = *mut CFDictionary;
pub type CFStringRef = *const CFString;
pub type CFNumberRef = *const CFNumber;
pub type CFBooleanRef = *const CFBoolean;
pub type CFArrayRef = *const CFArray;
pub type CFDataRef = *const CFData;
pub type CMBlockBufferRef = *mut CMBlockBuffer;
pub type CMSampleBufferRef = *mut CMSampleBuffer;
pub type CMFormatDescriptionRef = *const CMFormatDescription;
pub type CVImageBufferRef = *mut CVImageBuffer;
pub type CVPixelBufferRef = CVImageBufferRef;
pub type CVPixelBufferPoolRef = *mut CVPixelBufferPool;
pub type VTCompressionSessionRef = *mut VTCompressionSession;
pub type VTDecompressionSessionRef = *mut VTDecompressionSession;
/// `VTSessionRef` is a plain `CFTypeRef` in C (objc2: `VTSession = CFType`).
pub type VTSessionRef = *mut CFType;

/// `CMTime`: 24 bytes, 4-byte aligned (`#pragma pack(push, 4)` in CMTime.h), passed by value.
#[repr(C, packed(4))]
#[derive(Clone, Copy, Debug)]
pub struct CMTime {
    pub value: CMTimeValue,
    pub timescale: CMTimeScale,
    pub flags: CMTimeFlags,
    pub epoch: CMTimeEpoch,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CMSampleTimingInfo {
    pub duration: CMTime,
    pub presentation_time_stamp: CMTime,
    pub decode_time_stamp: CMTime,
}

pub type VTCompressionOutputCallback = Option<
    unsafe extern "C" fn(
        output_callback_ref_con: *mut c_void,
        source_frame_ref_con: *mut c_void,
        status: OSStatus,
        info_flags: VTEncodeInfoFlags,
        sample_buffer: CMSampleBufferRef,
    ),
>;

pub type VTDecompressionOutputCallback = Option<
    unsafe extern "C" fn(
        decompression_output_ref_con: *mut c_void,
        source_frame_ref_con: *mut c_void,
        status: OSStatus,
        info_flags: VTDecodeInfoFlags,
        image_buffer: CVImageBufferRef,
        presentation_time_stamp: CMTime,
        presentation_duration: CMTime,
    ),
>;

#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct VTDecompressionOutputCallbackRecord {
    pub decompression_output_callback: VTDecompressionOutputCallback,
    pub decompression_output_ref_con: *mut c_void,
}

// Layouts the C side relies on (videotoolbox.md §2); a wrong transcription fails the build.
const _: () = assert!(std::mem::size_of::<CMTime>() == 24);
const _: () = assert!(std::mem::align_of::<CMTime>() == 4);
const _: () = assert!(std::mem::size_of::<CMSampleTimingInfo>() == 72);
const _: () = assert!(
    std::mem::size_of::<VTDecompressionOutputCallbackRecord>() == 2 * std::mem::size_of::<usize>()
);

// ---- Constants ----
pub const noErr: OSStatus = 0;
pub const kCMTimeFlags_Valid: CMTimeFlags = 1 << 0;
pub const kCMTimeFlags_PositiveInfinity: CMTimeFlags = 1 << 2;
pub const kCMTimeFlags_NegativeInfinity: CMTimeFlags = 1 << 3;
pub const kCMTimeFlags_Indefinite: CMTimeFlags = 1 << 4;
pub const kCMVideoCodecType_H264: CMVideoCodecType = 0x61766331;
pub const kCMVideoCodecType_HEVC: CMVideoCodecType = 0x68766331;
pub const kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange: OSType = 0x34323076;
pub const kCVPixelFormatType_420YpCbCr8BiPlanarFullRange: OSType = 0x34323066;
pub const kCVPixelFormatType_420YpCbCr10BiPlanarVideoRange: OSType = 0x78343230;
pub const kCVPixelFormatType_420YpCbCr10BiPlanarFullRange: OSType = 0x78663230;
pub const kCVPixelBufferLock_ReadOnly: CVPixelBufferLockFlags = 0x00000001;
pub const kCMBlockBufferAssureMemoryNowFlag: CMBlockBufferFlags = 1 << 0;
pub const kVTEncodeInfo_FrameDropped: VTEncodeInfoFlags = 1 << 1;
pub const kVTDecodeInfo_FrameDropped: VTDecodeInfoFlags = 1 << 1;
pub const kCFNumberSInt32Type: CFNumberType = 3;
pub const kCFNumberSInt64Type: CFNumberType = 4;
pub const kCFNumberFloat32Type: CFNumberType = 5;
pub const kCFNumberFloat64Type: CFNumberType = 6;
pub const kCFStringEncodingUTF8: CFStringEncoding = 0x08000100;
pub const kVTPropertyNotSupportedErr: OSStatus = -12900;
pub const kVTVideoDecoderReferenceMissingErr: OSStatus = -17694;

/// `CMTime` helpers re-implementing the C macros (they are not exported functions).
impl CMTime {
    pub const INVALID: CMTime = CMTime {
        value: 0,
        timescale: 0,
        flags: 0,
        epoch: 0,
    };

    pub fn new(value: i64, timescale: i32) -> CMTime {
        CMTime {
            value,
            timescale,
            flags: kCMTimeFlags_Valid,
            epoch: 0,
        }
    }

    /// `CMTIME_IS_NUMERIC`: valid and not ±infinity or indefinite.
    pub fn is_numeric(&self) -> bool {
        let flags = self.flags;
        flags
            & (kCMTimeFlags_Valid
                | kCMTimeFlags_PositiveInfinity
                | kCMTimeFlags_NegativeInfinity
                | kCMTimeFlags_Indefinite)
            == kCMTimeFlags_Valid
            && self.timescale > 0
    }
}

#[cfg_attr(target_os = "macos", link(name = "CoreFoundation", kind = "framework"))]
extern "C" {
    pub fn CFRetain(cf: *mut c_void) -> *mut c_void;
    pub fn CFRelease(cf: *mut c_void);
    pub fn CFDictionaryCreateMutable(
        allocator: CFAllocatorRef,
        capacity: CFIndex,
        key_call_backs: *const CFDictionaryKeyCallBacks,
        value_call_backs: *const CFDictionaryValueCallBacks,
    ) -> CFMutableDictionaryRef;
    pub fn CFDictionarySetValue(
        the_dict: CFMutableDictionaryRef,
        key: *const c_void,
        value: *const c_void,
    );
    pub fn CFDictionaryGetValue(the_dict: CFDictionaryRef, key: *const c_void) -> *const c_void;
    pub fn CFNumberCreate(
        allocator: CFAllocatorRef,
        the_type: CFNumberType,
        value_ptr: *const c_void,
    ) -> CFNumberRef;
    pub fn CFStringCreateWithCString(
        alloc: CFAllocatorRef,
        c_str: *const c_char,
        encoding: CFStringEncoding,
    ) -> CFStringRef;
    pub fn CFArrayCreate(
        allocator: CFAllocatorRef,
        values: *mut *const c_void,
        num_values: CFIndex,
        call_backs: *const CFArrayCallBacks,
    ) -> CFArrayRef;
    pub fn CFArrayGetCount(the_array: CFArrayRef) -> CFIndex;
    pub fn CFArrayGetValueAtIndex(the_array: CFArrayRef, idx: CFIndex) -> *const c_void;
    pub fn CFBooleanGetValue(boolean: CFBooleanRef) -> Boolean;
    pub fn CFGetTypeID(cf: *const c_void) -> CFTypeID;
    pub fn CFDictionaryGetTypeID() -> CFTypeID;
    pub fn CFNumberGetTypeID() -> CFTypeID;
    pub fn CFBooleanGetTypeID() -> CFTypeID;
    pub fn CFStringGetTypeID() -> CFTypeID;
    pub fn CFNumberGetValue(
        number: CFNumberRef,
        the_type: CFNumberType,
        value_ptr: *mut c_void,
    ) -> Boolean;
    pub fn CFStringGetCString(
        the_string: CFStringRef,
        buffer: *mut c_char,
        buffer_size: CFIndex,
        encoding: CFStringEncoding,
    ) -> Boolean;
    pub fn CFDataGetTypeID() -> CFTypeID;
    pub fn CFDataGetLength(the_data: CFDataRef) -> CFIndex;
    pub fn CFDataGetBytePtr(the_data: CFDataRef) -> *const u8;

    pub static kCFBooleanTrue: CFBooleanRef;
    pub static kCFBooleanFalse: CFBooleanRef;
    pub static kCFTypeDictionaryKeyCallBacks: CFDictionaryKeyCallBacks;
    pub static kCFTypeDictionaryValueCallBacks: CFDictionaryValueCallBacks;
    pub static kCFTypeArrayCallBacks: CFArrayCallBacks;
}

#[cfg_attr(target_os = "macos", link(name = "CoreMedia", kind = "framework"))]
extern "C" {
    pub fn CMBlockBufferCreateWithMemoryBlock(
        structure_allocator: CFAllocatorRef,
        memory_block: *mut c_void,
        block_length: usize,
        block_allocator: CFAllocatorRef,
        custom_block_source: *const CMBlockBufferCustomBlockSource,
        offset_to_data: usize,
        data_length: usize,
        flags: CMBlockBufferFlags,
        block_buffer_out: *mut CMBlockBufferRef,
    ) -> OSStatus;
    pub fn CMBlockBufferReplaceDataBytes(
        source_bytes: *const c_void,
        destination_buffer: CMBlockBufferRef,
        offset_into_destination: usize,
        data_length: usize,
    ) -> OSStatus;
    pub fn CMBlockBufferCopyDataBytes(
        the_source_buffer: CMBlockBufferRef,
        offset_to_data: usize,
        data_length: usize,
        destination: *mut c_void,
    ) -> OSStatus;
    pub fn CMBlockBufferGetDataLength(the_buffer: CMBlockBufferRef) -> usize;
    pub fn CMSampleBufferCreateReady(
        allocator: CFAllocatorRef,
        data_buffer: CMBlockBufferRef,
        format_description: CMFormatDescriptionRef,
        num_samples: CMItemCount,
        num_sample_timing_entries: CMItemCount,
        sample_timing_array: *const CMSampleTimingInfo,
        num_sample_size_entries: CMItemCount,
        sample_size_array: *const usize,
        sample_buffer_out: *mut CMSampleBufferRef,
    ) -> OSStatus;
    pub fn CMSampleBufferGetDataBuffer(sbuf: CMSampleBufferRef) -> CMBlockBufferRef;
    pub fn CMSampleBufferGetFormatDescription(sbuf: CMSampleBufferRef) -> CMFormatDescriptionRef;
    pub fn CMSampleBufferGetSampleAttachmentsArray(
        sbuf: CMSampleBufferRef,
        create_if_necessary: Boolean,
    ) -> CFArrayRef;
    pub fn CMSampleBufferGetPresentationTimeStamp(sbuf: CMSampleBufferRef) -> CMTime;
    pub fn CMSampleBufferGetDecodeTimeStamp(sbuf: CMSampleBufferRef) -> CMTime;
    pub fn CMSampleBufferGetDuration(sbuf: CMSampleBufferRef) -> CMTime;
    pub fn CMSampleBufferDataIsReady(sbuf: CMSampleBufferRef) -> Boolean;
    pub fn CMVideoFormatDescriptionCreateFromH264ParameterSets(
        allocator: CFAllocatorRef,
        parameter_set_count: usize,
        parameter_set_pointers: *const *const u8,
        parameter_set_sizes: *const usize,
        nal_unit_header_length: c_int,
        format_description_out: *mut CMFormatDescriptionRef,
    ) -> OSStatus;
    pub fn CMVideoFormatDescriptionCreateFromHEVCParameterSets(
        allocator: CFAllocatorRef,
        parameter_set_count: usize,
        parameter_set_pointers: *const *const u8,
        parameter_set_sizes: *const usize,
        nal_unit_header_length: c_int,
        extensions: CFDictionaryRef,
        format_description_out: *mut CMFormatDescriptionRef,
    ) -> OSStatus;
    pub fn CMVideoFormatDescriptionGetH264ParameterSetAtIndex(
        video_desc: CMFormatDescriptionRef,
        parameter_set_index: usize,
        parameter_set_pointer_out: *mut *const u8,
        parameter_set_size_out: *mut usize,
        parameter_set_count_out: *mut usize,
        nal_unit_header_length_out: *mut c_int,
    ) -> OSStatus;
    pub fn CMVideoFormatDescriptionGetHEVCParameterSetAtIndex(
        video_desc: CMFormatDescriptionRef,
        parameter_set_index: usize,
        parameter_set_pointer_out: *mut *const u8,
        parameter_set_size_out: *mut usize,
        parameter_set_count_out: *mut usize,
        nal_unit_header_length_out: *mut c_int,
    ) -> OSStatus;

    /// Get rule: the value lives as long as the format description.
    pub fn CMFormatDescriptionGetExtension(
        desc: CMFormatDescriptionRef,
        extension_key: CFStringRef,
    ) -> CFTypeRef;

    pub static kCMSampleAttachmentKey_NotSync: CFStringRef;
    // Both macOS 10.7 (CMFormatDescription.h), safe as link-time statics.
    pub static kCMFormatDescriptionExtension_FullRangeVideo: CFStringRef;
    pub static kCMFormatDescriptionExtension_SampleDescriptionExtensionAtoms: CFStringRef;
    pub static kCMFormatDescriptionKey_PixelAspectRatioHorizontalSpacing: CFStringRef;
    pub static kCMFormatDescriptionKey_PixelAspectRatioVerticalSpacing: CFStringRef;
}

#[cfg_attr(target_os = "macos", link(name = "CoreVideo", kind = "framework"))]
extern "C" {
    pub fn CVPixelBufferPoolCreatePixelBuffer(
        allocator: CFAllocatorRef,
        pixel_buffer_pool: CVPixelBufferPoolRef,
        pixel_buffer_out: *mut CVPixelBufferRef,
    ) -> CVReturn;
    pub fn CVPixelBufferLockBaseAddress(
        pixel_buffer: CVPixelBufferRef,
        lock_flags: CVPixelBufferLockFlags,
    ) -> CVReturn;
    pub fn CVPixelBufferUnlockBaseAddress(
        pixel_buffer: CVPixelBufferRef,
        unlock_flags: CVPixelBufferLockFlags,
    ) -> CVReturn;
    pub fn CVPixelBufferGetBaseAddressOfPlane(
        pixel_buffer: CVPixelBufferRef,
        plane_index: usize,
    ) -> *mut c_void;
    pub fn CVPixelBufferGetBytesPerRowOfPlane(
        pixel_buffer: CVPixelBufferRef,
        plane_index: usize,
    ) -> usize;
    pub fn CVPixelBufferGetHeightOfPlane(
        pixel_buffer: CVPixelBufferRef,
        plane_index: usize,
    ) -> usize;
    pub fn CVPixelBufferGetWidthOfPlane(
        pixel_buffer: CVPixelBufferRef,
        plane_index: usize,
    ) -> usize;
    pub fn CVPixelBufferGetWidth(pixel_buffer: CVPixelBufferRef) -> usize;
    pub fn CVPixelBufferGetHeight(pixel_buffer: CVPixelBufferRef) -> usize;
    pub fn CVPixelBufferGetPlaneCount(pixel_buffer: CVPixelBufferRef) -> usize;

    pub static kCVPixelBufferPixelFormatTypeKey: CFStringRef;
    pub static kCVPixelBufferWidthKey: CFStringRef;
    pub static kCVPixelBufferHeightKey: CFStringRef;
    pub static kCVPixelBufferIOSurfacePropertiesKey: CFStringRef;
    // CVImageBuffer.h, macOS 10.4: the colour tags of the encoder's source buffers.
    pub static kCVImageBufferColorPrimariesKey: CFStringRef;
    pub static kCVImageBufferTransferFunctionKey: CFStringRef;
    pub static kCVImageBufferYCbCrMatrixKey: CFStringRef;
}

#[cfg_attr(target_os = "macos", link(name = "VideoToolbox", kind = "framework"))]
extern "C" {
    pub fn VTCompressionSessionCreate(
        allocator: CFAllocatorRef,
        width: i32,
        height: i32,
        codec_type: CMVideoCodecType,
        encoder_specification: CFDictionaryRef,
        source_image_buffer_attributes: CFDictionaryRef,
        compressed_data_allocator: CFAllocatorRef,
        output_callback: VTCompressionOutputCallback,
        output_callback_ref_con: *mut c_void,
        compression_session_out: *mut VTCompressionSessionRef,
    ) -> OSStatus;
    pub fn VTCompressionSessionPrepareToEncodeFrames(session: VTCompressionSessionRef) -> OSStatus;
    pub fn VTCompressionSessionGetPixelBufferPool(
        session: VTCompressionSessionRef,
    ) -> CVPixelBufferPoolRef;
    pub fn VTCompressionSessionEncodeFrame(
        session: VTCompressionSessionRef,
        image_buffer: CVImageBufferRef,
        presentation_time_stamp: CMTime,
        duration: CMTime,
        frame_properties: CFDictionaryRef,
        source_frame_refcon: *mut c_void,
        info_flags_out: *mut VTEncodeInfoFlags,
    ) -> OSStatus;
    pub fn VTCompressionSessionCompleteFrames(
        session: VTCompressionSessionRef,
        complete_until_presentation_time_stamp: CMTime,
    ) -> OSStatus;
    pub fn VTCompressionSessionInvalidate(session: VTCompressionSessionRef);
    pub fn VTDecompressionSessionCreate(
        allocator: CFAllocatorRef,
        video_format_description: CMFormatDescriptionRef,
        video_decoder_specification: CFDictionaryRef,
        destination_image_buffer_attributes: CFDictionaryRef,
        output_callback: *const VTDecompressionOutputCallbackRecord,
        decompression_session_out: *mut VTDecompressionSessionRef,
    ) -> OSStatus;
    pub fn VTDecompressionSessionDecodeFrame(
        session: VTDecompressionSessionRef,
        sample_buffer: CMSampleBufferRef,
        decode_flags: VTDecodeFrameFlags,
        source_frame_ref_con: *mut c_void,
        info_flags_out: *mut VTDecodeInfoFlags,
    ) -> OSStatus;
    pub fn VTDecompressionSessionWaitForAsynchronousFrames(
        session: VTDecompressionSessionRef,
    ) -> OSStatus;
    pub fn VTDecompressionSessionInvalidate(session: VTDecompressionSessionRef);
    /// True when the running session can decode samples of `new_format_desc` (new
    /// parameter sets) without being recreated.
    pub fn VTDecompressionSessionCanAcceptFormatDescription(
        session: VTDecompressionSessionRef,
        new_format_desc: CMFormatDescriptionRef,
    ) -> Boolean;
    pub fn VTSessionSetProperty(
        session: VTSessionRef,
        property_key: CFStringRef,
        property_value: CFTypeRef,
    ) -> OSStatus;
    pub fn VTSessionCopyProperty(
        session: VTSessionRef,
        property_key: CFStringRef,
        allocator: CFAllocatorRef,
        property_value_out: *mut c_void,
    ) -> OSStatus;
    pub fn VTIsHardwareDecodeSupported(codec_type: CMVideoCodecType) -> Boolean;
    /// `*list_of_video_encoders_out`: Create (CFArray of CFDictionary, one per encoder).
    pub fn VTCopyVideoEncoderList(
        options: CFDictionaryRef,
        list_of_video_encoders_out: *mut CFArrayRef,
    ) -> OSStatus;
    /// Both outs: Create, either may be NULL (videotoolbox.md §9).
    pub fn VTCopySupportedPropertyDictionaryForEncoder(
        width: i32,
        height: i32,
        codec_type: CMVideoCodecType,
        encoder_specification: CFDictionaryRef,
        encoder_id_out: *mut CFStringRef,
        supported_properties_out: *mut CFDictionaryRef,
    ) -> OSStatus;

    pub static kVTVideoDecoderSpecification_EnableHardwareAcceleratedVideoDecoder: CFStringRef;
    // VTVideoEncoderList.h keys, all macOS 10.8. `kVTVideoEncoderList_IsHardwareAccelerated`
    // is macOS 11.3 and therefore resolved at run time (`lookup_cfstring`), not declared here.
    pub static kVTVideoEncoderList_CodecType: CFStringRef;
    pub static kVTVideoEncoderList_EncoderID: CFStringRef;
    pub static kVTVideoEncoderList_EncoderName: CFStringRef;
}

// `dlsym` lives in libSystem, which every macOS binary links; not part of the cross-check.
extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// `RTLD_DEFAULT` on Apple platforms (`<dlfcn.h>`: `((void *) -2)`).
const RTLD_DEFAULT: *mut c_void = -2isize as *mut c_void;

/// The value of the exported `CFStringRef` variable `symbol` (NUL-terminated name), or NULL
/// when this macOS does not export it.
///
/// # Safety
/// `symbol` must name a variable of type `CFStringRef` (or not exist).
pub unsafe fn lookup_cfstring(symbol: &std::ffi::CStr) -> CFStringRef {
    // SAFETY: dlsym only reads the NUL-terminated name; RTLD_DEFAULT searches every loaded
    // image, which is how FFmpeg resolves the same keys (GET_SYM in videotoolboxenc.c).
    let address = unsafe { dlsym(RTLD_DEFAULT, symbol.as_ptr()) } as *const CFStringRef;
    if address.is_null() {
        return std::ptr::null();
    }
    // SAFETY: per the contract, a found symbol is a CFStringRef variable: reading it yields a
    // constant string that lives as long as the process.
    unsafe { *address }
}
