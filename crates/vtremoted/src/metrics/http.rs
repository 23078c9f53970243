//! A minimal HTTP/1.x responder for `GET /metrics`, on its own threads so that nothing a
//! scraper does can slow a session. Every request is bounded: its head in bytes, the time
//! to send it, and how many are served at once; the connection closes after one response.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::registry::Metrics;
use super::text::CONTENT_TYPE;

/// A scraper's request is one short line and a few headers; anything longer is not one.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// From accept to the end of the request head, and for writing the response.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// Scrapes served at once; further connections are closed unanswered.
const MAX_CONCURRENT: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
}

/// Why there is no request to answer; the status line says it to the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    BadRequest(&'static str),
    MethodNotAllowed,
    TooLarge,
    /// Nothing to answer: the client closed, went silent, or the socket failed.
    Gone,
}

/// Reads up to the blank line ending the request head, never more than
/// `MAX_REQUEST_HEAD` bytes, until `deadline` (the stream's read timeout must be set, so
/// that each read returns in time to look at it).
pub fn read_head<R: Read>(r: &mut R, deadline: Instant) -> Result<Vec<u8>, Refusal> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() >= MAX_REQUEST_HEAD {
            return Err(Refusal::TooLarge);
        }
        if Instant::now() >= deadline {
            return Err(Refusal::Gone);
        }
        let room = (MAX_REQUEST_HEAD + 4 - head.len()).min(chunk.len());
        match r.read(&mut chunk[..room]) {
            Ok(0) => return Err(Refusal::Gone),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            // The short read timeout only wakes us to check the deadline above.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Err(Refusal::Gone),
        }
    }
}

/// Where the head ends (after CRLF CRLF, or LF LF from lenient clients).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The request line of a head; headers are read past (a scrape needs none of them).
pub fn parse_request(head: &[u8]) -> Result<Request, Refusal> {
    // Only the request line is read: header values may be any bytes, and HTTP/1.1 says an
    // empty line before the request line is skipped.
    let first = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.is_empty())
        .unwrap_or(b"");
    let line = std::str::from_utf8(first).map_err(|_| Refusal::BadRequest("not UTF-8"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::BadRequest(
            "request line is not METHOD TARGET VERSION",
        ));
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Refusal::BadRequest("not HTTP/1.0 or HTTP/1.1"));
    }
    if !target.starts_with('/') {
        return Err(Refusal::BadRequest("target is not an absolute path"));
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) => {
            return Err(Refusal::MethodNotAllowed)
        }
        _ => return Err(Refusal::BadRequest("malformed method")),
    };
    // Prometheus may add parameters (`?name[]=…`); the page is the same.
    let path = target.split('?').next().unwrap_or(target).to_string();
    Ok(Request { method, path })
}

/// The whole response for a request or a refusal; `None` when nobody is left to read it.
pub fn respond(request: Result<Request, Refusal>, metrics: &Metrics) -> Option<Vec<u8>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    let (status, content_type, extra, body, head_only) = match request {
        Ok(Request { method, path }) if path == "/metrics" => (
            "200 OK",
            CONTENT_TYPE,
            "",
            metrics.render(),
            method == Method::Head,
        ),
        Ok(Request { method, .. }) => (
            "404 Not Found",
            PLAIN,
            "",
            "not found: metrics are at /metrics\n".to_string(),
            method == Method::Head,
        ),
        Err(Refusal::BadRequest(why)) => (
            "400 Bad Request",
            PLAIN,
            "",
            format!("bad request: {why}\n"),
            false,
        ),
        Err(Refusal::MethodNotAllowed) => (
            "405 Method Not Allowed",
            PLAIN,
            "Allow: GET, HEAD\r\n",
            "only GET and HEAD\n".to_string(),
            false,
        ),
        Err(Refusal::TooLarge) => (
            "431 Request Header Fields Too Large",
            PLAIN,
            "",
            format!("request head over {MAX_REQUEST_HEAD} bytes\n"),
            false,
        ),
        Err(Refusal::Gone) => return None,
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    Some(out)
}

