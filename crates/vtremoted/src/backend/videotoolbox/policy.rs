//! The VideoToolbox backend's decisions that need no VideoToolbox, built and unit-tested on
//! every host (the backend itself only type-checks off macOS, videotoolbox.md §1, §11):
//!
//! - which OSStatus loses one picture, which recreates the session, which ends it;
//! - when a decoded picture may leave the reorder buffer, and how deep a stream reorders;
//! - how the client's delay budget is split between VideoToolbox and the DTS tracker, and
//!   how many packets that tracker holds;
//! - how an in-band parameter-set update merges, whether a packet has a picture at all, and
//!   whether a running decoder may keep its session for new parameter sets;
//! - whether decoded output is full range, and how a decoded plane is fitted to the
//!   configured geometry;
//! - reading a format description's parameter sets when the count query fails, and which
//!   extradata the encoder publishes.
//!
//! `decoder.rs` and `encoder.rs` call these and keep only the FFI.

use std::collections::BTreeMap;

use vtremote_media::dts::{DtsTracker, MAX_REORDER_DEPTH};
use vtremote_media::paramsets::{MergeOutcome, ParameterSets};
use vtremote_media::sei::CaptionQueue;
use vtremote_media::{annexb, extradata, nal, Codec, MediaError, StreamInfo};
use vtremote_proto::{FrameGeometry, PixelFormat};

use crate::backend::videotoolbox::osstatus;
use crate::backend::EncodedPacket;

// ---- Status codes (VTErrors.h; names checked against `osstatus` in the tests) ----

/// kVTInvalidSessionErr: the system invalidated the session (media services reset, sleep).
pub const INVALID_SESSION: i32 = -12903;
/// kVTVideoDecoderBadDataErr: the picture's data is damaged.
pub const DECODER_BAD_DATA: i32 = -12909;
/// kVTVideoDecoderMalfunctionErr: FFmpeg recreates the decoder after it.
pub const DECODER_MALFUNCTION: i32 = -12911;
/// kVTVideoEncoderMalfunctionErr.
pub const ENCODER_MALFUNCTION: i32 = -12912;
/// kVTFormatDescriptionChangeNotSupportedErr: the running decoder refuses new parameter sets.
pub const FORMAT_CHANGE_NOT_SUPPORTED: i32 = -12916;
/// kVTSessionMalfunctionErr.
pub const SESSION_MALFUNCTION: i32 = -17691;
/// kVTVideoDecoderReferenceMissingErr: the picture refers to one never decoded.
pub const DECODER_REFERENCE_MISSING: i32 = -17694;

/// What a failed VideoToolbox call or callback status means for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    /// This picture is lost; the session goes on (logged once, counted for SUMMARY).
    DropPicture,
    /// The session itself is dead: build a new one from the same settings and go on.
    RecreateSession,
    /// Nothing to retry: the session ends with this status.
    Fail,
}

/// A non-zero status from `VTDecompressionSessionDecodeFrame` or its output callback.
///
/// Damaged pictures are normal in real streams: one that starts mid-GOP (or is cut at a
/// CRA, leaving HEVC RASL pictures without references) gives reference-missing or bad-data
/// until the next random-access point. FFmpeg's hwaccel logs them and decodes on; Apple
/// reports them on either path ("if an error is returned from this function, there will be
/// no callback", VTDecompressionSession.h), so both paths drop the one picture. Only
/// session-level failures need a new session (FFmpeg sets `reconfig_needed` for -12903 and
/// -12911); everything else (unsupported format, out of memory, busy hardware) would fail
/// again on every packet and ends the session with its name.
pub fn decode_status_action(status: i32) -> StatusAction {
    match status {
        DECODER_REFERENCE_MISSING | DECODER_BAD_DATA => StatusAction::DropPicture,
        INVALID_SESSION
        | DECODER_MALFUNCTION
        | SESSION_MALFUNCTION
        | FORMAT_CHANGE_NOT_SUPPORTED => StatusAction::RecreateSession,
        _ => StatusAction::Fail,
    }
}

/// A non-zero status from `VTCompressionSessionEncodeFrame`, `PrepareToEncodeFrames` (after
/// a NULL pixel-buffer pool) or the encoder callback. FFmpeg recreates the session when it
/// finds it invalidated (`vtenc_reset` after -12903 from PrepareToEncodeFrames); the
/// encoder- and session-malfunction codes mean the same dead session (videotoolbox.md
/// §4.7: "recreate"). Every other error is fatal, as FFmpeg's `set_async_error` makes it.
pub fn encode_status_action(status: i32) -> StatusAction {
    match status {
        INVALID_SESSION | ENCODER_MALFUNCTION | SESSION_MALFUNCTION => {
            StatusAction::RecreateSession
        }
        _ => StatusAction::Fail,
    }
}

/// What one encoder callback without an error status carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderOutput {
    /// A packet to convert and send.
    Packet,
    /// VideoToolbox dropped the frame on purpose (`kVTEncodeInfo_FrameDropped` or no
    /// sample): nothing to send, nothing wrong.
    Nothing,
    /// A sample whose data never became ready: that picture is lost, the session is not
    /// (Swift and FFmpeg drop it).
    DropPicture,
}

pub fn encoder_output(frame_dropped: bool, has_sample: bool, data_ready: bool) -> EncoderOutput {
    match (frame_dropped || !has_sample, data_ready) {
        (true, _) => EncoderOutput::Nothing,
        (false, true) => EncoderOutput::Packet,
        (false, false) => EncoderOutput::DropPicture,
    }
}

