//! Just enough of the H.264 and HEVC sequence parameter sets to learn the picture size,
//! bit depth, chroma format, profile and level, plus what a decoder configuration record
//! needs (HEVC profile_tier_level), the reorder depth a decoder must buffer and the VUI's
//! video_full_range_flag.

use crate::bits::{nal_to_rbsp, BitReader};
use crate::error::{MediaError, Result};
use crate::nal::{h264, hevc};
use crate::{annexb, extradata, Codec};

/// Largest width or height we accept. Level 6.2 of both codecs stays below 8192×4320 for
/// useful frame rates; 16384 leaves headroom while keeping every product far from overflow.
pub const MAX_DIMENSION: u32 = 16384;

/// What a stream's SPS says about its pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// Display width: the coded width minus frame cropping / conformance window.
    pub width: u32,
    /// Display height: the coded height minus frame cropping / conformance window.
    pub height: u32,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    /// H.264 `profile_idc` or HEVC `general_profile_idc`.
    pub profile_idc: u8,
    /// H.264 `level_idc` (level × 10) or HEVC `general_level_idc` (level × 30).
    pub level_idc: u8,
    /// Frames a decoder may have to hold to output display order, when the SPS says
    /// (H.264 VUI `max_num_reorder_frames`, HEVC `sps_max_num_reorder_pics`). See
    /// [`StreamInfo::reorder_depth`] for the value to use when it does not.
    pub max_num_reorder_frames: Option<u32>,
    pub codec: Codec,
    /// H.264 `pic_order_cnt_type` (0 for HEVC, which has no such field).
    pub pic_order_cnt_type: u8,
    /// H.264 constraint_set0..5 flags as in the SPS byte, set0 in the top bit (0 for HEVC).
    pub constraint_flags: u8,
    /// The most pictures the decoded picture buffer holds: H.264 MaxDpbFrames for the level
    /// and picture size (Annex A.3.1 h, 16 for an unknown level), HEVC
    /// `sps_max_dec_pic_buffering_minus1 + 1` of the highest sub-layer.
    pub max_dpb_frames: u32,
    /// VUI `video_full_range_flag`: `Some(false)` also when the SPS does not signal it (the
    /// standard's inferred value), `None` when the VUI is damaged before that field.
    pub video_full_range: Option<bool>,
}

impl StreamInfo {
    /// Frames a decoder must hold back to put this stream in display order.
    ///
    /// The SPS value when it states one (always for HEVC). Otherwise, for H.264 (Annex E.2.1,
    /// `max_num_reorder_frames` semantics): 0 for the intra profiles (44, and 86/100/110/122/244
    /// with constraint_set3_flag), else MaxDpbFrames. Before that inference, three cases where
    /// the bitstream itself rules reordering out are answered with 0:
    /// - `pic_order_cnt_type` 2: picture order follows decoding order (§8.2.1.3);
    /// - Baseline (66): only I and P slices (A.2.1), so no picture waits for a later one;
    /// - Main, Extended or High with constraint_set5_flag: "B slice types are not present"
    ///   (§7.4.2.1.1; Constrained High sets it).
    ///
    /// Many Baseline/Main encoders (hardware ones especially) omit the VUI field, and 16
    /// frames of delay would stall a lock-step client on every one of them.
    pub fn reorder_depth(&self) -> u32 {
        if let Some(n) = self.max_num_reorder_frames {
            return n;
        }
        if self.codec != Codec::H264 {
            // HEVC always codes sps_max_num_reorder_pics; only a hand-made info lacks it.
            return self.max_dpb_frames;
        }
        let set3 = self.constraint_flags & 0x10 != 0;
        let set5 = self.constraint_flags & 0x04 != 0;
        let intra_profile = self.profile_idc == 44
            || (set3 && matches!(self.profile_idc, 86 | 100 | 110 | 122 | 244));
        let no_b_slices =
            self.profile_idc == 66 || (set5 && matches!(self.profile_idc, 77 | 88 | 100));
        if self.pic_order_cnt_type == 2 || intra_profile || no_b_slices {
            0
        } else {
            self.max_dpb_frames
        }
    }
}

/// (SubWidthC, SubHeightC) for a ChromaArrayType (H.264 Table 6-1, H.265 Table 6-1);
/// ChromaArrayType 0 (monochrome or separate planes) crops in luma units.
fn chroma_subsampling(chroma_array_type: u8) -> (u32, u32) {
    match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    }
}

fn check_dimension(r: &BitReader<'_>, field: &'static str, value: u64) -> Result<u32> {
    if value == 0 || value > u64::from(MAX_DIMENSION) {
        return Err(r.out_of_range(field, value, u64::from(MAX_DIMENSION)));
    }
    Ok(value as u32)
}

/// Applies a crop given in luma samples; the crop must leave at least one sample.
fn cropped(codec: &'static str, coded: (u32, u32), crop_x: u64, crop_y: u64) -> Result<(u32, u32)> {
    let too_large = || MediaError::CropTooLarge {
        codec,
        coded_w: coded.0,
        coded_h: coded.1,
        crop_w: u32::try_from(crop_x).unwrap_or(u32::MAX),
        crop_h: u32::try_from(crop_y).unwrap_or(u32::MAX),
    };
    if crop_x >= u64::from(coded.0) || crop_y >= u64::from(coded.1) {
        return Err(too_large());
    }
    Ok((coded.0 - crop_x as u32, coded.1 - crop_y as u32))
}

