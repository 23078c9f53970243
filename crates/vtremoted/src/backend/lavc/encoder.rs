//! One libavcodec encode session.

use ffmpeg_sys_next as ff;
use vtremote_media::sei::CaptionQueue;
use vtremote_proto::PixelFormat;

use super::convert::{self, Depth, DstPlane};
use super::ffi::{self, BufferRef, CodecContext, Frame, Packet};
use super::plan::{self, Family, InputLayout, Plan};
use crate::backend::{BackendError, EncodedPacket, EncoderConfig, RawFrame, VideoEncoder};

pub struct LavcEncoder {
    ctx: CodecContext,
    name: String,
    extradata: Vec<u8>,
    warnings: Vec<String>,
    input: InputLayout,
    width: usize,
    height: usize,
    wire_depth: Depth,
    frame: Frame,
    /// VAAPI: the surface pool and the frame uploaded into it.
    hw: Option<(BufferRef, Frame)>,
    pkt: Packet,
    durations: super::Durations,
    last_dts: Option<i64>,
    flushed: bool,
    /// Largest number of frames the encoder held without output (tests check the bound).
    pub(super) max_held: u32,
    held: u32,
    /// Captions for encoders that cannot embed them (x265, QSV, VAAPI).
    captions: Option<CaptionQueue>,
}

fn layout_of(f: ff::AVPixelFormat) -> Option<InputLayout> {
    use ff::AVPixelFormat::*;
    match f {
        AV_PIX_FMT_NV12 => Some(InputLayout::Nv12),
        AV_PIX_FMT_P010LE => Some(InputLayout::P010),
        AV_PIX_FMT_YUV420P => Some(InputLayout::Yuv420p),
        AV_PIX_FMT_YUV420P10LE => Some(InputLayout::Yuv420p10),
        _ => None,
    }
}

fn av_format(l: InputLayout) -> ff::AVPixelFormat {
    use ff::AVPixelFormat::*;
    match l {
        InputLayout::Nv12 => AV_PIX_FMT_NV12,
        InputLayout::P010 => AV_PIX_FMT_P010LE,
        InputLayout::Yuv420p => AV_PIX_FMT_YUV420P,
        InputLayout::Yuv420p10 => AV_PIX_FMT_YUV420P10LE,
    }
}

fn primaries(v: i32) -> Option<ff::AVColorPrimaries> {
    use ff::AVColorPrimaries::*;
    Some(match v {
        1 => AVCOL_PRI_BT709,
        4 => AVCOL_PRI_BT470M,
        5 => AVCOL_PRI_BT470BG,
        6 => AVCOL_PRI_SMPTE170M,
        7 => AVCOL_PRI_SMPTE240M,
        8 => AVCOL_PRI_FILM,
        9 => AVCOL_PRI_BT2020,
        10 => AVCOL_PRI_SMPTE428,
        11 => AVCOL_PRI_SMPTE431,
        12 => AVCOL_PRI_SMPTE432,
        22 => AVCOL_PRI_EBU3213,
        _ => return None,
    })
}

fn trc(v: i32) -> Option<ff::AVColorTransferCharacteristic> {
    use ff::AVColorTransferCharacteristic::*;
    Some(match v {
        1 => AVCOL_TRC_BT709,
        4 => AVCOL_TRC_GAMMA22,
        5 => AVCOL_TRC_GAMMA28,
        6 => AVCOL_TRC_SMPTE170M,
        7 => AVCOL_TRC_SMPTE240M,
        8 => AVCOL_TRC_LINEAR,
        9 => AVCOL_TRC_LOG,
        10 => AVCOL_TRC_LOG_SQRT,
        11 => AVCOL_TRC_IEC61966_2_4,
        12 => AVCOL_TRC_BT1361_ECG,
        13 => AVCOL_TRC_IEC61966_2_1,
        14 => AVCOL_TRC_BT2020_10,
        15 => AVCOL_TRC_BT2020_12,
        16 => AVCOL_TRC_SMPTE2084,
        17 => AVCOL_TRC_SMPTE428,
        18 => AVCOL_TRC_ARIB_STD_B67,
        _ => return None,
    })
}

