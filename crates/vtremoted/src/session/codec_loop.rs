//! The codec side of a streaming session: inputs from the reader go through the encoder or
//! decoder, outputs go to the writer. Channels only: tests drive it with a fake backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;

use vtremote_proto::{Message, Packet, SideData};

use super::error::SessionError;
use super::io::InputPicture;
use crate::backend::{
    CompressedPacket, DecodedFrame, EncodedPacket, RawFrame, VideoDecoder, VideoEncoder,
};
use crate::stats::SessionStats;

pub enum Engine {
    Encoder(Box<dyn VideoEncoder>),
    Decoder(Box<dyn VideoDecoder>),
}

pub enum Input {
    Picture(InputPicture, Instant),
    Packet(Packet, Instant),
    Flush,
    /// The reader stopped: `None` on a clean close by the client.
    Stopped(Option<SessionError>),
}

pub enum Output {
    Bytes(Vec<u8>),
    Picture(DecodedFrame),
    /// Nothing follows: the reader's PONG sender may outlive the session's last message.
    End,
}

/// Tells a decode client about packets that will never produce a picture (a stream that
/// starts mid-GOP: everything before the first keyframe), so they stop counting against its
/// window; without this, more such packets than the window stall the client. Only for a
/// client that asked (`vtr_skip_notices`), and only with a decoder that knows its delay.
pub struct SkipNotices {
    enabled: bool,
    announced: u64,
}

impl SkipNotices {
    pub fn new(enabled: bool) -> Self {
        SkipNotices {
            enabled,
            announced: 0,
        }
    }

    /// Packets beyond what the decoder may still hold that produced no picture, not yet
    /// announced. Counting only beyond the decoder's reorder delay never announces a packet
    /// whose picture is still coming, unless that delay grows later: then the client's
    /// window runs one short for a while, which is harmless.
    fn due(&mut self, packets_in: u64, frames_out: u64, max_held: Option<u32>) -> Option<u32> {
        let held = u64::from(max_held?);
        if !self.enabled {
            return None;
        }
        let pictureless = packets_in.saturating_sub(frames_out + self.announced + held);
        if pictureless == 0 {
            return None;
        }
        let n = u32::try_from(pictureless).unwrap_or(u32::MAX);
        self.announced += u64::from(n);
        Some(n)
    }
}

/// Runs the codec until FLUSH has been answered with DONE (`Ok`) or the session fails.
/// `stop` is the daemon's shutdown flag: a session still running when it is set ends with
/// an ERROR saying so.
pub fn codec_loop(
    engine: &mut Engine,
    inputs: &Receiver<Input>,
    outputs: &SyncSender<Output>,
    stats: &mut SessionStats,
    writer_failed: &AtomicBool,
    stop: &AtomicBool,
    mut skips: SkipNotices,
) -> Result<(), SessionError> {
    let mut packets: Vec<EncodedPacket> = Vec::new();
    let mut frames: Vec<DecodedFrame> = Vec::new();
    let send = |o: Output| -> Result<(), SessionError> {
        if writer_failed.load(Ordering::Acquire) {
            return Err(SessionError::silent(
                "client connection broke while sending",
            ));
        }
        outputs
            .send(o)
            .map_err(|_| SessionError::silent("client connection broke while sending"))
    };
    loop {
        if stop.load(Ordering::Acquire) {
            return Err(SessionError::shutting_down());
        }
        let input = inputs
            .recv()
            .map_err(|_| SessionError::silent("reader stopped"))?;
        let flushing = matches!(input, Input::Flush);
        match (input, &mut *engine) {
            (Input::Picture(p, at), Engine::Encoder(enc)) => {
                stats.input_arrived(at, p.frame.pts);
                stats.frames += 1;
                let a53 = p
                    .frame
                    .side_data
                    .iter()
                    .find(|s| s.ty == SideData::A53_CC)
                    .map(|s| s.data.as_slice());
                let raw = RawFrame {
                    pts: p.frame.pts,
                    duration: p.frame.duration,
                    force_keyframe: p.frame.force_keyframe(),
                    planes: p.planes(),
                    a53_cc: a53,
                };
                stats.backend_call(|| enc.encode(&raw, &mut packets))?;
            }
            (Input::Packet(pkt, at), Engine::Decoder(dec)) => {
                stats.input_arrived(at, pkt.pts);
                stats.packets += 1;
                let packet = CompressedPacket {
                    pts: pkt.pts,
                    dts: pkt.dts,
                    duration: pkt.duration,
                    keyframe: pkt.is_keyframe(),
                    data: &pkt.data,
                };
                stats.backend_call(|| dec.decode(&packet, &mut frames))?;
            }
            (Input::Flush, Engine::Encoder(enc)) => {
                stats.backend_call(|| enc.flush(&mut packets))?
            }
            (Input::Flush, Engine::Decoder(dec)) => {
                stats.backend_call(|| dec.flush(&mut frames))?
            }
            // The daemon shut the socket to stop this session.
            (Input::Stopped(_), _) if stop.load(Ordering::Acquire) => {
                return Err(SessionError::shutting_down())
            }
            (Input::Stopped(None), _) => {
                return Err(SessionError::silent(format!(
                    "client disconnected before FLUSH ({} frames, {} packets so far)",
                    stats.frames, stats.packets
                )))
            }
            (Input::Stopped(Some(e)), _) => return Err(e),
            _ => {}
        }
        for p in packets.drain(..) {
            let mut bytes = Vec::with_capacity(p.data.len() + Packet::MESSAGE_OVERHEAD);
            Packet::encode_message(
                &mut bytes,
                p.pts,
                p.dts,
                p.duration,
                p.keyframe as u32,
                &p.data,
            );
            send(Output::Bytes(bytes))?;
            stats.packets += 1;
            stats.output_sent(Instant::now());
        }
        for f in frames.drain(..) {
            send(Output::Picture(f))?;
            stats.frames += 1;
            stats.output_sent(Instant::now());
        }
        if let Engine::Decoder(dec) = &*engine {
            if let Some(n) = skips.due(stats.packets, stats.frames, dec.max_held()) {
                send(Output::Bytes(
                    Message::Skipped(n).to_bytes().expect("SKIPPED encodes"),
                ))?;
            }
        }
        if flushing {
            send(Output::Bytes(
                Message::Done.to_bytes().expect("DONE encodes"),
            ))?;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_beyond_the_decoders_delay_without_pictures_are_announced_once() {
        let mut s = SkipNotices::new(true);
        // Mid-GOP start: 5 packets in, nothing out, the decoder may hold 2.
        assert_eq!(s.due(5, 0, Some(2)), Some(3));
        assert_eq!(s.due(5, 0, Some(2)), None, "announced already");
        // The keyframe arrives and pictures flow: nothing more is due.
        assert_eq!(s.due(6, 1, Some(2)), None);
        assert_eq!(s.due(9, 4, Some(2)), None);
        // One more picture-less packet beyond the delay.
        assert_eq!(s.due(11, 5, Some(2)), Some(1));
    }

    #[test]
    fn no_notices_unless_asked_or_when_the_delay_is_unknown() {
        assert_eq!(SkipNotices::new(false).due(50, 0, Some(0)), None);
        assert_eq!(SkipNotices::new(true).due(50, 0, None), None);
    }
}