/// A parsed H.264 SPS (the fields this crate needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Sps {
    pub profile_idc: u8,
    /// constraint_set0..5 flags and the two reserved bits, as in the SPS byte.
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub seq_parameter_set_id: u32,
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub frame_mbs_only: bool,
    pub coded_width: u32,
    pub coded_height: u32,
    pub width: u32,
    pub height: u32,
    pub pic_order_cnt_type: u8,
    pub max_num_reorder_frames: Option<u32>,
    /// MaxDpbFrames (Annex A.3.1 h) for this level and picture size.
    pub max_dpb_frames: u32,
    pub video_full_range: Option<bool>,
}

/// MaxDpbMbs of H.264 Table A-1 by level_idc; level 1b is level_idc 9, or 11 with
/// constraint_set3_flag in the Baseline, Main and Extended profiles.
fn h264_max_dpb_mbs(profile_idc: u8, constraint_flags: u8, level_idc: u8) -> Option<u32> {
    let level_1b =
        level_idc == 11 && constraint_flags & 0x10 != 0 && matches!(profile_idc, 66 | 77 | 88);
    Some(match level_idc {
        9 | 10 => 396,
        11 if level_1b => 396,
        11 => 900,
        12 | 13 | 20 => 2376,
        21 => 4752,
        22 | 30 => 8100,
        31 => 18000,
        32 => 20480,
        40 | 41 => 32768,
        42 => 34816,
        50 => 110400,
        51 | 52 => 184320,
        60..=62 => 696320,
        _ => return None,
    })
}

/// MaxDpbFrames = Min(MaxDpbMbs / (PicWidthInMbs * FrameHeightInMbs), 16) (A.3.1 h, A.3.2 f);
/// an unknown level gets the DPB's absolute maximum.
fn h264_max_dpb_frames(sps_fields: (u8, u8, u8), coded_width: u32, coded_height: u32) -> u32 {
    let (profile_idc, constraint_flags, level_idc) = sps_fields;
    let frame_mbs = (coded_width / 16).max(1) * (coded_height / 16).max(1);
    h264_max_dpb_mbs(profile_idc, constraint_flags, level_idc)
        .map_or(16, |mbs| (mbs / frame_mbs).min(16))
}

/// What the VUI told us, as far as it could be read: a damaged VUI keeps the fields that
/// came before the damage.
#[derive(Debug, Default, Clone, Copy)]
struct Vui {
    full_range: Option<bool>,
    max_num_reorder_frames: Option<u32>,
}

/// The VUI fields both codecs share up to video_full_range_flag (H.264 E.1.1, H.265 E.2.1).
fn vui_signal_type(r: &mut BitReader<'_>, vui: &mut Vui) -> Result<()> {
    if r.bit("aspect_ratio_info_present_flag")? && r.bits(8, "aspect_ratio_idc")? == 255 {
        r.skip(32, "sar_width/sar_height")?;
    }
    if r.bit("overscan_info_present_flag")? {
        r.skip(1, "overscan_appropriate_flag")?;
    }
    if r.bit("video_signal_type_present_flag")? {
        r.skip(3, "video_format")?;
        vui.full_range = Some(r.bit("video_full_range_flag")?);
        if r.bit("colour_description_present_flag")? {
            r.skip(24, "colour_description")?;
        }
    } else {
        // Absent, video_full_range_flag is inferred 0 (E.2.1 of both standards).
        vui.full_range = Some(false);
    }
    Ok(())
}

/// Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists (H.264 §7.3.2.1.1).
fn h264_has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Skips one scaling_list() (H.264 §7.3.2.1.1.1); only delta_scale values are coded.
fn h264_skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<()> {
    let mut last: i64 = 8;
    let mut next: i64 = 8;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se("delta_scale")?;
            if !(-128..=127).contains(&delta) {
                return Err(r.out_of_range("delta_scale", delta.unsigned_abs(), 128));
            }
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Skips hrd_parameters() (H.264 Annex E.1.2).
fn h264_skip_hrd(r: &mut BitReader<'_>) -> Result<()> {
    let cpb_cnt = r.ue_max("cpb_cnt_minus1", 31)? + 1;
    r.skip(8, "bit_rate_scale/cpb_size_scale")?;
    for _ in 0..cpb_cnt {
        r.ue("bit_rate_value_minus1")?;
        r.ue("cpb_size_value_minus1")?;
        r.skip(1, "cbr_flag")?;
    }
    r.skip(20, "hrd delay lengths")
}

/// Reads the VUI up to max_num_reorder_frames (H.264 Annex E.1.1) into `vui`.
fn h264_vui(r: &mut BitReader<'_>, vui: &mut Vui) -> Result<()> {
    vui_signal_type(r, vui)?;
    if r.bit("chroma_loc_info_present_flag")? {
        r.ue("chroma_sample_loc_type_top_field")?;
        r.ue("chroma_sample_loc_type_bottom_field")?;
    }
    if r.bit("timing_info_present_flag")? {
        r.skip(65, "timing_info")?;
    }
    let nal_hrd = r.bit("nal_hrd_parameters_present_flag")?;
    if nal_hrd {
        h264_skip_hrd(r)?;
    }
    let vcl_hrd = r.bit("vcl_hrd_parameters_present_flag")?;
    if vcl_hrd {
        h264_skip_hrd(r)?;
    }
    if nal_hrd || vcl_hrd {
        r.skip(1, "low_delay_hrd_flag")?;
    }
    r.skip(1, "pic_struct_present_flag")?;
    if !r.bit("bitstream_restriction_flag")? {
        return Ok(());
    }
    r.skip(1, "motion_vectors_over_pic_boundaries_flag")?;
    r.ue("max_bytes_per_pic_denom")?;
    r.ue("max_bits_per_mb_denom")?;
    r.ue("log2_max_mv_length_horizontal")?;
    r.ue("log2_max_mv_length_vertical")?;
    // A DPB never holds more than 16 frames (H.264 Annex A.3.1 h).
    vui.max_num_reorder_frames = Some(r.ue_max("max_num_reorder_frames", 16)?);
    Ok(())
}

/// Parses an H.264 SPS NAL unit (header byte included, emulation prevention present).
pub fn parse_h264_sps(nal: &[u8]) -> Result<H264Sps> {
    const C: &str = "H.264";
    let Some((&header, payload)) = nal.split_first() else {
        return Err(MediaError::Truncated {
            what: "H.264 SPS NAL header",
            offset: 0,
            needed: 1,
            available: 0,
        });
    };
    if h264::nal_type(header) != h264::SPS {
        return Err(MediaError::UnexpectedNalType {
            context: "H.264 SPS",
            nal_type: h264::nal_type(header),
        });
    }
    let rbsp = nal_to_rbsp(payload);
    let r = &mut BitReader::new(&rbsp, C);
    let profile_idc = r.u8_bits(8, "profile_idc")?;
    let constraint_flags = r.u8_bits(8, "constraint_set_flags")?;
    let level_idc = r.u8_bits(8, "level_idc")?;
    let seq_parameter_set_id = r.ue_max("seq_parameter_set_id", 31)?;

    let (mut chroma_format_idc, mut separate_colour_plane) = (1u8, false);
    let (mut bit_depth_luma, mut bit_depth_chroma) = (8u8, 8u8);
    if h264_has_chroma_info(profile_idc) {
        chroma_format_idc = r.ue_max("chroma_format_idc", 3)? as u8;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit("separate_colour_plane_flag")?;
        }
        bit_depth_luma = 8 + r.ue_max("bit_depth_luma_minus8", 6)? as u8;
        bit_depth_chroma = 8 + r.ue_max("bit_depth_chroma_minus8", 6)? as u8;
        r.skip(1, "qpprime_y_zero_transform_bypass_flag")?;
        if r.bit("seq_scaling_matrix_present_flag")? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit("seq_scaling_list_present_flag")? {
                    h264_skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }

    r.ue_max("log2_max_frame_num_minus4", 12)?;
    let pic_order_cnt_type = r.ue_max("pic_order_cnt_type", 2)? as u8;
    match pic_order_cnt_type {
        0 => {
            r.ue_max("log2_max_pic_order_cnt_lsb_minus4", 12)?;
        }
        1 => {
            r.skip(1, "delta_pic_order_always_zero_flag")?;
            r.se("offset_for_non_ref_pic")?;
            r.se("offset_for_top_to_bottom_field")?;
            let cycle = r.ue_max("num_ref_frames_in_pic_order_cnt_cycle", 255)?;
            for _ in 0..cycle {
                r.se("offset_for_ref_frame")?;
            }
        }
        _ => {}
    }
    r.ue_max("max_num_ref_frames", 16)?;
    r.skip(1, "gaps_in_frame_num_value_allowed_flag")?;
    let width_mbs = u64::from(r.ue("pic_width_in_mbs_minus1")?) + 1;
    let height_map_units = u64::from(r.ue("pic_height_in_map_units_minus1")?) + 1;
    let frame_mbs_only = r.bit("frame_mbs_only_flag")?;
    if !frame_mbs_only {
        r.skip(1, "mb_adaptive_frame_field_flag")?;
    }
    r.skip(1, "direct_8x8_inference_flag")?;
    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let coded_width = check_dimension(r, "pic_width_in_mbs_minus1", width_mbs * 16)?;
    let coded_height = check_dimension(
        r,
        "pic_height_in_map_units_minus1",
        height_map_units * 16 * field_factor,
    )?;

    let (mut crop_x, mut crop_y) = (0u64, 0u64);
    if r.bit("frame_cropping_flag")? {
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (sub_w, sub_h) = chroma_subsampling(chroma_array_type);
        let unit_x = u64::from(sub_w);
        let unit_y = u64::from(sub_h) * field_factor;
        let left = u64::from(r.ue("frame_crop_left_offset")?);
        let right = u64::from(r.ue("frame_crop_right_offset")?);
        let top = u64::from(r.ue("frame_crop_top_offset")?);
        let bottom = u64::from(r.ue("frame_crop_bottom_offset")?);
        crop_x = (left + right) * unit_x;
        crop_y = (top + bottom) * unit_y;
    }
    let (width, height) = cropped(C, (coded_width, coded_height), crop_x, crop_y)?;

    // The VUI only adds the reorder depth and the range; an SPS whose VUI is cut short still
    // describes the picture, so its absence or damage is not fatal.
    let mut vui = Vui::default();
    match r.bit("vui_parameters_present_flag") {
        Ok(true) => {
            let _ = h264_vui(r, &mut vui);
        }
        // No VUI: video_full_range_flag is inferred 0.
        Ok(false) => vui.full_range = Some(false),
        Err(_) => {}
    }

    Ok(H264Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        seq_parameter_set_id,
        chroma_format_idc,
        separate_colour_plane,
        bit_depth_luma,
        bit_depth_chroma,
        frame_mbs_only,
        coded_width,
        coded_height,
        width,
        height,
        pic_order_cnt_type,
        max_num_reorder_frames: vui.max_num_reorder_frames,
        max_dpb_frames: h264_max_dpb_frames(
            (profile_idc, constraint_flags, level_idc),
            coded_width,
            coded_height,
        ),
        video_full_range: vui.full_range,
    })
}

