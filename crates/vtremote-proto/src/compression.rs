//! Per-plane wire compression of FRAME data (spec §4, and our VTL extension).
//!
//! Each plane is one unit: a raw LZ4 block (no frame header, no size prefix), one standard
//! zstd frame at level 1, or one VTL picture (docs/vtl.md). None of them carries the
//! decompressed size the receiver trusts; it is always `stride × rows` from the plane record,
//! checked against the configured geometry *before* the output buffer is allocated.
//!
//! LZ4 and zstd planes are independent. VTL planes of a session form a chain: each may
//! predict from the same plane of the previous FRAME, so a compressor and a decompressor
//! each live for one session and see every FRAME of it in order.

use crate::error::ProtoError;
use crate::pixel_format::PixelFormat;
use vtremote_vtl::{PlaneDecoder, PlaneEncoder, PlaneShape, SampleFormat};

/// zstd level of the original client (`ZSTD_compress(..., 1)`): fast enough for 4K60 on one core.
pub const ZSTD_LEVEL: i32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireCompression {
    #[default]
    None,
    Lz4,
    Zstd,
    /// Our lossless picture coder (code 3), used only with a server that offers it in
    /// HELLO_ACK (`+vtl`): the original server refuses codes it does not know.
    Vtl,
}

impl WireCompression {
    pub const ALL: [WireCompression; 4] = [
        WireCompression::None,
        WireCompression::Lz4,
        WireCompression::Zstd,
        WireCompression::Vtl,
    ];

    pub fn code(self) -> u8 {
        match self {
            WireCompression::None => 0,
            WireCompression::Lz4 => 1,
            WireCompression::Zstd => 2,
            WireCompression::Vtl => 3,
        }
    }

    pub fn from_code(code: i64) -> Result<Self, ProtoError> {
        match code {
            0 => Ok(WireCompression::None),
            1 => Ok(WireCompression::Lz4),
            2 => Ok(WireCompression::Zstd),
            3 => Ok(WireCompression::Vtl),
            other => Err(ProtoError::UnknownCompression(other)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WireCompression::None => "none",
            WireCompression::Lz4 => "lz4",
            WireCompression::Zstd => "zstd",
            WireCompression::Vtl => "vtl",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" | "0" => Some(WireCompression::None),
            "lz4" | "1" => Some(WireCompression::Lz4),
            "zstd" | "2" => Some(WireCompression::Zstd),
            "vtl" | "3" => Some(WireCompression::Vtl),
            _ => None,
        }
    }

    /// Spoken by the original peers too; the others need the peer to offer them.
    pub fn is_v1(self) -> bool {
        self != WireCompression::Vtl
    }
}

impl std::fmt::Display for WireCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The VTL layout of plane `index` (0 luma, 1 interleaved chroma) of a tight plane whose
/// rows are `row_bytes` long.
fn vtl_shape(pix_fmt: PixelFormat, index: usize, row_bytes: usize, rows: usize) -> PlaneShape {
    let format = match pix_fmt {
        PixelFormat::Nv12 => SampleFormat::U8,
        PixelFormat::P010 => SampleFormat::P010,
    };
    let channels = if index == 0 { 1 } else { 2 };
    PlaneShape {
        width: row_bytes / (channels * format.bytes()),
        rows,
        channels,
        format,
    }
}

/// Compresses the planes of successive pictures of one session; keeps the zstd context
/// (context setup per plane is measurable) and the VTL references alive across frames.
pub struct PlaneCompressor {
    kind: WireCompression,
    pix_fmt: PixelFormat,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    vtl: [Option<PlaneEncoder>; 2],
}

impl PlaneCompressor {
    pub fn new(kind: WireCompression, pix_fmt: PixelFormat) -> std::io::Result<Self> {
        let zstd = match kind {
            WireCompression::Zstd => Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
            _ => None,
        };
        Ok(PlaneCompressor {
            kind,
            pix_fmt,
            zstd,
            vtl: [None, None],
        })
    }

    pub fn kind(&self) -> WireCompression {
        self.kind
    }

