//! Wire pixel-format codes (spec §5.6), and the codec names re-exported beside them (spec §3.1).

use std::fmt;

/// The video codec of a session, chosen by HELLO's `codec` string. One type shared with
/// the bitstream helpers (defined in vtremote-media, which depends on nothing).
pub use vtremote_media::Codec;

/// Raw picture layouts carried in FRAME messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 8-bit 4:2:0, Y plane then interleaved CbCr plane. Wire code 1.
    Nv12,
    /// 10-bit 4:2:0 in 16-bit little-endian words (high bits), same plane shape. Wire code 2.
    P010,
}

impl PixelFormat {
    pub fn wire_code(self) -> u8 {
        match self {
            PixelFormat::Nv12 => 1,
            PixelFormat::P010 => 2,
        }
    }

    pub fn from_wire_code(code: u8) -> Option<PixelFormat> {
        match code {
            1 => Some(PixelFormat::Nv12),
            2 => Some(PixelFormat::P010),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Nv12 => "nv12",
            PixelFormat::P010 => "p010",
        }
    }

    pub fn bytes_per_sample(self) -> usize {
        match self {
            PixelFormat::Nv12 => 1,
            PixelFormat::P010 => 2,
        }
    }

    pub fn bit_depth(self) -> u8 {
        match self {
            PixelFormat::Nv12 => 8,
            PixelFormat::P010 => 10,
        }
    }

    /// Bytes of samples in one row of `plane` (0 = luma, 1 = interleaved chroma) for a picture
    /// `width` pixels wide. The chroma row holds ceil(width/2) CbCr pairs.
    pub fn row_bytes(self, plane: usize, width: u32) -> usize {
        let w = width as usize;
        let samples = if plane == 0 { w } else { w.div_ceil(2) * 2 };
        samples * self.bytes_per_sample()
    }

    /// Rows of `plane` for a picture `height` rows high. Chroma rounds up so odd heights keep
    /// their last chroma row (the original client rounds down, spec §12.18).
    pub fn plane_rows(self, plane: usize, height: u32) -> usize {
        let h = height as usize;
        if plane == 0 {
            h
        } else {
            h.div_ceil(2)
        }
    }

    /// Size of a tightly packed picture of this format.
    pub fn frame_bytes(self, width: u32, height: u32) -> usize {
        (0..2)
            .map(|p| self.row_bytes(p, width) * self.plane_rows(p, height))
            .sum()
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
