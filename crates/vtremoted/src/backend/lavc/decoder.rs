//! One libavcodec decode session (native h264/hevc decoders).

use ffmpeg_sys_next as ff;
use vtremote_proto::{FrameGeometry, PixelFormat};

use super::convert::{self, Depth, DstPlane, SrcChroma, SrcPlane};
use super::ffi::{self, CodecContext, Frame, Packet};
use crate::backend::{BackendError, CompressedPacket, DecodedFrame, DecoderConfig, VideoDecoder};

pub struct LavcDecoder {
    ctx: CodecContext,
    name: String,
    warnings: Vec<String>,
    geometry: FrameGeometry,
    frame: Frame,
    pkt: Packet,
    durations: super::Durations,
    flushed: bool,
}

impl LavcDecoder {
    pub fn open(config: &DecoderConfig, decoder: &str, ncpu: usize) -> Result<Self, BackendError> {
        let codec = ffi::Codec::find_decoder(decoder).ok_or_else(|| {
            BackendError::unsupported(
                "codec",
                format!("no {decoder} decoder in this FFmpeg build"),
            )
        })?;
        let mut ctx = CodecContext::new(codec)?;
        // libavcodec takes Annex B or avcC/hvcC; normalising to Annex B also strips a box
        // header and catches a malformed record here, with a clear message, instead of as
        // a decode error on the first packet.
        if !config.extradata.is_empty() {
            let annexb = vtremote_media::extradata::to_annexb(config.codec, &config.extradata)
                .map_err(|e| BackendError::unsupported("extradata", e.to_string()))?;
            ctx.set_extradata(&annexb)?;
        }
        {
            let c = ctx.raw();
            c.time_base = ff::AVRational {
                num: config.time_base.0.min(i32::MAX as u32) as i32,
                den: config.time_base.1.min(i32::MAX as u32) as i32,
            };
            // Frame threading delays every picture by one frame per thread; the original
            // client is lock-step (one PACKET, then it waits for one FRAME), so that delay
            // would turn into timeouts. Slice threads decode one picture in parallel and
            // add no delay.
            c.thread_type = ff::FF_THREAD_SLICE;
            c.thread_count = ncpu.clamp(1, 8) as i32;
        }
        ctx.open(codec)
            .map_err(|code| ffi::failed(&format!("cannot open {decoder} decoder"), code))?;
        Ok(LavcDecoder {
            ctx,
            name: decoder.to_string(),
            warnings: Vec::new(),
            geometry: config.geometry,
            frame: Frame::new()?,
            pkt: Packet::new()?,
            durations: super::Durations::default(),
            flushed: false,
        })
    }

    fn drain(&mut self, out: &mut Vec<DecodedFrame>, until_eof: bool) -> Result<(), BackendError> {
        loop {
            let r = self.ctx.receive_frame(&mut self.frame);
            if (ffi::is_again(r) && !until_eof) || ffi::is_eof(r) {
                return Ok(());
            }
            if r < 0 {
                return Err(ffi::failed(&format!("{} decode", self.name), r));
            }
            let f = self.frame.get();
            let pts = if f.pts != ff::AV_NOPTS_VALUE {
                f.pts
            } else if f.best_effort_timestamp != ff::AV_NOPTS_VALUE {
                f.best_effort_timestamp
            } else {
                0
            };
            let planes = self.convert()?;
            self.frame.unref();
            out.push(DecodedFrame {
                pts,
                duration: self.durations.take(pts).unwrap_or(0),
                planes,
            });
        }
    }