    /// Appends the wire form of plane `index` of a picture to `out` and returns its length.
    /// `plane` is tight (`rows` rows of `row_bytes`); `restart`: a VTL picture that depends
    /// on no earlier one (the first one always is).
    pub fn compress_plane(
        &mut self,
        index: usize,
        plane: &[u8],
        row_bytes: usize,
        restart: bool,
        out: &mut Vec<u8>,
    ) -> std::io::Result<usize> {
        let start = out.len();
        match self.kind {
            WireCompression::None => out.extend_from_slice(plane),
            WireCompression::Lz4 => {
                out.resize(
                    start + lz4_flex::block::get_maximum_output_size(plane.len()),
                    0,
                );
                let n = lz4_flex::block::compress_into(plane, &mut out[start..])
                    .map_err(|e| std::io::Error::other(format!("lz4 compress: {e}")))?;
                out.truncate(start + n);
            }
            WireCompression::Zstd => {
                let bound = zstd::zstd_safe::compress_bound(plane.len());
                out.resize(start + bound, 0);
                let ctx = self
                    .zstd
                    .as_mut()
                    .expect("zstd context exists for zstd kind");
                let n = ctx.compress_to_buffer(plane, &mut out[start..])?;
                out.truncate(start + n);
            }
            WireCompression::Vtl => {
                let rows = plane.len().checked_div(row_bytes).unwrap_or(0);
                let shape = vtl_shape(self.pix_fmt, index, row_bytes, rows);
                let slot = self.vtl.get_mut(index).ok_or_else(|| {
                    std::io::Error::other(format!("VTL codes 2 planes, not plane {index}"))
                })?;
                // A new shape (never within a session today) starts a new chain.
                if slot.as_ref().is_none_or(|e| e.shape() != shape) {
                    *slot = Some(PlaneEncoder::new(shape));
                }
                let encoder = slot.as_mut().expect("set above");
                encoder
                    .encode(plane, restart, out)
                    .map_err(|e| std::io::Error::other(format!("VTL plane {index}: {e}")))?;
            }
        }
        Ok(out.len() - start)
    }
}

/// Decompresses the planes of successive pictures of one session into caller-sized buffers.
pub struct PlaneDecompressor {
    kind: WireCompression,
    pix_fmt: PixelFormat,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    vtl: [Option<PlaneDecoder>; 2],
}

impl PlaneDecompressor {
    pub fn new(kind: WireCompression, pix_fmt: PixelFormat) -> std::io::Result<Self> {
        let zstd = match kind {
            WireCompression::Zstd => Some(zstd::bulk::Decompressor::new()?),
            _ => None,
        };
        Ok(PlaneDecompressor {
            kind,
            pix_fmt,
            zstd,
            vtl: [None, None],
        })
    }

    pub fn kind(&self) -> WireCompression {
        self.kind
    }

