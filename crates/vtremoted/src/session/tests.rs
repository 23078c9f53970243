//! Whole sessions over `UnixStream::pair()` with a fake backend: the handshake, streaming
//! and close rules of design.md, without ports, libavcodec or ffmpeg.

use std::collections::VecDeque;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use vtremote_proto::{
    encode_frame, Codec, Configure, ErrorCode, FrameGeometry, Hello, HelloStatus, Limits, Message,
    Packet, PixelFormat, PlaneCompressor, PlaneSource, WireCompression,
};

use super::{run, ServerIdentity, SessionContext, SessionError};
use crate::backend::{
    Backend, BackendError, CodecSupport, CompressedPacket, DecodedFrame, DecoderConfig,
    EncodedPacket, EncoderConfig, RawFrame, VideoDecoder, VideoEncoder,
};
use crate::message_io::read_message;
use crate::metrics::{BuildInfo, Metrics};
use crate::slots::Slots;

const IDLE: Duration = Duration::from_secs(5);

/// Encodes each picture into a "packet" holding its first luma byte, after holding
/// `delay` pictures; decodes each packet into a picture filled with its last byte.
struct FakeBackend {
    delay: usize,
    caps: Vec<CodecSupport>,
}

impl FakeBackend {
    fn new(delay: usize) -> Arc<Self> {
        let caps = [Codec::H264, Codec::Hevc]
            .map(|codec| CodecSupport {
                codec,
                encode: true,
                decode: true,
                pix_fmts: vec![PixelFormat::Nv12],
                encoder_name: Some("fake".into()),
                decoder_name: Some("fake".into()),
                hardware: false,
            })
            .to_vec();
        Arc::new(FakeBackend { delay, caps })
    }
}

struct FakeEncoder {
    delay: usize,
    held: VecDeque<EncodedPacket>,
}

impl VideoEncoder for FakeEncoder {
    fn extradata(&self) -> &[u8] {
        b"avcC"
    }
    fn warnings(&self) -> &[String] {
        &[]
    }
    fn name(&self) -> &str {
        "fake encoder"
    }
    fn encode(
        &mut self,
        frame: &RawFrame<'_>,
        out: &mut Vec<EncodedPacket>,
    ) -> Result<(), BackendError> {
        self.held.push_back(EncodedPacket {
            pts: frame.pts,
            dts: frame.pts,
            duration: frame.duration,
            keyframe: frame.force_keyframe,
            data: vec![0, 0, 0, 1, frame.planes[0].data[0]],
        });
        while self.held.len() > self.delay {
            out.extend(self.held.pop_front());
        }
        Ok(())
    }
    fn flush(&mut self, out: &mut Vec<EncodedPacket>) -> Result<(), BackendError> {
        out.extend(self.held.drain(..));
        Ok(())
    }
}

struct FakeDecoder {
    geometry: FrameGeometry,
}

impl VideoDecoder for FakeDecoder {
    fn warnings(&self) -> &[String] {
        &[]
    }
    fn name(&self) -> &str {
        "fake decoder"
    }
    fn decode(
        &mut self,
        packet: &CompressedPacket<'_>,
        out: &mut Vec<DecodedFrame>,
    ) -> Result<(), BackendError> {
        let fill = *packet.data.last().unwrap_or(&0);
        let g = &self.geometry;
        out.push(DecodedFrame {
            pts: packet.pts,
            duration: packet.duration,
            planes: [0, 1].map(|i| vec![fill; g.row_bytes(i) * g.plane_rows(i)]),
        });
        Ok(())
    }
    fn flush(&mut self, _out: &mut Vec<DecodedFrame>) -> Result<(), BackendError> {
        Ok(())
    }
}