fn colorspace(v: i32) -> Option<ff::AVColorSpace> {
    use ff::AVColorSpace::*;
    Some(match v {
        0 => AVCOL_SPC_RGB,
        1 => AVCOL_SPC_BT709,
        4 => AVCOL_SPC_FCC,
        5 => AVCOL_SPC_BT470BG,
        6 => AVCOL_SPC_SMPTE170M,
        7 => AVCOL_SPC_SMPTE240M,
        8 => AVCOL_SPC_YCGCO,
        9 => AVCOL_SPC_BT2020_NCL,
        10 => AVCOL_SPC_BT2020_CL,
        11 => AVCOL_SPC_SMPTE2085,
        12 => AVCOL_SPC_CHROMA_DERIVED_NCL,
        13 => AVCOL_SPC_CHROMA_DERIVED_CL,
        14 => AVCOL_SPC_ICTCP,
        _ => return None,
    })
}

fn color_range(v: i32) -> Option<ff::AVColorRange> {
    match v {
        1 => Some(ff::AVColorRange::AVCOL_RANGE_MPEG),
        2 => Some(ff::AVColorRange::AVCOL_RANGE_JPEG),
        _ => None,
    }
}

fn rational(num: u32, den: u32) -> ff::AVRational {
    ff::AVRational {
        num: num.min(i32::MAX as u32) as i32,
        den: den.min(i32::MAX as u32) as i32,
    }
}

/// Everything `open` needs besides the config.
pub struct OpenParams<'a> {
    pub encoder: &'a str,
    pub ncpu: usize,
    /// DRM render node for VAAPI encoders.
    pub render_node: Option<&'a str>,
}

impl LavcEncoder {
    pub fn open(config: &EncoderConfig, params: &OpenParams<'_>) -> Result<Self, BackendError> {
        let encoder = params.encoder;
        let codec = ffi::Codec::find_encoder(encoder).ok_or_else(|| {
            BackendError::unsupported("encoder", format!("{encoder} is not in this FFmpeg build"))
        })?;
        let family = Family::of(encoder);
        let plan = plan::plan(config, encoder, family, params.ncpu)?;
        let g = config.geometry;

        let (input, hw_input) = if family == Family::Vaapi {
            let l = match g.pix_fmt {
                PixelFormat::Nv12 => InputLayout::Nv12,
                PixelFormat::P010 => InputLayout::P010,
            };
            (l, true)
        } else {
            let accepts: Vec<InputLayout> =
                codec.pix_fmts().into_iter().filter_map(layout_of).collect();
            (plan::choose_input(encoder, g.pix_fmt, &accepts)?, false)
        };

        let mut ctx = CodecContext::new(codec)?;
        let mut warnings = plan.warnings.clone();
        apply_plan(&mut ctx, config, &plan, input, encoder, &mut warnings);

        let hw = if hw_input {
            let node = params.render_node.ok_or_else(|| {
                BackendError::unsupported(
                    "encoder",
                    format!("{encoder} needs a /dev/dri render node"),
                )
            })?;
            let device = BufferRef::vaapi_device(node)?;
            let frames = BufferRef::vaapi_frames(
                &device,
                av_format(input),
                g.width as i32,
                g.height as i32,
            )?;
            ctx.set_hw_frames(&frames)?;
            ctx.raw().pix_fmt = ff::AVPixelFormat::AV_PIX_FMT_VAAPI;
            Some((frames, Frame::new()?))
        } else {
            None
        };

        ctx.open(codec)
            .map_err(|code| ffi::failed(&format!("cannot open {encoder}"), code))?;

        let annexb = ctx.extradata();
        let extradata = if annexb.is_empty() {
            Vec::new()
        } else {
            vtremote_media::extradata::to_record(config.codec, annexb).map_err(|e| {
                BackendError::failed(format!("{encoder} parameter sets do not parse: {e}"))
            })?
        };
        if extradata.is_empty() {
            return Err(BackendError::failed(format!(
                "{encoder} produced no global header (parameter sets)"
            )));
        }

        Ok(LavcEncoder {
            ctx,
            name: encoder.to_string(),
            extradata,
            warnings,
            input,
            width: g.width as usize,
            height: g.height as usize,
            wire_depth: match g.pix_fmt {
                PixelFormat::Nv12 => Depth::Eight,
                PixelFormat::P010 => Depth::TenHigh,
            },
            frame: Frame::new()?,
            hw,
            pkt: Packet::new()?,
            durations: super::Durations::default(),
            last_dts: None,
            flushed: false,
            max_held: 0,
            held: 0,
            captions: plan
                .insert_captions
                .then(|| CaptionQueue::new(config.codec)),
        })
    }