/// HEVC general profile_tier_level fields (H.265 §7.3.3), as an hvcC record repeats them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HevcProfileTierLevel {
    pub profile_space: u8,
    pub tier_flag: bool,
    pub profile_idc: u8,
    pub profile_compatibility_flags: u32,
    /// The 48 bits from general_progressive_source_flag to general_inbld/reserved flag.
    pub constraint_indicator_flags: u64,
    pub level_idc: u8,
}

/// A parsed HEVC SPS (the fields this crate needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcSps {
    pub video_parameter_set_id: u8,
    pub max_sub_layers: u8,
    pub temporal_id_nesting: bool,
    pub profile_tier_level: HevcProfileTierLevel,
    pub seq_parameter_set_id: u32,
    pub chroma_format_idc: u8,
    pub separate_colour_plane: bool,
    pub coded_width: u32,
    pub coded_height: u32,
    pub width: u32,
    pub height: u32,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    pub max_num_reorder_pics: u32,
    /// sps_max_dec_pic_buffering_minus1 + 1 of the highest sub-layer.
    pub max_dec_pic_buffering: u32,
    pub video_full_range: Option<bool>,
}

pub(crate) fn hevc_profile_tier_level(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u8,
) -> Result<HevcProfileTierLevel> {
    let ptl = HevcProfileTierLevel {
        profile_space: r.u8_bits(2, "general_profile_space")?,
        tier_flag: r.bit("general_tier_flag")?,
        profile_idc: r.u8_bits(5, "general_profile_idc")?,
        profile_compatibility_flags: r.bits(32, "general_profile_compatibility_flags")? as u32,
        constraint_indicator_flags: r.bits(48, "general_constraint_indicator_flags")?,
        level_idc: r.u8_bits(8, "general_level_idc")?,
    };
    let mut present = [(false, false); 7];
    for p in present.iter_mut().take(usize::from(max_sub_layers_minus1)) {
        *p = (
            r.bit("sub_layer_profile_present_flag")?,
            r.bit("sub_layer_level_present_flag")?,
        );
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(
            2 * (8 - usize::from(max_sub_layers_minus1)),
            "reserved_zero_2bits",
        )?;
    }
    for &(profile, level) in present.iter().take(usize::from(max_sub_layers_minus1)) {
        if profile {
            // profile_space, tier, profile_idc, 32 compatibility flags, 48 constraint bits.
            r.skip(88, "sub_layer_profile")?;
        }
        if level {
            r.skip(8, "sub_layer_level_idc")?;
        }
    }
    Ok(ptl)
}

