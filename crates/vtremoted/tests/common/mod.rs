//! Shared helpers for end-to-end tests: a real daemon on 127.0.0.1, synthetic pictures,
//! and the system `ffmpeg` as the reference decoder.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use vtremote_client::{
    ClientConfig, ClientError, Codec, EncodeSession, EncoderParams, InputFrame, PlaneSource,
    Received, WireCompression,
};
use vtremote_proto::{FrameGeometry, Header, Hello, Message, PixelFormat, HEADER_LEN};
use vtremoted::backend::lavc::LavcBackend;
use vtremoted::server::{Server, ServerConfig};
use vtremoted::transport::TlsPolicy;

pub struct Daemon {
    pub addr: SocketAddr,
}

/// Starts a daemon with the libavcodec backend on a free loopback port.
pub fn start_daemon(token: Option<&str>, max_sessions: usize) -> Daemon {
    start_daemon_with_idle(token, max_sessions, Duration::from_secs(10))
}

pub fn start_daemon_with_idle(token: Option<&str>, max_sessions: usize, idle: Duration) -> Daemon {
    start_daemon_with(token, max_sessions, idle, TlsPolicy::plain_only())
}

pub fn start_daemon_with(
    token: Option<&str>,
    max_sessions: usize,
    idle: Duration,
    tls: TlsPolicy,
) -> Daemon {
    let backend = LavcBackend::new(&[]).expect("libavcodec backend");
    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig {
            token: token.map(|t| t.as_bytes().to_vec()),
            max_sessions,
            idle_timeout: idle,
            once: false,
            tls,
        },
        Arc::new(backend),
    )
    .expect("bind loopback");
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());
    Daemon { addr }
}

pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtremote-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A moving, textured test picture (a gradient with a bouncing box) in tight NV12/P010.
pub fn synthetic_frame(g: &FrameGeometry, n: u32) -> Vec<u8> {
    let (w, h) = (g.width as usize, g.height as usize);
    let bps = g.pix_fmt.bytes_per_sample();
    let mut out = Vec::with_capacity(g.tight_frame_bytes());
    let bx = (n as usize * 7) % w.max(1);
    let by = (n as usize * 3) % h.max(1);
    let mut push = |v: u16| {
        if bps == 1 {
            out.push(v as u8);
        } else {
            // 8-bit design value scaled to 10 bits, stored in the high bits (P010).
            out.extend_from_slice(&((v << 2) << 6).to_le_bytes());
        }
    };
    for y in 0..h {
        for x in 0..w {
            let inside = x >= bx && x < bx + w / 6 && y >= by && y < by + h / 6;
            let v = if inside {
                235
            } else {
                16 + ((x + y + n as usize * 2) % 200) as u16
            };
            push(v);
        }
    }
    for y in 0..g.plane_rows(1) {
        for x in 0..w.div_ceil(2) {
            push(128 + ((x + n as usize) % 40) as u16 - 20);
            push(128 + ((y + 2 * n as usize) % 40) as u16 - 20);
        }
    }
    out
}

