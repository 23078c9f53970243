//! Input layouts shared by the fuzz targets (`fuzz_targets/`) and the seed generator
//! (`examples/gen_seeds.rs`), so that generated seeds are exactly what the targets read.
//!
//! Every layout is "a few header bytes, then a sequence of length-prefixed records": the
//! header fixes what the daemon would know from CONFIGURE (geometry, compression), the
//! records are what the network delivers. Lengths are little-endian u32 so that the fuzzer's
//! integer mutations hit them. A record whose length runs past the input ends the sequence.

use vtremote_proto::{PixelFormat, WireCompression};
use vtremote_vtl::{Isa, PlaneShape, SampleFormat};

/// Splits `data` into records `len u32 LE | bytes`; a short tail ends the iteration.
pub fn records(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let rest = &data[4..];
        if rest.len() < n {
            return None;
        }
        let (rec, tail) = rest.split_at(n);
        data = tail;
        Some(rec)
    })
}

/// Appends one record (the inverse of [`records`]).
pub fn push_record(out: &mut Vec<u8>, rec: &[u8]) {
    out.extend_from_slice(&(rec.len() as u32).to_le_bytes());
    out.extend_from_slice(rec);
}

/// `frame_unpack` header: `compression u8 | pix_fmt u8 | width u16 LE | height u16 LE`,
/// then FRAME payloads (no 12-byte message header) as records.
pub const FRAME_HEADER_LEN: usize = 6;
/// Geometries stay small so that an execution takes microseconds; the size checks do not
/// depend on the magnitude (the proto_session target covers the full range of CONFIGURE).
pub const FRAME_MAX_WIDTH: u32 = 320;
pub const FRAME_MAX_HEIGHT: u32 = 240;

pub fn frame_header(kind: WireCompression, pix: PixelFormat, width: u32, height: u32) -> Vec<u8> {
    let mut h = vec![kind.code(), pix.wire_code()];
    h.extend_from_slice(&((width - 1) as u16).to_le_bytes());
    h.extend_from_slice(&((height - 1) as u16).to_le_bytes());
    h
}

/// (compression, pixel format, width, height) of a `frame_unpack` input.
pub fn parse_frame_header(h: &[u8]) -> (WireCompression, PixelFormat, u32, u32) {
    let kind = WireCompression::ALL[usize::from(h[0] & 3)];
    let pix = if h[1] & 1 == 1 {
        PixelFormat::Nv12
    } else {
        PixelFormat::P010
    };
    let w = 1 + u32::from(u16::from_le_bytes([h[2], h[3]])) % FRAME_MAX_WIDTH;
    let ht = 1 + u32::from(u16::from_le_bytes([h[4], h[5]])) % FRAME_MAX_HEIGHT;
    (kind, pix, w, ht)
}

/// `vtl_decode` / `vtl_roundtrip` header:
/// `flags u8 | width u16 LE | rows u16 LE`, flags bit 0: P010, bit 1: two channels,
/// bits 2-3: decoder kernels (index into [`Isa::available`], wrapping), bit 4: two decoder
/// threads, bits 5-6: encoder kernels (round trip only), bit 7: P010 samples keep their low
/// 6 bits (round trip only: the encoder's byte mode).
pub const VTL_HEADER_LEN: usize = 5;
pub const VTL_MAX_WIDTH: usize = 256;
pub const VTL_MAX_ROWS: usize = 160;

#[derive(Debug, Clone, Copy)]
pub struct VtlParams {
    pub shape: PlaneShape,
    pub dec_isa: Isa,
    pub enc_isa: Isa,
    pub threads: usize,
    pub dirty_p010: bool,
}

fn pick_isa(i: u8) -> Isa {
    let all = Isa::available();
    all[usize::from(i) % all.len()]
}

