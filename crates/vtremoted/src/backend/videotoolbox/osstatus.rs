//! OSStatus / CVReturn codes from VideoToolbox, CoreMedia and CoreVideo, with the name a
//! developer greps for and what it usually means for a vtremote session. Errors sent to the
//! client carry this text, because a bare "-12908" helps nobody.
//!
//! Platform-neutral so it is unit-tested on every host; values are cross-checked against the
//! objc2 bindings by `scripts/vt-ffi-crosscheck`.

/// What the daemon should tell the client a failure was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// This helper cannot do what was asked (codec, size, profile, pixel format): ERROR 3.
    Unsupported,
    /// The hardware is busy or temporarily unavailable: retry later or elsewhere.
    Busy,
    /// The compressed data was malformed.
    BadData,
    /// Anything else: an internal failure.
    Failed,
}

/// One known status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusInfo {
    pub code: i32,
    pub name: &'static str,
    pub meaning: &'static str,
    pub class: StatusClass,
}

const fn row(
    code: i32,
    name: &'static str,
    meaning: &'static str,
    class: StatusClass,
) -> StatusInfo {
    StatusInfo {
        code,
        name,
        meaning,
        class,
    }
}

use StatusClass::{BadData, Busy, Failed, Unsupported};

/// Codes from `VTErrors.h`, `CMBlockBuffer.h`, `CMFormatDescription.h`, `CMSampleBuffer.h`
/// and `CVReturn.h` (via the objc2 generated files named in spec videotoolbox.md §0).
pub const STATUS_TABLE: &[StatusInfo] = &[
    row(0, "noErr", "success", Failed),
    // VideoToolbox
    row(
        -12900,
        "kVTPropertyNotSupportedErr",
        "the encoder or this macOS does not support the property",
        Unsupported,
    ),
    row(
        -12901,
        "kVTPropertyReadOnlyErr",
        "the property is read-only for this session",
        Unsupported,
    ),
    row(
        -12902,
        "kVTParameterErr",
        "invalid argument (NULL buffer, non-increasing PTS, malformed sample)",
        Failed,
    ),
    row(
        -12903,
        "kVTInvalidSessionErr",
        "the session was invalidated (e.g. media services reset)",
        Failed,
    ),
    row(-12904, "kVTAllocationFailedErr", "out of memory", Failed),
    row(
        -12905,
        "kVTPixelTransferNotSupportedErr",
        "VideoToolbox cannot convert this pixel format",
        Unsupported,
    ),
    row(
        -12906,
        "kVTCouldNotFindVideoDecoderErr",
        "no decoder for this codec or format",
        Unsupported,
    ),
    row(
        -12907,
        "kVTCouldNotCreateInstanceErr",
        "the codec instance could not be created",
        Failed,
    ),
    row(
        -12908,
        "kVTCouldNotFindVideoEncoderErr",
        "no encoder matches codec, size, bit depth and hardware requirement",
        Unsupported,
    ),
    row(
        -12909,
        "kVTVideoDecoderBadDataErr",
        "corrupt data or wrong NAL length size",
        BadData,
    ),
    row(
        -12910,
        "kVTVideoDecoderUnsupportedDataFormatErr",
        "profile or format not supported by the decoder",
        Unsupported,
    ),
    row(
        -12911,
        "kVTVideoDecoderMalfunctionErr",
        "the decoder malfunctioned",
        Failed,
    ),
    row(
        -12912,
        "kVTVideoEncoderMalfunctionErr",
        "the encoder malfunctioned",
        Failed,
    ),
    row(
        -12913,
        "kVTVideoDecoderNotAvailableNowErr",
        "the hardware decoder is busy or unavailable now",
        Busy,
    ),
    row(
        -12915,
        "kVTVideoEncoderNotAvailableNowErr",
        "the hardware encoder is busy or unavailable now",
        Busy,
    ),
    row(
        -12916,
        "kVTFormatDescriptionChangeNotSupportedErr",
        "the running decoder cannot accept the new parameter sets",
        Failed,
    ),
    row(
        -12917,
        "kVTInsufficientSourceColorDataErr",
        "not enough colour information in the source",
        Failed,
    ),
    row(
        -12918,
        "kVTCouldNotCreateColorCorrectionDataErr",
        "colour correction data could not be created",
        Failed,
    ),
    row(
        -12919,
        "kVTColorSyncTransformConvertFailedErr",
        "ColorSync transform failed",
        Failed,
    ),
    row(
        -12210,
        "kVTVideoDecoderAuthorizationErr",
        "decoder not authorized",
        Unsupported,
    ),
    row(
        -12211,
        "kVTVideoEncoderAuthorizationErr",
        "encoder not authorized",
        Unsupported,
    ),
    row(
        -12212,
        "kVTColorCorrectionPixelTransferFailedErr",
        "colour-correcting pixel transfer failed",
        Failed,
    ),
    row(
        -12213,
        "kVTMultiPassStorageIdentifierMismatchErr",
        "multi-pass storage mismatch",
        Failed,
    ),
    row(
        -12214,
        "kVTMultiPassStorageInvalidErr",
        "multi-pass storage invalid",
        Failed,
    ),
    row(
        -12215,
        "kVTFrameSiloInvalidTimeStampErr",
        "frame silo: invalid timestamp",
        Failed,
    ),
    row(
        -12216,
        "kVTFrameSiloInvalidTimeRangeErr",
        "frame silo: invalid time range",
        Failed,
    ),
    row(
        -12217,
        "kVTCouldNotFindTemporalFilterErr",
        "temporal filter not found",
        Unsupported,
    ),
    row(
        -12218,
        "kVTPixelTransferNotPermittedErr",
        "pixel transfer not permitted",
        Unsupported,
    ),
    row(
        -12219,
        "kVTColorCorrectionImageRotationFailedErr",
        "image rotation failed",
        Failed,
    ),
    row(
        -17690,
        "kVTVideoDecoderRemovedErr",
        "the decoder was removed",
        Failed,
    ),
    row(
        -17691,
        "kVTSessionMalfunctionErr",
        "the session malfunctioned",
        Failed,
    ),
    row(
        -17692,
        "kVTVideoDecoderNeedsRosettaErr",
        "the decoder needs Rosetta",
        Unsupported,
    ),
    row(
        -17693,
        "kVTVideoEncoderNeedsRosettaErr",
        "the encoder needs Rosetta",
        Unsupported,
    ),
    row(
        -17694,
        "kVTVideoDecoderReferenceMissingErr",
        "a frame references a picture never decoded (stream started mid-GOP)",
        BadData,
    ),
    row(
        -17695,
        "kVTVideoDecoderCallbackMessagingErr",
        "decoder callback messaging failed",
        Failed,
    ),
    row(
        -17696,
        "kVTVideoDecoderUnknownErr",
        "unknown decoder error",
        Failed,
    ),
    row(
        -17697,
        "kVTExtensionDisabledErr",
        "the codec extension is disabled",
        Unsupported,
    ),
    row(
        -17698,
        "kVTVideoEncoderMVHEVCVideoLayerIDsMismatchErr",
        "MV-HEVC layer IDs mismatch",
        Failed,
    ),
    row(
        -17699,
        "kVTCouldNotOutputTaggedBufferGroupErr",
        "could not output tagged buffer group",
        Failed,
    ),
    row(
        -19510,
        "kVTCouldNotFindExtensionErr",
        "codec extension not found",
        Unsupported,
    ),
    row(
        -19511,
        "kVTExtensionConflictErr",
        "codec extension conflict",
        Failed,
    ),
    // CoreMedia block buffers
    row(
        -12700,
        "kCMBlockBufferStructureAllocationFailedErr",
        "block buffer structure allocation failed",
        Failed,
    ),
    row(
        -12701,
        "kCMBlockBufferBlockAllocationFailedErr",
        "block buffer memory allocation failed",
        Failed,
    ),
    row(
        -12702,
        "kCMBlockBufferBadCustomBlockSourceErr",
        "bad custom block source",
        Failed,
    ),
    row(
        -12703,
        "kCMBlockBufferBadOffsetParameterErr",
        "block buffer offset out of range",
        Failed,
    ),
    row(
        -12704,
        "kCMBlockBufferBadLengthParameterErr",
        "block buffer length out of range",
        Failed,
    ),
    row(
        -12705,
        "kCMBlockBufferBadPointerParameterErr",
        "NULL pointer passed to a block buffer call",
        Failed,
    ),
    row(
        -12706,
        "kCMBlockBufferEmptyBBufErr",
        "the block buffer is empty",
        Failed,
    ),
    row(
        -12707,
        "kCMBlockBufferUnallocatedBlockErr",
        "the block is not allocated",
        Failed,
    ),
    row(
        -12708,
        "kCMBlockBufferInsufficientSpaceErr",
        "not enough space in the block buffer",
        Failed,
    ),
    // CoreMedia format descriptions
    row(
        -12710,
        "kCMFormatDescriptionError_InvalidParameter",
        "invalid parameter (typically a malformed SPS/PPS)",
        BadData,
    ),
    row(
        -12711,
        "kCMFormatDescriptionError_AllocationFailed",
        "format description allocation failed",
        Failed,
    ),
    row(
        -12718,
        "kCMFormatDescriptionError_ValueNotAvailable",
        "value not available in the format description",
        Failed,
    ),
    // CoreMedia sample buffers
    row(
        -12730,
        "kCMSampleBufferError_AllocationFailed",
        "sample buffer allocation failed",
        Failed,
    ),
    row(
        -12731,
        "kCMSampleBufferError_RequiredParameterMissing",
        "required sample buffer parameter missing",
        Failed,
    ),
    row(
        -12732,
        "kCMSampleBufferError_AlreadyHasDataBuffer",
        "sample buffer already has data",
        Failed,
    ),
    row(
        -12733,
        "kCMSampleBufferError_BufferNotReady",
        "sample buffer data not ready",
        Failed,
    ),
    row(
        -12734,
        "kCMSampleBufferError_SampleIndexOutOfRange",
        "sample index out of range",
        Failed,
    ),
    row(
        -12735,
        "kCMSampleBufferError_BufferHasNoSampleSizes",
        "sample buffer has no sample sizes",
        Failed,
    ),
    row(
        -12736,
        "kCMSampleBufferError_BufferHasNoSampleTimingInfo",
        "sample buffer has no timing info",
        Failed,
    ),
    row(
        -12737,
        "kCMSampleBufferError_ArrayTooSmall",
        "array too small",
        Failed,
    ),
    row(
        -12738,
        "kCMSampleBufferError_InvalidEntryCount",
        "invalid entry count",
        Failed,
    ),
    row(
        -12739,
        "kCMSampleBufferError_CannotSubdivide",
        "sample buffer cannot be subdivided",
        Failed,
    ),
    row(
        -12740,
        "kCMSampleBufferError_SampleTimingInfoInvalid",
        "sample timing info invalid",
        Failed,
    ),
    row(
        -12741,
        "kCMSampleBufferError_InvalidMediaTypeForOperation",
        "invalid media type for operation",
        Failed,
    ),
    row(
        -12742,
        "kCMSampleBufferError_InvalidSampleData",
        "invalid sample data",
        BadData,
    ),
    row(
        -12743,
        "kCMSampleBufferError_InvalidMediaFormat",
        "invalid media format",
        BadData,
    ),
    row(
        -12744,
        "kCMSampleBufferError_Invalidated",
        "the sample buffer was invalidated",
        Failed,
    ),
    // CoreVideo
    row(-6660, "kCVReturnError", "CoreVideo error", Failed),
    row(
        -6661,
        "kCVReturnInvalidArgument",
        "invalid argument to CoreVideo",
        Failed,
    ),
    row(
        -6662,
        "kCVReturnAllocationFailed",
        "CoreVideo allocation failed",
        Failed,
    ),
    row(
        -6680,
        "kCVReturnInvalidPixelFormat",
        "invalid pixel format",
        Unsupported,
    ),
    row(
        -6681,
        "kCVReturnInvalidSize",
        "invalid picture size",
        Unsupported,
    ),
    row(
        -6682,
        "kCVReturnInvalidPixelBufferAttributes",
        "invalid pixel buffer attributes",
        Failed,
    ),
    row(
        -6683,
        "kCVReturnPixelBufferNotOpenGLCompatible",
        "pixel buffer not OpenGL compatible",
        Failed,
    ),
    row(
        -6684,
        "kCVReturnPixelBufferNotMetalCompatible",
        "pixel buffer not Metal compatible",
        Failed,
    ),
    row(
        -6689,
        "kCVReturnWouldExceedAllocationThreshold",
        "pool allocation threshold reached",
        Busy,
    ),
    row(
        -6690,
        "kCVReturnPoolAllocationFailed",
        "pixel buffer pool allocation failed",
        Failed,
    ),
    row(
        -6691,
        "kCVReturnInvalidPoolAttributes",
        "invalid pool attributes",
        Failed,
    ),
    row(-6692, "kCVReturnRetry", "retry the CoreVideo call", Busy),
];

