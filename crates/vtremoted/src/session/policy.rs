//! What a streaming session does with each message the client sends after the handshake,
//! decided with no I/O: the compatibility rules of design.md live here and are tested here.

use std::time::Duration;

use vtremote_proto::options::Mode;
use vtremote_proto::{ErrorCode, Frame, Message, Packet};

use super::error::SessionError;
use crate::message_io::WireError;

/// After DONE the connection stays fully open until the client closes it, at most this
/// long. The original FFmpeg client keeps its last packets queued after reading DONE and
/// reads the socket again before returning each one: a FIN from us at that point is an
/// error to it and the queued packets are lost (docs/protocol.md, "Closing after DONE").
/// Clients close as soon as their codec is closed, so this only bounds a client that
/// keeps an idle codec open.
pub const LINGER_AFTER_DONE: Duration = Duration::from_secs(30);
/// What a lingering session reads and discards at most (repeated FLUSHes are 12 bytes).
pub const LINGER_DISCARD_LIMIT: u64 = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum Action {
    /// A picture for the encoder (still to be unpacked and decompressed).
    Encode(Frame),
    /// An access unit for the decoder.
    Decode(Packet),
    /// The client's first FLUSH: drain the codec, then DONE.
    Flush,
    /// Answer PING with PONG, in any state.
    Pong,
    /// Read and dropped.
    Ignore,
    /// The client kept sending after FLUSH beyond any reason: stop reading.
    StopReading,
    /// End the session with this ERROR.
    Refuse(SessionError),
}

/// The reader's state: which mode the session is in and whether FLUSH has been seen.
#[derive(Debug)]
pub struct StreamPolicy {
    mode: Mode,
    flushed: bool,
    discarded: u64,
}

impl StreamPolicy {
    pub fn new(mode: Mode) -> Self {
        StreamPolicy {
            mode,
            flushed: false,
            discarded: 0,
        }
    }

    /// How long to wait for the next message. After FLUSH the client only owes us its
    /// close (and maybe more FLUSHes): wait as long as the session lingers.
    pub fn read_timeout(&self, idle: Duration) -> Duration {
        if self.flushed {
            LINGER_AFTER_DONE
        } else {
            idle
        }
    }

    pub fn on_message(&mut self, msg: Message, size: usize) -> Action {
        if self.flushed {
            // Repeated FLUSH (the original sends one per drain call) and anything after
            // it: tolerated and ignored, within a bound so a client cannot keep a finished
            // session busy.
            self.discarded += size as u64;
            return if self.discarded > LINGER_DISCARD_LIMIT {
                Action::StopReading
            } else {
                Action::Ignore
            };
        }
        match msg {
            Message::Frame(f) if self.mode == Mode::Encode => Action::Encode(f),
            Message::Packet(p) if self.mode == Mode::Decode => Action::Decode(p),
            // FRAME/PACKET in the other mode: read and ignored like the original (§5.1).
            Message::Frame(_) | Message::Packet(_) => Action::Ignore,
            Message::Flush => {
                self.flushed = true;
                Action::Flush
            }
            Message::Ping => Action::Pong,
            Message::Hello(_) | Message::Configure(_) => Action::Refuse(SessionError::reply(
                ErrorCode::BadRequest,
                format!("{} after the handshake", msg.ty()),
            )),
            // Server-to-client types and unknown types: the original skips them.
            _ => Action::Ignore,
        }
    }

    /// A failed read: the codec must hear of it, unless the client already sent FLUSH (then
    /// it only owed us its close, however it closes).
    pub fn on_read_error(&self, e: WireError) -> Option<SessionError> {
        (!self.flushed).then(|| e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtremote_proto::{Configure, Hello, MessageType};

    fn frame() -> Message {
        Message::Frame(
            Frame::decode(vec![0; Frame::FIXED_LEN]).expect("a frame with no planes decodes"),
        )
    }

    #[test]
    fn frames_go_to_the_encoder_and_packets_to_the_decoder() {
        assert!(matches!(
            StreamPolicy::new(Mode::Encode).on_message(frame(), 33),
            Action::Encode(_)
        ));
        assert!(matches!(
            StreamPolicy::new(Mode::Decode).on_message(Message::Packet(Packet::default()), 44),
            Action::Decode(_)
        ));
    }

    #[test]
    fn frame_in_decode_mode_and_packet_in_encode_mode_are_ignored_as_by_the_original() {
        let mut decode = StreamPolicy::new(Mode::Decode);
        assert!(matches!(decode.on_message(frame(), 33), Action::Ignore));
        let mut encode = StreamPolicy::new(Mode::Encode);
        assert!(matches!(
            encode.on_message(Message::Packet(Packet::default()), 44),
            Action::Ignore
        ));
    }

    #[test]
    fn repeated_flush_after_done_is_ignored() {
        let mut p = StreamPolicy::new(Mode::Encode);
        assert!(matches!(p.on_message(Message::Flush, 12), Action::Flush));
        for _ in 0..5 {
            assert!(matches!(p.on_message(Message::Flush, 12), Action::Ignore));
        }
    }

    #[test]
    fn anything_after_flush_is_discarded_up_to_a_bound() {
        let mut p = StreamPolicy::new(Mode::Encode);
        p.on_message(Message::Flush, 12);
        assert!(matches!(p.on_message(frame(), 1 << 20), Action::Ignore));
        assert!(matches!(
            p.on_message(frame(), LINGER_DISCARD_LIMIT as usize),
            Action::StopReading
        ));
    }

    #[test]
    fn ping_is_answered_with_pong_while_streaming() {
        let mut p = StreamPolicy::new(Mode::Decode);
        assert!(matches!(p.on_message(Message::Ping, 12), Action::Pong));
    }

    #[test]
    fn hello_or_configure_after_the_handshake_is_bad_request() {
        for msg in [
            Message::Hello(Hello::default()),
            Message::Configure(Configure::default()),
        ] {
            let ty = msg.ty();
            let Action::Refuse(e) = StreamPolicy::new(Mode::Encode).on_message(msg, 40) else {
                panic!("{ty} accepted")
            };
            assert_eq!(e.code(), Some(ErrorCode::BadRequest));
            assert!(e.message.contains("after the handshake"), "{}", e.message);
        }
    }

    #[test]
    fn server_messages_and_unknown_types_from_a_client_are_skipped() {
        let mut p = StreamPolicy::new(Mode::Encode);
        assert!(matches!(p.on_message(Message::Done, 12), Action::Ignore));
        assert!(matches!(p.on_message(Message::Pong, 12), Action::Ignore));
        let unknown = Message::decode(MessageType::from_u16(77), vec![1, 2, 3]).unwrap();
        assert!(matches!(p.on_message(unknown, 15), Action::Ignore));
    }

    #[test]
    fn after_flush_the_read_waits_for_the_linger_and_errors_are_not_the_clients_fault() {
        let mut p = StreamPolicy::new(Mode::Encode);
        let idle = Duration::from_secs(2);
        assert_eq!(p.read_timeout(idle), idle);
        assert!(p.on_read_error(WireError::Eof).is_some());
        p.on_message(Message::Flush, 12);
        assert_eq!(p.read_timeout(idle), LINGER_AFTER_DONE);
        assert!(p.on_read_error(WireError::Eof).is_none());
    }
}
