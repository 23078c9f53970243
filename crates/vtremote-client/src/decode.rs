//! Remote decoding: Annex B packets out, NV12/P010 pictures back.

use std::time::Instant;

use vtremote_proto::{
    Configure, Frame, FrameGeometry, Packet, PixelFormat, PlaneDecompressor, ProtoError,
    WireCompression,
};

use crate::config::{ClientConfig, DecoderParams, ServerInfo};
use crate::error::ClientError;
use crate::flow::{Flow, Step};
use crate::log::Logger;
use crate::pipeline::{Incoming, Outgoing, Pipeline};
use crate::reorder::{reorder_depth, Reorder};
use crate::stats::SessionStats;
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
            decompressor.decompress(i, stride, wire, &mut scratch)?;
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
    flow: Flow,
    /// Only for servers other than ours, which return decode order (see `reorder`).
    reorder: Option<Reorder<OutputFrame>>,
    /// A full window stayed silent for one timeout and that was forgiven; a second silent
    /// timeout in a row is an error (see `receive_frame`).
    forgave_silence: bool,
    log: Logger,
}

impl DecodeSession {
    pub fn connect(config: &ClientConfig, params: &DecoderParams) -> Result<Self, ClientError> {
        let geometry = FrameGeometry::new(params.width, params.height, params.pix_fmt)
            .map_err(ClientError::InvalidArgument)?;
        let mut options = vec![("mode".to_string(), "decode".to_string())];
        // `wire_compression` is added once the helper's offer is known
        // (`connection::set_compression_option`).
        options.extend(
            params
                .options
                .iter()
                .filter(|(k, _)| k != "mode" && k != "wire_compression")
                .cloned(),
        );
        // Packets a decoder drops (before the first keyframe of a stream that starts
        // mid-GOP) must not stall the window; our daemon says which (SKIPPED), the
        // original ignores the key.
        options.push((vtremote_proto::options::EXT_SKIP_NOTICES.into(), "1".into()));
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
        let pipe = Pipeline::open(
            config,
            params.codec,
            configure,
            geometry,
            Box::new(move |f: Frame, decompressor: &mut PlaneDecompressor| {
                unpack_frame(f, &geometry, decompressor).map_err(|source| ClientError::Protocol {
                    host: host.clone(),
                    what: "decoded FRAME".into(),
                    cause: source,
                })
            }),
        )?;
        let reorder = (!pipe.info.is_vtremoted_rs())
            .then(|| Reorder::new(reorder_depth(params.codec, &params.extradata)));
        Ok(DecodeSession {
            pipe,
            flow: Flow::new(config.inflight, config.host.clone()),
            reorder,
            forgave_silence: false,
            log: config.log.clone(),
        })
    }

    /// The pool member this session runs on, as the pool names it.
    pub(crate) fn member(&self) -> &str {
        &self.pipe.host
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
        self.flow.check_send("send_packet")?;
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
        self.flow.submit(
            &self.pipe,
            Outgoing::Bytes(buf),
            t0,
            "while sending a packet",
        )
    }

    pub(crate) fn can_send(&self) -> bool {
        self.flow.can_send()
    }

    /// Whether FLUSH has been sent on this connection.
    pub(crate) fn eof_sent(&self) -> bool {
        self.flow.eof_sent()
    }

    /// Ends the input: the helper drains its decoder and answers DONE. Idempotent.
    pub fn send_eof(&mut self) -> Result<(), ClientError> {
        self.flow.end_input(&self.pipe)
    }

    /// Next decoded picture. Blocks only when the window is full or input has ended.
    ///
    /// A packet may legitimately yield no picture: the original server sends nothing for a
    /// packet it cannot decode. So with a server other than ours, a full window that stays
    /// silent for one timeout is taken as "that packet produced nothing", as the original
    /// client does, but only once in a row: a helper that answers nothing at all (or only
    /// messages we skip) fails within two timeouts instead of costing one timeout per
    /// packet of the input. Our daemon answers every packet, so there one timeout fails.
    pub fn receive_frame(&mut self) -> Result<Received<OutputFrame>, ClientError> {
        loop {
            if let Some(f) = self.reorder.as_mut().and_then(Reorder::ready) {
                return Ok(Received::Item(f));
            }
            match self.flow.step(&self.pipe, "while decoding")? {
                Step::Again => return Ok(Received::Again),
                Step::Eof => {
                    return Ok(
                        match self.reorder.as_mut().and_then(Reorder::pop_earliest) {
                            Some(f) => Received::Item(f),
                            None => Received::Eof,
                        },
                    )
                }
                Step::TimedOut
                    if !self.flow.eof_sent()
                        && !self.forgave_silence
                        && !self.pipe.info.is_vtremoted_rs() =>
                {
                    self.forgave_silence = true;
                    self.flow.write_off_one();
                    self.log.warn(format_args!(
                        "{}: no picture within {} ms; taking it that a packet produced none",
                        self.pipe.host,
                        self.pipe.timeout_ms()
                    ));
                    return Ok(Received::Again);
                }
                Step::TimedOut => {
                    let what = if self.flow.eof_sent() {
                        "waiting for the decoder to drain"
                    } else {
                        "waiting for a decoded frame (the helper answered none of the packets in flight)"
                    };
                    let e = self.pipe.timeout_error(what);
                    return Err(self.flow.fail(e));
                }
                Step::Item(Incoming::Frame(f)) => {
                    self.forgave_silence = false;
                    self.flow.record_output("FRAMEs", "PACKETs")?;
                    match &mut self.reorder {
                        Some(r) => r.push(f.pts, f),
                        None => return Ok(Received::Item(f)),
                    }
                }
                Step::Item(Incoming::Skipped(n)) => self.flow.write_off(n),
                // PACKETs have no business in decode mode; skipped like the original client.
                Step::Item(_) => return Ok(Received::Again),
            }
        }
    }

    pub(crate) fn timings(&self) -> &crate::stats::Timings {
        &self.flow.timings
    }

    pub fn stats(&self) -> SessionStats {
        self.flow
            .stats(self.flow.outputs, self.flow.inputs, self.pipe.traffic())
    }
}