/// Parses an HEVC SPS NAL unit (two-byte header included, emulation prevention present).
pub fn parse_hevc_sps(nal: &[u8]) -> Result<HevcSps> {
    const C: &str = "HEVC";
    if nal.len() < 2 {
        return Err(MediaError::Truncated {
            what: "HEVC SPS NAL header",
            offset: 0,
            needed: 2,
            available: nal.len(),
        });
    }
    if hevc::nal_type(nal[0]) != hevc::SPS {
        return Err(MediaError::UnexpectedNalType {
            context: "HEVC SPS",
            nal_type: hevc::nal_type(nal[0]),
        });
    }
    let rbsp = nal_to_rbsp(&nal[2..]);
    let r = &mut BitReader::new(&rbsp, C);
    let video_parameter_set_id = r.u8_bits(4, "sps_video_parameter_set_id")?;
    let max_sub_layers_minus1 = r.u8_bits(3, "sps_max_sub_layers_minus1")?;
    if max_sub_layers_minus1 > 6 {
        return Err(r.out_of_range(
            "sps_max_sub_layers_minus1",
            u64::from(max_sub_layers_minus1),
            6,
        ));
    }
    let temporal_id_nesting = r.bit("sps_temporal_id_nesting_flag")?;
    let profile_tier_level = hevc_profile_tier_level(r, max_sub_layers_minus1)?;
    let seq_parameter_set_id = r.ue_max("sps_seq_parameter_set_id", 15)?;
    let chroma_format_idc = r.ue_max("chroma_format_idc", 3)? as u8;
    let separate_colour_plane = chroma_format_idc == 3 && r.bit("separate_colour_plane_flag")?;
    let w = u64::from(r.ue("pic_width_in_luma_samples")?);
    let coded_width = check_dimension(r, "pic_width_in_luma_samples", w)?;
    let h = u64::from(r.ue("pic_height_in_luma_samples")?);
    let coded_height = check_dimension(r, "pic_height_in_luma_samples", h)?;
    let (mut crop_x, mut crop_y) = (0u64, 0u64);
    if r.bit("conformance_window_flag")? {
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (sub_w, sub_h) = chroma_subsampling(chroma_array_type);
        let left = u64::from(r.ue("conf_win_left_offset")?);
        let right = u64::from(r.ue("conf_win_right_offset")?);
        let top = u64::from(r.ue("conf_win_top_offset")?);
        let bottom = u64::from(r.ue("conf_win_bottom_offset")?);
        crop_x = (left + right) * u64::from(sub_w);
        crop_y = (top + bottom) * u64::from(sub_h);
    }
    let (width, height) = cropped(C, (coded_width, coded_height), crop_x, crop_y)?;
    let bit_depth_luma = 8 + r.ue_max("bit_depth_luma_minus8", 8)? as u8;
    let bit_depth_chroma = 8 + r.ue_max("bit_depth_chroma_minus8", 8)? as u8;
    let log2_max_poc_lsb = r.ue_max("log2_max_pic_order_cnt_lsb_minus4", 12)? as usize + 4;
    let all_sub_layers = r.bit("sps_sub_layer_ordering_info_present_flag")?;
    let first = if all_sub_layers {
        0
    } else {
        max_sub_layers_minus1
    };
    let mut max_num_reorder_pics = 0;
    let mut max_dec_pic_buffering = 1;
    for _ in first..=max_sub_layers_minus1 {
        // The DPB holds at most 16 pictures (H.265 Annex A.4.2, MaxDpbSize).
        max_dec_pic_buffering = r.ue_max("sps_max_dec_pic_buffering_minus1", 15)? + 1;
        max_num_reorder_pics = r.ue_max("sps_max_num_reorder_pics", 16)?;
        r.ue("sps_max_latency_increase_plus1")?;
    }
    // Everything after this point only leads to the VUI's range flag: a damaged tail still
    // leaves a usable SPS (as for H.264).
    let mut vui = Vui::default();
    let _ = hevc_sps_tail(r, log2_max_poc_lsb, &mut vui);
    Ok(HevcSps {
        video_parameter_set_id,
        max_sub_layers: max_sub_layers_minus1 + 1,
        temporal_id_nesting,
        profile_tier_level,
        seq_parameter_set_id,
        chroma_format_idc,
        separate_colour_plane,
        coded_width,
        coded_height,
        width,
        height,
        bit_depth_luma,
        bit_depth_chroma,
        max_num_reorder_pics,
        max_dec_pic_buffering,
        video_full_range: vui.full_range,
    })
}

/// Skips one scaling_list_data() (H.265 §7.3.4).
fn hevc_skip_scaling_list_data(r: &mut BitReader<'_>) -> Result<()> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.bit("scaling_list_pred_mode_flag")? {
                r.ue_max("scaling_list_pred_matrix_id_delta", 5)?;
                continue;
            }
            if size_id > 1 {
                r.se("scaling_list_dc_coef_minus8")?;
            }
            for _ in 0..(1usize << (4 + (size_id << 1))).min(64) {
                r.se("scaling_list_delta_coef")?;
            }
        }
    }
    Ok(())
}

/// One short-term reference picture set: DeltaPocS0 (negative, nearest first) and
/// DeltaPocS1 (positive). A later set may be predicted from it, which needs the values,
/// not just the counts (H.265 equations 7-61 and 7-62 drop entries whose delta becomes 0).
#[derive(Debug, Clone, Default)]
struct ShortTermRps {
    s0: Vec<i64>,
    s1: Vec<i64>,
}

/// Pictures one set may name: the DPB holds at most 16 (A.4.2), so both lists together
/// never exceed that in a conforming stream; anything longer is corrupt.
const MAX_RPS_PICTURES: usize = 16;

