//! `--metrics-listen` on the real daemon binary: after sessions that end in every common
//! way (two encodes, a wrong token, a probe, a busy refusal, a client that vanishes), the
//! counters on `/metrics` say exactly what the SUMMARY lines in the daemon's log say.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{client, raw_hello, read_msg, remote_encode, spawn_daemon_binary_logging, tmpdir};
use vtremote_client::{Codec, EncodeSession, EncoderParams, WireCompression};
use vtremote_proto::{FrameGeometry, Hello, HelloStatus, Message, PixelFormat};

const TOKEN: &str = "metrics-secret";

/// A hang guard for the log to catch up with sessions that have ended; never a speed goal.
const LOG_BOUND: Duration = Duration::from_secs(60);

fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let answer = http(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn params(g: FrameGeometry) -> EncoderParams {
    EncoderParams {
        codec: Codec::H264,
        width: g.width,
        height: g.height,
        pix_fmt: g.pix_fmt,
        time_base: (1, 30),
        framerate: (30, 1),
        options: vec![],
    }
}

/// A HELLO by hand, reading HELLO_ACK and the ERROR after it, so the ERROR surely reached us.
fn busy_refusal(addr: SocketAddr) {
    let (mut s, ack) = raw_hello(addr, TOKEN);
    match ack {
        Message::HelloAck(a) => assert_eq!(a.status, HelloStatus::Busy),
        other => panic!("expected HELLO_ACK, got {other:?}"),
    }
    match read_msg(&mut s) {
        Some(Message::Error(e)) => assert_eq!(e.code.code(), 2, "{e:?}"),
        other => panic!("expected ERROR, got {other:?}"),
    }
}

/// `key=value` of a SUMMARY line (`result=` is the rest of the line).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!(" {key}="))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        + key.len()
        + 2;
    let rest = &line[start..];
    if key == "result" {
        rest
    } else {
        rest.split(' ').next().unwrap()
    }
}

/// What the SUMMARY line's result says, in the metrics' outcome classes.
fn outcome_of(result: &str) -> &'static str {
    match result {
        "ok" => "ok",
        r if r.starts_with("probe") => "probe",
        r if r.starts_with("error: authentication") => "auth_failed",
        r if r.starts_with("error: busy") => "busy",
        r if r.starts_with("error: client disconnected") => "aborted",
        r => panic!("unexpected result {r:?}"),
    }
}

