//! Shared helpers for end-to-end tests: a real daemon on 127.0.0.1, synthetic pictures,
//! and the system `ffmpeg` as the reference decoder.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use vtremote_proto::{FrameGeometry, PixelFormat};
use vtremoted::backend::lavc::LavcBackend;
use vtremoted::server::{Server, ServerConfig};

pub struct Daemon {
    pub addr: SocketAddr,
}

/// Starts a daemon with the libavcodec backend on a free loopback port.
pub fn start_daemon(token: Option<&str>, max_sessions: usize) -> Daemon {
    start_daemon_with_idle(token, max_sessions, Duration::from_secs(10))
}

pub fn start_daemon_with_idle(token: Option<&str>, max_sessions: usize, idle: Duration) -> Daemon {
    let backend = LavcBackend::new(&[]).expect("libavcodec backend");
    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig {
            token: token.map(|t| t.as_bytes().to_vec()),
            max_sessions,
            idle_timeout: idle,
            once: false,
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
