//! Plain-Rust pixel shuffles between the wire formats (NV12, P010) and what encoders and
//! decoders use (the same semi-planar layouts, or planar yuv420p / yuv420p10le).
//!
//! Everything works on byte slices with explicit strides so it stays testable without
//! libavcodec. Sizes follow the wire rules: chroma has ceil(width/2) CbCr pairs per row and
//! ceil(height/2) rows; a source with fewer rows or columns is extended by repeating its
//! last row/column (the original client drops the last chroma row of odd heights).

use crate::backend::{BackendError, PlaneRef};

/// How samples are stored in one source or destination plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// One byte per sample.
    Eight,
    /// 16-bit little-endian words, 10 significant bits in the low bits (yuv420p10le).
    TenLow,
    /// 16-bit little-endian words, 10 significant bits in the high bits (p010le).
    TenHigh,
}

impl Depth {
    pub fn bytes(self) -> usize {
        match self {
            Depth::Eight => 1,
            Depth::TenLow | Depth::TenHigh => 2,
        }
    }

    fn bits(self) -> u32 {
        match self {
            Depth::Eight => 8,
            Depth::TenLow | Depth::TenHigh => 10,
        }
    }

    #[inline]
    fn read(self, row: &[u8], i: usize) -> u16 {
        match self {
            Depth::Eight => row[i] as u16,
            Depth::TenLow => u16::from_le_bytes([row[2 * i], row[2 * i + 1]]) & 0x3ff,
            Depth::TenHigh => u16::from_le_bytes([row[2 * i], row[2 * i + 1]]) >> 6,
        }
    }

    #[inline]
    fn write(self, row: &mut [u8], i: usize, v: u16) {
        match self {
            Depth::Eight => row[i] = v as u8,
            Depth::TenLow => row[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes()),
            Depth::TenHigh => row[2 * i..2 * i + 2].copy_from_slice(&(v << 6).to_le_bytes()),
        }
    }
}

/// Converts a sample between bit depths: 8→10 scales by 4 (so 8-bit white 235 becomes
/// 940, the 10-bit white); 10→8 drops the two low bits.
#[inline]
fn rescale(v: u16, from: u32, to: u32) -> u16 {
    match from.cmp(&to) {
        std::cmp::Ordering::Equal => v,
        std::cmp::Ordering::Less => v << (to - from),
        std::cmp::Ordering::Greater => v >> (from - to),
    }
}

/// A read-only plane: `rows` rows `stride` bytes apart, each with `width` samples (for an
/// interleaved chroma plane, `width` counts CbCr pairs).
#[derive(Clone, Copy)]
pub struct SrcPlane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub rows: usize,
    pub width: usize,
    pub depth: Depth,
}

impl<'a> SrcPlane<'a> {
    fn row(&self, y: usize, samples_per_unit: usize) -> Result<&'a [u8], BackendError> {
        let y = y.min(self.rows.saturating_sub(1));
        let start = y * self.stride;
        let len = self.width * samples_per_unit * self.depth.bytes();
        self.data
            .get(start..start + len)
            .ok_or_else(|| BackendError::failed(format!("plane row {y} is outside the buffer")))
    }
}

/// A writable plane with `width` samples (or pairs) per row.
pub struct DstPlane<'a> {
    pub data: &'a mut [u8],
    pub stride: usize,
    pub rows: usize,
    pub width: usize,
    pub depth: Depth,
}

