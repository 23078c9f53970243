//! Size limits checked before any payload is allocated (spec §1.4 and §12.1: the original
//! daemon has none and can be made to allocate 4 GiB by one unauthenticated header).

use crate::error::ProtoError;
use crate::header::{Header, MessageType};
use crate::pixel_format::PixelFormat;

/// HELLO carries four short strings; 64 KiB is the spec's suggested bound for anything read
/// before authentication and is far above the ~100 bytes real clients send.
pub const MAX_HELLO: u32 = 64 * 1024;
/// CONFIGURE carries ~32 short options plus decoder extradata (avcC/hvcC, a few hundred bytes;
/// streams with many SPS/PPS stay far below 1 MiB).
pub const MAX_CONFIGURE: u32 = 1024 * 1024;
/// One access unit. 64 MiB is the spec's suggestion and above any level-6.2 HEVC frame.
pub const MAX_PACKET: u32 = 64 * 1024 * 1024;
/// FLUSH/DONE/PING/PONG/ERROR/acks: empty or a few strings.
pub const MAX_CONTROL: u32 = 64 * 1024;
/// FFmpeg pads linesizes (32/64-byte alignment) and cropped frames keep their parent's
/// linesize; a stride up to four rows' worth plus 4 KiB covers both while still bounding memory.
const STRIDE_SLACK_FACTOR: usize = 4;
const STRIDE_SLACK_BYTES: usize = 4096;
/// The side-data trailer: at most 255 items of A53 captions, a few hundred bytes each.
const MAX_SIDE_DATA_BYTES: usize = 1024 * 1024;
/// The largest picture either original peer can configure (VideoToolbox's 16384 limit).
pub const MAX_DIMENSION: u32 = 16384;

/// The picture geometry fixed by CONFIGURE; every FRAME is validated against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameGeometry {
    pub width: u32,
    pub height: u32,
    pub pix_fmt: PixelFormat,
}

impl FrameGeometry {
    pub fn new(width: u32, height: u32, pix_fmt: PixelFormat) -> Result<Self, String> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(format!(
                "size {width}x{height} is outside 1x1..{MAX_DIMENSION}x{MAX_DIMENSION}"
            ));
        }
        Ok(FrameGeometry {
            width,
            height,
            pix_fmt,
        })
    }

    pub fn row_bytes(&self, plane: usize) -> usize {
        self.pix_fmt.row_bytes(plane, self.width)
    }

    pub fn plane_rows(&self, plane: usize) -> usize {
        self.pix_fmt.plane_rows(plane, self.height)
    }

    pub fn max_stride(&self, plane: usize) -> usize {
        self.row_bytes(plane) * STRIDE_SLACK_FACTOR + STRIDE_SLACK_BYTES
    }

    pub fn tight_frame_bytes(&self) -> usize {
        self.pix_fmt.frame_bytes(self.width, self.height)
    }

    /// Checks one plane record's stride and rows. Fewer rows than the geometry are accepted
    /// for chroma only, because the original client rounds odd chroma heights down.
    pub fn check_plane(&self, plane: usize, stride: u32, rows: u32) -> Result<(), ProtoError> {
        let bad = |reason: String| ProtoError::BadPlane { plane, reason };
        if plane > 1 {
            return Err(bad(format!("{} has only 2 planes", self.pix_fmt)));
        }
        let (stride, rows) = (stride as usize, rows as usize);
        let need = self.row_bytes(plane);
        if stride < need {
            return Err(bad(format!(
                "stride {stride} is smaller than a {}-pixel {} row ({need} bytes)",
                self.width, self.pix_fmt
            )));
        }
        if stride > self.max_stride(plane) {
            return Err(bad(format!(
                "stride {stride} exceeds the limit {} for width {}",
                self.max_stride(plane),
                self.width
            )));
        }
        let want = self.plane_rows(plane);
        let min_rows = if plane == 0 {
            want
        } else {
            want.saturating_sub(1).max(1)
        };
        if rows < min_rows || rows > want {
            return Err(bad(format!(
                "{rows} rows, expected {want} for height {}",
                self.height
            )));
        }
        Ok(())
    }

    /// Upper bound of a FRAME payload for this geometry, compressed or not.
    pub fn max_frame_payload(&self) -> u32 {
        let planes: usize = (0..2)
            .map(|p| {
                let raw = self.max_stride(p) * self.plane_rows(p);
                // LZ4's worst case is raw + raw/255 + 16; zstd's is smaller than that.
                raw + raw / 255 + 64
            })
            .sum();
        let fixed = 8 + 8 + 4 + 1 + 2 * 12 + 1;
        u32::try_from(planes + fixed + MAX_SIDE_DATA_BYTES).unwrap_or(u32::MAX)
    }
}