/// Session recreations allowed in a row without a picture in between. A session that dies
/// again at once will keep dying (broken hardware, a stream the codec cannot handle); the
/// client is better served by the error than by a loop.
pub const MAX_RECREATIONS_IN_A_ROW: u32 = 3;

/// Counts recreations since the last picture that came out.
#[derive(Debug, Default)]
pub struct RecreateBudget {
    in_a_row: u32,
}

impl RecreateBudget {
    /// Whether one more recreation is allowed (and counts it).
    pub fn try_recreate(&mut self) -> bool {
        if self.in_a_row >= MAX_RECREATIONS_IN_A_ROW {
            return false;
        }
        self.in_a_row += 1;
        true
    }

    /// A picture came out: the session works.
    pub fn succeeded(&mut self) {
        self.in_a_row = 0;
    }
}

/// Why a picture was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// VideoToolbox reported this status for it.
    Status(i32),
    /// VideoToolbox returned neither a picture nor an error (`FrameDropped`).
    NoOutput,
    /// An encoded sample whose data never became ready.
    NotReady,
    /// An encoded sample without a numeric presentation time.
    NoTimestamp,
}

impl std::fmt::Display for DropCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropCause::Status(status) => f.write_str(&osstatus::describe(*status)),
            DropCause::NoOutput => {
                f.write_str("VideoToolbox returned neither a picture nor an error")
            }
            DropCause::NotReady => f.write_str("the encoded sample's data never became ready"),
            DropCause::NoTimestamp => f.write_str("the encoded sample has no numeric timestamp"),
        }
    }
}

/// Lost pictures: counted, and logged once per cause so a damaged stream cannot flood the
/// log (the count goes to the SUMMARY line).
#[derive(Debug, Default)]
pub struct DropLog {
    count: u64,
    logged: Vec<DropCause>,
}

