//! TLS on the same port as plain v1: the real daemon and the real client on loopback, with
//! a recording proxy between them to look at what crosses the wire.

// The libavcodec backend is not built on macOS (Cargo.toml).
#![cfg(not(target_os = "macos"))]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use vtremote_client::{ClientConfig, ClientError, Codec, Tls, WireCompression};
use vtremote_proto::{FrameGeometry, PixelFormat};
use vtremote_tls::{Fingerprint, HelperIdentity};
use vtremoted::transport::TlsPolicy;

fn tls_daemon(required: bool) -> (Daemon, Fingerprint) {
    // One identity per daemon: tests run in parallel and must not share a state directory.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tmpdir(&format!("tls-state-{n}"));
    let identity = HelperIdentity::load_or_create(&dir).unwrap();
    let policy = TlsPolicy {
        config: Some(identity.server_config().unwrap()),
        required,
    };
    let d = start_daemon_with(None, 4, Duration::from_secs(10), policy);
    (d, identity.fingerprint)
}

/// Forwards one connection to `to`, recording every byte in both directions.
fn recording_proxy(to: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(to).unwrap();
        let pipe = |mut from: TcpStream, mut to: TcpStream, seen: Arc<Mutex<Vec<u8>>>| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = to.shutdown(std::net::Shutdown::Write);
            })
        };
        let a = pipe(
            client.try_clone().unwrap(),
            server.try_clone().unwrap(),
            record.clone(),
        );
        let b = pipe(server, client, record);
        let _ = (a.join(), b.join());
    });
    (addr, seen)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Encodes through a recording proxy; returns the packet count and what crossed the wire.
fn encode_through_proxy(d: &Daemon, tls: Tls) -> (usize, Vec<u8>, FrameGeometry) {
    let (proxy, seen) = recording_proxy(d.addr);
    let mut cfg = client(proxy, WireCompression::None);
    cfg.tls = tls;
    let g = FrameGeometry::new(160, 96, PixelFormat::Nv12).unwrap();
    let (_, packets, _) = remote_encode(&cfg, Codec::H264, g, &[]);
    std::thread::sleep(Duration::from_millis(100));
    let wire = seen.lock().unwrap().clone();
    (packets.len(), wire, g)
}

#[test]
fn tls_session_encodes_every_frame_and_the_wire_shows_no_magic_and_no_picture() {
    let (d, fp) = tls_daemon(false);
    let (n, wire, g) = encode_through_proxy(&d, Tls::On(Some(fp)));
    assert_eq!(n, FRAMES as usize);
    assert!(!contains(&wire, b"VTR1"), "protocol magic in the clear");
    // Uncompressed pictures: any 64 bytes of a luma row would show in a plain session.
    let pic = synthetic_frame(&g, 5);
    for row in [0, 40, 90] {
        let at = row * g.row_bytes(0);
        assert!(
            !contains(&wire, &pic[at..at + 64]),
            "picture row {row} in the clear"
        );
    }
    // The same through a plain session shows both: the check can fail.
    let (n, wire, _) = encode_through_proxy(&d, Tls::Off);
    assert_eq!(n, FRAMES as usize);
    assert!(contains(&wire, b"VTR1"));
    assert!(contains(&wire, &pic[..64]));
}

#[test]
fn plain_clients_are_served_unless_tls_is_required_and_then_told_why() {
    let (optional, _) = tls_daemon(false);
    let g = FrameGeometry::new(64, 64, PixelFormat::Nv12).unwrap();
    let (_, packets, _) = remote_encode(
        &client(optional.addr, WireCompression::Zstd),
        Codec::H264,
        g,
        &[],
    );
    assert_eq!(packets.len(), FRAMES as usize);

    let (required, fp) = tls_daemon(true);
    let e = vtremote_client::probe(&client(required.addr, WireCompression::Zstd), Codec::H264)
        .unwrap_err()
        .to_string();
    assert!(e.contains("TLS required"), "{e}");
    let mut cfg = client(required.addr, WireCompression::Zstd);
    cfg.tls = Tls::On(Some(fp));
    let (_, packets, _) = remote_encode(&cfg, Codec::H264, g, &[]);
    assert_eq!(packets.len(), FRAMES as usize);
}

#[test]
fn a_wrong_pin_names_both_fingerprints() {
    let (d, fp) = tls_daemon(false);
    let wrong = vtremote_tls::fingerprint(b"some other helper");
    let mut cfg = client(d.addr, WireCompression::Zstd);
    cfg.tls = Tls::On(Some(wrong));
    let e = vtremote_client::probe(&cfg, Codec::H264).unwrap_err();
    assert!(matches!(e, ClientError::TlsFingerprint { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&fp.to_string()) && text.contains(&wrong.to_string()),
        "{text}"
    );
}

#[test]
fn tls_to_a_plain_only_helper_says_the_helper_does_not_speak_tls() {
    let d = start_daemon(None, 4);
    let mut cfg = client(d.addr, WireCompression::Zstd);
    cfg.tls = Tls::On(Some(vtremote_tls::fingerprint(b"x")));
    let e = vtremote_client::probe(&cfg, Codec::H264).unwrap_err();
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");
    assert!(e.to_string().contains("speak only plain v1"), "{e}");
}

#[test]
fn without_a_pin_the_first_fingerprint_is_recorded_and_then_enforced() {
    let known = tmpdir("known").join("known_helpers");
    std::env::set_var("VTREMOTE_KNOWN_HELPERS", &known);
    let (d, fp) = tls_daemon(false);
    let mut cfg = ClientConfig::new(d.addr.to_string());
    cfg.tls = Tls::On(None);
    vtremote_client::probe(&cfg, Codec::H264).expect("first use is trusted");
    let recorded = std::fs::read_to_string(&known).unwrap();
    assert_eq!(recorded.trim(), format!("{} {fp}", d.addr));
    // Another helper answering at the same address is refused, naming the file.
    std::fs::write(
        &known,
        format!("{} {}\n", d.addr, vtremote_tls::fingerprint(b"old")),
    )
    .unwrap();
    let e = vtremote_client::probe(&cfg, Codec::H264)
        .unwrap_err()
        .to_string();
    assert!(e.contains(known.to_str().unwrap()), "{e}");
}
