//! Benchmark-only backend: answers every picture with a fixed packet and every packet with a
//! fixed picture, without looking at either. It measures the protocol path alone (socket,
//! message parsing, wire (de)compression, the session's threads and queues), the ceiling no
//! real codec behind this daemon can exceed.
//!
//! Compiled only with the `bench-ceiling` cargo feature (off by default) and selected with
//! `vtremoted --backend ceiling`: a production daemon must never answer with fake streams.

use vtremote_proto::{Codec, FrameGeometry, PixelFormat};

use super::{
    Backend, BackendError, CodecSupport, CompressedPacket, DecodedFrame, DecoderConfig,
    EncodedPacket, EncoderConfig, RawFrame, VideoDecoder, VideoEncoder,
};

/// Packet size when the client gives no bitrate or frame rate: about 10 Mb/s at 30 fps,
/// what the bandwidth bench asks of real encoders.
const DEFAULT_PACKET_BYTES: usize = 40 * 1024;
/// Bounds for a packet derived from bitrate ÷ frame rate: a start code and NAL header need
/// a few bytes, and anything above 4 MiB per picture is no longer a plausible bitstream.
const MIN_PACKET_BYTES: usize = 16;
const MAX_PACKET_BYTES: usize = 4 * 1024 * 1024;

pub struct CeilingBackend {
    caps: Vec<CodecSupport>,
}

impl CeilingBackend {
    pub fn new() -> Self {
        let caps = [Codec::H264, Codec::Hevc]
            .into_iter()
            .map(|codec| CodecSupport {
                codec,
                encode: true,
                decode: true,
                pix_fmts: match codec {
                    Codec::H264 => vec![PixelFormat::Nv12],
                    Codec::Hevc => vec![PixelFormat::Nv12, PixelFormat::P010],
                },
                encoder_name: Some("ceiling (fixed packets, benchmark only)".into()),
                decoder_name: Some("ceiling (fixed pictures, benchmark only)".into()),
                hardware: false,
            })
            .collect();
        CeilingBackend { caps }
    }
}

impl Default for CeilingBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for CeilingBackend {
    fn name(&self) -> &str {
        "ceiling"
    }

    fn capabilities(&self) -> &[CodecSupport] {
        &self.caps
    }

    fn open_encoder(&self, config: &EncoderConfig) -> Result<Box<dyn VideoEncoder>, BackendError> {
        let bytes = packet_bytes(config.options.bitrate, config.frame_rate);
        Ok(Box::new(CeilingEncoder {
            payload: filler_access_unit(config.codec, bytes),
            sent: 0,
        }))
    }

    fn open_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn VideoDecoder>, BackendError> {
        Ok(Box::new(CeilingDecoder {
            planes: mid_grey(&config.geometry),
        }))
    }
}

/// Bytes per packet: bitrate ÷ frame rate when both are known, so the daemon→client side
/// carries what a real encoder at that bitrate would send.
fn packet_bytes(bitrate: i64, frame_rate: Option<(u32, u32)>) -> usize {
    match frame_rate {
        Some((num, den)) if bitrate > 0 && num > 0 => {
            let bytes = bitrate as u128 * den as u128 / (8 * num as u128);
            (bytes.min(MAX_PACKET_BYTES as u128) as usize).max(MIN_PACKET_BYTES)
        }
        _ => DEFAULT_PACKET_BYTES,
    }
}

/// One Annex B filler-data NAL unit of exactly `bytes` bytes (start code included), so any
/// parser the client runs over packets sees a well-formed unit that carries no picture.
fn filler_access_unit(codec: Codec, bytes: usize) -> Vec<u8> {
    let mut au = vec![0, 0, 0, 1];
    match codec {
        // nal_unit_type 12 (filler data), nal_ref_idc 0.
        Codec::H264 => au.push(12),
        // nal_unit_type 38 (FD_NUT), layer 0, temporal id 1.
        Codec::Hevc => au.extend_from_slice(&[38 << 1, 1]),
    }
    // Filler payload is 0xFF bytes ended by the rbsp trailing bits (0x80).
    au.resize(bytes.max(au.len() + 1) - 1, 0xFF);
    au.push(0x80);
    au
}