impl DropLog {
    /// Counts one lost picture; true when `cause` was not logged before.
    pub fn note(&mut self, cause: DropCause) -> bool {
        self.count += 1;
        if self.logged.contains(&cause) {
            return false;
        }
        self.logged.push(cause);
        true
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

// ---- Decoder: display order ----

/// `AV_NOPTS_VALUE` (INT64_MIN) on the wire: no timestamp.
pub const NO_TIMESTAMP: i64 = i64::MIN;

/// How many decoded pictures the stream may need held back for display order: the SPS's
/// value, or what the standard infers without it (see [`StreamInfo::reorder_depth`]: 0 for
/// `pic_order_cnt_type` 2, B-less and intra profiles, else MaxDpbFrames), never more than
/// a DPB holds.
pub fn decoder_reorder_depth(info: &StreamInfo) -> usize {
    (info.reorder_depth() as usize).min(MAX_REORDER_DEPTH)
}

/// Puts decoded pictures (which VideoToolbox returns in decode order when decoding
/// synchronously) back in display order, holding each only as long as needed.
///
/// A picture leaves when either
/// - more than `depth` pictures are held (nothing later can precede the earliest), or
/// - its PTS is at or below the DTS of the newest packet submitted: every later packet has
///   DTS ≥ that and PTS ≥ its own DTS, so no later picture can precede it
///   (videotoolbox.md §8 step 6). This is what answers a lock-step client at once when the
///   stream does not say how deep it reorders. The rule is only used while the client's DTS
///   are believable (never above PTS, never decreasing); after the first violation the
///   depth alone decides.
#[derive(Debug)]
pub struct ReorderBuffer<T> {
    depth: usize,
    /// By (pts, arrival) so equal PTS keep their arrival order.
    held: BTreeMap<(i64, u64), T>,
    arrivals: u64,
    newest_dts: Option<i64>,
    dts_trusted: bool,
}

impl<T> ReorderBuffer<T> {
    pub fn new(depth: usize) -> Self {
        ReorderBuffer {
            depth,
            held: BTreeMap::new(),
            arrivals: 0,
            newest_dts: None,
            dts_trusted: true,
        }
    }

    /// A new SPS may change the depth; held pictures stay.
    pub fn set_depth(&mut self, depth: usize) {
        self.depth = depth;
    }

    /// The most pictures this buffer holds back before releasing one.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The timestamps of a packet about to be decoded.
    pub fn note_packet(&mut self, pts: i64, dts: i64) {
        if pts == NO_TIMESTAMP || dts == NO_TIMESTAMP || !self.dts_trusted {
            return;
        }
        if dts > pts || self.newest_dts.is_some_and(|newest| dts < newest) {
            self.dts_trusted = false;
            self.newest_dts = None;
            return;
        }
        self.newest_dts = Some(dts);
    }

    pub fn push(&mut self, pts: i64, item: T) {
        self.held.insert((pts, self.arrivals), item);
        self.arrivals += 1;
    }

    /// Appends, earliest first, every picture that may leave now.
    pub fn release(&mut self, out: &mut Vec<T>) {
        while let Some((&(pts, _), _)) = self.held.first_key_value() {
            let passed = self.newest_dts.is_some_and(|dts| pts <= dts);
            if self.held.len() <= self.depth && !passed {
                break;
            }
            if let Some((_, item)) = self.held.pop_first() {
                out.push(item);
            }
        }
    }

    /// End of stream (or of a session): everything, earliest first.
    pub fn release_all(&mut self, out: &mut Vec<T>) {
        while let Some((_, item)) = self.held.pop_first() {
            out.push(item);
        }
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

// ---- Decoder: packets and parameter sets ----

/// Only packets with a slice carry a picture. Parameter-set-only or SEI-only packets (which
/// some muxers and the original client send) are not submitted: VideoToolbox has nothing to
/// decode in them and may answer with an error.
pub fn packet_has_picture(codec: Codec, access_unit: &[u8]) -> bool {
    nal::access_unit_has_vcl(codec, access_unit)
}

/// Merges the parameter sets a packet carries into those known: by type and id, so a
/// packet that repeats only a PPS changes nothing.
pub fn merge_in_band(known: &mut ParameterSets, codec: Codec, access_unit: &[u8]) -> MergeOutcome {
    known.merge(annexb::nal_units(access_unit).filter(|n| nal::is_parameter_set(codec, n)))
}

/// Whether a running decoder keeps its session for a changed parameter-set list: only when
/// VideoToolbox says it can accept the new format description
/// (`VTDecompressionSessionCanAcceptFormatDescription`, as FFmpeg asks) and the output
/// pixel format, chosen at session creation from the range, stays right.
pub fn keep_session_for_new_parameter_sets(
    can_accept: bool,
    full_range_before: bool,
    full_range_after: bool,
) -> bool {
    can_accept && full_range_before == full_range_after
}

/// Full-range output ('420f'/'xf20') when the stream says so: the SPS's
/// video_full_range_flag, else CoreMedia's `kCMFormatDescriptionExtension_FullRangeVideo`
/// (which it derives from the same flag). Video range otherwise, as FFmpeg's default.
pub fn decoder_full_range(sps_flag: Option<bool>, format_extension: Option<bool>) -> bool {
    sps_flag.or(format_extension).unwrap_or(false)
}

// ---- Decoder: fitting a decoded plane to the configured geometry ----

/// Bytes of picture (not alignment padding) in one row of a decoded plane that is
/// `plane_width` samples wide (`CVPixelBufferGetWidthOfPlane`): NV12 luma one byte per
/// sample, the interleaved CbCr plane two; P010 twice those.
pub fn visible_row_bytes(pix_fmt: PixelFormat, plane: usize, plane_width: usize) -> usize {
    let per_sample = match pix_fmt {
        PixelFormat::Nv12 => 1,
        PixelFormat::P010 => 2,
    };
    let components = if plane == 0 { 1 } else { 2 };
    plane_width * per_sample * components
}

/// Black in one plane: Y 16 / 0 (video / full range), CbCr 128; P010 MSB-aligned 10-bit
/// little-endian words.
pub fn black(pix_fmt: PixelFormat, plane: usize, full_range: bool) -> &'static [u8] {
    match (pix_fmt, plane, full_range) {
        (PixelFormat::Nv12, 0, false) => &[16],
        (PixelFormat::Nv12, 0, true) => &[0],
        (PixelFormat::Nv12, _, _) => &[128],
        (PixelFormat::P010, 0, false) => &[0x00, 0x10],
        (PixelFormat::P010, 0, true) => &[0x00, 0x00],
        (PixelFormat::P010, _, _) => &[0x00, 0x80],
    }
}

/// One decoded plane as CoreVideo lays it out.
#[derive(Debug, Clone, Copy)]
pub struct DecodedPlane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub rows: usize,
    /// Bytes of picture per row ([`visible_row_bytes`]); the rest of the stride is padding.
    pub visible_row_bytes: usize,
}

/// The plane as a tightly packed plane of exactly `geometry`: cropped where the decoded
/// picture is larger, black where it is smaller — including to the right of a narrower
/// picture, where CoreVideo's row padding (garbage) would otherwise show (design.md: the
/// original client trusts the configured geometry).
pub fn fit_plane(
    geometry: &FrameGeometry,
    plane: usize,
    full_range: bool,
    src: DecodedPlane<'_>,
) -> Vec<u8> {
    let (row_bytes, rows) = (geometry.row_bytes(plane), geometry.plane_rows(plane));
    let fill = black(geometry.pix_fmt, plane, full_range);
    let mut out = fill.repeat(row_bytes * rows / fill.len());
    let copy = row_bytes.min(src.visible_row_bytes).min(src.stride);
    for row in 0..rows.min(src.rows) {
        let start = row * src.stride;
        let Some(line) = src.data.get(start..start + copy) else {
            break;
        };
        out[row * row_bytes..row * row_bytes + copy].copy_from_slice(line);
    }
    out
}

// ---- Encoder: delay budget and DTS ----

/// MaxFrameDelayCount of the original server; more adds delay without throughput.
pub const MAX_FRAME_DELAY_COUNT: u32 = 8;

/// The reorder depth VideoToolbox's encoder may use without saying so: Apple Silicon H.264
/// and HEVC use b-pyramids (depth 2, videotoolbox.md §5 step 7). Too large only delays the
/// DTS timeline; too small gives DTS > PTS, which muxers reject.
pub const ASSUMED_ENCODER_REORDER_DEPTH: u32 = 2;

/// Packets the DTS tracker holds at the start: 0 without reordering, otherwise the SPS's
/// reorder depth but never below [`ASSUMED_ENCODER_REORDER_DEPTH`], because an SPS that
/// under-reports its B-pyramid would otherwise produce DTS > PTS.
pub fn encoder_dts_depth(reordering: bool, sps_reorder_depth: Option<u32>) -> usize {
    if !reordering {
        return 0;
    }
    let depth = sps_reorder_depth
        .unwrap_or(0)
        .max(ASSUMED_ENCODER_REORDER_DEPTH);
    (depth as usize).min(MAX_REORDER_DEPTH)
}

/// How the frames the encoder may hold (`EncoderConfig::max_delay_frames`, the client's
/// window − 1) are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelaySplit {
    /// `kVTCompressionPropertyKey_MaxFrameDelayCount` M: before EncodeFrame for frame N
    /// returns, frame N − M has been emitted, so VideoToolbox holds at most M frames.
    pub max_frame_delay_count: u32,
    /// What the DTS tracker holds at the start of the stream, on top of those M.
    pub dts_depth: usize,
    /// B-frames stay on (AllowFrameReordering).
    pub frame_reordering: bool,
}

/// Splits `budget` so that VideoToolbox and the DTS tracker together never hold more:
/// M = budget − D, as the libavcodec backend counts its B-frame delay. Reordering needs
/// M ≥ 1 (VideoToolbox holds a B-frame until the picture after it has been coded); when the
/// budget leaves no room for that, B-frames go off and all of it is VideoToolbox's. Holding
/// the client's whole window means the client waits for a packet while the daemon waits for
/// a frame.
pub fn split_delay(budget: u32, reordering: bool, sps_reorder_depth: Option<u32>) -> DelaySplit {
    if reordering {
        let depth = encoder_dts_depth(true, sps_reorder_depth);
        let room = (budget as usize).saturating_sub(depth);
        if room >= 1 {
            return DelaySplit {
                max_frame_delay_count: (room as u32).min(MAX_FRAME_DELAY_COUNT),
                dts_depth: depth,
                frame_reordering: true,
            };
        }
    }
    DelaySplit {
        max_frame_delay_count: budget.min(MAX_FRAME_DELAY_COUNT),
        dts_depth: 0,
        frame_reordering: false,
    }
}

/// After the warm-up session showed the real SPS, whether the throwaway encode must be
/// repeated: only when B-frames had to go (the parameter sets may differ); a different
/// MaxFrameDelayCount alone is just set on the live session.
pub fn needs_new_warm_up(assumed: DelaySplit, known: DelaySplit) -> bool {
    assumed.frame_reordering != known.frame_reordering
}

// ---- Encoder: from VideoToolbox's samples to packets ----

/// What happens to encoder output after the callback: A53 captions inserted, DTS assigned,
/// lost pictures counted. Every sample is handled on its own, so one bad sample never takes
/// the others with it.
#[derive(Debug)]
pub struct EncodedOutputs {
    /// (keyframe, Annex B data, duration) by PTS, in decode order.
    dts: DtsTracker<(bool, Vec<u8>, i64)>,
    /// VideoToolbox takes no caption input, so A53 SEI goes into the output access units
    /// (as FFmpeg's own videotoolboxenc does). `None` when the client said a53_cc=0.
    captions: Option<CaptionQueue>,
    warned_captions: bool,
    drops: DropLog,
}

impl EncodedOutputs {
    /// `frame_duration`: ticks per frame (0 when unknown), spacing the first DTS values.
    pub fn new(dts_depth: usize, frame_duration: i64, captions: Option<CaptionQueue>) -> Self {
        EncodedOutputs {
            dts: DtsTracker::new(dts_depth).with_frame_duration(frame_duration),
            captions,
            warned_captions: false,
            drops: DropLog::default(),
        }
    }

