//! The original C FFmpeg client (spec §3, §5, §10) emulated byte for byte against our
//! daemon: its option list, padded linesize strides, floor(h/2) chroma rows, window of 16,
//! FLUSH repeated after DONE, lock-step decode. Its encoder is modelled call by call
//! (`OriginalEncoder`, after its `ff_vtremote_encode`), including the non-blocking read it
//! does before returning each queued packet: a FIN after DONE makes that read fail and the
//! queued packets are lost. If these pass, the unchanged fork works.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use vtremote_proto::{
    encode_frame, Configure, Frame, FrameGeometry, Header, Hello, Message, Packet, PixelFormat,
    PlaneCompressor, PlaneDecompressor, PlaneSource, WireCompression, HEADER_LEN,
};

/// The original FFmpeg fork's encoder, one method per C function it runs per call of the
/// legacy `encode2` callback (`ff_vtremote_encode`). Its two known bugs are modelled too:
/// a frame whose send fills the window is sent again after a packet arrives (duplicate), and
/// a frame arriving while a queued packet is returned with a full window is never sent.
struct OriginalEncoder {
    s: TcpStream,
    window: u32,
    inflight: u32,
    max_inflight: u32,
    queue: VecDeque<Packet>,
    queue_cap: usize,
    done: bool,
    frames_sent: u32,
}

impl OriginalEncoder {
    fn new(s: TcpStream, window: u32) -> Self {
        OriginalEncoder {
            s,
            window,
            inflight: 0,
            max_inflight: 0,
            queue: VecDeque::new(),
            queue_cap: (2 * window as usize).max(4),
            done: false,
            frames_sent: 0,
        }
    }

