use std::ops::Range;

use crate::compression::{PlaneCompressor, PlaneDecompressor};
use crate::error::ProtoError;
use crate::header::MessageType;
use crate::limits::FrameGeometry;
use crate::reader::Reader;
use crate::writer::*;

/// The original client accepts up to 4 planes in a FRAME it receives (spec §3.6); every sender
/// writes 2. Anything above 4 is refused before allocating plane records.
pub const MAX_PLANES: u8 = 4;

/// One plane record as it appears on the wire; the data stays inside the message payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane {
    /// Bytes per row of the *uncompressed* plane.
    pub stride: u32,
    /// Rows of the uncompressed plane.
    pub rows: u32,
    data: Range<usize>,
}

/// A FRAME side-data record (FFmpeg `AVFrameSideDataType` number + raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideData {
    pub ty: u32,
    pub data: Vec<u8>,
}

impl SideData {
    /// `AV_FRAME_DATA_A53_CC`: the only kind the original client forwards.
    pub const A53_CC: u32 = 1;
}

/// FRAME (type 5), spec §3.5/§3.6:
/// ```text
/// pts i64 | duration i64 | flags u32 | plane_count u8 |
///   (stride u32 | height u32 | data_len u32 | data)… |
/// [side_data_count u8 | (type u32 | size u32 | data)…]   — only when there is side data
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub pts: i64,
    pub duration: i64,
    pub flags: u32,
    pub planes: Vec<Plane>,
    pub side_data: Vec<SideData>,
    payload: Vec<u8>,
}

/// A plane to send: rows of `row_bytes` samples, `stride` bytes apart in `data`.
#[derive(Debug, Clone, Copy)]
pub struct PlaneSource<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub row_bytes: usize,
    pub rows: usize,
}

/// A received plane after decompression: `rows` rows, `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct PlaneView<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub rows: usize,
}

impl Frame {
    const TY: MessageType = MessageType::Frame;
    pub const FLAG_FORCE_KEYFRAME: u32 = 1;
    /// pts, duration, flags and plane_count: the payload before the first plane.
    pub const FIXED_LEN: usize = 21;
    /// stride, height and data_len: what precedes each plane's data.
    pub const PLANE_HEADER_LEN: usize = 12;

    /// Bytes of a whole FRAME message (header included) that are not picture data, for
    /// `planes` planes and no side data.
    pub const fn message_overhead(planes: usize) -> usize {
        crate::HEADER_LEN + Self::FIXED_LEN + planes * Self::PLANE_HEADER_LEN
    }

    pub fn force_keyframe(&self) -> bool {
        self.flags & Self::FLAG_FORCE_KEYFRAME != 0
    }

    /// Wire bytes of plane `i` (compressed if compression was negotiated).
    pub fn plane_data(&self, i: usize) -> &[u8] {
        &self.payload[self.planes[i].data.clone()]
    }

    pub fn decode(payload: Vec<u8>) -> Result<Self, ProtoError> {
        let mut r = Reader::new(Self::TY, &payload);
        let pts = r.i64("pts")?;
        let duration = r.i64("duration")?;
        let flags = r.u32("flags")?;
        let count = r.u8("plane_count")?;
        if count > MAX_PLANES {
            return Err(ProtoError::InvalidValue {
                ty: Self::TY,
                field: "plane_count",
                value: count as u64,
            });
        }
        let mut planes = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let stride = r.u32("plane stride")?;
            let rows = r.u32("plane height")?;
            let len = r.u32("plane data_len")? as usize;
            let start = payload.len() - r.remaining();
            r.take(len, "plane data")?;
            planes.push(Plane {
                stride,
                rows,
                data: start..start + len,
            });
        }
        let mut side_data = Vec::new();
        if r.remaining() > 0 {
            let n = r.u8("side_data_count")?;
            for _ in 0..n {
                let ty = r.u32("side data type")?;
                let data = r.bytes32("side data")?.to_vec();
                side_data.push(SideData { ty, data });
            }
        }
        Ok(Frame {
            pts,
            duration,
            flags,
            planes,
            side_data,
            payload,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        put_i64(out, self.pts);
        put_i64(out, self.duration);
        put_u32(out, self.flags);
        put_u8(out, self.planes.len() as u8);
        for (i, p) in self.planes.iter().enumerate() {
            put_u32(out, p.stride);
            put_u32(out, p.rows);
            put_bytes32(out, self.plane_data(i));
        }
        put_side_data(out, &self.side_data);
    }

    /// Validates both planes against the configured geometry and returns them uncompressed.
    /// Sizes are checked before `scratch` is grown, so a hostile record cannot make us
    /// allocate more than the geometry allows.
    pub fn unpack<'a>(
        &'a self,
        geometry: &FrameGeometry,
        decompressor: &mut PlaneDecompressor,
        scratch: &'a mut [Vec<u8>; 2],
    ) -> Result<[PlaneView<'a>; 2], ProtoError> {
        if self.planes.len() != 2 {
            return Err(ProtoError::InvalidValue {
                ty: Self::TY,
                field: "plane_count",
                value: self.planes.len() as u64,
            });
        }
        for (i, p) in self.planes.iter().enumerate() {
            geometry.check_plane(i, p.stride, p.rows)?;
        }
        let compressed = decompressor.kind() != crate::WireCompression::None;
        let [s0, s1] = scratch;
        let mut views = Vec::with_capacity(2);
        for (i, buf) in [s0, s1].into_iter().enumerate() {
            let p = &self.planes[i];
            let expected = p.stride as usize * p.rows as usize;
            let wire = self.plane_data(i);
            let data: &'a [u8] = if compressed {
                buf.clear();
                buf.resize(expected, 0);
                decompressor.decompress(i, p.stride as usize, wire, buf)?;
                buf
            } else {
                if wire.len() < expected {
                    return Err(ProtoError::BadPlane {
                        plane: i,
                        reason: format!(
                            "{} data bytes, stride {} × {} rows needs {expected}",
                            wire.len(),
                            p.stride,
                            p.rows
                        ),
                    });
                }
                &wire[..expected]
            };
            views.push(PlaneView {
                data,
                stride: p.stride as usize,
                rows: p.rows as usize,
            });
        }
        let v1 = views.pop().expect("two planes");
        let v0 = views.pop().expect("two planes");
        Ok([v0, v1])
    }
}

