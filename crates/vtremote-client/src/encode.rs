//! Remote encoding: raw NV12/P010 pictures out, Annex B packets back.

use std::sync::Arc;
use std::time::Instant;

use vtremote_proto::{
    encode_frame, Configure, Frame, FrameGeometry, PixelFormat, PlaneCompressor, PlaneDecompressor,
    PlaneSource, ProtoError, SideData, WireCompression,
};

use crate::config::{ClientConfig, EncoderParams, ServerInfo};
use crate::error::ClientError;
use crate::flow::{Flow, Step};
use crate::pipeline::{Incoming, Outgoing, Pipeline};
use crate::stats::SessionStats;
use crate::Received;

/// A picture to encode. Planes are borrowed only for the duration of `send_frame`.
#[derive(Debug, Clone)]
pub struct InputFrame<'a> {
    pub pts: i64,
    pub duration: i64,
    pub force_keyframe: bool,
    pub planes: [PlaneSource<'a>; 2],
    pub side_data: Vec<SideData>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPacket {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub keyframe: bool,
    /// Annex B.
    pub data: Vec<u8>,
}

/// A frame copied off the caller's buffers, waiting for the writer thread.
pub(crate) struct PendingFrame {
    /// Either a complete FRAME message (no compression) or the tightly packed planes.
    buf: Vec<u8>,
    complete: bool,
    pts: i64,
    duration: i64,
    flags: u32,
    plane_sizes: [(usize, usize); 2],
    side_data: Vec<SideData>,
}

impl PendingFrame {
    /// The bytes to write: compresses on the writer thread when needed.
    pub(crate) fn wire<'a>(
        &'a self,
        wire: &'a mut Vec<u8>,
        compressor: &mut PlaneCompressor,
        scratch: &mut Vec<u8>,
    ) -> Result<&'a [u8], ProtoError> {
        if self.complete {
            return Ok(&self.buf);
        }
        let (rb0, r0) = self.plane_sizes[0];
        let (rb1, r1) = self.plane_sizes[1];
        let split = rb0 * r0;
        let planes = [
            PlaneSource {
                data: &self.buf[..split],
                stride: rb0,
                row_bytes: rb0,
                rows: r0,
            },
            PlaneSource {
                data: &self.buf[split..],
                stride: rb1,
                row_bytes: rb1,
                rows: r1,
            },
        ];
        wire.clear();
        encode_frame(
            wire,
            self.pts,
            self.duration,
            self.flags,
            &planes,
            &self.side_data,
            compressor,
            scratch,
        )?;
        Ok(wire)
    }

    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn pts(&self) -> i64 {
        self.pts
    }
}

pub struct EncodeSession {
    pipe: Pipeline<()>,
    geometry: FrameGeometry,
    compression: WireCompression,
    extradata_annexb: Vec<u8>,
    flow: Flow,
    /// Used only when no compression is negotiated: the caller's thread builds the message.
    direct: PlaneCompressor,
}

