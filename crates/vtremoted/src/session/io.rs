//! The session's reader and writer threads: socket → policy → decompressed input for the
//! codec, and codec output → compressed socket bytes. Bounded channels between them carry
//! backpressure to TCP and so to the client's window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, Span};
use vtremote_proto::options::Mode;
use vtremote_proto::{
    encode_frame, ErrorCode, Frame, FrameGeometry, Limits, Message, PlaneCompressor,
    PlaneDecompressor, PlaneSource, ProtoError, WireCompression,
};

use super::codec_loop::{Input, Output};
use super::error::{protocol_error, SessionError};
use super::policy::{Action, StreamPolicy};
use crate::backend::PlaneRef;
use crate::connection::Connection;
use crate::message_io::read_message;
use crate::stats::LiveCounters;

/// Planes of a received picture, uncompressed: either still inside the FRAME payload
/// (no compression: zero copies) or decompressed by the reader thread.
pub struct InputPicture {
    pub frame: Frame,
    decompressed: Option<[Vec<u8>; 2]>,
    strides: [usize; 2],
    rows: [usize; 2],
}

impl InputPicture {
    pub fn planes(&self) -> [PlaneRef<'_>; 2] {
        let data = |i: usize| -> &[u8] {
            match &self.decompressed {
                Some(bufs) => &bufs[i],
                None => &self.frame.plane_data(i)[..self.strides[i] * self.rows[i]],
            }
        };
        [0, 1].map(|i| PlaneRef {
            data: data(i),
            stride: self.strides[i],
            rows: self.rows[i],
        })
    }
}

/// Validates a FRAME against the negotiated geometry and decompresses its planes.
pub fn unpack_picture(
    frame: Frame,
    geometry: &FrameGeometry,
    decompressor: &mut PlaneDecompressor,
) -> Result<InputPicture, ProtoError> {
    let mut scratch = [Vec::new(), Vec::new()];
    let (strides, rows, copied) = {
        let views = frame.unpack(geometry, decompressor, &mut scratch)?;
        (
            [views[0].stride, views[1].stride],
            [views[0].rows, views[1].rows],
            decompressor.kind() != WireCompression::None,
        )
    };
    Ok(InputPicture {
        frame,
        decompressed: copied.then_some(scratch),
        strides,
        rows,
    })
}

/// What the negotiated session looks like, as the reader needs it.
pub struct StreamShape {
    pub mode: Mode,
    pub geometry: FrameGeometry,
    pub compression: WireCompression,
    pub idle: Duration,
}

pub fn spawn_reader<C: Connection>(
    mut stream: C,
    shape: StreamShape,
    counters: Arc<LiveCounters>,
    to_codec: SyncSender<Input>,
    to_writer: SyncSender<Output>,
    span: Span,
) -> std::io::Result<JoinHandle<()>> {
    let StreamShape {
        mode,
        geometry,
        compression,
        idle,
    } = shape;
    std::thread::Builder::new()
        .name("vtremoted-reader".into())
        .spawn(move || {
            let _span = span.enter();
            let limits = Limits::with_geometry(&geometry);
            let mut decompressor = match PlaneDecompressor::new(compression, geometry.pix_fmt) {
                Ok(d) => d,
                Err(e) => {
                    let _ = to_codec.send(Input::Stopped(Some(SessionError::reply(
                        ErrorCode::Internal,
                        format!("{} context: {e}", compression.name()),
                    ))));
                    return;
                }
            };
            let mut policy = StreamPolicy::new(mode);
            loop {
                let (msg, size) =
                    match read_message(&mut stream, &limits, policy.read_timeout(idle)) {
                        Ok(Some(m)) => m,
                        Ok(None) => {
                            let _ = to_codec.send(Input::Stopped(None));
                            return;
                        }
                        Err(e) => {
                            if let Some(e) = policy.on_read_error(e) {
                                let _ = to_codec.send(Input::Stopped(Some(e)));
                            }
                            return;
                        }
                    };
                counters.bytes_in.fetch_add(size as u64, Ordering::Relaxed);
                let now = Instant::now();
                let item = match policy.on_message(msg, size) {
                    Action::Encode(f) => {
                        counters
                            .raw_picture
                            .fetch_add(geometry.tight_frame_bytes() as u64, Ordering::Relaxed);
                        let wire: usize = (0..f.planes.len()).map(|i| f.plane_data(i).len()).sum();
                        counters
                            .wire_picture
                            .fetch_add(wire as u64, Ordering::Relaxed);
                        match unpack_picture(f, &geometry, &mut decompressor) {
                            Ok(p) => Input::Picture(p, now),
                            Err(e) => Input::Stopped(Some(protocol_error(e))),
                        }
                    }
                    Action::Decode(p) => Input::Packet(p, now),
                    Action::Flush => Input::Flush,
                    Action::Pong => {
                        let _ = to_writer.send(Output::Bytes(
                            Message::Pong.to_bytes().expect("PONG encodes"),
                        ));
                        continue;
                    }
                    Action::Ignore => continue,
                    Action::StopReading => {
                        debug!("client kept sending after FLUSH; closing");
                        return;
                    }
                    Action::Refuse(e) => Input::Stopped(Some(e)),
                };
                let stop = matches!(item, Input::Stopped(_));
                if to_codec.send(item).is_err() || stop {
                    return;
                }
            }
        })
}

pub fn spawn_writer<C: Connection>(
    mut stream: C,
    geometry: FrameGeometry,
    compression: WireCompression,
    counters: Arc<LiveCounters>,
    from_codec: Receiver<Output>,
    failed: Arc<AtomicBool>,
    span: Span,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vtremoted-writer".into())
        .spawn(move || {
            let _span = span.enter();
            let Ok(mut compressor) = PlaneCompressor::new(compression, geometry.pix_fmt) else {
                failed.store(true, Ordering::Release);
                return;
            };
            let mut wire = Vec::new();
            let mut scratch = Vec::new();
            for out in from_codec {
                let bytes: &[u8] = match &out {
                    Output::End => return,
                    Output::Bytes(b) => b,
                    Output::Picture(f) => {
                        wire.clear();
                        let planes = [0, 1].map(|i| PlaneSource {
                            data: &f.planes[i],
                            stride: geometry.row_bytes(i),
                            row_bytes: geometry.row_bytes(i),
                            rows: geometry.plane_rows(i),
                        });
                        if encode_frame(
                            &mut wire,
                            f.pts,
                            f.duration,
                            0,
                            &planes,
                            &[],
                            &mut compressor,
                            &mut scratch,
                        )
                        .is_err()
                        {
                            failed.store(true, Ordering::Release);
                            return;
                        }
                        counters
                            .raw_picture
                            .fetch_add(geometry.tight_frame_bytes() as u64, Ordering::Relaxed);
                        let picture_bytes = wire.len() - Frame::message_overhead(planes.len());
                        counters
                            .wire_picture
                            .fetch_add(picture_bytes as u64, Ordering::Relaxed);
                        &wire
                    }
                };
                if std::io::Write::write_all(&mut stream, bytes).is_err() {
                    failed.store(true, Ordering::Release);
                    return;
                }
                counters
                    .bytes_out
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        })
}