    /// Sends the prepared picture (the uploaded surface for VAAPI).
    fn send_input(&mut self) -> i32 {
        let frame = match &self.hw {
            Some((_, hwf)) => hwf,
            None => &self.frame,
        };
        self.ctx.send_frame(Some(frame))
    }

    /// Adds session-level notes (encoder selection) to the CONFIGURE_ACK warnings.
    pub fn add_warnings(&mut self, notes: Vec<String>) {
        self.warnings.extend(notes);
    }

    fn fill_frame(&mut self, raw: &RawFrame<'_>) -> Result<(), BackendError> {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        self.frame
            .alloc_picture(av_format(self.input), w as i32, h as i32)?;
        let (ysrc, csrc) = convert::wire_sources(&raw.planes, w, self.wire_depth);
        let (ydepth, semi) = match self.input {
            InputLayout::Nv12 => (Depth::Eight, true),
            InputLayout::P010 => (Depth::TenHigh, true),
            InputLayout::Yuv420p => (Depth::Eight, false),
            InputLayout::Yuv420p10 => (Depth::TenLow, false),
        };
        {
            let (data, stride) = self.frame.plane_mut(0);
            convert::convert_plane(
                &ysrc,
                &mut DstPlane {
                    data,
                    stride,
                    rows: h,
                    width: w,
                    depth: ydepth,
                },
            )?;
        }
        if semi {
            let (data, stride) = self.frame.plane_mut(1);
            convert::chroma_to_interleaved(
                &convert::SrcChroma::Interleaved(csrc),
                &mut DstPlane {
                    data,
                    stride,
                    rows: ch,
                    width: cw,
                    depth: ydepth,
                },
            )?;
        } else {
            let [_, (ud, us), (vd, vs)] = self.frame.planes_mut();
            convert::interleaved_to_planar(
                &csrc,
                &mut DstPlane {
                    data: ud,
                    stride: us,
                    rows: ch,
                    width: cw,
                    depth: ydepth,
                },
                &mut DstPlane {
                    data: vd,
                    stride: vs,
                    rows: ch,
                    width: cw,
                    depth: ydepth,
                },
            )?;
        }
        Ok(())
    }

    fn drain(&mut self, out: &mut Vec<EncodedPacket>, until_eof: bool) -> Result<(), BackendError> {
        loop {
            let r = self.ctx.receive_packet(&mut self.pkt);
            if ffi::is_again(r) && !until_eof {
                return Ok(());
            }
            if ffi::is_eof(r) {
                return Ok(());
            }
            if r < 0 {
                return Err(ffi::failed(&format!("{} encode", self.name), r));
            }
            self.held = self.held.saturating_sub(1);
            let p = self.pkt.get();
            let (pts, raw_dts, flags, dur) = (p.pts, p.dts, p.flags, p.duration);
            let duration = self.durations.take(pts).unwrap_or(dur.max(0));
            // libavcodec already gives strictly increasing dts ≤ pts; this only guards the
            // protocol invariant against an encoder that does not.
            let mut dts = if raw_dts == ff::AV_NOPTS_VALUE {
                pts
            } else {
                raw_dts.min(pts)
            };
            if let Some(last) = self.last_dts {
                if dts <= last {
                    dts = last + 1;
                }
            }
            self.last_dts = Some(dts);
            let mut data = long_start_codes(self.pkt.data());
            self.pkt.unref();
            if let Some(q) = &mut self.captions {
                data = q.apply(pts, data).map_err(|e| {
                    BackendError::failed(format!("A53 captions of the frame at pts {pts}: {e}"))
                })?;
            }
            out.push(EncodedPacket {
                pts,
                dts,
                duration,
                keyframe: flags & ff::AV_PKT_FLAG_KEY != 0,
                data,
            });
        }
    }
}

/// Rewrites Annex B with 4-byte start codes everywhere (x264 uses 3-byte codes after the
/// first NAL unit of an access unit; the protocol promises 4-byte ones).
pub(super) fn long_start_codes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    vtremote_media::annexb::write_annexb(&mut out, vtremote_media::annexb::nal_units(data));
    out
}