impl EncodeSession {
    pub fn connect(config: &ClientConfig, params: &EncoderParams) -> Result<Self, ClientError> {
        let geometry = FrameGeometry::new(params.width, params.height, params.pix_fmt)
            .map_err(ClientError::InvalidArgument)?;
        if params.codec == vtremote_proto::Codec::H264 && params.pix_fmt == PixelFormat::P010 {
            return Err(ClientError::InvalidArgument(
                "H.264 encoding takes nv12 only; use hevc for 10-bit p010".into(),
            ));
        }
        let mut options = vec![("mode".to_string(), "encode".to_string())];
        // `wire_compression` is added once the helper's offer is known
        // (`connection::set_compression_option`).
        options.extend(
            params
                .options
                .iter()
                .filter(|(k, _)| k != "mode" && k != "wire_compression")
                .cloned(),
        );
        options.push((
            vtremote_proto::options::EXT_INFLIGHT.into(),
            config.inflight.max(1).to_string(),
        ));
        let configure = Configure {
            width: params.width,
            height: params.height,
            pix_fmt: params.pix_fmt.wire_code(),
            time_base: params.time_base,
            framerate: params.framerate,
            options,
            extradata: Vec::new(),
        };
        let host = config.host.clone();
        let pipe: Pipeline<()> = Pipeline::open(
            config,
            params.codec,
            configure,
            geometry,
            Box::new(move |_f: Frame, _: &mut PlaneDecompressor| {
                Err(ClientError::Unexpected {
                    host: host.clone(),
                    got: "FRAME".into(),
                    expected: "PACKET (this is an encode session)",
                })
            }),
        )?;
        let extradata_annexb = if pipe.ack.extradata.is_empty() {
            Vec::new()
        } else {
            vtremote_media::extradata::to_annexb(params.codec, &pipe.ack.extradata).map_err(|e| {
                ClientError::InvalidArgument(format!(
                    "{}: CONFIGURE_ACK extradata ({} bytes) is not a valid {} configuration record: {e}",
                    config.host,
                    pipe.ack.extradata.len(),
                    params.codec
                ))
            })?
        };
        Ok(EncodeSession {
            compression: pipe.compression,
            pipe,
            geometry,
            extradata_annexb,
            flow: Flow::new(config.inflight, config.host.clone()),
            direct: PlaneCompressor::new(WireCompression::None, geometry.pix_fmt)
                .expect("no-op compressor"),
        })
    }

    /// The pool member this session runs on, as the pool names it.
    pub(crate) fn member(&self) -> &str {
        &self.pipe.host
    }

    pub fn server_info(&self) -> &ServerInfo {
        &self.pipe.info
    }

    /// Options the helper accepted but could not follow.
    pub fn warnings(&self) -> &[String] {
        &self.pipe.ack.warnings
    }

    /// Parameter sets as Annex B (what FFmpeg keeps in `extradata`).
    pub fn extradata_annexb(&self) -> &[u8] {
        &self.extradata_annexb
    }

    /// Parameter sets as the helper sent them (avcC/hvcC record).
    pub fn extradata_record(&self) -> &[u8] {
        &self.pipe.ack.extradata
    }

    pub fn can_send(&self) -> bool {
        self.flow.can_send()
    }

    /// Queues one picture. `Err(WouldBlock)` when the window is full: receive first.
    pub fn send_frame(&mut self, frame: &InputFrame<'_>) -> Result<(), ClientError> {
        self.flow.check_send("send_frame")?;
        let t0 = Instant::now();
        let buf = self.spare_buffer();
        let pending = self.pack(frame, buf)?;
        self.submit(Arc::new(pending), t0)
    }

    /// A wire buffer to pack the next picture into: one the writer is done with if any.
    pub(crate) fn spare_buffer(&self) -> Vec<u8> {
        self.pipe.recycled.try_recv().unwrap_or_default()
    }

