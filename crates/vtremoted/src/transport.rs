//! Plain v1 or TLS on the same port: the first byte tells them apart (a TLS record starts
//! with 0x16, a v1 header with `V`). A TLS connection is bridged to a plain socket
//! (`vtremote_tls::bridge`) and served by the same session code.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::connection::Connection;
use crate::session::{self, SessionContext};

/// What the daemon accepts.
#[derive(Clone)]
pub struct TlsPolicy {
    /// `None`: TLS is off (no identity could be loaded, or it was not asked for).
    pub config: Option<Arc<rustls::ServerConfig>>,
    /// Plain v1 clients are refused with an ERROR saying so.
    pub required: bool,
}

impl TlsPolicy {
    pub fn plain_only() -> Self {
        TlsPolicy {
            config: None,
            required: false,
        }
    }
}

/// The refusal a plain client of a TLS-only helper reads.
pub const TLS_REQUIRED: &str = "TLS required: this helper accepts only encrypted sessions; \
    connect with TLS (FFmpeg: -vt_remote_tls 1; vtremote: --tls)";

/// Serves one accepted connection to its end.
pub fn serve(stream: TcpStream, mut ctx: SessionContext, tls: &TlsPolicy) {
    let Some(config) = &tls.config else {
        let _ = session::run(stream, ctx);
        return;
    };
    let first = first_byte(&stream, ctx.idle_timeout);
    let Some(first) = first else {
        // Closed or silent before saying anything: no session to serve or log.
        info!(
            session = ctx.id,
            "client sent nothing within {:?}; closing", ctx.idle_timeout
        );
        return;
    };
    if first != vtremote_tls::TLS_FIRST_BYTE {
        if tls.required {
            ctx.transport_refusal = Some(TLS_REQUIRED.to_string());
        }
        let _ = session::run(stream, ctx);
        return;
    }
    let peer = stream.peer();
    let raw = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            warn!(session = ctx.id, "cannot clone the socket for TLS: {e}");
            return;
        }
    };
    let conn = match rustls::ServerConnection::new(config.clone()) {
        Ok(c) => c,
        Err(e) => {
            warn!(session = ctx.id, "TLS session setup: {e}");
            return;
        }
    };
    let bridged = match vtremote_tls::bridge(stream, conn, ctx.idle_timeout) {
        Ok(b) => b,
        Err(e) => {
            info!(session = ctx.id, %peer, "TLS handshake failed: {e}");
            return;
        }
    };
    let mut pumps = bridged.pumps.into_iter();
    let (from_net, to_net) = (pumps.next(), pumps.next());
    let _ = session::run(
        Encrypted {
            local: bridged.local,
            peer: format!("{peer} (tls)"),
        },
        ctx,
    );
    // Everything the session wrote goes out (and close_notify) before the socket is shut,
    // which also ends the receive pump if the client keeps its side open.
    if let Some(t) = to_net {
        let _ = t.join();
    }
    let _ = raw.shutdown(Shutdown::Both);
    if let Some(t) = from_net {
        let _ = t.join();
    }
}

/// Waits (up to the idle timeout) for the first byte without consuming it.
fn first_byte(stream: &TcpStream, idle: Duration) -> Option<u8> {
    let mut first = [0u8; 1];
    let _ = stream.set_read_timeout(Some(idle));
    matches!(stream.peek(&mut first), Ok(1)).then_some(first[0])
}

/// A TLS session's plain end, named after the real peer in logs.
struct Encrypted {
    local: TcpStream,
    peer: String,
}

impl std::io::Read for Encrypted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.local.read(buf)
    }
}

impl std::io::Write for Encrypted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.local.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.local.flush()
    }
}

impl Connection for Encrypted {
    fn try_clone(&self) -> std::io::Result<Self> {
        Ok(Encrypted {
            local: self.local.try_clone()?,
            peer: self.peer.clone(),
        })
    }
    fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        self.local.shutdown(how)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.local.set_read_timeout(timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.local.set_write_timeout(timeout)
    }
    fn peer(&self) -> String {
        self.peer.clone()
    }
    fn set_nodelay(&self) -> std::io::Result<()> {
        self.local.set_nodelay(true)
    }
}
