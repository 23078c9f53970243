//! Gives a TLS connection to code written for a plain socket: after the handshake, two pump
//! threads move bytes between the TLS connection on the network socket and one end of a
//! loopback socket pair; the caller gets the other end, which it can clone, time out and
//! shut down like any TCP stream. This costs a copy through loopback per direction, and
//! keeps one session design for plain and encrypted clients on both sides.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::debug;

/// The caller's end and the pump threads (they end when either side closes).
pub struct Bridged {
    pub local: TcpStream,
    pub pumps: Vec<JoinHandle<()>>,
}

const CHUNK: usize = 64 * 1024;

/// Completes the handshake on `net` (bounded by `timeout` per read and write), then starts
/// the pumps. `net` keeps its timeouts for the pumps' writes, so a peer that stops reading
/// cannot hold a pump forever.
pub fn bridge(
    mut net: TcpStream,
    conn: impl Into<rustls::Connection>,
    timeout: Duration,
) -> Result<Bridged, rustls::Error> {
    let mut conn: rustls::Connection = conn.into();
    let io_err = |e: io::Error| rustls::Error::General(e.to_string());
    net.set_read_timeout(Some(timeout)).map_err(io_err)?;
    net.set_write_timeout(Some(timeout)).map_err(io_err)?;
    while conn.is_handshaking() {
        match conn.complete_io(&mut net) {
            Ok(_) => {}
            // rustls reports its own failures (a bad certificate, a plain v1 peer) as
            // InvalidData wrapping the TLS error: hand that back as it is.
            Err(e) => {
                return Err(e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .cloned()
                    .unwrap_or_else(|| io_err(e)))
            }
        }
    }
    // Reads now wait as long as the session needs; the session keeps its own deadlines.
    net.set_read_timeout(None).map_err(io_err)?;
    let (local, inner) = local_pair().map_err(io_err)?;
    let conn = Arc::new(Mutex::new(conn));
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(io_err)
    };
    let from_net = {
        let (net, inner, conn) = (
            net.try_clone().map_err(io_err)?,
            inner.try_clone().map_err(io_err)?,
            conn.clone(),
        );
        spawn("tls-in", Box::new(move || net_to_local(net, inner, &conn)))?
    };
    let to_net = spawn("tls-out", Box::new(move || local_to_net(inner, net, &conn)))?;
    Ok(Bridged {
        local,
        pumps: vec![from_net, to_net],
    })
}

fn lock(conn: &Mutex<rustls::Connection>) -> MutexGuard<'_, rustls::Connection> {
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// Network → decrypt → local. Ends at the peer's close (the local end then sees EOF, as
/// with a plain client) or at a TLS error (both ends are shut).
fn net_to_local(mut net: TcpStream, mut local: TcpStream, conn: &Mutex<rustls::Connection>) {
    let mut cipher = vec![0u8; CHUNK];
    let mut plain = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK);
    let result = (|| -> io::Result<()> {
        // The handshake may have read the peer's first application data along with its
        // last handshake message: that plaintext is already waiting inside the connection
        // and must be delivered before blocking on the network, or both sides wait.
        let mut n = 0;
        loop {
            let mut closed = false;
            {
                let mut c = lock(conn);
                let mut rest = &cipher[..n];
                loop {
                    if !rest.is_empty() {
                        c.read_tls(&mut rest)?;
                        c.process_new_packets()
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    }
                    loop {
                        match c.reader().read(&mut plain) {
                            Ok(0) => {
                                closed = true;
                                break;
                            }
                            Ok(k) => out.extend_from_slice(&plain[..k]),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                    }
                    if rest.is_empty() {
                        break;
                    }
                }
                // Key updates and alerts the peer asked for.
                while c.wants_write() {
                    c.write_tls(&mut net)?;
                }
            }
            local.write_all(&out)?;
            out.clear();
            if closed {
                return Ok(());
            }
            n = net.read(&mut cipher)?;
            if n == 0 {
                return Ok(());
            }
        }
    })();
    match result {
        Ok(()) => {
            let _ = local.shutdown(Shutdown::Write);
        }
        Err(e) => {
            debug!("TLS receive side ended: {e}");
            let _ = local.shutdown(Shutdown::Both);
            let _ = net.shutdown(Shutdown::Both);
        }
    }
}