fn apply_plan(
    ctx: &mut CodecContext,
    config: &EncoderConfig,
    plan: &Plan,
    input: InputLayout,
    encoder: &str,
    warnings: &mut Vec<String>,
) {
    let g = config.geometry;
    {
        let c = ctx.raw();
        c.width = g.width as i32;
        c.height = g.height as i32;
        c.pix_fmt = av_format(input);
        c.time_base = rational(config.time_base.0, config.time_base.1);
        if let Some((n, d)) = config.frame_rate.or(plan.assumed_frame_rate) {
            c.framerate = rational(n, d);
        }
        c.bit_rate = plan.bit_rate;
        c.rc_max_rate = plan.rc_max_rate;
        c.rc_min_rate = plan.rc_min_rate;
        c.rc_buffer_size = plan.rc_buffer_size;
        if let Some(gop) = plan.gop_size {
            c.gop_size = gop;
        }
        c.max_b_frames = plan.max_b_frames;
        c.flags |= plan.flags as i32;
        if let Some(v) = plan.qmin {
            c.qmin = v;
        }
        if let Some(v) = plan.qmax {
            c.qmax = v;
        }
        if let Some(v) = plan.global_quality {
            c.global_quality = v;
        }
        if let Some(v) = plan.profile {
            c.profile = v;
        }
        if let Some(v) = plan.level {
            c.level = v;
        }
        if let Some(v) = plan.refs {
            c.refs = v;
        }
        if let Some(v) = plan.color_range.and_then(color_range) {
            c.color_range = v;
        }
        if let Some(v) = plan.colorspace.and_then(colorspace) {
            c.colorspace = v;
        }
        if let Some(v) = plan.color_primaries.and_then(primaries) {
            c.color_primaries = v;
        }
        if let Some(v) = plan.color_trc.and_then(trc) {
            c.color_trc = v;
        }
        if let Some((n, d)) = plan.sar {
            c.sample_aspect_ratio = ff::AVRational { num: n, den: d };
        }
        if let Some(v) = plan.thread_count {
            c.thread_count = v;
        }
        if let Some(v) = plan.thread_type {
            c.thread_type = v;
        }
    }
    let mut private: Vec<(&str, String, Option<&str>)> = plan
        .private
        .iter()
        .map(|o| (o.key, o.value.clone(), o.origin))
        .collect();
    // A forced keyframe must be a sync sample (IDR), not a plain I picture.
    private.push(("forced-idr", "1".into(), None));
    if let Some(params) = plan.params_string() {
        let key = if Family::of(encoder) == Family::X265 {
            "x265-params"
        } else {
            "x264-params"
        };
        private.push((key, params, None));
    }
    for (key, value, origin) in private {
        let r = ctx.set_private(key, &value);
        if r < 0 {
            if let Some(origin) = origin {
                warnings.push(format!(
                    "{origin}: {encoder} rejected {key}={value} ({}); ignored",
                    ffi::err_text(r)
                ));
            } else {
                tracing::debug!("{encoder}: {key}={value} not applied: {}", ffi::err_text(r));
            }
        }
    }
}

impl VideoEncoder for LavcEncoder {
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
        raw: &RawFrame<'_>,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), BackendError> {
        if self.flushed {
            return Err(BackendError::failed("encode after flush"));
        }
        self.fill_frame(raw)?;
        {
            let f = self.frame.raw();
            f.pts = raw.pts;
            f.pict_type = if raw.force_keyframe {
                ff::AVPictureType::AV_PICTURE_TYPE_I
            } else {
                ff::AVPictureType::AV_PICTURE_TYPE_NONE
            };
        }
        self.frame.clear_side_data();
        if let Some(cc) = raw.a53_cc.filter(|c| !c.is_empty()) {
            match &mut self.captions {
                Some(q) => q.remember(raw.pts, cc),
                None => self.frame.add_a53(cc)?,
            }
        }
        self.durations.insert(raw.pts, raw.duration);
        if let Some((pool, hwf)) = &mut self.hw {
            ffi::hw_upload(pool, &self.frame, hwf)?;
            let src = self.frame.get();
            let (pts, pict) = (src.pts, src.pict_type);
            let dst = hwf.raw();
            dst.pts = pts;
            dst.pict_type = pict;
        }
        let mut r = self.send_input();
        if ffi::is_again(r) {
            // The encoder wants its output read first; after that it must take the frame.
            self.drain(out, false)?;
            r = self.send_input();
        }
        if r < 0 {
            return Err(ffi::failed(&format!("{} encode", self.name), r));
        }
        self.held += 1;
        self.drain(out, false)?;
        self.max_held = self.max_held.max(self.held);
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), BackendError> {
        if self.flushed {
            return Ok(());
        }
        self.flushed = true;
        let r = self.ctx.send_frame(None);
        if r < 0 && !ffi::is_eof(r) {
            return Err(ffi::failed(&format!("{} flush", self.name), r));
        }
        self.drain(out, true)
    }
}