/// st_ref_pic_set(idx) as coded in an SPS (H.265 §7.3.7, §7.4.8).
fn hevc_st_ref_pic_set(
    r: &mut BitReader<'_>,
    idx: usize,
    previous: &[ShortTermRps],
) -> Result<ShortTermRps> {
    let inter = idx != 0 && r.bit("inter_ref_pic_set_prediction_flag")?;
    let mut set = ShortTermRps::default();
    if inter {
        // In an SPS the reference is always the previous set: delta_idx_minus1 is only
        // coded in slice headers.
        let reference = &previous[idx - 1];
        let negative = r.bit("delta_rps_sign")?;
        let magnitude = i64::from(r.ue_max("abs_delta_rps_minus1", (1 << 15) - 1)?) + 1;
        let delta_rps = if negative { -magnitude } else { magnitude };
        let (ref_s0, ref_s1) = (&reference.s0, &reference.s1);
        let n = ref_s0.len() + ref_s1.len();
        let mut use_delta = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            // use_delta_flag is only coded when the picture is not used; then it is 1.
            let used = r.bit("used_by_curr_pic_flag")?;
            use_delta.push(used || r.bit("use_delta_flag")?);
        }
        let nneg = ref_s0.len();
        // Equation 7-61.
        for (j, &d) in ref_s1.iter().enumerate().rev() {
            if d + delta_rps < 0 && use_delta[nneg + j] {
                set.s0.push(d + delta_rps);
            }
        }
        if delta_rps < 0 && use_delta[n] {
            set.s0.push(delta_rps);
        }
        for (j, &d) in ref_s0.iter().enumerate() {
            if d + delta_rps < 0 && use_delta[j] {
                set.s0.push(d + delta_rps);
            }
        }
        // Equation 7-62.
        for (j, &d) in ref_s0.iter().enumerate().rev() {
            if d + delta_rps > 0 && use_delta[j] {
                set.s1.push(d + delta_rps);
            }
        }
        if delta_rps > 0 && use_delta[n] {
            set.s1.push(delta_rps);
        }
        for (j, &d) in ref_s1.iter().enumerate() {
            if d + delta_rps > 0 && use_delta[nneg + j] {
                set.s1.push(d + delta_rps);
            }
        }
        let total = set.s0.len() + set.s1.len();
        if total > MAX_RPS_PICTURES {
            return Err(r.out_of_range("NumDeltaPocs", total as u64, MAX_RPS_PICTURES as u64));
        }
    } else {
        let max = MAX_RPS_PICTURES as u32;
        let negative = r.ue_max("num_negative_pics", max)?;
        let positive = r.ue_max("num_positive_pics", max - negative)?;
        let mut poc = 0i64;
        for _ in 0..negative {
            poc -= i64::from(r.ue_max("delta_poc_s0_minus1", (1 << 15) - 1)?) + 1;
            r.skip(1, "used_by_curr_pic_s0_flag")?;
            set.s0.push(poc);
        }
        poc = 0;
        for _ in 0..positive {
            poc += i64::from(r.ue_max("delta_poc_s1_minus1", (1 << 15) - 1)?) + 1;
            r.skip(1, "used_by_curr_pic_s1_flag")?;
            set.s1.push(poc);
        }
    }
    Ok(set)
}

/// The HEVC SPS from log2_min_luma_coding_block_size_minus3 to the VUI's range flag
/// (H.265 §7.3.2.2.1). `r` stands after the sub-layer ordering info.
fn hevc_sps_tail(r: &mut BitReader<'_>, log2_max_poc_lsb: usize, vui: &mut Vui) -> Result<()> {
    r.ue_max("log2_min_luma_coding_block_size_minus3", 3)?;
    r.ue_max("log2_diff_max_min_luma_coding_block_size", 3)?;
    r.ue_max("log2_min_luma_transform_block_size_minus2", 3)?;
    r.ue_max("log2_diff_max_min_luma_transform_block_size", 3)?;
    r.ue_max("max_transform_hierarchy_depth_inter", 4)?;
    r.ue_max("max_transform_hierarchy_depth_intra", 4)?;
    if r.bit("scaling_list_enabled_flag")? && r.bit("sps_scaling_list_data_present_flag")? {
        hevc_skip_scaling_list_data(r)?;
    }
    r.skip(2, "amp_enabled_flag/sample_adaptive_offset_enabled_flag")?;
    if r.bit("pcm_enabled_flag")? {
        r.skip(8, "pcm_sample_bit_depth_luma/chroma_minus1")?;
        r.ue("log2_min_pcm_luma_coding_block_size_minus3")?;
        r.ue("log2_diff_max_min_pcm_luma_coding_block_size")?;
        r.skip(1, "pcm_loop_filter_disabled_flag")?;
    }
    let sets = r.ue_max("num_short_term_ref_pic_sets", 64)? as usize;
    let mut rps: Vec<ShortTermRps> = Vec::with_capacity(sets);
    for idx in 0..sets {
        let set = hevc_st_ref_pic_set(r, idx, &rps)?;
        rps.push(set);
    }
    if r.bit("long_term_ref_pics_present_flag")? {
        let count = r.ue_max("num_long_term_ref_pics_sps", 32)?;
        for _ in 0..count {
            // lt_ref_pic_poc_lsb_sps is u(v) of log2_max_pic_order_cnt_lsb bits.
            r.skip(
                log2_max_poc_lsb + 1,
                "lt_ref_pic_poc_lsb_sps/used_by_curr_pic_lt_sps_flag",
            )?;
        }
    }
    r.skip(
        2,
        "sps_temporal_mvp_enabled_flag/strong_intra_smoothing_enabled_flag",
    )?;
    if r.bit("vui_parameters_present_flag")? {
        vui_signal_type(r, vui)?;
    } else {
        vui.full_range = Some(false);
    }
    Ok(())
}