    /// Copies one picture off the caller's buffers into `buf`, in the form this session's
    /// writer sends: a whole FRAME message without compression, else packed planes.
    pub(crate) fn pack(
        &mut self,
        frame: &InputFrame<'_>,
        mut buf: Vec<u8>,
    ) -> Result<PendingFrame, ClientError> {
        for (i, p) in frame.planes.iter().enumerate() {
            let want = self.geometry.row_bytes(i);
            let rows = self.geometry.plane_rows(i);
            if p.row_bytes != want || p.rows > rows || p.rows + usize::from(i != 0) < rows {
                return Err(ClientError::InvalidArgument(format!(
                    "plane {i}: {} rows of {} bytes, but {}x{} {} needs {rows} rows of {want} bytes",
                    p.rows,
                    p.row_bytes,
                    self.geometry.width,
                    self.geometry.height,
                    self.geometry.pix_fmt
                )));
            }
        }
        let flags = if frame.force_keyframe {
            Frame::FLAG_FORCE_KEYFRAME
        } else {
            0
        };
        buf.clear();
        Ok(if self.compression == WireCompression::None {
            encode_frame(
                &mut buf,
                frame.pts,
                frame.duration,
                flags,
                &frame.planes,
                &frame.side_data,
                &mut self.direct,
                &mut Vec::new(),
            )
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
            PendingFrame {
                buf,
                complete: true,
                pts: frame.pts,
                duration: frame.duration,
                flags,
                plane_sizes: [(0, 0); 2],
                side_data: Vec::new(),
            }
        } else {
            let mut sizes = [(0, 0); 2];
            for (i, p) in frame.planes.iter().enumerate() {
                let needed = if p.rows == 0 {
                    0
                } else {
                    p.stride * (p.rows - 1) + p.row_bytes
                };
                if p.data.len() < needed || p.stride < p.row_bytes {
                    return Err(ClientError::InvalidArgument(format!(
                        "plane {i}: {} bytes with stride {} cannot hold {} rows of {} bytes",
                        p.data.len(),
                        p.stride,
                        p.rows,
                        p.row_bytes
                    )));
                }
                for row in 0..p.rows {
                    let s = row * p.stride;
                    buf.extend_from_slice(&p.data[s..s + p.row_bytes]);
                }
                sizes[i] = (p.row_bytes, p.rows);
            }
            PendingFrame {
                buf,
                complete: false,
                pts: frame.pts,
                duration: frame.duration,
                flags,
                plane_sizes: sizes,
                side_data: frame.side_data.clone(),
            }
        })
    }

    /// Hands a packed picture to the writer. A picture packed by another session (resent
    /// after a failover) fits this one unless it is a whole uncompressed FRAME and this
    /// session compresses.
    pub(crate) fn submit(
        &mut self,
        pending: Arc<PendingFrame>,
        started: Instant,
    ) -> Result<(), ClientError> {
        self.flow.check_send("send_frame")?;
        if pending.complete && self.compression != WireCompression::None {
            return Err(ClientError::InvalidArgument(format!(
                "{}: cannot resend an uncompressed picture on a session that negotiated {}",
                self.pipe.host, self.compression
            )));
        }
        self.flow.submit(
            &self.pipe,
            Outgoing::Frame(pending),
            started,
            "while sending a frame",
        )
    }

    /// Ok when one more picture may go: `WouldBlock` for a full window, or the session's
    /// failure.
    pub(crate) fn check_send(&self) -> Result<(), ClientError> {
        self.flow.check_send("send_frame")
    }

    /// Whether FLUSH has been sent on this connection.
    pub(crate) fn eof_sent(&self) -> bool {
        self.flow.eof_sent()
    }

    /// Ends the input: the helper drains its encoder and answers DONE. Idempotent.
    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        self.flow.end_input(&self.pipe)
    }

    /// Next encoded packet. Blocks (up to the timeout) only when the window is full or the
    /// input has ended; otherwise returns `Again` when nothing is ready.
    pub fn receive_packet(&mut self) -> Result<Received<OutputPacket>, ClientError> {
        match self.flow.step(&self.pipe, "while encoding")? {
            Step::Again => Ok(Received::Again),
            Step::Eof => Ok(Received::Eof),
            Step::TimedOut => {
                let e = self.pipe.timeout_error(if self.flow.eof_sent() {
                    "waiting for the encoder to drain"
                } else {
                    "waiting for an encoded packet"
                });
                Err(self.flow.fail(e))
            }
            Step::Item(Incoming::Packet(p)) => {
                self.flow.record_output("PACKETs", "FRAMEs")?;
                let keyframe = p.is_keyframe();
                Ok(Received::Item(OutputPacket {
                    pts: p.pts,
                    dts: p.dts,
                    duration: p.duration,
                    keyframe,
                    data: p.data,
                }))
            }
            // The reader never yields FRAMEs in encode mode (they fail the session).
            Step::Item(_) => Ok(Received::Again),
        }
    }

    pub(crate) fn timings(&self) -> &crate::stats::Timings {
        &self.flow.timings
    }

    pub fn stats(&self) -> SessionStats {
        self.flow
            .stats(self.flow.inputs, self.flow.outputs, self.pipe.traffic())
    }
}