/// The table row for `code`, if known.
pub fn lookup(code: i32) -> Option<&'static StatusInfo> {
    STATUS_TABLE.iter().find(|s| s.code == code)
}

/// "kVTCouldNotFindVideoEncoderErr (-12908): no encoder matches …", or the bare number for
/// codes we do not know (still useful to look up).
pub fn describe(code: i32) -> String {
    match lookup(code) {
        Some(s) => format!("{} ({}): {}", s.name, s.code, s.meaning),
        None => format!("OSStatus {code}"),
    }
}

/// How a failure with `code` should be reported; unknown codes are internal failures.
pub fn classify(code: i32) -> StatusClass {
    lookup(code).map_or(StatusClass::Failed, |s| s.class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        for (i, a) in STATUS_TABLE.iter().enumerate() {
            for b in &STATUS_TABLE[i + 1..] {
                assert_ne!(a.code, b.code, "{} and {}", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn describe_names_the_constant_and_the_number() {
        assert_eq!(
            describe(-12908),
            "kVTCouldNotFindVideoEncoderErr (-12908): no encoder matches codec, size, bit depth and hardware requirement"
        );
        assert_eq!(describe(-1), "OSStatus -1");
    }

    #[test]
    fn classes_follow_ffmpegs_mapping() {
        assert_eq!(classify(-12906), StatusClass::Unsupported);
        assert_eq!(classify(-12910), StatusClass::Unsupported);
        assert_eq!(classify(-12913), StatusClass::Busy);
        assert_eq!(classify(-12915), StatusClass::Busy);
        assert_eq!(classify(-12909), StatusClass::BadData);
        assert_eq!(classify(-12911), StatusClass::Failed);
        assert_eq!(classify(12345), StatusClass::Failed);
    }
}
