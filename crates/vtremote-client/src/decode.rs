//! Remote decoding: Annex B packets out, NV12/P010 pictures back.

use std::sync::atomic::Ordering;
use std::time::Instant;

use vtremote_proto::{
    Configure, Frame, FrameGeometry, Packet, PixelFormat, PlaneDecompressor, ProtoError,
    WireCompression,
};

use crate::config::{ClientConfig, DecoderParams, ServerInfo};
use crate::connection::{Incoming, Next, Outgoing, Pipeline};
use crate::error::{clone_error, ClientError};
use crate::stats::{SessionStats, Timings};
use crate::Received;

/// A compressed access unit to decode (Annex B).
#[derive(Debug, Clone, Copy)]
pub struct InputPacket<'a> {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub keyframe: bool,
    pub data: &'a [u8],
}

/// A decoded picture at exactly the configured size, planes tightly packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFrame {
    pub pts: i64,
    pub duration: i64,
    pub width: u32,
    pub height: u32,
    pub pix_fmt: PixelFormat,
    pub planes: [Vec<u8>; 2],
    pub strides: [usize; 2],
}

/// CoreVideo may pad plane heights (e.g. 1088 rows for 1080p) on the original server; rows
/// beyond the configured height are accepted up to this many and cropped.
const MAX_EXTRA_ROWS: usize = 64;

/// Copies a received FRAME into the configured geometry: crops padding, repeats the last
/// row if the server sent fewer (never trusts the wire size, unlike spec §12.15).
fn unpack_frame(
    f: Frame,
    geometry: &FrameGeometry,
    decompressor: &mut PlaneDecompressor,
) -> Result<OutputFrame, ProtoError> {
    if f.planes.len() < 2 {
        return Err(ProtoError::BadPlane {
            plane: f.planes.len(),
            reason: "a decoded FRAME needs 2 planes".into(),
        });
    }
    let mut planes: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut scratch = Vec::new();
    for (i, out) in planes.iter_mut().enumerate() {
        let rec = &f.planes[i];
        let (stride, rows) = (rec.stride as usize, rec.rows as usize);
        let row_bytes = geometry.row_bytes(i);
        let want_rows = geometry.plane_rows(i);
        if stride < row_bytes || stride > geometry.max_stride(i) {
            return Err(ProtoError::BadPlane {
                plane: i,
                reason: format!("stride {stride} for {row_bytes}-byte rows"),
            });
        }
        if rows == 0 || rows > want_rows + MAX_EXTRA_ROWS {
            return Err(ProtoError::BadPlane {
                plane: i,
                reason: format!("{rows} rows, expected {want_rows}"),
            });
        }
        let expected = stride * rows;
        let wire = f.plane_data(i);
        let src: &[u8] = if decompressor.kind() == WireCompression::None {
            if wire.len() < expected {
                return Err(ProtoError::BadPlane {
                    plane: i,
                    reason: format!("{} data bytes, stride × rows needs {expected}", wire.len()),
                });
            }
            wire
        } else {
            scratch.clear();
            scratch.resize(expected, 0);
            decompressor.decompress(i, wire, &mut scratch)?;
            &scratch
        };
        out.reserve_exact(row_bytes * want_rows);
        for row in 0..want_rows {
            let r = row.min(rows - 1);
            out.extend_from_slice(&src[r * stride..r * stride + row_bytes]);
        }
    }
    Ok(OutputFrame {
        pts: f.pts,
        duration: f.duration,
        width: geometry.width,
        height: geometry.height,
        pix_fmt: geometry.pix_fmt,
        strides: [geometry.row_bytes(0), geometry.row_bytes(1)],
        planes,
    })
}

pub struct DecodeSession {
    pipe: Pipeline<OutputFrame>,
    window: u32,
    in_flight: u32,
    packets_sent: u64,
    frames_received: u64,
    eof_sent: bool,
    done: bool,
    failed: Option<ClientError>,
    timings: Timings,
}