/// Width and rows may be 0: the decoder's API takes any shape.
pub fn parse_vtl_header(h: &[u8]) -> VtlParams {
    let f = h[0];
    let width = usize::from(u16::from_le_bytes([h[1], h[2]])) % (VTL_MAX_WIDTH + 1);
    let rows = usize::from(u16::from_le_bytes([h[3], h[4]])) % (VTL_MAX_ROWS + 1);
    VtlParams {
        shape: PlaneShape {
            width,
            rows,
            channels: 1 + usize::from(f >> 1 & 1),
            format: if f & 1 == 1 {
                SampleFormat::P010
            } else {
                SampleFormat::U8
            },
        },
        dec_isa: pick_isa(f >> 2 & 3),
        enc_isa: pick_isa(f >> 5 & 3),
        threads: 1 + usize::from(f >> 4 & 1),
        dirty_p010: f & 0x80 != 0,
    }
}

pub fn vtl_header(shape: PlaneShape, flags: u8) -> Vec<u8> {
    let mut f = flags & !3;
    if shape.format == SampleFormat::P010 {
        f |= 1;
    }
    if shape.channels == 2 {
        f |= 2;
    }
    let mut h = vec![f];
    h.extend_from_slice(&(shape.width as u16).to_le_bytes());
    h.extend_from_slice(&(shape.rows as u16).to_le_bytes());
    h
}

/// The byte that selects the codec (bit 0: HEVC) and NAL length size (bits 1-2: 1, 2, 4, 3)
/// in `media_annexb`.
pub fn media_selector(b: u8) -> (vtremote_media::Codec, u8) {
    let codec = if b & 1 == 1 {
        vtremote_media::Codec::Hevc
    } else {
        vtremote_media::Codec::H264
    };
    // 3 is invalid on purpose: the error path must hold too.
    let nls = [1, 2, 4, 3][usize::from(b >> 1 & 3)];
    (codec, nls)
}

/// True when `nal` survives a trip through Annex B unchanged: it contains no start code
/// emulation (`00 00 00`..`00 00 03` without emulation prevention) and does not end in 0x00.
/// Records may hold NAL units that are not (the parsers do not validate the units' bodies).
pub fn is_clean_nal(nal: &[u8]) -> bool {
    nal.last() != Some(&0) && !nal.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3)
}

/// A buffer with guard bytes on both sides of the `len` bytes a decoder may write, to catch
/// a write outside the picture even without AddressSanitizer (`--sanitizer none`).
pub struct Guarded {
    buf: Vec<u8>,
    len: usize,
}

const GUARD: usize = 64;
const GUARD_BYTE: u8 = 0xA5;

impl Guarded {
    pub fn new(len: usize) -> Self {
        Guarded {
            buf: vec![GUARD_BYTE; len + 2 * GUARD],
            len,
        }
    }

    pub fn inner(&mut self) -> &mut [u8] {
        &mut self.buf[GUARD..GUARD + self.len]
    }

    pub fn check(&self) {
        let (head, rest) = self.buf.split_at(GUARD);
        let tail = &rest[self.len..];
        assert!(
            head.iter().chain(tail).all(|&b| b == GUARD_BYTE),
            "write outside the {}-byte picture",
            self.len
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_stop_at_a_short_tail() {
        let mut v = Vec::new();
        push_record(&mut v, b"abc");
        push_record(&mut v, b"");
        push_record(&mut v, b"z");
        v.extend_from_slice(&[9, 0, 0, 0, 1]);
        let r: Vec<&[u8]> = records(&v).collect();
        assert_eq!(r, [&b"abc"[..], b"", b"z"]);
    }

    #[test]
    fn headers_round_trip() {
        let h = frame_header(WireCompression::Vtl, PixelFormat::P010, 33, 17);
        assert_eq!(
            parse_frame_header(&h),
            (WireCompression::Vtl, PixelFormat::P010, 33, 17)
        );
        let s = PlaneShape {
            width: 20,
            rows: 9,
            channels: 2,
            format: SampleFormat::P010,
        };
        assert_eq!(parse_vtl_header(&vtl_header(s, 0)).shape, s);
    }
}