/// Copies/converts a single-component plane, cropping or edge-repeating to the destination.
pub fn convert_plane(src: &SrcPlane<'_>, dst: &mut DstPlane<'_>) -> Result<(), BackendError> {
    if src.rows == 0 || src.width == 0 {
        return Err(BackendError::failed("empty source plane"));
    }
    let same = src.depth == dst.depth;
    let copy = src.width.min(dst.width);
    for y in 0..dst.rows {
        let s = src.row(y, 1)?;
        let d = &mut dst.data[y * dst.stride..y * dst.stride + dst.width * dst.depth.bytes()];
        if same {
            let n = copy * src.depth.bytes();
            d[..n].copy_from_slice(&s[..n]);
        } else {
            for x in 0..copy {
                let v = rescale(src.depth.read(s, x), src.depth.bits(), dst.depth.bits());
                dst.depth.write(d, x, v);
            }
        }
        if dst.width > copy {
            let last = rescale(
                src.depth.read(s, copy - 1),
                src.depth.bits(),
                dst.depth.bits(),
            );
            for x in copy..dst.width {
                dst.depth.write(d, x, last);
            }
        }
    }
    Ok(())
}

/// Where chroma comes from: one interleaved CbCr plane, or separate Cb and Cr planes.
pub enum SrcChroma<'a> {
    Interleaved(SrcPlane<'a>),
    Planar(SrcPlane<'a>, SrcPlane<'a>),
}

/// Writes an interleaved CbCr destination plane (`dst.width` pairs per row).
pub fn chroma_to_interleaved(
    src: &SrcChroma<'_>,
    dst: &mut DstPlane<'_>,
) -> Result<(), BackendError> {
    let (src_w, src_rows, src_depth) = match src {
        SrcChroma::Interleaved(p) => (p.width, p.rows, p.depth),
        SrcChroma::Planar(u, v) => (u.width.min(v.width), u.rows.min(v.rows), u.depth),
    };
    if src_w == 0 || src_rows == 0 {
        return Err(BackendError::failed("empty source chroma plane"));
    }
    let (fb, tb) = (src_depth.bits(), dst.depth.bits());
    for y in 0..dst.rows {
        let d = &mut dst.data[y * dst.stride..y * dst.stride + 2 * dst.width * dst.depth.bytes()];
        match src {
            SrcChroma::Interleaved(p) => {
                let s = p.row(y, 2)?;
                if p.depth == dst.depth && p.width >= dst.width {
                    let n = 2 * dst.width * p.depth.bytes();
                    d.copy_from_slice(&s[..n]);
                    continue;
                }
                for x in 0..dst.width {
                    let sx = x.min(src_w - 1);
                    dst.depth
                        .write(d, 2 * x, rescale(p.depth.read(s, 2 * sx), fb, tb));
                    dst.depth
                        .write(d, 2 * x + 1, rescale(p.depth.read(s, 2 * sx + 1), fb, tb));
                }
            }
            SrcChroma::Planar(u, v) => {
                let (su, sv) = (u.row(y, 1)?, v.row(y, 1)?);
                for x in 0..dst.width {
                    let sx = x.min(src_w - 1);
                    dst.depth
                        .write(d, 2 * x, rescale(u.depth.read(su, sx), fb, tb));
                    dst.depth
                        .write(d, 2 * x + 1, rescale(v.depth.read(sv, sx), fb, tb));
                }
            }
        }
    }
    Ok(())
}

/// Splits an interleaved CbCr source into separate Cb and Cr destination planes.
pub fn interleaved_to_planar(
    src: &SrcPlane<'_>,
    du: &mut DstPlane<'_>,
    dv: &mut DstPlane<'_>,
) -> Result<(), BackendError> {
    if src.rows == 0 || src.width == 0 {
        return Err(BackendError::failed("empty source chroma plane"));
    }
    let (fb, tb) = (src.depth.bits(), du.depth.bits());
    for y in 0..du.rows.min(dv.rows) {
        let s = src.row(y, 2)?;
        let ru = &mut du.data[y * du.stride..y * du.stride + du.width * du.depth.bytes()];
        let rv = &mut dv.data[y * dv.stride..y * dv.stride + dv.width * dv.depth.bytes()];
        for x in 0..du.width.min(dv.width) {
            let sx = x.min(src.width - 1);
            du.depth
                .write(ru, x, rescale(src.depth.read(s, 2 * sx), fb, tb));
            dv.depth
                .write(rv, x, rescale(src.depth.read(s, 2 * sx + 1), fb, tb));
        }
    }
    Ok(())
}