impl DecodeSession {
    pub fn connect(config: &ClientConfig, params: &DecoderParams) -> Result<Self, ClientError> {
        let geometry = FrameGeometry::new(params.width, params.height, params.pix_fmt)
            .map_err(ClientError::InvalidArgument)?;
        let mut options = vec![("mode".to_string(), "decode".to_string())];
        if config.wire_compression != WireCompression::None {
            options.push((
                "wire_compression".into(),
                config.wire_compression.code().to_string(),
            ));
        }
        options.extend(
            params
                .options
                .iter()
                .filter(|(k, _)| k != "mode" && k != "wire_compression")
                .cloned(),
        );
        let configure = Configure {
            width: params.width,
            height: params.height,
            pix_fmt: params.pix_fmt.wire_code(),
            time_base: params.time_base,
            framerate: (0, 0),
            options,
            extradata: params.extradata.clone(),
        };
        let host = config.host.clone();
        let mut decompressor = PlaneDecompressor::new(config.wire_compression)
            .map_err(|e| ClientError::io(&host, "creating the decompressor", e))?;
        let pipe = Pipeline::open(
            config,
            params.codec,
            configure,
            geometry,
            Box::new(move |f: Frame| {
                unpack_frame(f, &geometry, &mut decompressor).map_err(|source| {
                    ClientError::Protocol {
                        host: host.clone(),
                        what: "decoded FRAME".into(),
                        cause: source,
                    }
                })
            }),
        )?;
        Ok(DecodeSession {
            pipe,
            window: config.inflight.max(1),
            in_flight: 0,
            packets_sent: 0,
            frames_received: 0,
            eof_sent: false,
            done: false,
            failed: None,
            timings: Timings::new(),
        })
    }

    pub fn server_info(&self) -> &ServerInfo {
        &self.pipe.info
    }

    pub fn warnings(&self) -> &[String] {
        &self.pipe.ack.warnings
    }

    /// The output pixel format the server confirmed (CONFIGURE_ACK echo).
    pub fn confirmed_pix_fmt(&self) -> Option<PixelFormat> {
        PixelFormat::from_wire_code(self.pipe.ack.pix_fmt)
    }

    /// Queues one access unit. `Err(WouldBlock)` when the window is full: receive first.
    pub fn send_packet(&mut self, packet: &InputPacket<'_>) -> Result<(), ClientError> {
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        if self.eof_sent {
            return Err(ClientError::InvalidArgument(
                "send_packet after end of stream".into(),
            ));
        }
        if self.in_flight >= self.window {
            return Err(ClientError::WouldBlock);
        }
        let t0 = Instant::now();
        let mut buf = Vec::with_capacity(packet.data.len() + 44);
        Packet::encode_message(
            &mut buf,
            packet.pts,
            packet.dts,
            packet.duration.max(0),
            packet.keyframe as u32,
            packet.data,
        );
        self.pipe.send(Outgoing::Bytes(buf))?;
        self.in_flight += 1;
        self.packets_sent += 1;
        self.timings.max_inflight = self.timings.max_inflight.max(self.in_flight);
        self.timings.send_total += t0.elapsed();
        self.timings.sends += 1;
        Ok(())
    }

    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        if self.eof_sent {
            return Ok(());
        }
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        self.pipe.finish_input()?;
        self.eof_sent = true;
        Ok(())
    }

    /// Next decoded picture. Blocks only when the window is full or input has ended.
    ///
    /// A packet may legitimately yield no picture (the original server sends nothing for a
    /// packet it cannot decode), so a full window that stays silent for the timeout is taken
    /// as "that packet produced nothing" instead of an error, as the original client does.
    pub fn receive_frame(&mut self) -> Result<Received<OutputFrame>, ClientError> {
        if let Some(e) = &self.failed {
            return Err(clone_error(e));
        }
        if self.done {
            return Ok(Received::Eof);
        }
        let block = self.eof_sent || self.in_flight >= self.window;
        let item = match self.pipe.next(block, &mut self.timings, "while decoding") {
            Next::Item(item) => item,
            Next::Empty => return Ok(Received::Again),
            Next::TimedOut if !self.eof_sent => {
                self.in_flight = self.in_flight.saturating_sub(1);
                return Ok(Received::Again);
            }
            Next::TimedOut => {
                let e = self.pipe.timeout_error("waiting for the decoder to drain");
                self.failed = Some(clone_error(&e));
                return Err(e);
            }
        };
        match item {
            Incoming::Frame(f) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.frames_received += 1;
                Ok(Received::Item(f))
            }
            Incoming::Packet(_) => Ok(Received::Again),
            Incoming::Done => {
                self.done = true;
                Ok(Received::Eof)
            }
            Incoming::Failed(e) => {
                self.failed = Some(clone_error(&e));
                Err(e)
            }
        }
    }

    pub fn stats(&self) -> SessionStats {
        SessionStats {
            frames: self.frames_received,
            packets: self.packets_sent,
            bytes_sent: self.pipe.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.pipe.bytes_received.load(Ordering::Relaxed),
            max_inflight: self.timings.max_inflight,
            elapsed: self.timings.started.elapsed(),
            mean_send: self.timings.mean_send(),
            mean_wait: self.timings.mean_wait(),
        }
    }
}