/// Decodes an Annex B file with the system ffmpeg into raw frames of `pix_fmt`.
pub fn reference_decode(input: &Path, pix_fmt: PixelFormat) -> Vec<u8> {
    let fmt = match pix_fmt {
        PixelFormat::Nv12 => "nv12",
        PixelFormat::P010 => "p010le",
    };
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args(["-f", "rawvideo", "-pix_fmt", fmt, "-"])
        .output()
        .expect("system ffmpeg (installed by scripts/bootstrap)");
    assert!(
        out.status.success(),
        "reference decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// PSNR of the luma planes (dB); 10-bit samples are compared in their 10-bit range.
pub fn luma_psnr(g: &FrameGeometry, a: &[u8], b: &[u8]) -> f64 {
    let n = g.width as usize * g.height as usize;
    let (mse, peak) = match g.pix_fmt {
        PixelFormat::Nv12 => {
            let s: f64 = a[..n]
                .iter()
                .zip(&b[..n])
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum();
            (s / n as f64, 255.0)
        }
        PixelFormat::P010 => {
            let v = |d: &[u8], i: usize| (u16::from_le_bytes([d[2 * i], d[2 * i + 1]]) >> 6) as f64;
            let s: f64 = (0..n).map(|i| (v(a, i) - v(b, i)).powi(2)).sum();
            (s / n as f64, 1023.0)
        }
    };
    if mse == 0.0 {
        return 99.0;
    }
    10.0 * (peak * peak / mse).log10()
}

pub const FRAMES: u32 = 30;

pub fn client(addr: std::net::SocketAddr, wc: WireCompression) -> ClientConfig {
    let mut c = ClientConfig::new(addr.to_string());
    c.wire_compression = wc;
    c.timeout = Duration::from_secs(10);
    c
}

/// Encodes FRAMES synthetic pictures; returns (Annex B stream, packets with flags, inputs).
/// Encoder parameters for `g` at 30 fps with CONFIGURE `options`.
pub fn encoder_params(codec: Codec, g: FrameGeometry, options: &[(&str, &str)]) -> EncoderParams {
    EncoderParams {
        codec,
        width: g.width,
        height: g.height,
        pix_fmt: g.pix_fmt,
        time_base: (1, 30),
        framerate: (30, 1),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

pub fn remote_encode(
    cfg: &ClientConfig,
    codec: Codec,
    g: FrameGeometry,
    options: &[(&str, &str)],
) -> (Vec<u8>, Vec<vtremote_client::OutputPacket>, Vec<Vec<u8>>) {
    let params = encoder_params(codec, g, options);
    let mut s = EncodeSession::connect(cfg, &params).expect("connect + configure");
    assert!(
        !s.extradata_annexb().is_empty(),
        "CONFIGURE_ACK carries parameter sets"
    );
    let mut packets = Vec::new();
    let mut inputs = Vec::new();
    let luma = g.row_bytes(0) * g.plane_rows(0);
    for n in 0..FRAMES {
        let pic = synthetic_frame(&g, n);
        // Pad rows like FFmpeg's linesize so the tight-packing path is exercised too.
        let pad = 32;
        let padded: Vec<Vec<u8>> = (0..2)
            .map(|p| {
                let (rb, rows) = (g.row_bytes(p), g.plane_rows(p));
                let base = if p == 0 { 0 } else { luma };
                let mut v = Vec::new();
                for r in 0..rows {
                    v.extend_from_slice(&pic[base + r * rb..base + (r + 1) * rb]);
                    v.extend(std::iter::repeat_n(0xAB, pad));
                }
                v
            })
            .collect();
        let frame = InputFrame {
            pts: n as i64,
            duration: 1,
            force_keyframe: n == 17,
            planes: [0, 1].map(|p| PlaneSource {
                data: &padded[p],
                stride: g.row_bytes(p) + pad,
                row_bytes: g.row_bytes(p),
                rows: g.plane_rows(p),
            }),
            side_data: vec![],
        };
        loop {
            match s.send_frame(&frame) {
                Ok(()) => break,
                Err(ClientError::WouldBlock) => {
                    if let Received::Item(p) = s.receive_packet().unwrap() {
                        packets.push(p);
                    }
                }
                Err(e) => panic!("send_frame: {e}"),
            }
        }
        inputs.push(pic);
        while let Received::Item(p) = s.receive_packet().unwrap() {
            packets.push(p);
        }
    }
    s.send_eof().unwrap();
    s.send_eof().unwrap(); // idempotent
    loop {
        match s.receive_packet().unwrap() {
            Received::Item(p) => packets.push(p),
            Received::Eof => break,
            Received::Again => {}
        }
    }
    let mut stream = s.extradata_annexb().to_vec();
    for p in &packets {
        stream.extend_from_slice(&p.data);
    }
    (stream, packets, inputs)
}

/// A HELLO by hand, as an old client sends it; returns the connection and the reply.
pub fn raw_hello(addr: std::net::SocketAddr, token: &str) -> (TcpStream, Message) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hello = Message::Hello(Hello {
        token: token.into(),
        codec: "h264".into(),
        client_name: "test".into(),
        client_build: "0".into(),
    });
    s.write_all(&hello.to_bytes().unwrap()).unwrap();
    let m = read_msg(&mut s).expect("a reply");
    (s, m)
}

/// One whole message from a raw connection; `None` when it closed.
pub fn read_msg(s: &mut TcpStream) -> Option<Message> {
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h).ok()?;
    let h = Header::decode(&h).unwrap();
    let mut p = vec![0u8; h.len as usize];
    s.read_exact(&mut p).unwrap();
    Some(Message::decode(h.ty, p).unwrap())
}

/// Runs the vtremoted binary on a free loopback port with `args` (stdout read for the
/// address, stderr discarded).
pub fn spawn_daemon_binary(args: &[&str]) -> (Child, SocketAddr) {
    let d = spawn_daemon_binary_logging(args, Stdio::null());
    (d.child, d.addr)
}

/// A vtremoted binary a test started, and the addresses it printed.
pub struct SpawnedDaemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `args` had `--metrics-listen`.
    pub metrics: Option<SocketAddr>,
}

/// Runs the vtremoted binary on a free loopback port with `args`, its log going to
/// `stderr`; reads the addresses it prints on stdout.
pub fn spawn_daemon_binary_logging(args: &[&str], stderr: Stdio) -> SpawnedDaemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtremoted"))
        .args(["--listen", "127.0.0.1:0", "--backend", "libavcodec"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("run vtremoted");
    let wants_metrics = args.contains(&"--metrics-listen");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut addr, mut metrics) = (None, None);
    while addr.is_none() || (wants_metrics && metrics.is_none()) {
        let mut line = String::new();
        let n = out.read_line(&mut line).expect("daemon stdout");
        assert!(n > 0, "vtremoted exited before printing its addresses");
        let last = line.trim().rsplit(' ').next().and_then(|a| a.parse().ok());
        if line.starts_with("vtremoted listening on") {
            addr = Some(last.unwrap_or_else(|| panic!("no address in {line:?}")));
        } else if line.starts_with("vtremoted metrics on") {
            metrics = Some(last.unwrap_or_else(|| panic!("no address in {line:?}")));
        }
    }
    SpawnedDaemon {
        child,
        addr: addr.unwrap(),
        metrics,
    }
}