/// A picture of mid-grey (luma and chroma at half range): tightly packed planes.
fn mid_grey(g: &FrameGeometry) -> [Vec<u8>; 2] {
    [0, 1].map(|i| {
        let len = g.row_bytes(i) * g.plane_rows(i);
        match g.pix_fmt {
            PixelFormat::Nv12 => vec![0x80; len],
            // 512 << 6 in little-endian 16-bit words: 0x8000.
            PixelFormat::P010 => [0x00, 0x80].repeat(len / 2),
        }
    })
}

struct CeilingEncoder {
    payload: Vec<u8>,
    sent: u64,
}

impl VideoEncoder for CeilingEncoder {
    fn extradata(&self) -> &[u8] {
        // No parameter sets: clients take an empty record as "in-band" (the packets carry
        // none either, which is fine for a stream nobody decodes).
        &[]
    }

    fn warnings(&self) -> &[String] {
        &[]
    }

    fn name(&self) -> &str {
        "ceiling"
    }

    fn encode(
        &mut self,
        frame: &RawFrame<'_>,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), BackendError> {
        // The picture is never read: the point is to cost nothing beyond the protocol path.
        out.push(EncodedPacket {
            pts: frame.pts,
            dts: frame.pts,
            duration: frame.duration,
            keyframe: self.sent == 0 || frame.force_keyframe,
            data: self.payload.clone(),
        });
        self.sent += 1;
        Ok(())
    }

    fn flush(&mut self, _out: &mut Vec<EncodedPacket>) -> Result<(), BackendError> {
        Ok(())
    }
}

struct CeilingDecoder {
    planes: [Vec<u8>; 2],
}

impl VideoDecoder for CeilingDecoder {
    fn warnings(&self) -> &[String] {
        &[]
    }

    fn name(&self) -> &str {
        "ceiling"
    }

    fn decode(
        &mut self,
        packet: &CompressedPacket<'_>,
        out: &mut Vec<DecodedFrame>,
    ) -> Result<(), BackendError> {
        out.push(DecodedFrame {
            pts: packet.pts,
            duration: packet.duration,
            planes: self.planes.clone(),
        });
        Ok(())
    }

    fn flush(&mut self, _out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        Ok(())
    }

    fn max_held(&self) -> Option<u32> {
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_size_follows_bitrate_per_frame_and_is_bounded() {
        assert_eq!(packet_bytes(10_000_000, Some((30, 1))), 41_666);
        assert_eq!(packet_bytes(0, Some((30, 1))), DEFAULT_PACKET_BYTES);
        assert_eq!(packet_bytes(10_000_000, None), DEFAULT_PACKET_BYTES);
        assert_eq!(packet_bytes(1, Some((120, 1))), MIN_PACKET_BYTES);
        assert_eq!(packet_bytes(i64::MAX, Some((1, 1))), MAX_PACKET_BYTES);
    }

    #[test]
    fn filler_units_have_the_requested_size_and_a_filler_nal_type() {
        let h264 = filler_access_unit(Codec::H264, 100);
        assert_eq!(h264.len(), 100);
        assert_eq!(&h264[..5], &[0, 0, 0, 1, 12]);
        assert_eq!(*h264.last().unwrap(), 0x80);
        let hevc = filler_access_unit(Codec::Hevc, MIN_PACKET_BYTES);
        assert_eq!(hevc.len(), MIN_PACKET_BYTES);
        assert_eq!((hevc[4] >> 1) & 0x3f, 38);
    }

    #[test]
    fn grey_pictures_fill_both_planes_of_the_geometry() {
        let g = FrameGeometry::new(5, 3, PixelFormat::P010).unwrap();
        let [y, c] = mid_grey(&g);
        assert_eq!(y.len(), g.row_bytes(0) * g.plane_rows(0));
        assert_eq!(c.len(), g.row_bytes(1) * g.plane_rows(1));
        assert!(y.chunks(2).all(|w| w == [0x00, 0x80]));
    }
}