fn summaries(log: &std::path::Path, want: usize) -> Vec<String> {
    let deadline = Instant::now() + LOG_BOUND;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains("SUMMARY session="))
            .map(|l| l[l.find("SUMMARY").unwrap()..].to_string())
            .collect();
        if lines.len() >= want {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {want} SUMMARY lines:\n{text}",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn counters_match_the_summary_lines_of_the_sessions_they_count() {
    let dir = tmpdir("metrics");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let log = dir.join("daemon.log");
    let mut d = spawn_daemon_binary_logging(
        &[
            "--no-tls",
            "--max-sessions",
            "1",
            "--token-file",
            token_file.to_str().unwrap(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let metrics = d.metrics.expect("metrics address on stdout");
    let g = FrameGeometry::new(64, 64, PixelFormat::Nv12).unwrap();
    let authorized = |wc| {
        let mut c = client(d.addr, wc);
        c.token = TOKEN.into();
        c
    };

    let before = scrape(metrics);
    assert_eq!(before["vtremote_sessions_max"], 1.0);
    assert_eq!(before["vtremote_sessions_active"], 0.0);

    remote_encode(&authorized(WireCompression::Lz4), Codec::H264, g, &[]);
    remote_encode(&authorized(WireCompression::None), Codec::H264, g, &[]);
    let mut wrong = client(d.addr, WireCompression::None);
    wrong.token = "not-the-token".into();
    assert!(EncodeSession::connect(&wrong, &params(g)).is_err());
    vtremote_client::probe(&authorized(WireCompression::None), Codec::H264).unwrap();
    let held = EncodeSession::connect(&authorized(WireCompression::Lz4), &params(g)).unwrap();
    busy_refusal(d.addr);
    let during = scrape(metrics);
    assert_eq!(during["vtremote_sessions_active"], 1.0, "the held session");
    drop(held);

    let lines = summaries(&log, 6);
    let after = scrape(metrics);
    let _ = d.child.kill();
    let _ = d.child.wait();

    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    let mut add = |k: String, v: f64| *want.entry(k).or_default() += v;
    let mut encode_packets = 0.0;
    for l in &lines {
        let mode = match field(l, "mode") {
            "-" => "none",
            m => m,
        };
        let codec = match field(l, "codec") {
            "-" => "unknown",
            c => c,
        };
        let compression = field(l, "compression");
        let num = |k: &str| -> f64 { field(l, k).trim_end_matches('B').parse().unwrap() };
        let outcome = outcome_of(field(l, "result"));
        add(
            format!("vtremote_sessions_total{{codec=\"{codec}\",outcome=\"{outcome}\"}}"),
            1.0,
        );
        add(
            format!("vtremote_frames_total{{mode=\"{mode}\"}}"),
            num("frames"),
        );
        add(
            format!("vtremote_packets_total{{mode=\"{mode}\"}}"),
            num("packets"),
        );
        add(
            format!("vtremote_received_bytes_total{{compression=\"{compression}\"}}"),
            num("in"),
        );
        add(
            format!("vtremote_sent_bytes_total{{compression=\"{compression}\"}}"),
            num("out"),
        );
        if mode == "encode" {
            encode_packets += num("packets");
        }
    }
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| outcome_of(field(l, "result")))
        .collect();
    for o in ["ok", "auth_failed", "probe", "busy", "aborted"] {
        assert!(outcomes.contains(&o), "no {o} session in {lines:#?}");
    }
    for (k, v) in &want {
        assert_eq!(
            after.get(k),
            Some(v),
            "{k}: metrics vs SUMMARY lines {lines:#?}"
        );
    }
    // Nothing counted that no SUMMARY line accounts for.
    for (k, v) in &after {
        let counted = [
            "vtremote_sessions_total{",
            "vtremote_frames_total{",
            "vtremote_packets_total{",
            "vtremote_received_bytes_total{",
            "vtremote_sent_bytes_total{",
        ];
        if counted.iter().any(|c| k.starts_with(c)) && !want.contains_key(k) {
            assert_eq!(*v, 0.0, "{k} counted {v} with no SUMMARY line for it");
        }
    }
    assert!(want["vtremote_frames_total{mode=\"encode\"}"] >= 2.0 * common::FRAMES as f64);
    assert_eq!(
        after["vtremote_errors_total{code=\"2\",reason=\"busy\"}"],
        1.0
    );
    assert_eq!(after["vtremote_sessions_active"], 0.0);
    // Each packet out was matched to its picture's arrival: one latency each.
    assert_eq!(
        after["vtremote_frame_latency_seconds_count{mode=\"encode\"}"],
        encode_packets
    );
    assert!(
        after["vtremote_backend_call_seconds_count{mode=\"encode\"}"]
            >= want["vtremote_frames_total{mode=\"encode\"}"]
    );
}

#[test]
fn the_endpoint_answers_only_metrics_and_refuses_what_is_not_http() {
    let mut d = spawn_daemon_binary_logging(
        &["--no-tls", "--metrics-listen", "127.0.0.1:0"],
        Stdio::null(),
    );
    let m = d.metrics.unwrap();
    let status = |req: &[u8]| http(m, req).lines().next().unwrap_or("").to_string();
    assert_eq!(
        status(b"GET /other HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(status(b"BLAH\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert_eq!(
        status(b"POST /metrics HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    // A VTRemote client that dialed the metrics port by mistake.
    let hello = Message::Hello(Hello {
        token: String::new(),
        codec: "h264".into(),
        client_name: "lost".into(),
        client_build: "0".into(),
    });
    let mut hello = hello.to_bytes().unwrap();
    hello.extend_from_slice(b"\r\n\r\n");
    assert_eq!(status(&hello), "HTTP/1.1 400 Bad Request");
    // The sessions port is unaffected.
    let _ = vtremote_client::probe(&client(d.addr, WireCompression::None), Codec::H264).unwrap();
    let _ = d.child.kill();
    let _ = d.child.wait();
}