    /// The captions of the picture submitted with `pts`.
    pub fn remember_captions(&mut self, pts: i64, cc_data: Option<&[u8]>) {
        if let (Some(q), Some(cc)) = (&mut self.captions, cc_data) {
            q.remember(pts, cc);
        }
    }

    /// A picture that produced no packet. Logged once per cause.
    pub fn drop_picture(&mut self, cause: DropCause) {
        if self.drops.note(cause) {
            tracing::warn!(
                "VideoToolbox encoder: lost a picture ({cause}); encoding goes on, further losses are counted in the SUMMARY line"
            );
        }
    }

    /// One encoded sample, in decode order. Without a numeric PTS it cannot be timed and
    /// is dropped; captions that cannot be inserted are left out, never the picture.
    pub fn push(&mut self, pts: Option<i64>, duration: i64, keyframe: bool, data: Vec<u8>) {
        let Some(pts) = pts else {
            self.drop_picture(DropCause::NoTimestamp);
            return;
        };
        let data = match &mut self.captions {
            Some(q) => {
                let (data, error) = q.apply_or_pass(pts, data);
                if let Some(e) = error.filter(|_| !self.warned_captions) {
                    self.warned_captions = true;
                    tracing::warn!(
                        "VideoToolbox encoder: A53 captions of the frame at pts {pts} left out: {e}"
                    );
                }
                data
            }
            None => data,
        };
        self.dts.push(pts, (keyframe, data, duration));
    }

    /// Appends the packets whose DTS is known (`finish`: all of them, end of stream).
    pub fn pop_into(&mut self, out: &mut Vec<EncodedPacket>, finish: bool) {
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
    }

    pub fn dropped(&self) -> u64 {
        self.drops.count()
    }