impl Backend for FakeBackend {
    fn name(&self) -> &str {
        "fake"
    }
    fn capabilities(&self) -> &[CodecSupport] {
        &self.caps
    }
    fn open_encoder(&self, config: &EncoderConfig) -> Result<Box<dyn VideoEncoder>, BackendError> {
        if config.options.profile == 999 {
            return Err(BackendError::unsupported("profile", "999 is no profile"));
        }
        Ok(Box::new(FakeEncoder {
            delay: self.delay,
            held: VecDeque::new(),
        }))
    }
    fn open_decoder(&self, config: &DecoderConfig) -> Result<Box<dyn VideoDecoder>, BackendError> {
        Ok(Box::new(FakeDecoder {
            geometry: config.geometry,
        }))
    }
}

struct Harness {
    client: UnixStream,
    session: JoinHandle<Result<&'static str, SessionError>>,
    shutdown: Arc<AtomicBool>,
    /// The session's own socket, for `stop_like_the_daemon`.
    server_end: Option<UnixStream>,
}

fn start_with(backend: Arc<dyn Backend>, token: Option<&str>, slots: Arc<Slots>) -> Harness {
    let (client, server) = UnixStream::pair().unwrap();
    let shutdown = Arc::new(AtomicBool::new(false));
    let metrics = Metrics::new(
        slots.clone(),
        BuildInfo {
            version: "0".into(),
            backend: "fake".into(),
        },
    );
    let ctx = SessionContext {
        id: 1,
        token: token.map(|t| t.as_bytes().to_vec()),
        backend,
        slots,
        idle_timeout: IDLE,
        identity: Arc::new(ServerIdentity {
            name: "test".into(),
            version: "0".into(),
        }),
        shutdown: shutdown.clone(),
        transport_refusal: None,
        throttle: Default::default(),
        peer_ip: None,
        metrics,
    };
    let server_end = server.try_clone().unwrap();
    let session = std::thread::spawn(move || run(server, ctx));
    client.set_read_timeout(Some(IDLE)).unwrap();
    Harness {
        client,
        session,
        shutdown,
        server_end: Some(server_end),
    }
}

fn start() -> Harness {
    start_with(FakeBackend::new(2), None, Slots::new(4))
}

const GEOMETRY: (u32, u32) = (16, 8);

fn geometry() -> FrameGeometry {
    FrameGeometry::new(GEOMETRY.0, GEOMETRY.1, PixelFormat::Nv12).unwrap()
}

impl Harness {
    fn send(&mut self, msg: &Message) {
        std::io::Write::write_all(&mut self.client, &msg.to_bytes().unwrap()).unwrap();
    }

    fn recv(&mut self) -> Option<Message> {
        read_message(&mut self.client, &Limits::with_geometry(&geometry()), IDLE)
            .unwrap()
            .map(|(m, _)| m)
    }

    fn hello(&mut self, token: &str) -> Message {
        self.send(&Message::Hello(Hello {
            token: token.into(),
            codec: "h264".into(),
            client_name: "test".into(),
            client_build: "1".into(),
        }));
        self.recv().expect("HELLO_ACK")
    }

    fn configure(&mut self, options: &[(&str, &str)]) -> Message {
        self.send(&Message::Configure(Configure {
            width: GEOMETRY.0,
            height: GEOMETRY.1,
            pix_fmt: PixelFormat::Nv12.wire_code(),
            time_base: (1, 30),
            framerate: (30, 1),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extradata: vec![],
        }));
        self.recv().expect("CONFIGURE_ACK")
    }

    /// HELLO and CONFIGURE with zstd, the compression `frame` sends.
    fn handshake(&mut self, options: &[(&str, &str)]) {
        assert!(
            matches!(self.hello(""), Message::HelloAck(a) if a.status == HelloStatus::Accepted)
        );
        let mut options = options.to_vec();
        options.push(("wire_compression", "2"));
        assert!(matches!(self.configure(&options), Message::ConfigureAck(_)));
    }

    /// Reads up to DONE; anything but PACKETs before it fails the test.
    fn packets_until_done(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        loop {
            match self.recv() {
                Some(Message::Packet(p)) => packets.push(p),
                Some(Message::Done) => return packets,
                other => panic!("expected PACKET or DONE, got {other:?}"),
            }
        }
    }