/// The wire picture's two planes as sources (`depth` is Eight for NV12, TenHigh for P010).
pub fn wire_sources<'a>(
    planes: &[PlaneRef<'a>; 2],
    width: usize,
    depth: Depth,
) -> (SrcPlane<'a>, SrcPlane<'a>) {
    let y = SrcPlane {
        data: planes[0].data,
        stride: planes[0].stride,
        rows: planes[0].rows,
        width,
        depth,
    };
    let c = SrcPlane {
        data: planes[1].data,
        stride: planes[1].stride,
        rows: planes[1].rows,
        width: width.div_ceil(2),
        depth,
    };
    (y, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_crop_pad_and_depth() {
        // 3x2 8-bit source, padded stride 4.
        let src = [10u8, 20, 30, 0, 40, 50, 60, 0];
        let s = SrcPlane {
            data: &src,
            stride: 4,
            rows: 2,
            width: 3,
            depth: Depth::Eight,
        };
        let mut out = vec![0u8; 4 * 3 * 2];
        let mut d = DstPlane {
            data: &mut out,
            stride: 8,
            rows: 3,
            width: 4,
            depth: Depth::TenHigh,
        };
        convert_plane(&s, &mut d).unwrap();
        let words: Vec<u16> = out
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) >> 6)
            .collect();
        assert_eq!(
            words,
            [40, 80, 120, 120, 160, 200, 240, 240, 160, 200, 240, 240]
        );
    }

    #[test]
    fn missing_last_chroma_row_is_repeated() {
        // Two pairs per row, one row given, two wanted.
        let src = [1u8, 2, 3, 4];
        let s = SrcPlane {
            data: &src,
            stride: 4,
            rows: 1,
            width: 2,
            depth: Depth::Eight,
        };
        let mut u = vec![0u8; 4];
        let mut v = vec![0u8; 4];
        interleaved_to_planar(
            &s,
            &mut DstPlane {
                data: &mut u,
                stride: 2,
                rows: 2,
                width: 2,
                depth: Depth::Eight,
            },
            &mut DstPlane {
                data: &mut v,
                stride: 2,
                rows: 2,
                width: 2,
                depth: Depth::Eight,
            },
        )
        .unwrap();
        assert_eq!(u, [1, 3, 1, 3]);
        assert_eq!(v, [2, 4, 2, 4]);
    }

    #[test]
    fn planar_ten_bit_to_p010_and_nv12() {
        let u = 512u16.to_le_bytes();
        let v = 1020u16.to_le_bytes();
        let su = SrcPlane {
            data: &u,
            stride: 2,
            rows: 1,
            width: 1,
            depth: Depth::TenLow,
        };
        let sv = SrcPlane {
            data: &v,
            stride: 2,
            rows: 1,
            width: 1,
            depth: Depth::TenLow,
        };
        let mut out = vec![0u8; 4];
        let mut d = DstPlane {
            data: &mut out,
            stride: 4,
            rows: 1,
            width: 1,
            depth: Depth::TenHigh,
        };
        chroma_to_interleaved(&SrcChroma::Planar(su, sv), &mut d).unwrap();
        assert_eq!(u16::from_le_bytes([out[0], out[1]]), 512 << 6);
        assert_eq!(u16::from_le_bytes([out[2], out[3]]), 1020 << 6);
        let mut out8 = vec![0u8; 2];
        let mut d8 = DstPlane {
            data: &mut out8,
            stride: 2,
            rows: 1,
            width: 1,
            depth: Depth::Eight,
        };
        chroma_to_interleaved(&SrcChroma::Planar(su, sv), &mut d8).unwrap();
        assert_eq!(out8, [128, 255]);
    }
}
