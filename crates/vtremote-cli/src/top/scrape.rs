//! One `GET /metrics` over plain HTTP/1.1, bounded in time and size: a helper that is
//! down, slow or answers nonsense costs `top` at most its timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A metrics page of a helper is a few kilobytes; anything past this is not one.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address: the port defaults to
/// `default_port` (the metrics port, not the session port).
pub fn with_port(spec: &str, default_port: u16) -> String {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, "")) => format!("{spec}:{default_port}"),
            _ => spec.to_string(),
        };
    }
    match spec.matches(':').count() {
        0 => format!("{spec}:{default_port}"),
        1 => spec.to_string(),
        _ => format!("[{spec}]:{default_port}"),
    }
}

/// Fetches `http://addr/metrics` and returns its body.
pub fn fetch(addr: &str, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    let targets: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .with_context(|| format!("resolving {addr}"))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for t in &targets {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(t, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(mut stream) = stream else {
        match last {
            Some(e) => bail!("{e}"),
            None => bail!("no address answered within {timeout:?}"),
        }
    };
    stream.set_write_timeout(Some(timeout))?;
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .context("sending the request")?;
    let raw = read_until_close(&mut stream, deadline)?;
    body_of(&raw)
}

fn read_until_close(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no complete answer in time");
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(raw),
            Ok(n) => {
                raw.extend_from_slice(&chunk[..n]);
                if raw.len() > MAX_RESPONSE {
                    bail!("answer larger than {MAX_RESPONSE} bytes: not a vtremoted metrics page");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("no complete answer in time")
            }
            Err(e) => return Err(e).context("reading the answer"),
        }
    }
}

/// The body of a `200` answer; anything else is an error naming the status.
pub fn body_of(raw: &[u8]) -> Result<String> {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("not an HTTP answer (is this the metrics port? vtremoted --metrics-listen)");
    };
    let status = head.lines().next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let declared = head.lines().skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    match (parts.next(), parts.next()) {
        (Some(v), Some("200")) if v.starts_with("HTTP/1.") => match declared {
            Some(n) if body.len() < n => {
                bail!("answer cut short: {} of {n} bytes", body.len())
            }
            _ => Ok(body.to_string()),
        },
        (Some(v), Some(_)) if v.starts_with("HTTP/1.") => bail!("helper answered {status:?}"),
        _ => bail!("not an HTTP answer (is this the metrics port? vtremoted --metrics-listen)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_port_is_added_where_none_is_given() {
        assert_eq!(with_port("mac", 9555), "mac:9555");
        assert_eq!(with_port("mac:9000", 9555), "mac:9000");
        assert_eq!(with_port("10.0.0.2", 9555), "10.0.0.2:9555");
        assert_eq!(with_port("[::1]", 9555), "[::1]:9555");
        assert_eq!(with_port("[::1]:9000", 9555), "[::1]:9000");
        assert_eq!(with_port("fe80::1", 9555), "[fe80::1]:9555");
    }

    #[test]
    fn only_a_200_answer_has_a_body() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nx 1\n";
        assert_eq!(body_of(ok).unwrap(), "x 1\n");
        let nf = b"HTTP/1.1 404 Not Found\r\n\r\nnope";
        assert!(body_of(nf).unwrap_err().to_string().contains("404"));
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nx 1\n";
        let e = body_of(cut).unwrap_err().to_string();
        assert_eq!(e, "answer cut short: 4 of 40 bytes");
        // The session port answers in VTRemote, not HTTP.
        assert!(body_of(b"VTR\x01garbage")
            .unwrap_err()
            .to_string()
            .contains("metrics port"));
    }

    #[test]
    fn a_listener_that_never_answers_costs_only_the_timeout() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let err = fetch(&addr, Duration::from_millis(300)).unwrap_err();
        assert!(err.to_string().contains("in time"), "{err:#}");
        drop(l);
    }
}