    /// Packets that got DTS > PTS (VideoToolbox reordered deeper than assumed).
    pub fn late_violations(&self) -> u64 {
        self.dts.late_violations()
    }
}

// ---- Encoder: parameter sets and extradata ----

/// At most this many parameter sets are read from one format description when its count
/// query fails: H.264 allows 32 SPS + 256 PPS + 32 SPS extensions.
pub const MAX_PARAMETER_SETS: usize = 320;

/// Reads every parameter set of a format description through `get(index)`. `count` is
/// what the count query answered, `None` when it failed: then, as FFmpeg's
/// `get_params_size` does, indices are read from 0 until one fails; at least one must
/// succeed.
pub fn collect_parameter_sets<E>(
    count: Option<usize>,
    mut get: impl FnMut(usize) -> Result<Vec<u8>, E>,
) -> Result<Vec<Vec<u8>>, E> {
    match count {
        Some(n) => (0..n).map(get).collect(),
        None => {
            let mut out = Vec::new();
            for index in 0..MAX_PARAMETER_SETS {
                match get(index) {
                    Ok(nal) => out.push(nal),
                    Err(e) if index == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            Ok(out)
        }
    }
}

/// The encoder repeats its parameter sets in-band in front of every keyframe: Annex B
/// consumers (MPEG-TS, a client whose muxer ignores extradata) need them
/// (videotoolbox.md §6). The published record must say so.
pub const PARAMETER_SETS_IN_BAND: bool = true;

/// The extradata the encoder publishes: VideoToolbox's own avcC/hvcC atom when it has a
/// usable one (it keeps SEI arrays a record rebuilt from parameter sets loses), else one
/// built from the Annex B parameter sets; either way with hvcC's array_completeness saying
/// that the parameter sets also come in-band (ISO/IEC 14496-15 §8.3.3.1.2).
pub fn encoder_extradata(
    codec: Codec,
    atom: Option<&[u8]>,
    annexb_parameter_sets: &[u8],
) -> Result<Vec<u8>, MediaError> {
    if let Some(record) = atom.filter(|a| !a.is_empty()) {
        if let Ok(built) = extradata::record_for_stream(codec, record, PARAMETER_SETS_IN_BAND) {
            return Ok(built);
        }
    }
    extradata::record_for_stream(codec, annexb_parameter_sets, PARAMETER_SETS_IN_BAND)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_media::dts::DtsTracker;
    use vtremote_media::hvcc::HevcDecoderConfig;
    use vtremote_media::sps::stream_info_from_sps;

    #[test]
    fn status_constants_carry_the_names_apple_gives_them() {
        for (code, name) in [
            (INVALID_SESSION, "kVTInvalidSessionErr"),
            (DECODER_BAD_DATA, "kVTVideoDecoderBadDataErr"),
            (DECODER_MALFUNCTION, "kVTVideoDecoderMalfunctionErr"),
            (ENCODER_MALFUNCTION, "kVTVideoEncoderMalfunctionErr"),
            (
                FORMAT_CHANGE_NOT_SUPPORTED,
                "kVTFormatDescriptionChangeNotSupportedErr",
            ),
            (SESSION_MALFUNCTION, "kVTSessionMalfunctionErr"),
            (
                DECODER_REFERENCE_MISSING,
                "kVTVideoDecoderReferenceMissingErr",
            ),
        ] {
            assert_eq!(osstatus::lookup(code).map(|s| s.name), Some(name));
        }
    }

    // ---- Defect 1: decode errors ----

    #[test]
    fn reference_missing_and_bad_data_drop_the_picture_not_the_session() {
        assert_eq!(
            decode_status_action(DECODER_REFERENCE_MISSING),
            StatusAction::DropPicture
        );
        assert_eq!(
            decode_status_action(DECODER_BAD_DATA),
            StatusAction::DropPicture
        );
    }

    #[test]
    fn session_level_decode_failures_recreate_the_session() {
        for status in [INVALID_SESSION, DECODER_MALFUNCTION, SESSION_MALFUNCTION] {
            assert_eq!(
                decode_status_action(status),
                StatusAction::RecreateSession,
                "{status}"
            );
        }
    }

    #[test]
    fn failures_that_would_repeat_on_every_packet_end_the_session() {
        // Unsupported format, no decoder, out of memory, hardware busy, unknown.
        for status in [-12910, -12906, -12904, -12913, -1] {
            assert_eq!(decode_status_action(status), StatusAction::Fail, "{status}");
        }
    }

    #[test]
    fn a_mid_gop_start_loses_pictures_until_the_keyframe_and_logs_once() {
        // A stream joined mid-GOP: every picture before the next IDR references a missing
        // one. The session survives all of them and the log has one line per status.
        let mut log = DropLog::default();
        let mut lines = 0;
        let mut fatal = 0;
        for status in [DECODER_REFERENCE_MISSING; 30]
            .into_iter()
            .chain([DECODER_BAD_DATA; 3])
        {
            match decode_status_action(status) {
                StatusAction::DropPicture => {
                    lines += usize::from(log.note(DropCause::Status(status)))
                }
                _ => fatal += 1,
            }
        }
        assert_eq!((fatal, lines, log.count()), (0, 2, 33));
    }

    #[test]
    fn recreation_gives_up_when_the_new_session_dies_at_once() {
        let mut budget = RecreateBudget::default();
        for _ in 0..MAX_RECREATIONS_IN_A_ROW {
            assert!(budget.try_recreate());
        }
        assert!(!budget.try_recreate());
        budget.succeeded();
        assert!(budget.try_recreate());
    }

    // ---- Defect 9: encoder robustness ----

    #[test]
    fn an_invalidated_encoder_session_is_recreated_and_other_errors_end_it() {
        assert_eq!(
            encode_status_action(INVALID_SESSION),
            StatusAction::RecreateSession
        );
        assert_eq!(
            encode_status_action(ENCODER_MALFUNCTION),
            StatusAction::RecreateSession
        );
        assert_eq!(encode_status_action(-12902), StatusAction::Fail);
    }

    #[test]
    fn a_sample_whose_data_is_not_ready_is_dropped_not_fatal() {
        assert_eq!(
            encoder_output(false, true, false),
            EncoderOutput::DropPicture
        );
        assert_eq!(encoder_output(false, true, true), EncoderOutput::Packet);
        assert_eq!(encoder_output(true, true, true), EncoderOutput::Nothing);
        assert_eq!(encoder_output(false, false, false), EncoderOutput::Nothing);
    }

    #[test]
    fn one_sample_without_a_timestamp_costs_only_itself() {
        let mut outputs = EncodedOutputs::new(0, 0, None);
        outputs.push(Some(0), 1, true, vec![1]);
        outputs.push(None, 1, false, vec![2]);
        outputs.push(Some(2), 1, false, vec![3]);
        let mut out = Vec::new();
        outputs.pop_into(&mut out, true);
        let data: Vec<Vec<u8>> = out.into_iter().map(|p| p.data).collect();
        assert_eq!(data, [vec![1], vec![3]]);
        assert_eq!(outputs.dropped(), 1);
    }

    #[test]
    fn malformed_captions_never_cost_the_packet() {
        let mut outputs = EncodedOutputs::new(0, 0, Some(CaptionQueue::new(Codec::H264)));
        outputs.remember_captions(0, Some(&[1, 2]));
        outputs.push(Some(0), 1, true, vec![0, 0, 0, 1, 0x65, 0x88]);
        let mut out = Vec::new();
        outputs.pop_into(&mut out, true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, [0, 0, 0, 1, 0x65, 0x88]);
        assert_eq!(outputs.dropped(), 0);
    }

    #[test]
    fn a_failing_count_query_falls_back_to_reading_indices() {
        let sets = [vec![0x67, 1], vec![0x68, 2]];
        let get = |i: usize| sets.get(i).cloned().ok_or(-12718);
        assert_eq!(collect_parameter_sets(None, get), Ok(sets.to_vec()));
        assert_eq!(collect_parameter_sets(Some(2), get), Ok(sets.to_vec()));
        // With a count, a failing index is an error; without one, index 0 must work.
        assert_eq!(collect_parameter_sets(Some(3), get), Err(-12718));
        let none = |_: usize| Err::<Vec<u8>, i32>(-12718);
        assert_eq!(collect_parameter_sets(None, none), Err(-12718));
    }

    // ---- Defect 2: reorder depth and release ----

    /// Main, level 3.1, 1280x720, no VUI (see vtremote-media's sps tests).
    const MAIN_720P_WITHOUT_VUI: &[u8] =
        &[0x67, 0x4D, 0x40, 0x1F, 0xEC, 0xA0, 0x28, 0x02, 0xDC, 0x80];
    const MAIN_720P_POC_TYPE_2: &[u8] = &[0x67, 0x4D, 0x40, 0x1F, 0xD9, 0x40, 0x50, 0x05, 0xB9];
    const CONSTRAINED_HIGH_720P: &[u8] =
        &[0x67, 0x64, 0x0C, 0x1F, 0xAC, 0xD9, 0x40, 0x50, 0x05, 0xB9];

    fn depth_of(sps: &[u8]) -> usize {
        decoder_reorder_depth(&stream_info_from_sps(Codec::H264, sps).unwrap())
    }

    #[test]
    fn an_sps_without_vui_reorder_info_is_not_held_sixteen_deep() {
        // MaxDpbFrames for 720p at level 3.1.
        assert_eq!(depth_of(MAIN_720P_WITHOUT_VUI), 5);
    }

    #[test]
    fn poc_type_2_and_b_less_profiles_are_not_held_at_all() {
        assert_eq!(depth_of(MAIN_720P_POC_TYPE_2), 0);
        assert_eq!(depth_of(CONSTRAINED_HIGH_720P), 0);
    }

    /// Decodes `packets` (pts, dts) synchronously, one picture per packet, and returns
    /// after each packet the pictures the client got.
    fn decode(depth: usize, packets: &[(i64, i64)]) -> Vec<Vec<i64>> {
        let mut buffer = ReorderBuffer::new(depth);
        let mut answers = Vec::new();
        for &(pts, dts) in packets {
            buffer.note_packet(pts, dts);
            buffer.push(pts, pts);
            let mut out = Vec::new();
            buffer.release(&mut out);
            answers.push(out);
        }
        let mut rest = Vec::new();
        buffer.release_all(&mut rest);
        answers.push(rest);
        answers
    }

    #[test]
    fn a_lock_step_client_gets_each_picture_of_a_p_only_stream_at_once() {
        // No VUI: depth 5 (or 16 before), but DTS = PTS says nothing can come earlier.
        let packets: Vec<(i64, i64)> = (0..8).map(|i| (i * 10, i * 10)).collect();
        let answers = decode(depth_of(MAIN_720P_WITHOUT_VUI), &packets);
        for (i, got) in answers[..8].iter().enumerate() {
            assert_eq!(got, &[i as i64 * 10], "packet {i}");
        }
    }

    #[test]
    fn frames_leave_once_the_newest_dts_reaches_their_pts() {
        // I0 P3 B1 B2 P6 B4 B5 with real DTS (-1, 0, 1, …), depth unknown (16).
        let packets = [(0, -1), (3, 0), (1, 1), (2, 2), (6, 3), (4, 4), (5, 5)];
        let answers = decode(MAX_REORDER_DEPTH, &packets);
        let flat: Vec<i64> = answers.concat();
        assert_eq!(flat, [0, 1, 2, 3, 4, 5, 6], "display order");
        assert_eq!(answers[1], [0], "I0 leaves with the packet whose DTS is 0");
        assert_eq!(answers[3], [2], "B2 at DTS 2");
        assert_eq!(answers[7], [6], "only the last one waits for the flush");
    }

    #[test]
    fn implausible_dts_falls_back_to_the_depth() {
        // DTS above PTS: not a decode timeline. Depth 2 still orders the stream.
        let packets = [(0, 5), (3, 6), (1, 7), (2, 8), (6, 9), (4, 10), (5, 11)];
        let answers = decode(2, &packets);
        assert_eq!(answers.concat(), [0, 1, 2, 3, 4, 5, 6]);
        assert!(answers[0].is_empty() && answers[1].is_empty());
        // Decreasing DTS, and missing DTS, leave the depth in charge too.
        let mut b = ReorderBuffer::new(1);
        b.note_packet(10, 5);
        b.note_packet(11, 4);
        b.push(20, 20);
        let mut out = Vec::new();
        b.release(&mut out);
        assert!(out.is_empty());
        let mut c = ReorderBuffer::new(1);
        c.note_packet(NO_TIMESTAMP, NO_TIMESTAMP);
        c.push(0, 0);
        c.release(&mut out);
        assert!(out.is_empty());
    }

    // ---- Defect 3: delay budget ----

    /// Lock-step model of the deadlock: the client submits until it has `window` frames
    /// without a packet back; VideoToolbox emits frame N − M when frame N is submitted; the
    /// DTS tracker releases what it can. True when the client would wait for a packet
    /// while the daemon waits for a frame.
    fn stalls(window: u32, split: DelaySplit) -> bool {
        let mut tracker = DtsTracker::new(split.dts_depth);
        let (mut emitted, mut released) = (0u64, 0u64);
        for n in 0..64u64 {
            if n - released >= u64::from(window) {
                return true;
            }
            // Frame n submitted; VideoToolbox has emitted everything up to n − M.
            while emitted + u64::from(split.max_frame_delay_count) <= n {
                tracker.push(emitted as i64, ());
                emitted += 1;
            }
            while tracker.pop().is_some() {
                released += 1;
            }
        }
        false
    }

    #[test]
    fn b_frames_with_a_small_client_window_do_not_deadlock() {
        for window in 2..=17u32 {
            // session.rs: the encoder may hold window − 1 frames, at most 8.
            let budget = (window - 1).min(MAX_FRAME_DELAY_COUNT);
            for sps_depth in [None, Some(1), Some(2), Some(3)] {
                let split = split_delay(budget, true, sps_depth);
                assert!(
                    split.max_frame_delay_count as usize + split.dts_depth <= budget as usize,
                    "window {window}: {split:?}"
                );
                assert!(!stalls(window, split), "window {window}: {split:?}");
            }
        }
    }

    #[test]
    fn b_frames_take_their_depth_out_of_the_budget_or_go_off() {
        // The original client (budget 4): VideoToolbox 2, DTS tracker 2.
        assert_eq!(
            split_delay(4, true, None),
            DelaySplit {
                max_frame_delay_count: 2,
                dts_depth: 2,
                frame_reordering: true
            }
        );
        assert_eq!(split_delay(8, true, Some(3)).max_frame_delay_count, 5);
        // Window 3: no room for reordering at all.
        assert_eq!(
            split_delay(2, true, None),
            DelaySplit {
                max_frame_delay_count: 2,
                dts_depth: 0,
                frame_reordering: false
            }
        );
        assert_eq!(split_delay(16, false, None).max_frame_delay_count, 8);
        assert!(!needs_new_warm_up(
            split_delay(8, true, None),
            split_delay(8, true, Some(3))
        ));
        assert!(needs_new_warm_up(
            split_delay(3, true, None),
            split_delay(3, true, Some(3))
        ));
    }

    // ---- Defect 6: DTS depth ----

    #[test]
    fn dts_depth_is_at_least_two_when_reordering_even_if_the_sps_says_one() {
        assert_eq!(encoder_dts_depth(true, Some(1)), 2);
        assert_eq!(encoder_dts_depth(true, None), 2);
        assert_eq!(encoder_dts_depth(true, Some(4)), 4);
        assert_eq!(encoder_dts_depth(false, Some(4)), 0);
    }

    #[test]
    fn an_under_reported_b_pyramid_still_gets_dts_at_or_below_pts() {
        // A b-pyramid (depth 2) in decode order while the SPS claims 1.
        let pts = [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11];
        let mut tracker = DtsTracker::new(encoder_dts_depth(true, Some(1)));
        let mut out = Vec::new();
        for &p in &pts {
            tracker.push(p, ());
            while let Some(p) = tracker.pop() {
                out.push((p.pts, p.dts));
            }
        }
        while let Some(p) = tracker.flush() {
            out.push((p.pts, p.dts));
        }
        assert_eq!(tracker.late_violations(), 0, "{out:?}");
        assert!(out.iter().all(|&(pts, dts)| dts <= pts), "{out:?}");
    }

    // ---- Defect 4: range ----

    #[test]
    fn full_range_streams_are_decoded_to_full_range_buffers() {
        assert!(decoder_full_range(Some(true), None));
        assert!(decoder_full_range(None, Some(true)));
        assert!(!decoder_full_range(Some(false), Some(true)), "the SPS wins");
        assert!(!decoder_full_range(None, None));
        assert!(!keep_session_for_new_parameter_sets(true, false, true));
        assert!(keep_session_for_new_parameter_sets(true, true, true));
        assert!(!keep_session_for_new_parameter_sets(false, true, true));
    }

    // ---- Defects 5 and 7: packets and parameter sets ----

    const SPS: &[u8] = &[
        0x67, 0x42, 0xC0, 0x0A, 0xD9, 0x04, 0x26, 0xC0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00,
        0x00, 0x03, 0x00, 0xC8, 0x3C, 0x48, 0x99, 0x20,
    ];
    const PPS: &[u8] = &[0x68, 0xCE, 0x3C, 0x80];

    fn annexb(units: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        annexb::write_annexb(&mut out, units.iter().copied());
        out
    }

    #[test]
    fn a_packet_repeating_only_the_pps_keeps_the_decoder_running() {
        let mut known = ParameterSets::new(Codec::H264);
        known.merge([SPS, PPS]);
        let packet = annexb(&[PPS, &[0x41, 0x9A, 0x02]]);
        let outcome = merge_in_band(&mut known, Codec::H264, &packet);
        assert!(!outcome.changed);
        assert!(known.is_complete(), "the SPS is still known");
        // A new PPS id is a change, and the set stays complete.
        let outcome = merge_in_band(
            &mut known,
            Codec::H264,
            &annexb(&[&[0x68, 0x5E, 0x3C, 0x80]]),
        );
        assert!(outcome.changed && known.is_complete());
    }

    #[test]
    fn packets_without_a_slice_are_not_decoded() {
        assert!(!packet_has_picture(Codec::H264, &annexb(&[SPS, PPS])));
        assert!(!packet_has_picture(
            Codec::H264,
            &annexb(&[&[0x06, 0x05, 0x01]])
        ));
        assert!(!packet_has_picture(Codec::H264, &annexb(&[&[0x09, 0xF0]])));
        assert!(packet_has_picture(
            Codec::H264,
            &annexb(&[SPS, PPS, &[0x65, 0x88]])
        ));
        assert!(!packet_has_picture(
            Codec::Hevc,
            &annexb(&[&[0x4E, 0x01, 0x05]])
        ));
    }

    // ---- Defect 10: padding ----

    #[test]
    fn a_narrower_picture_is_padded_with_black_not_row_padding() {
        // 40 visible luma bytes in 64-byte rows whose padding holds garbage (0xEE); the
        // client configured 48 wide.
        let geometry = FrameGeometry::new(48, 4, PixelFormat::Nv12).unwrap();
        let mut data = vec![0xEE; 64 * 4];
        for row in 0..4 {
            data[row * 64..row * 64 + 40].fill(100);
        }
        let src = DecodedPlane {
            data: &data,
            stride: 64,
            rows: 4,
            visible_row_bytes: visible_row_bytes(PixelFormat::Nv12, 0, 40),
        };
        let out = fit_plane(&geometry, 0, false, src);
        assert_eq!(out.len(), 48 * 4);
        for row in out.chunks(48) {
            assert!(row[..40].iter().all(|&b| b == 100));
            assert!(row[40..].iter().all(|&b| b == 16), "{row:?}");
        }
        let full = fit_plane(&geometry, 0, true, src);
        assert_eq!(full[47], 0, "full-range black");
    }

    #[test]
    fn a_larger_picture_is_cropped_and_a_short_buffer_is_not_overread() {
        let geometry = FrameGeometry::new(4, 2, PixelFormat::P010).unwrap();
        let data = [7u8; 16 * 3];
        let src = DecodedPlane {
            data: &data[..16 * 2 + 4],
            stride: 16,
            rows: 3,
            visible_row_bytes: visible_row_bytes(PixelFormat::P010, 0, 8),
        };
        let out = fit_plane(&geometry, 0, false, src);
        assert_eq!(out, vec![7u8; 8 * 2]);
        assert_eq!(visible_row_bytes(PixelFormat::P010, 1, 2), 8);
    }

    // ---- Defect 8: extradata ----

    #[test]
    fn published_hvcc_says_the_parameter_sets_also_come_in_band() {
        let record =
            include_bytes!("../../../../vtremote-media/tests/fixtures/hevc_320x240_main10.hvcC");
        let parsed = HevcDecoderConfig::parse(record).unwrap();
        let annexb_ps = parsed.to_annexb();
        // Built from parameter sets, and taken from the encoder's own atom.
        for atom in [None, Some(&record[..])] {
            let out = encoder_extradata(Codec::Hevc, atom, &annexb_ps).unwrap();
            let out = HevcDecoderConfig::parse(&out).unwrap();
            assert!(out.arrays.iter().all(|a| !a.completeness), "{atom:?}");
        }
    }

    #[test]
    fn the_encoders_own_hvcc_keeps_its_sei_array() {
        let record =
            include_bytes!("../../../../vtremote-media/tests/fixtures/hevc_320x240_main10.hvcC");
        let mut with_sei = HevcDecoderConfig::parse(record).unwrap();
        let annexb_ps = with_sei.to_annexb();
        with_sei.arrays.push(vtremote_media::hvcc::HvccArray {
            completeness: false,
            nal_type: nal::hevc::PREFIX_SEI,
            nal_units: vec![vec![0x4E, 0x01, 0x05, 0x01, 0x80]],
        });
        let atom = with_sei.to_bytes().unwrap();
        let out = encoder_extradata(Codec::Hevc, Some(&atom), &annexb_ps).unwrap();
        let out = HevcDecoderConfig::parse(&out).unwrap();
        assert!(out
            .arrays
            .iter()
            .any(|a| a.nal_type == nal::hevc::PREFIX_SEI));
        // An unusable atom falls back to the parameter sets.
        let fallback = encoder_extradata(Codec::Hevc, Some(&[1, 2, 3]), &annexb_ps).unwrap();
        assert_eq!(HevcDecoderConfig::parse(&fallback).unwrap().arrays.len(), 3);
    }
}
