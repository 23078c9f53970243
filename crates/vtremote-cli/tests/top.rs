//! `vtremote top --once` against a real daemon (in-process, libavcodec backend, metrics
//! served as `--metrics-listen` does), next to a helper that refuses connections and one
//! that accepts but never answers: both show as unreachable and the command still ends.

// The libavcodec backend is not built on macOS.
#![cfg(not(target_os = "macos"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vtremote_client::{ClientConfig, Codec};
use vtremoted::backend::lavc::LavcBackend;
use vtremoted::server::{Server, ServerConfig};
use vtremoted::transport::TlsPolicy;

fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn once_prints_a_row_per_helper_and_unreachable_ones_as_such() {
    let backend = LavcBackend::new(&[]).expect("libavcodec backend");
    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig {
            token: None,
            max_sessions: 2,
            idle_timeout: Duration::from_secs(10),
            once: false,
            tls: TlsPolicy::plain_only(),
        },
        Arc::new(backend),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let metrics = vtremoted::metrics::serve("127.0.0.1:0", server.metrics()).unwrap();
    std::thread::spawn(move || server.run());
    // A probe (not in TOTAL) and an encode of two pictures by the CLI itself (in it).
    let mut c = ClientConfig::new(addr.to_string());
    c.timeout = Duration::from_secs(10);
    vtremote_client::probe(&c, Codec::H264).unwrap();
    let dir = std::env::temp_dir().join(format!("vtremote-top-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("in.yuv");
    std::fs::write(&raw, vec![128u8; 64 * 64 * 3 / 2 * 2]).unwrap();
    let encode = Command::new(env!("CARGO_BIN_EXE_vtremote"))
        .args(["encode", "--host", &addr.to_string(), "--codec", "h264"])
        .args([
            "--size",
            "64x64",
            "--fps",
            "30",
            "--compression",
            "none",
            "-i",
        ])
        .arg(&raw)
        .arg("-o")
        .arg(dir.join("out.h264"))
        .output()
        .unwrap();
    assert!(
        encode.status.success(),
        "{}",
        String::from_utf8_lossy(&encode.stderr)
    );
    // The sessions end after their clients close: wait until both are counted.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = scrape(metrics);
        if page.contains("outcome=\"probe\"") && page.contains("outcome=\"ok\"") {
            break;
        }
        assert!(Instant::now() < deadline, "sessions never counted:\n{page}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let refusing = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vtremote"))
        .args([
            "top",
            "--once",
            "--interval-ms",
            "200",
            "--timeout-ms",
            "500",
        ])
        .arg(format!("{metrics},{refusing}"))
        .arg(silent.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("HELPER") && lines[0].contains("SESSIONS"),
        "{text}"
    );

    let live: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(live[0], metrics.to_string(), "{text}");
    assert_eq!(live[1], "0/2", "sessions in use/max: {text}");
    assert_eq!(
        live[2], "1",
        "sessions total (the encode, not the probe): {text}"
    );
    assert_eq!(live[3], "0.0", "fps with nothing running: {text}");
    assert!(lines[1].ends_with("libavcodec"), "{text}");

    assert!(lines[2].starts_with(&refusing.to_string()), "{text}");
    assert!(lines[2].contains("unreachable"), "{text}");
    assert!(
        lines[3].starts_with(&silent.local_addr().unwrap().to_string()),
        "{text}"
    );
    assert!(
        lines[3].contains("unreachable") && lines[3].contains("in time"),
        "{text}"
    );
}
