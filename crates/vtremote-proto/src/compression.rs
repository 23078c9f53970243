//! Per-plane wire compression of FRAME data (spec §4).
//!
//! Each plane is one independent unit: a raw LZ4 block (no frame header, no size prefix) or
//! one standard zstd frame at level 1. Neither carries the decompressed size the receiver
//! trusts; it is always `stride × rows` from the plane record, checked against the configured
//! geometry *before* the output buffer is allocated.

use crate::error::ProtoError;

/// zstd level of the original client (`ZSTD_compress(..., 1)`): fast enough for 4K60 on one core.
pub const ZSTD_LEVEL: i32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireCompression {
    #[default]
    None,
    Lz4,
    Zstd,
}

impl WireCompression {
    pub fn code(self) -> u8 {
        match self {
            WireCompression::None => 0,
            WireCompression::Lz4 => 1,
            WireCompression::Zstd => 2,
        }
    }

    pub fn from_code(code: i64) -> Result<Self, ProtoError> {
        match code {
            0 => Ok(WireCompression::None),
            1 => Ok(WireCompression::Lz4),
            2 => Ok(WireCompression::Zstd),
            other => Err(ProtoError::UnknownCompression(other)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WireCompression::None => "none",
            WireCompression::Lz4 => "lz4",
            WireCompression::Zstd => "zstd",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" | "0" => Some(WireCompression::None),
            "lz4" | "1" => Some(WireCompression::Lz4),
            "zstd" | "2" => Some(WireCompression::Zstd),
            _ => None,
        }
    }
}

impl std::fmt::Display for WireCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Compresses planes; keeps the zstd context alive across frames so each plane does not
/// pay for context setup.
pub struct PlaneCompressor {
    kind: WireCompression,
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl PlaneCompressor {
    pub fn new(kind: WireCompression) -> std::io::Result<Self> {
        let zstd = match kind {
            WireCompression::Zstd => Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
            _ => None,
        };
        Ok(PlaneCompressor { kind, zstd })
    }

    pub fn kind(&self) -> WireCompression {
        self.kind
    }

    /// Appends the wire form of `plane` to `out` and returns its length.
    pub fn compress_append(&mut self, plane: &[u8], out: &mut Vec<u8>) -> std::io::Result<usize> {
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
        }
        Ok(out.len() - start)
    }
}

/// Decompresses planes into caller-sized buffers.
pub struct PlaneDecompressor {
    kind: WireCompression,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl PlaneDecompressor {
    pub fn new(kind: WireCompression) -> std::io::Result<Self> {
        let zstd = match kind {
            WireCompression::Zstd => Some(zstd::bulk::Decompressor::new()?),
            _ => None,
        };
        Ok(PlaneDecompressor { kind, zstd })
    }

    pub fn kind(&self) -> WireCompression {
        self.kind
    }

    /// Fills `out` (exactly `stride × rows` long, sized by the caller after the geometry
    /// check) from the wire bytes of plane `plane`.
    pub fn decompress(
        &mut self,
        plane: usize,
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
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANE: [u8; 8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80];

    fn round_trip(kind: WireCompression, data: &[u8]) -> Vec<u8> {
        let mut c = PlaneCompressor::new(kind).unwrap();
        let mut wire = Vec::new();
        c.compress_append(data, &mut wire).unwrap();
        let mut d = PlaneDecompressor::new(kind).unwrap();
        let mut out = vec![0u8; data.len()];
        d.decompress(0, &wire, &mut out).unwrap();
        out
    }

    #[test]
    fn lz4_matches_the_spec_example_bytes() {
        let mut c = PlaneCompressor::new(WireCompression::Lz4).unwrap();
        let mut wire = Vec::new();
        c.compress_append(&PLANE, &mut wire).unwrap();
        assert_eq!(wire, [0x80, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80]);
    }

    #[test]
    fn zstd_spec_example_decompresses() {
        let wire = [
            0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x08, 0x41, 0x00, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50,
            0x60, 0x70, 0x80,
        ];
        let mut d = PlaneDecompressor::new(WireCompression::Zstd).unwrap();
        let mut out = [0u8; 8];
        d.decompress(0, &wire, &mut out).unwrap();
        assert_eq!(out, PLANE);
    }

    #[test]
    fn every_kind_round_trips_real_sized_planes() {
        let data: Vec<u8> = (0..1920 * 1080).map(|i| ((i / 7) % 251) as u8).collect();
        for kind in [
            WireCompression::None,
            WireCompression::Lz4,
            WireCompression::Zstd,
        ] {
            assert_eq!(round_trip(kind, &data), data, "{kind}");
        }
    }

    #[test]
    fn wrong_decompressed_size_is_an_error() {
        for kind in [WireCompression::Lz4, WireCompression::Zstd] {
            let mut c = PlaneCompressor::new(kind).unwrap();
            let mut wire = Vec::new();
            c.compress_append(&PLANE, &mut wire).unwrap();
            let mut d = PlaneDecompressor::new(kind).unwrap();
            let mut short = [0u8; 4];
            assert!(d.decompress(1, &wire, &mut short).is_err(), "{kind} short");
            let mut long = [0u8; 16];
            let e = d.decompress(1, &wire, &mut long).unwrap_err();
            assert!(e.to_string().contains("plane 1"), "{e}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 % 256) as u8).collect();
        for kind in [WireCompression::Lz4, WireCompression::Zstd] {
            let mut d = PlaneDecompressor::new(kind).unwrap();
            let mut out = vec![0u8; 1000];
            assert!(d.decompress(0, &garbage, &mut out).is_err());
        }
    }

    #[test]
    fn uncompressed_short_plane_is_refused() {
        let mut d = PlaneDecompressor::new(WireCompression::None).unwrap();
        let mut out = [0u8; 9];
        assert!(d.decompress(0, &PLANE, &mut out).is_err());
    }
}