/// Local → encrypt → network. At the local end's close: close_notify and FIN.
fn local_to_net(mut local: TcpStream, mut net: TcpStream, conn: &Mutex<rustls::Connection>) {
    let mut plain = vec![0u8; CHUNK];
    let result = (|| -> io::Result<()> {
        loop {
            let n = local.read(&mut plain)?;
            let mut c = lock(conn);
            if n == 0 {
                c.send_close_notify();
            } else {
                c.writer().write_all(&plain[..n])?;
            }
            while c.wants_write() {
                c.write_tls(&mut net)?;
            }
            if n == 0 {
                return Ok(());
            }
        }
    })();
    if let Err(e) = result {
        debug!("TLS send side ended: {e}");
        let _ = local.shutdown(Shutdown::Both);
    }
    let _ = net.shutdown(Shutdown::Write);
}

/// A connected pair of loopback sockets. The accepted end must come from our own
/// connecting socket: another local process racing to the listener is refused.
fn local_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let ours = TcpStream::connect(listener.local_addr()?)?;
    let expected = ours.local_addr()?;
    loop {
        let (theirs, from) = listener.accept()?;
        if from == expected {
            ours.set_nodelay(true)?;
            theirs.set_nodelay(true)?;
            return Ok((ours, theirs));
        }
        drop(theirs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{client_config, HelperIdentity};

    fn identity() -> HelperIdentity {
        let dir = std::env::temp_dir().join(format!(
            "vtremote-tls-bridge-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        HelperIdentity::load_or_create(&dir).unwrap()
    }

    /// A server that upper-cases what it reads, behind the bridge.
    fn serve_upper(identity: &HelperIdentity) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = identity.server_config().unwrap();
        std::thread::spawn(move || {
            let (net, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(config).unwrap();
            let Ok(mut b) = bridge(net, conn, Duration::from_secs(5)) else {
                return;
            };
            let mut buf = [0u8; 4096];
            loop {
                match b.local.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let up: Vec<u8> = buf[..n].to_ascii_uppercase();
                        b.local.write_all(&up).unwrap();
                    }
                }
            }
            let _ = b.local.shutdown(Shutdown::Both);
            for p in b.pumps {
                let _ = p.join();
            }
        });
        addr
    }

    fn connect(
        addr: std::net::SocketAddr,
        pin: Option<crate::Fingerprint>,
    ) -> (Result<Bridged, rustls::Error>, Arc<crate::PinCheck>) {
        let (config, check) = client_config(pin).unwrap();
        let name = rustls::pki_types::ServerName::try_from("vtremoted").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let net = TcpStream::connect(addr).unwrap();
        (bridge(net, conn, Duration::from_secs(5)), check)
    }

    #[test]
    fn bytes_cross_the_bridge_both_ways_with_the_right_pin() {
        let id = identity();
        let addr = serve_upper(&id);
        let (b, check) = connect(addr, Some(id.fingerprint));
        let mut b = b.unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut writer = b.local.try_clone().unwrap();
        let sent = big.clone();
        let w = std::thread::spawn(move || {
            writer.write_all(&sent).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        b.local.read_to_end(&mut got).unwrap();
        w.join().unwrap();
        assert_eq!(got, big.to_ascii_uppercase());
        assert_eq!(check.seen(), Some(id.fingerprint));
    }

    #[test]
    fn data_that_arrives_with_the_last_handshake_message_is_delivered() {
        // The client queues its first bytes before the handshake ends, so they travel right
        // behind its Finished message and the server's handshake reads them too.
        let id = identity();
        let addr = serve_upper(&id);
        let (config, _) = client_config(Some(id.fingerprint)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("vtremoted").unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut net = TcpStream::connect(addr).unwrap();
        net.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        conn.writer().write_all(b"early").unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut net);
        let mut reply = [0u8; 5];
        tls.read_exact(&mut reply)
            .expect("the server answered the bytes that came with the handshake");
        assert_eq!(&reply, b"EARLY");
    }

    #[test]
    fn a_wrong_pin_fails_the_handshake_and_reports_what_was_seen() {
        let id = identity();
        let addr = serve_upper(&id);
        let wrong = crate::fingerprint(b"another helper");
        let (b, check) = connect(addr, Some(wrong));
        assert!(
            matches!(b, Err(rustls::Error::InvalidCertificate(_))),
            "{:?}",
            b.err()
        );
        assert_eq!(check.seen(), Some(id.fingerprint));
    }

    #[test]
    fn a_plain_peer_fails_the_handshake_instead_of_hanging() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // What an old helper does with bytes that are not VTR1: close.
            let mut buf = [0u8; 12];
            let _ = s.read(&mut buf);
        });
        let (b, _) = connect(addr, None);
        assert!(b.is_err());
    }
}