fn handle(mut stream: TcpStream, metrics: &Metrics) {
    let deadline = Instant::now() + CLIENT_DEADLINE;
    // Short reads, so the deadline is looked at even when the client sends a byte at a time.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(CLIENT_DEADLINE));
    let request = read_head(&mut stream, deadline).and_then(|head| parse_request(&head));
    if let Err(e) = &request {
        debug!("metrics request refused: {e:?}");
    }
    if let Some(response) = respond(request, metrics) {
        let _ = stream.write_all(&response);
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // Read what the client still sends (bounded) so closing does not reset our response.
    let mut sink = [0u8; 1024];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    for _ in 0..16 {
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

/// Binds `addr` and serves `/metrics` on a thread of its own; returns the bound address
/// (useful with port 0).
pub fn serve(addr: impl ToSocketAddrs, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("vtremoted-metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let stream = match conn {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        warn!("metrics: accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CONCURRENT {
                    busy.fetch_sub(1, Ordering::AcqRel);
                    debug!("metrics: {MAX_CONCURRENT} scrapes in progress; closing another");
                    continue;
                }
                let (metrics, done) = (metrics.clone(), busy.clone());
                let spawned = std::thread::Builder::new()
                    .name("vtremoted-scrape".into())
                    .spawn(move || {
                        handle(stream, &metrics);
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if let Err(e) = spawned {
                    busy.fetch_sub(1, Ordering::AcqRel);
                    warn!("metrics: cannot start a thread: {e}");
                }
            }
        })?;
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn request(raw: &str) -> Result<Request, Refusal> {
        read_head(&mut raw.as_bytes(), later()).and_then(|h| parse_request(&h))
    }

    fn metrics() -> Arc<Metrics> {
        Metrics::for_tests(2)
    }

    fn status(response: &[u8]) -> String {
        let text = String::from_utf8_lossy(response);
        text.lines().next().unwrap_or("").to_string()
    }

    #[test]
    fn header_bytes_that_are_not_utf8_and_a_leading_empty_line_are_accepted() {
        let raw = b"\r\nGET /metrics HTTP/1.1\r\nX-Name: \xff\xfe\r\n\r\n";
        assert_eq!(parse_request(raw).unwrap().path, "/metrics");
    }

    #[test]
    fn a_scrape_request_is_parsed_with_its_query_and_headers_ignored() {
        let r = request("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n").unwrap();
        assert_eq!(
            r,
            Request {
                method: Method::Get,
                path: "/metrics".into()
            }
        );
        // Lenient line endings, HTTP/1.0, HEAD.
        let r = request("HEAD /metrics HTTP/1.0\n\n").unwrap();
        assert_eq!(r.method, Method::Head);
    }

    #[test]
    fn malformed_requests_are_bad_requests() {
        for raw in [
            "GET /metrics\r\n\r\n",
            "GET  /metrics HTTP/1.1\r\n\r\n",
            "GET /metrics HTTP/2.0\r\n\r\n",
            "GET metrics HTTP/1.1\r\n\r\n",
            "get /metrics HTTP/1.1\r\n\r\n",
            "\r\n\r\n",
            "GET /metrics HTTP/1.1 extra\r\n\r\n",
        ] {
            assert!(
                matches!(request(raw), Err(Refusal::BadRequest(_))),
                "{raw:?}: {:?}",
                request(raw)
            );
        }
        assert!(matches!(
            parse_request(b"GET /\xff HTTP/1.1\r\n\r\n"),
            Err(Refusal::BadRequest(_))
        ));
        assert_eq!(
            request("POST /metrics HTTP/1.1\r\n\r\n"),
            Err(Refusal::MethodNotAllowed)
        );
    }

    #[test]
    fn an_endless_head_stops_at_the_bound_and_a_closed_one_is_gone() {
        let mut endless = std::io::repeat(b'a');
        assert_eq!(read_head(&mut endless, later()), Err(Refusal::TooLarge));
        assert_eq!(
            read_head(&mut "GET /metrics HTTP/1.1\r\n".as_bytes(), later()),
            Err(Refusal::Gone)
        );
        // A head exactly at the bound is still read.
        let line = "GET /metrics HTTP/1.1\r\n";
        let pad = "X: ".to_string() + &"y".repeat(MAX_REQUEST_HEAD - line.len() - 7) + "\r\n\r\n";
        let raw = format!("{line}{pad}");
        assert_eq!(raw.len(), MAX_REQUEST_HEAD);
        assert!(request(&raw).is_ok());
    }

    /// Yields its parts one read at a time, with a read timeout between them.
    struct Pausing(Vec<&'static [u8]>);

    impl Read for Pausing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.first().copied() {
                None => Ok(0),
                Some(b"") => {
                    self.0.remove(0);
                    Err(std::io::ErrorKind::WouldBlock.into())
                }
                Some(part) => {
                    self.0.remove(0);
                    buf[..part.len()].copy_from_slice(part);
                    Ok(part.len())
                }
            }
        }
    }

    #[test]
    fn a_client_pausing_within_the_deadline_is_still_answered() {
        let mut slow = Pausing(vec![b"GET /metrics HTTP/1.1\r\n", b"", b"", b"\r\n"]);
        assert_eq!(
            read_head(&mut slow, later()).unwrap(),
            b"GET /metrics HTTP/1.1\r\n\r\n"
        );
        let mut silent = Pausing(vec![b""; 4]);
        let past = Instant::now();
        assert_eq!(read_head(&mut silent, past), Err(Refusal::Gone));
    }

    #[test]
    fn responses_have_the_right_status_type_and_length() {
        let m = metrics();
        let ok = respond(request("GET /metrics HTTP/1.1\r\n\r\n"), &m).unwrap();
        let text = String::from_utf8(ok).unwrap();
        assert_eq!(status(text.as_bytes()), "HTTP/1.1 200 OK");
        assert!(text.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(body.contains("vtremote_sessions_max 2\n"));

        let head_only = respond(request("HEAD /metrics HTTP/1.1\r\n\r\n"), &m).unwrap();
        assert!(head_only.ends_with(b"\r\n\r\n"));

        for (raw, want) in [
            ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
            ("GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
            ("garbage\r\n\r\n", "HTTP/1.1 400 Bad Request"),
            (
                "DELETE /metrics HTTP/1.1\r\n\r\n",
                "HTTP/1.1 405 Method Not Allowed",
            ),
        ] {
            assert_eq!(status(&respond(request(raw), &m).unwrap()), want, "{raw:?}");
        }
        let large = respond(Err(Refusal::TooLarge), &m).unwrap();
        assert_eq!(
            status(&large),
            "HTTP/1.1 431 Request Header Fields Too Large"
        );
        assert!(respond(Err(Refusal::Gone), &m).is_none());
    }

    #[test]
    fn a_real_socket_gets_answers_to_a_scrape_and_to_an_oversized_head() {
        let addr = serve("127.0.0.1:0", metrics()).unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("vtremote_build_info"));

        // Oversized: the answer comes without the server reading it all.
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(&vec![b'a'; MAX_REQUEST_HEAD + 100]);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert!(
            answer.starts_with(b"HTTP/1.1 431"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
}