impl From<&H264Sps> for StreamInfo {
    fn from(s: &H264Sps) -> Self {
        StreamInfo {
            width: s.width,
            height: s.height,
            bit_depth_luma: s.bit_depth_luma,
            bit_depth_chroma: s.bit_depth_chroma,
            chroma_format_idc: s.chroma_format_idc,
            profile_idc: s.profile_idc,
            level_idc: s.level_idc,
            max_num_reorder_frames: s.max_num_reorder_frames,
            codec: Codec::H264,
            pic_order_cnt_type: s.pic_order_cnt_type,
            constraint_flags: s.constraint_flags,
            max_dpb_frames: s.max_dpb_frames,
            video_full_range: s.video_full_range,
        }
    }
}

impl From<&HevcSps> for StreamInfo {
    fn from(s: &HevcSps) -> Self {
        StreamInfo {
            width: s.width,
            height: s.height,
            bit_depth_luma: s.bit_depth_luma,
            bit_depth_chroma: s.bit_depth_chroma,
            chroma_format_idc: s.chroma_format_idc,
            profile_idc: s.profile_tier_level.profile_idc,
            level_idc: s.profile_tier_level.level_idc,
            max_num_reorder_frames: Some(s.max_num_reorder_pics),
            codec: Codec::Hevc,
            pic_order_cnt_type: 0,
            constraint_flags: 0,
            max_dpb_frames: s.max_dec_pic_buffering,
            video_full_range: s.video_full_range,
        }
    }
}

/// Parses one SPS NAL unit of `codec`.
pub fn stream_info_from_sps(codec: Codec, sps: &[u8]) -> Result<StreamInfo> {
    match codec {
        Codec::H264 => parse_h264_sps(sps).map(|s| StreamInfo::from(&s)),
        Codec::Hevc => parse_hevc_sps(sps).map(|s| StreamInfo::from(&s)),
    }
}

/// Stream info from the first SPS in an Annex B buffer.
pub fn stream_info_from_annexb(codec: Codec, data: &[u8]) -> Result<StreamInfo> {
    let sps_type = match codec {
        Codec::H264 => h264::SPS,
        Codec::Hevc => hevc::SPS,
    };
    let sps = annexb::nal_units(data)
        .find(|nal| crate::nal::nal_type(codec, nal) == sps_type)
        .ok_or(MediaError::MissingParameterSet { kind: "SPS" })?;
    stream_info_from_sps(codec, sps)
}