    /// Fills `out` (exactly `stride × rows` long, sized by the caller after the geometry
    /// check) from the wire bytes of plane `plane`.
    pub fn decompress(
        &mut self,
        plane: usize,
        stride: usize,
        wire: &[u8],
        out: &mut [u8],
    ) -> Result<(), ProtoError> {
        let expected = out.len();
        let fail = |codec: &'static str, reason: String| ProtoError::Decompress {
            plane,
            codec,
            compressed: wire.len(),
            expected,
            reason,
        };
        match self.kind {
            WireCompression::None => {
                // The original server accepts extra trailing bytes; so do we.
                if wire.len() < expected {
                    return Err(ProtoError::BadPlane {
                        plane,
                        reason: format!(
                            "{} data bytes, stride × rows needs {expected}",
                            wire.len()
                        ),
                    });
                }
                out.copy_from_slice(&wire[..expected]);
            }
            WireCompression::Lz4 => {
                let n = lz4_flex::block::decompress_into(wire, out)
                    .map_err(|e| fail("lz4", e.to_string()))?;
                if n != expected {
                    return Err(fail("lz4", format!("decoded {n} bytes")));
                }
            }
            WireCompression::Zstd => {
                if expected == 0 {
                    return Ok(());
                }
                let ctx = self
                    .zstd
                    .as_mut()
                    .expect("zstd context exists for zstd kind");
                let n = ctx
                    .decompress_to_buffer(wire, out)
                    .map_err(|e| fail("zstd", e.to_string()))?;
                if n != expected {
                    return Err(fail("zstd", format!("decoded {n} bytes")));
                }
            }
            WireCompression::Vtl => {
                if stride == 0 || !expected.is_multiple_of(stride) {
                    return Err(fail("vtl", format!("stride {stride}")));
                }
                let shape = vtl_shape(self.pix_fmt, plane, stride, expected / stride);
                // VTL codes tight planes only: the stride is the row of samples.
                if shape.row_bytes() != stride {
                    return Err(fail(
                        "vtl",
                        format!("stride {stride} is not a whole row of samples"),
                    ));
                }
                let slot = self
                    .vtl
                    .get_mut(plane)
                    .ok_or_else(|| fail("vtl", "VTL codes 2 planes".into()))?;
                if slot.as_ref().is_none_or(|d| d.shape() != shape) {
                    *slot = Some(PlaneDecoder::new(shape));
                }
                slot.as_mut()
                    .expect("set above")
                    .decode(wire, out)
                    .map_err(|e| fail("vtl", e.to_string()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANE: [u8; 8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80];

    fn round_trip(kind: WireCompression, data: &[u8]) -> Vec<u8> {
        let mut c = PlaneCompressor::new(kind, PixelFormat::Nv12).unwrap();
        let mut wire = Vec::new();
        c.compress_plane(0, data, data.len(), false, &mut wire)
            .unwrap();
        let mut d = PlaneDecompressor::new(kind, PixelFormat::Nv12).unwrap();
        let mut out = vec![0u8; data.len()];
        d.decompress(0, out.len(), &wire, &mut out).unwrap();
        out
    }

    #[test]
    fn lz4_matches_the_spec_example_bytes() {
        let mut c = PlaneCompressor::new(WireCompression::Lz4, PixelFormat::Nv12).unwrap();
        let mut wire = Vec::new();
        c.compress_plane(0, &PLANE, PLANE.len(), false, &mut wire)
            .unwrap();
        assert_eq!(wire, [0x80, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80]);
    }

    #[test]
    fn zstd_spec_example_decompresses() {
        let wire = [
            0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x08, 0x41, 0x00, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50,
            0x60, 0x70, 0x80,
        ];
        let mut d = PlaneDecompressor::new(WireCompression::Zstd, PixelFormat::Nv12).unwrap();
        let mut out = [0u8; 8];
        d.decompress(0, out.len(), &wire, &mut out).unwrap();
        assert_eq!(out, PLANE);
    }

    #[test]
    fn every_kind_round_trips_real_sized_planes() {
        let data: Vec<u8> = (0..1920 * 1080).map(|i| ((i / 7) % 251) as u8).collect();
        for kind in WireCompression::ALL {
            assert_eq!(round_trip(kind, &data), data, "{kind}");
        }
    }

    #[test]
    fn wrong_decompressed_size_is_an_error() {
        for kind in [
            WireCompression::Lz4,
            WireCompression::Zstd,
            WireCompression::Vtl,
        ] {
            let mut c = PlaneCompressor::new(kind, PixelFormat::Nv12).unwrap();
            let mut wire = Vec::new();
            c.compress_plane(0, &PLANE, PLANE.len(), false, &mut wire)
                .unwrap();
            let mut d = PlaneDecompressor::new(kind, PixelFormat::Nv12).unwrap();
            let mut short = [0u8; 4];
            assert!(
                d.decompress(1, 4, &wire, &mut short).is_err(),
                "{kind} short"
            );
            let mut long = [0u8; 16];
            let e = d.decompress(1, 16, &wire, &mut long).unwrap_err();
            assert!(e.to_string().contains("plane 1"), "{e}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 % 256) as u8).collect();
        for kind in [
            WireCompression::Lz4,
            WireCompression::Zstd,
            WireCompression::Vtl,
        ] {
            let mut d = PlaneDecompressor::new(kind, PixelFormat::Nv12).unwrap();
            let mut out = vec![0u8; 1000];
            assert!(d.decompress(0, 1000, &garbage, &mut out).is_err());
        }
    }

    #[test]
    fn uncompressed_short_plane_is_refused() {
        let mut d = PlaneDecompressor::new(WireCompression::None, PixelFormat::Nv12).unwrap();
        let mut out = [0u8; 9];
        assert!(d.decompress(0, 9, &PLANE, &mut out).is_err());
    }
}