    fn frame(&mut self, pts: i64, luma: u8) {
        let g = geometry();
        let bufs = [0, 1].map(|i| vec![luma; g.row_bytes(i) * g.plane_rows(i)]);
        let planes = [0, 1].map(|i| PlaneSource {
            data: &bufs[i],
            stride: g.row_bytes(i),
            row_bytes: g.row_bytes(i),
            rows: g.plane_rows(i),
        });
        let mut out = Vec::new();
        let mut c = PlaneCompressor::new(WireCompression::Zstd, PixelFormat::Nv12).unwrap();
        encode_frame(&mut out, pts, 1, 0, &planes, &[], &mut c, &mut Vec::new()).unwrap();
        std::io::Write::write_all(&mut self.client, &out).unwrap();
    }

    fn close(self) -> Result<&'static str, SessionError> {
        drop(self.client);
        drop(self.server_end);
        self.session.join().unwrap()
    }
}

fn expect_error(h: &mut Harness, code: ErrorCode, text: &str) {
    match h.recv() {
        Some(Message::Error(e)) => {
            assert_eq!(e.code, code, "{}", e.message);
            assert!(e.message.contains(text), "{:?} lacks {text:?}", e.message);
        }
        other => panic!("expected ERROR {code:?}, got {other:?}"),
    }
}

#[test]
fn encode_session_returns_every_frame_in_order_then_done() {
    let mut h = start();
    h.handshake(&[]);
    for i in 0..5 {
        h.frame(i, 10 + i as u8);
    }
    h.send(&Message::Flush);
    let got: Vec<(i64, u8)> = h
        .packets_until_done()
        .iter()
        .map(|p| (p.pts, p.data[4]))
        .collect();
    assert_eq!(got, (0..5).map(|i| (i, 10 + i as u8)).collect::<Vec<_>>());
    assert_eq!(h.close().unwrap(), "ok");
}

#[test]
fn repeated_flush_after_done_is_ignored_and_the_session_ends_ok_when_the_client_closes() {
    let mut h = start();
    h.handshake(&[]);
    h.frame(0, 1);
    h.send(&Message::Flush);
    assert_eq!(h.packets_until_done().len(), 1);
    // The original client sends one FLUSH per drain call: up to five per stream.
    for _ in 0..4 {
        h.send(&Message::Flush);
    }
    assert_eq!(h.close().unwrap(), "ok");
}

#[test]
fn ping_is_answered_with_pong_while_streaming() {
    let mut h = start();
    h.handshake(&[]);
    h.send(&Message::Ping);
    assert_eq!(h.recv(), Some(Message::Pong));
}

#[test]
fn frame_in_decode_mode_is_ignored_and_packets_decode() {
    let mut h = start();
    h.handshake(&[("mode", "decode")]);
    h.frame(0, 9);
    let mut data = vec![0, 0, 0, 1, 0x65, 42];
    h.send(&Message::Packet(Packet {
        pts: 3,
        dts: 3,
        duration: 1,
        flags: Packet::FLAG_KEYFRAME,
        data: std::mem::take(&mut data),
    }));
    match h.recv() {
        Some(Message::Frame(f)) => {
            assert_eq!(f.pts, 3);
            assert_eq!(f.planes.len(), 2);
        }
        other => panic!("expected the decoded picture, got {other:?}"),
    }
    h.send(&Message::Flush);
    assert_eq!(h.recv(), Some(Message::Done));
}

#[test]
fn hello_after_the_handshake_is_bad_request() {
    let mut h = start();
    h.handshake(&[]);
    h.send(&Message::Hello(Hello::default()));
    expect_error(&mut h, ErrorCode::BadRequest, "HELLO after the handshake");
    assert!(h.close().is_err());
}

#[test]
fn first_message_other_than_hello_is_bad_request() {
    let mut h = start();
    h.send(&Message::Flush);
    expect_error(&mut h, ErrorCode::BadRequest, "first message must be HELLO");
}