/// Per-phase message size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hello: u32,
    pub configure: u32,
    pub packet: u32,
    pub control: u32,
    /// `None` until CONFIGURE has fixed the geometry: a FRAME before that is refused.
    pub frame: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hello: MAX_HELLO,
            configure: MAX_CONFIGURE,
            packet: MAX_PACKET,
            control: MAX_CONTROL,
            frame: None,
        }
    }
}

impl Limits {
    pub fn with_geometry(geometry: &FrameGeometry) -> Limits {
        Limits {
            frame: Some(geometry.max_frame_payload()),
            ..Limits::default()
        }
    }

    pub fn limit_for(&self, ty: MessageType) -> u32 {
        match ty {
            MessageType::Hello | MessageType::HelloAck => self.hello,
            MessageType::Configure | MessageType::ConfigureAck => self.configure,
            MessageType::Packet => self.packet,
            MessageType::Frame => self.frame.unwrap_or(0),
            _ => self.control,
        }
    }

    /// Call with every header before reading its payload.
    pub fn check(&self, header: &Header) -> Result<(), ProtoError> {
        let limit = self.limit_for(header.ty);
        if header.len > limit {
            return Err(ProtoError::TooLarge {
                ty: header.ty,
                len: header.len,
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> FrameGeometry {
        FrameGeometry::new(1920, 1080, PixelFormat::Nv12).unwrap()
    }

    #[test]
    fn unauthenticated_giant_hello_is_refused_before_allocation() {
        let h = Header::new(MessageType::Hello, u32::MAX);
        assert!(matches!(
            Limits::default().check(&h),
            Err(ProtoError::TooLarge { .. })
        ));
    }

    #[test]
    fn frame_before_configure_is_refused() {
        let h = Header::new(MessageType::Frame, 100);
        assert!(Limits::default().check(&h).is_err());
        assert!(Limits::with_geometry(&g()).check(&h).is_ok());
    }

    #[test]
    fn plane_checks_name_the_problem() {
        let geo = g();
        assert!(geo.check_plane(0, 1920, 1080).is_ok());
        assert!(geo.check_plane(0, 2048, 1080).is_ok());
        assert!(geo.check_plane(1, 1920, 540).is_ok());
        let e = geo.check_plane(0, 0, 1080).unwrap_err().to_string();
        assert!(e.contains("stride 0"), "{e}");
        assert!(geo.check_plane(0, u32::MAX, 1080).is_err());
        assert!(geo.check_plane(0, 1920, 1081).is_err());
        assert!(geo.check_plane(2, 1920, 540).is_err());
    }

    #[test]
    fn odd_height_chroma_accepts_rounded_down_rows() {
        let geo = FrameGeometry::new(64, 33, PixelFormat::Nv12).unwrap();
        assert!(geo.check_plane(1, 64, 17).is_ok());
        assert!(geo.check_plane(1, 64, 16).is_ok());
        assert!(geo.check_plane(1, 64, 15).is_err());
    }

    #[test]
    fn zero_and_huge_sizes_are_refused() {
        assert!(FrameGeometry::new(0, 10, PixelFormat::Nv12).is_err());
        assert!(FrameGeometry::new(100_000, 10, PixelFormat::Nv12).is_err());
    }
}