fn put_side_data(out: &mut Vec<u8>, side_data: &[SideData]) {
    // The trailer is omitted entirely when empty, exactly like the original client.
    if side_data.is_empty() {
        return;
    }
    let n = side_data.len().min(u8::MAX as usize);
    put_u8(out, n as u8);
    for sd in &side_data[..n] {
        put_u32(out, sd.ty);
        put_bytes32(out, &sd.data);
    }
}

/// Appends a whole FRAME message built from borrowed planes: rows are packed tightly
/// (stride = row bytes, so row padding never crosses the wire) and compressed as negotiated.
/// This is the one copy a frame makes on its way out.
#[allow(clippy::too_many_arguments)]
pub fn encode_frame(
    out: &mut Vec<u8>,
    pts: i64,
    duration: i64,
    flags: u32,
    planes: &[PlaneSource<'_>],
    side_data: &[SideData],
    compressor: &mut PlaneCompressor,
    scratch: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    let start = super::begin(out);
    put_i64(out, pts);
    put_i64(out, duration);
    put_u32(out, flags);
    put_u8(out, planes.len() as u8);
    for (i, p) in planes.iter().enumerate() {
        let needed = if p.rows == 0 {
            0
        } else {
            p.stride * (p.rows - 1) + p.row_bytes
        };
        if p.data.len() < needed || p.stride < p.row_bytes {
            return Err(ProtoError::BadPlane {
                plane: i,
                reason: format!(
                    "source of {} bytes with stride {} cannot hold {} rows of {} bytes",
                    p.data.len(),
                    p.stride,
                    p.rows,
                    p.row_bytes
                ),
            });
        }
        let tight_len = p.row_bytes * p.rows;
        let wire_stride = u32::try_from(p.row_bytes).map_err(|_| ProtoError::BadPlane {
            plane: i,
            reason: format!("row of {} bytes", p.row_bytes),
        })?;
        put_u32(out, wire_stride);
        put_u32(out, p.rows as u32);
        let len_at = out.len();
        put_u32(out, 0);
        let tight: &[u8] = if p.stride == p.row_bytes {
            &p.data[..tight_len]
        } else if compressor.kind() == crate::WireCompression::None {
            // Pack straight into the message: no scratch copy needed.
            for row in 0..p.rows {
                let s = row * p.stride;
                out.extend_from_slice(&p.data[s..s + p.row_bytes]);
            }
            let n = tight_len as u32;
            out[len_at..len_at + 4].copy_from_slice(&n.to_be_bytes());
            continue;
        } else {
            scratch.clear();
            for row in 0..p.rows {
                let s = row * p.stride;
                scratch.extend_from_slice(&p.data[s..s + p.row_bytes]);
            }
            scratch
        };
        let restart = flags & Frame::FLAG_FORCE_KEYFRAME != 0;
        let n = compressor
            .compress_plane(i, tight, p.row_bytes, restart, out)
            .map_err(|e| ProtoError::BadPlane {
                plane: i,
                reason: format!("compression failed: {e}"),
            })? as u32;
        out[len_at..len_at + 4].copy_from_slice(&n.to_be_bytes());
    }
    put_side_data(out, side_data);
    super::finish(out, start, MessageType::Frame);
    Ok(())
}