    /// `check_readable(fd, 0)`: poll with a 0 ms timeout. A FIN makes the socket readable.
    fn readable_now(&self) -> bool {
        self.s.set_nonblocking(true).unwrap();
        let r = self.s.peek(&mut [0u8; 1]);
        self.s.set_nonblocking(false).unwrap();
        match r {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    }

    /// `vtremote_read_msg`: a whole message; EOF or a socket error is an error.
    fn read_msg(&mut self) -> Result<Message, String> {
        let mut h = [0u8; HEADER_LEN];
        self.s
            .read_exact(&mut h)
            .map_err(|e| format!("reading a message header: {e}"))?;
        let h = Header::decode(&h).map_err(|e| e.to_string())?;
        let mut p = vec![0u8; h.len as usize];
        self.s
            .read_exact(&mut p)
            .map_err(|e| format!("reading a payload: {e}"))?;
        Message::decode(h.ty, p).map_err(|e| e.to_string())
    }

    /// `vtremote_drain_available_packets`: everything readable now, into the queue. Note
    /// that it does not look at `done`: after DONE it still polls and reads the socket.
    fn drain_available(&mut self) -> Result<(), String> {
        while self.queue.len() < self.queue_cap {
            if !self.readable_now() {
                break;
            }
            match self.read_msg()? {
                Message::Packet(p) => {
                    self.queue.push_back(p);
                    self.inflight = self.inflight.saturating_sub(1);
                }
                Message::Done => {
                    self.done = true;
                    return Ok(());
                }
                Message::Ping => send(&mut self.s, &Message::Pong),
                Message::Error(e) => return Err(format!("server error {e:?}")),
                _ => {}
            }
        }
        Ok(())
    }

    /// `ff_vtremote_common_send_frame`: FLUSH for `None`.
    fn send_frame(&mut self, frame: Option<&[u8]>) -> Result<(), String> {
        match frame {
            None => self.s.write_all(&Message::Flush.to_bytes().unwrap()),
            Some(bytes) => self.s.write_all(bytes),
        }
        .map_err(|e| format!("send: {e}"))?;
        if frame.is_some() {
            self.inflight += 1;
            self.frames_sent += 1;
            self.max_inflight = self.max_inflight.max(self.inflight);
        }
        Ok(())
    }

    /// `ff_vtremote_common_receive_packet`: blocking; `None` = EOF (DONE seen).
    fn receive_packet(&mut self) -> Result<Option<Packet>, String> {
        if self.done {
            return Ok(None);
        }
        if let Some(p) = self.queue.pop_front() {
            return Ok(Some(p));
        }
        loop {
            match self.read_msg()? {
                Message::Packet(p) => {
                    self.inflight = self.inflight.saturating_sub(1);
                    return Ok(Some(p));
                }
                Message::Done => {
                    self.done = true;
                    return Ok(None);
                }
                Message::Ping => send(&mut self.s, &Message::Pong),
                Message::Error(e) => return Err(format!("server error {e:?}")),
                _ => {}
            }
        }
    }

    /// `ff_vtremote_encode`: `Ok(None)` with a frame = no packet yet; `Ok(None)` without one
    /// = end of stream.
    fn encode(&mut self, frame: Option<&[u8]>) -> Result<Option<Packet>, String> {
        self.drain_available()?;
        if let Some(p) = self.queue.pop_front() {
            if let Some(f) = frame {
                if self.inflight < self.window {
                    let _ = self.send_frame(Some(f));
                } // else: the frame is dropped (bug)
            }
            return Ok(Some(p));
        }
        if let Some(f) = frame {
            if self.inflight < self.window {
                self.send_frame(Some(f))?;
            }
            if self.inflight >= self.window {
                let p = self.receive_packet()?;
                if p.is_some() {
                    let _ = self.send_frame(Some(f)); // the same frame again (bug)
                }
                return Ok(p);
            }
            return Ok(None);
        }
        self.send_frame(None)?;
        self.receive_packet()
    }
}

/// The original client's socket, as its `configure_socket_buffers` sets it up.
fn original_socket(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap(); // vt_remote_timeout_ms default
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn send(s: &mut TcpStream, m: &Message) {
    s.write_all(&m.to_bytes().unwrap()).unwrap();
}

fn recv(s: &mut TcpStream) -> Message {
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).expect("message header");
    let h = Header::decode(&h).unwrap();
    let mut p = vec![0u8; h.len as usize];
    s.read_exact(&mut p).unwrap();
    Message::decode(h.ty, p).unwrap()
}

fn handshake(
    addr: std::net::SocketAddr,
    codec: &str,
    configure: Configure,
) -> (TcpStream, Message) {
    let mut s = original_socket(addr);
    send(
        &mut s,
        &Message::Hello(Hello {
            token: String::new(),
            codec: codec.into(),
            client_name: "ffmpeg-vtremote".into(),
            client_build: "8.0.git".into(),
        }),
    );
    let Message::HelloAck(ack) = recv(&mut s) else {
        panic!("HELLO_ACK")
    };
    assert_eq!(ack.status.code(), 0);
    send(&mut s, &Message::Configure(configure));
    let ack = recv(&mut s);
    (s, ack)
}

/// How the emulated FFmpeg feeds the original encoder.
struct Run {
    frames: u32,
    /// `-vt_remote_inflight`: 16 by default; users of the original client are advised to
    /// raise it so that its window-full bugs stay out of the way.
    window: u32,
    /// Time between input frames (`-re`, a live source); zero = as fast as it can.
    pace: Duration,
    /// What FFmpeg spends between two draining calls (muxing, writing): long enough for
    /// everything the daemon still sends after FLUSH, DONE included, to arrive meanwhile.
    mux: Duration,
}

/// A live source at the CONFIGURE frame rate (25 fps).
const PACED: Run = Run {
    frames: 40,
    window: 64,
    pace: Duration::from_millis(40),
    mux: Duration::from_millis(20),
};

/// What the emulated original client saw; `packets` are checked to decode.
struct Seen {
    max_inflight: u32,
}

fn original_encode(codec: &str, fmt: PixelFormat, wc: u8, width: u32, height: u32) -> Seen {
    original_encode_run(codec, fmt, wc, width, height, &PACED)
}

fn original_encode_run(
    codec: &str,
    fmt: PixelFormat,
    wc: u8,
    width: u32,
    height: u32,
    run: &Run,
) -> Seen {
    let d = start_daemon(None, 4);
    let g = FrameGeometry::new(width, height, fmt).unwrap();
    let mut options = vec![("mode", "encode".to_string())];
    if wc > 0 {
        options.push(("wire_compression", wc.to_string()));
    }
    options.extend([
        ("bitrate", "1000000".to_string()),
        ("gop", "12".to_string()),
        ("flags", "4194304".to_string()),
        ("entropy", "0".to_string()),
        ("realtime", "0".to_string()),
        (
            "a53_cc",
            if codec == "h264" { "1" } else { "0" }.to_string(),
        ),
    ]);
    if codec == "hevc" {
        options.push(("max_slice_bytes", "0".into()));
    }
    let configure = Configure {
        width,
        height,
        pix_fmt: fmt.wire_code(),
        time_base: (1, 25),
        framerate: (25, 1),
        options: options
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        extradata: vec![],
    };
    let (s, ack) = handshake(d.addr, codec, configure);
    let Message::ConfigureAck(ack) = ack else {
        panic!("CONFIGURE_ACK, got {ack:?}")
    };
    assert_eq!(ack.status, 0);
    assert_eq!(ack.pix_fmt, fmt.wire_code());
    // The original client converts this avcC/hvcC to Annex B; it needs ≥ 23 bytes for HEVC.
    assert!(
        ack.extradata.len() >= 7 && ack.extradata[0] == 1,
        "a configuration record"
    );
    if codec == "hevc" {
        assert!(ack.extradata.len() >= 23);
    }
    let mut compressor =
        PlaneCompressor::new(WireCompression::from_code(wc as i64).unwrap(), fmt).unwrap();
    let frames = run.frames;
    let mut enc = OriginalEncoder::new(s, run.window);
    let mut packets = Vec::new();
    let luma = g.row_bytes(0) * g.plane_rows(0);
    let t0 = Instant::now();
    for n in 0..frames {
        let pic = synthetic_frame(&g, n);
        // FFmpeg linesize: row bytes rounded up to 64; chroma rows floor(h/2) (§5.6).
        let linesize = |p: usize| g.row_bytes(p).div_ceil(64) * 64;
        let rows = [height as usize, height as usize / 2];
        let planes: Vec<Vec<u8>> = (0..2)
            .map(|p| {
                let base = if p == 0 { 0 } else { luma };
                let mut v = vec![0u8; linesize(p) * rows[p]];
                for r in 0..rows[p] {
                    let rb = g.row_bytes(p);
                    v[r * linesize(p)..r * linesize(p) + rb]
                        .copy_from_slice(&pic[base + r * rb..base + (r + 1) * rb]);
                }
                v
            })
            .collect();
        // The original sends linesize as stride with the padding included: build that
        // by declaring row_bytes = stride.
        let sources = [0, 1].map(|p| PlaneSource {
            data: &planes[p],
            stride: linesize(p),
            row_bytes: linesize(p),
            rows: rows[p],
        });
        let mut bytes = Vec::new();
        encode_frame(
            &mut bytes,
            n as i64,
            1,
            0,
            &sources,
            &[],
            &mut compressor,
            &mut Vec::new(),
        )
        .unwrap();
        if let Some(at) = t0.checked_add(run.pace * n) {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
        match enc.encode(Some(&bytes)) {
            Ok(Some(p)) => packets.push(p),
            Ok(None) => {}
            Err(e) => panic!("the original client fails at frame {n}: {e}"),
        }
    }
    // Draining: FFmpeg calls encode2 without a frame until it reports no packet.
    loop {
        std::thread::sleep(run.mux);
        match enc.encode(None) {
            Ok(Some(p)) => packets.push(p),
            Ok(None) => break,
            Err(e) => panic!(
                "the original client fails while draining after {} of {frames} packets \
                 ({} still queued, DONE seen: {}): {e}",
                packets.len(),
                enc.queue.len(),
                enc.done
            ),
        }
    }
    assert_eq!(
        enc.frames_sent, frames,
        "the window never filled: no frame resent or lost"
    );
    // The original closes its socket when the codec closes; the daemon then closes too,
    // gracefully (EOF, not a reset), having discarded the FLUSHes.
    let mut s = enc.s;
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let r = s.read_to_end(&mut rest);
    assert!(r.is_ok(), "connection closed gracefully, got {r:?}");
    assert!(rest.is_empty());
    assert_eq!(packets.len(), frames as usize, "one PACKET per FRAME");
    for w in packets.windows(2) {
        assert!(w[1].dts > w[0].dts);
    }
    // Decodable: Annex B parameter sets from the record + packets.
    let mcodec = if codec == "h264" {
        vtremote_media::Codec::H264
    } else {
        vtremote_media::Codec::Hevc
    };
    let mut stream = vtremote_media::extradata::to_annexb(mcodec, &ack.extradata).unwrap();
    for p in &packets {
        stream.extend_from_slice(&p.data);
    }
    let dir = tmpdir(&format!("orig-{codec}-{fmt}-{wc}"));
    let path = dir.join("out.bit");
    std::fs::write(&path, &stream).unwrap();
    let decoded = reference_decode(&path, fmt);
    assert_eq!(decoded.len(), g.tight_frame_bytes() * frames as usize);
    Seen {
        max_inflight: enc.max_inflight,
    }
}

/// Issue: the original client duplicates or drops a frame whenever its window (16) fills,
/// so the daemon must never hold much of it. At real-time pacing it sees what the encoder
/// holds plus the frame in transit: at most half its window.
#[test]
fn original_client_at_real_time_pacing_keeps_half_its_window_free() {
    let run = Run {
        frames: 60,
        window: 16,
        pace: Duration::from_millis(33),
        mux: Duration::from_millis(2),
    };
    let seen = original_encode_run("h264", PixelFormat::Nv12, 2, 640, 360, &run);
    eprintln!(
        "original client, 640x360 at 30 fps: max_inflight={}",
        seen.max_inflight
    );
    assert!(
        seen.max_inflight <= 8,
        "the original client saw {} frames in flight (its window is 16)",
        seen.max_inflight
    );
}

#[test]
fn original_client_h264_encode_with_zstd() {
    original_encode("h264", PixelFormat::Nv12, 2, 320, 240);
}

#[test]
fn original_client_h264_encode_with_lz4_odd_height() {
    original_encode("h264", PixelFormat::Nv12, 1, 320, 182);
}

#[test]
fn original_client_hevc_encode_uncompressed() {
    original_encode("hevc", PixelFormat::Nv12, 0, 320, 240);
}

#[test]
fn original_client_hevc_p010_encode_with_zstd() {
    original_encode("hevc", PixelFormat::P010, 2, 320, 240);
}

#[test]
fn original_client_lock_step_decode_gets_a_frame_per_packet() {
    let d = start_daemon(None, 4);
    let g = FrameGeometry::new(320, 240, PixelFormat::Nv12).unwrap();
    // Make a stream with the system encoder (no B-frames, like a typical camera/x264 baseline).
    let dir = tmpdir("orig-decode");
    let raw = dir.join("in.yuv");
    let mut all = Vec::new();
    for n in 0..20 {
        all.extend(synthetic_frame(&g, n));
    }
    std::fs::write(&raw, &all).unwrap();
    let h264 = dir.join("in.h264");
    let st = std::process::Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "nv12", "-s", "320x240", "-i",
        ])
        .arg(&raw)
        .args(["-c:v", "libx264", "-bf", "0", "-g", "10"])
        .arg(&h264)
        .status()
        .unwrap();
    assert!(st.success());
    let data = std::fs::read(&h264).unwrap();
    let info = vtremote_media::stream_info_from_annexb(vtremote_media::Codec::H264, &data).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    let mut aus: Vec<Vec<u8>> = Vec::new();
    // Split at slice NALs with first_mb_in_slice == 0 (x264 emits one slice per picture here).
    let mut cur = Vec::new();
    for nal in vtremote_media::annexb::nal_units(&data) {
        let ty = nal[0] & 0x1f;
        if matches!(ty, 1 | 5 | 7) && cur.iter().any(|&(t, _): &(u8, &[u8])| t == 1 || t == 5) {
            aus.push(
                cur.iter()
                    .flat_map(|(_, n): &(u8, &[u8])| [&[0u8, 0, 0, 1][..], n].concat())
                    .collect(),
            );
            cur.clear();
        }
        cur.push((ty, nal));
    }
    aus.push(
        cur.iter()
            .flat_map(|(_, n)| [&[0u8, 0, 0, 1][..], n].concat())
            .collect(),
    );
    assert_eq!(aus.len(), 20);
    let extradata: Vec<u8> = aus[0][..].to_vec();
    let configure = Configure {
        width: 320,
        height: 240,
        pix_fmt: 1,
        time_base: (0, 1),
        framerate: (0, 0),
        options: vec![
            ("mode".into(), "decode".into()),
            ("wire_compression".into(), "2".into()),
        ],
        extradata,
    };
    let (mut s, ack) = handshake(d.addr, "h264", configure);
    assert!(matches!(ack, Message::ConfigureAck(_)), "{ack:?}");
    let mut dec = PlaneDecompressor::new(WireCompression::Zstd, PixelFormat::Nv12).unwrap();
    let mut frames = 0;
    for (n, au) in aus.iter().enumerate() {
        send(
            &mut s,
            &Message::Packet(Packet {
                pts: n as i64,
                dts: n as i64,
                duration: 0,
                flags: 0,
                data: au.clone(),
            }),
        );
        // Lock-step: one FRAME per PACKET, promptly (the original waits up to 5 s otherwise).
        let t0 = std::time::Instant::now();
        let Message::Frame(f) = recv(&mut s) else {
            panic!("FRAME")
        };
        assert!(t0.elapsed() < Duration::from_secs(2), "answered promptly");
        assert_eq!(f.pts, n as i64);
        check_frame(&f, &g, &mut dec);
        frames += 1;
    }
    send(&mut s, &Message::Flush);
    assert!(matches!(recv(&mut s), Message::Done));
    assert_eq!(frames, 20);
}

fn check_frame(f: &Frame, g: &FrameGeometry, dec: &mut PlaneDecompressor) {
    // The original client copies `rows` rows into a frame of the configured size: the
    // daemon must never send more than the configured geometry.
    let mut scratch = [Vec::new(), Vec::new()];
    let planes = f
        .unpack(g, dec, &mut scratch)
        .expect("planes fit the configured geometry");
    assert_eq!(planes[0].rows, 240);
    assert_eq!(planes[1].rows, 120);
}