    /// Converts the decoded picture to the configured geometry and format.
    fn convert(&self) -> Result<[Vec<u8>; 2], BackendError> {
        use ff::AVPixelFormat::*;
        let f = self.frame.get();
        let (fw, fh) = (f.width.max(0) as usize, f.height.max(0) as usize);
        if fw == 0 || fh == 0 {
            return Err(BackendError::failed(format!(
                "{}: empty picture",
                self.name
            )));
        }
        let (cw, ch) = (fw.div_ceil(2), fh.div_ceil(2));
        // Compared as integers: `format` may hold a value newer than these bindings know.
        let fmt = f.format;
        let (depth, semi) = if fmt == AV_PIX_FMT_YUV420P as i32 || fmt == AV_PIX_FMT_YUVJ420P as i32
        {
            (Depth::Eight, false)
        } else if fmt == AV_PIX_FMT_YUV420P10LE as i32 {
            (Depth::TenLow, false)
        } else if fmt == AV_PIX_FMT_NV12 as i32 {
            (Depth::Eight, true)
        } else if fmt == AV_PIX_FMT_P010LE as i32 {
            (Depth::TenHigh, true)
        } else {
            return Err(BackendError::failed(format!(
                "{}: decoded pixel format #{fmt} is not 4:2:0 8/10-bit; cannot convert to {}",
                self.name, self.geometry.pix_fmt
            )));
        };
        let plane = |i: usize, rows: usize, width: usize| -> Result<SrcPlane<'_>, BackendError> {
            let (data, stride) = self.frame.plane(i).ok_or_else(|| {
                BackendError::failed(format!("{}: picture plane {i} is missing", self.name))
            })?;
            Ok(SrcPlane {
                data,
                stride,
                rows,
                width,
                depth,
            })
        };
        let y = plane(0, fh, fw)?;
        let chroma = if semi {
            SrcChroma::Interleaved(plane(1, ch, cw)?)
        } else {
            SrcChroma::Planar(plane(1, ch, cw)?, plane(2, ch, cw)?)
        };

        let g = &self.geometry;
        let out_depth = match g.pix_fmt {
            PixelFormat::Nv12 => Depth::Eight,
            PixelFormat::P010 => Depth::TenHigh,
        };
        let (w, h) = (g.width as usize, g.height as usize);
        let mut luma = vec![0u8; g.row_bytes(0) * g.plane_rows(0)];
        let mut cbcr = vec![0u8; g.row_bytes(1) * g.plane_rows(1)];
        convert::convert_plane(
            &y,
            &mut DstPlane {
                data: &mut luma,
                stride: g.row_bytes(0),
                rows: h,
                width: w,
                depth: out_depth,
            },
        )?;
        convert::chroma_to_interleaved(
            &chroma,
            &mut DstPlane {
                data: &mut cbcr,
                stride: g.row_bytes(1),
                rows: g.plane_rows(1),
                width: w.div_ceil(2),
                depth: out_depth,
            },
        )?;
        Ok([luma, cbcr])
    }
}

impl VideoDecoder for LavcDecoder {
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
        if self.flushed {
            return Err(BackendError::failed("decode after flush"));
        }
        if packet.data.is_empty() {
            return Ok(());
        }
        self.pkt.fill(
            packet.data,
            packet.pts,
            packet.dts,
            packet.duration,
            packet.keyframe,
        )?;
        self.durations.insert(packet.pts, packet.duration);
        loop {
            let r = self.ctx.send_packet(Some(&self.pkt));
            if ffi::is_again(r) {
                // Output is full: take what is ready, then the packet is accepted.
                self.drain(out, false)?;
                continue;
            }
            if r < 0 {
                self.pkt.unref();
                return Err(ffi::failed(&format!("{} decode", self.name), r));
            }
            break;
        }
        self.pkt.unref();
        self.drain(out, false)
    }

    fn max_held(&self) -> Option<u32> {
        // Slice threads only (see `open`): the reorder depth is all the decoder holds. It
        // grows when the stream turns out to reorder more; it never shrinks.
        Some(self.ctx.get().has_b_frames.max(0) as u32)
    }

    fn flush(&mut self, out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        if self.flushed {
            return Ok(());
        }
        self.flushed = true;
        let r = self.ctx.send_packet(None);
        if r < 0 && !ffi::is_eof(r) {
            return Err(ffi::failed(&format!("{} flush", self.name), r));
        }
        self.drain(out, true)
    }
}