/// Stream info from extradata in any form [`extradata::to_annexb`] accepts.
pub fn stream_info_from_extradata(codec: Codec, bytes: &[u8]) -> Result<StreamInfo> {
    stream_info_from_annexb(codec, &extradata::to_annexb(codec, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libx264 64×64 constrained baseline (ffprobe: 64x64, level 10), taken from
    /// `ffmpeg -f lavfi -i testsrc2=s=64x64 -c:v libx264 -profile:v baseline`.
    const SPS_64X64: &[u8] = &[
        0x67, 0x42, 0xC0, 0x0A, 0xD9, 0x04, 0x26, 0xC0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00,
        0x00, 0x03, 0x00, 0xC8, 0x3C, 0x48, 0x99, 0x20,
    ];

    /// libx264 with `-pix_fmt yuvj420p -color_range pc -bf 0` (64x64, High, level 1):
    /// VUI video_full_range_flag 1, max_num_reorder_frames 0 (ffmpeg's trace_headers).
    const X264_FULL_RANGE_SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x0A, 0xAC, 0xB2, 0x08, 0x4D, 0x80, 0xB6, 0x40, 0x00, 0x00, 0x03, 0x00,
        0x40, 0x00, 0x00, 0x0C, 0x83, 0xC4, 0x89, 0x92,
    ];
    /// libx265 with `-pix_fmt yuvj420p -color_range pc` (64x64, Main): video_full_range_flag 1.
    const X265_FULL_RANGE_SPS: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x1E, 0xA0, 0x20, 0x81, 0x05, 0x96, 0x56, 0x69, 0x24, 0xCA, 0xF0, 0x16, 0xC0,
        0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x0C, 0x84,
    ];
    /// Written by hand, checked with ffmpeg's trace_headers: Main (constraint_set1), level
    /// 3.1, 1280x720, pic_order_cnt_type 0, no VUI — what many hardware encoders send.
    const MAIN_720P_WITHOUT_VUI: &[u8] =
        &[0x67, 0x4D, 0x40, 0x1F, 0xEC, 0xA0, 0x28, 0x02, 0xDC, 0x80];
    /// The same with pic_order_cnt_type 2.
    const MAIN_720P_POC_TYPE_2: &[u8] = &[0x67, 0x4D, 0x40, 0x1F, 0xD9, 0x40, 0x50, 0x05, 0xB9];
    /// The same as the first with a VUI: video_full_range_flag 1, no bitstream_restriction.
    const MAIN_720P_FULL_RANGE: &[u8] = &[
        0x67, 0x4D, 0x40, 0x1F, 0xEC, 0xA0, 0x28, 0x02, 0xDD, 0x36, 0x02,
    ];
    /// High with constraint_set4 and constraint_set5 (Constrained High), no VUI.
    const CONSTRAINED_HIGH_720P: &[u8] =
        &[0x67, 0x64, 0x0C, 0x1F, 0xAC, 0xD9, 0x40, 0x50, 0x05, 0xB9];

    fn info(codec: Codec, nal: &[u8]) -> StreamInfo {
        stream_info_from_sps(codec, nal).unwrap()
    }

    #[test]
    fn video_full_range_flag_is_read_from_real_encoder_output() {
        assert_eq!(
            info(Codec::H264, X264_FULL_RANGE_SPS).video_full_range,
            Some(true)
        );
        assert_eq!(
            info(Codec::Hevc, X265_FULL_RANGE_SPS).video_full_range,
            Some(true)
        );
        assert_eq!(info(Codec::H264, SPS_64X64).video_full_range, Some(false));
        assert_eq!(
            info(Codec::H264, MAIN_720P_FULL_RANGE).video_full_range,
            Some(true)
        );
        // No VUI at all: the flag is inferred 0.
        assert_eq!(
            info(Codec::H264, MAIN_720P_WITHOUT_VUI).video_full_range,
            Some(false)
        );
    }

    #[test]
    fn hevc_vui_is_reached_through_scaling_lists_pcm_predicted_rps_and_long_term_refs() {
        let nal = include_bytes!("../tests/fixtures/hevc_sps_all_branches.bin");
        let sps = parse_hevc_sps(nal).unwrap();
        assert_eq!((sps.width, sps.height), (64, 64));
        assert_eq!(
            (sps.max_dec_pic_buffering, sps.max_num_reorder_pics),
            (5, 2)
        );
        assert_eq!(sps.video_full_range, Some(true));
        // Cut anywhere before the flag, the SPS still parses but the range is unknown.
        let cut = parse_hevc_sps(&nal[..nal.len() - 8]).unwrap();
        assert_eq!(cut.video_full_range, None);
    }

    #[test]
    fn sps_without_vui_reorder_field_infers_max_dpb_frames_not_sixteen() {
        let main = info(Codec::H264, MAIN_720P_WITHOUT_VUI);
        assert_eq!(main.max_num_reorder_frames, None);
        // Level 3.1: MaxDpbMbs 18000 / (80 × 45) macroblocks = 5 frames (Table A-1).
        assert_eq!(main.max_dpb_frames, 5);
        assert_eq!(main.reorder_depth(), 5);
        assert_eq!(info(Codec::H264, MAIN_720P_FULL_RANGE).reorder_depth(), 5);
    }

    #[test]
    fn poc_type_2_and_b_less_or_intra_profiles_infer_no_reordering() {
        assert_eq!(
            info(Codec::H264, MAIN_720P_POC_TYPE_2).pic_order_cnt_type,
            2
        );
        assert_eq!(info(Codec::H264, MAIN_720P_POC_TYPE_2).reorder_depth(), 0);
        assert_eq!(info(Codec::H264, CONSTRAINED_HIGH_720P).reorder_depth(), 0);
        let mut baseline = info(Codec::H264, MAIN_720P_WITHOUT_VUI);
        baseline.profile_idc = 66;
        assert_eq!(baseline.reorder_depth(), 0);
        let mut high10_intra = info(Codec::H264, MAIN_720P_WITHOUT_VUI);
        (high10_intra.profile_idc, high10_intra.constraint_flags) = (110, 0x10);
        assert_eq!(high10_intra.reorder_depth(), 0);
        // constraint_set3 on Main means level 1b, not intra: the inference stands.
        let mut main_set3 = info(Codec::H264, MAIN_720P_WITHOUT_VUI);
        main_set3.constraint_flags = 0x10;
        assert_eq!(main_set3.reorder_depth(), 5);
    }

    #[test]
    fn an_explicit_reorder_depth_wins() {
        assert_eq!(info(Codec::H264, SPS_64X64).reorder_depth(), 0);
        assert_eq!(
            info(Codec::Hevc, X265_FULL_RANGE_SPS).reorder_depth(),
            info(Codec::Hevc, X265_FULL_RANGE_SPS)
                .max_num_reorder_frames
                .unwrap()
        );
    }

    #[test]
    fn parses_a_baseline_sps() {
        let sps = parse_h264_sps(SPS_64X64).unwrap();
        assert_eq!((sps.width, sps.height), (64, 64));
        assert_eq!((sps.profile_idc, sps.level_idc), (66, 10));
        assert_eq!((sps.chroma_format_idc, sps.bit_depth_luma), (1, 8));
        assert_eq!(sps.max_num_reorder_frames, Some(0));
    }

    #[test]
    fn rejects_wrong_nal_type() {
        assert_eq!(
            parse_h264_sps(&[0x68, 0x42]),
            Err(MediaError::UnexpectedNalType {
                context: "H.264 SPS",
                nal_type: 8
            })
        );
        assert!(parse_hevc_sps(&[0x44, 0x01, 0]).is_err());
    }

    #[test]
    fn every_truncation_of_a_small_sps_is_handled() {
        for len in 0..SPS_64X64.len() {
            let _ = parse_h264_sps(&SPS_64X64[..len]);
        }
        let full = parse_h264_sps(SPS_64X64);
        assert!(full.is_ok(), "{full:?}");
    }
}