#[test]
fn wrong_token_gets_authfail_then_a_clean_close() {
    let mut h = start_with(FakeBackend::new(0), Some("secret"), Slots::new(1));
    assert!(
        matches!(h.hello("guess"), Message::HelloAck(a) if a.status == HelloStatus::AuthFailed)
    );
    assert_eq!(h.recv(), None, "FIN after the refusal");
    let e = h.close().unwrap_err();
    assert!(e.message.contains("authentication failed"), "{}", e.message);
}

#[test]
fn a_full_helper_answers_busy_with_counts_then_error_2() {
    let slots = Slots::new(1);
    let _taken = slots.try_acquire();
    let mut h = start_with(FakeBackend::new(0), None, slots);
    assert!(
        matches!(h.hello(""), Message::HelloAck(a) if a.status == HelloStatus::Busy && a.active_sessions == 1)
    );
    expect_error(&mut h, ErrorCode::Busy, "busy: 1 of 1");
}

#[test]
fn close_after_hello_ack_is_a_probe_not_an_error() {
    let mut h = start();
    h.hello("");
    assert_eq!(h.close().unwrap(), "probe (closed after HELLO_ACK)");
}

#[test]
fn backend_refusal_is_error_3_naming_the_option() {
    let mut h = start();
    h.hello("");
    match h.configure(&[("profile", "999")]) {
        Message::Error(e) => {
            assert_eq!(e.code, ErrorCode::UnsupportedConfig);
            assert!(e.message.contains("profile"), "{}", e.message);
        }
        other => panic!("expected ERROR 3, got {other:?}"),
    }
}

#[test]
fn client_vanishing_mid_stream_ends_the_session_without_a_reply() {
    let mut h = start();
    h.handshake(&[]);
    h.frame(0, 1);
    let e = h.close().unwrap_err();
    assert!(e.reply.is_none());
    assert!(
        e.message.contains("disconnected before FLUSH"),
        "{}",
        e.message
    );
}

/// What the server's registry does at SIGTERM: set the flag, shut the read side.
fn stop_like_the_daemon(h: &Harness) {
    h.shutdown.store(true, std::sync::atomic::Ordering::Release);
    let socket = h.server_end.as_ref().expect("session socket");
    socket.shutdown(std::net::Shutdown::Read).unwrap();
}

#[test]
fn daemon_shutdown_ends_a_streaming_session_with_an_error() {
    let mut h = start();
    h.handshake(&[]);
    h.frame(0, 1);
    stop_like_the_daemon(&h);
    expect_error(&mut h, ErrorCode::Internal, "daemon shutting down");
    assert!(h.close().is_err());
}

#[test]
fn daemon_shutdown_ends_a_session_in_its_handshake_with_an_error() {
    let mut h = start();
    h.hello("");
    stop_like_the_daemon(&h);
    expect_error(&mut h, ErrorCode::Internal, "daemon shutting down");
}

#[test]
fn every_ending_has_its_metrics_outcome() {
    use super::{outcome, PROBE};
    use crate::metrics::Outcome;
    let err = |e: SessionError| outcome(&Err(e));
    assert_eq!(outcome(&Ok("ok")), Outcome::Ok);
    assert_eq!(outcome(&Ok(PROBE)), Outcome::Probe);
    assert_eq!(err(SessionError::auth_failed("t")), Outcome::AuthFailed);
    assert_eq!(
        err(SessionError::reply(ErrorCode::Busy, "b")),
        Outcome::Busy
    );
    for code in [
        ErrorCode::UnsupportedConfig,
        ErrorCode::UnsupportedCompression,
    ] {
        assert_eq!(err(SessionError::reply(code, "u")), Outcome::Unsupported);
    }
    assert_eq!(
        err(SessionError::reply(ErrorCode::BadRequest, "x")),
        Outcome::Error
    );
    assert_eq!(err(SessionError::shutting_down()), Outcome::Error);
    assert_eq!(err(SessionError::silent("gone")), Outcome::Aborted);
}
