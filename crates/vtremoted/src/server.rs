//! The listener: accepts connections, bounds how many are handled at once, hands each to a
//! session thread, and shuts down cleanly on SIGINT/SIGTERM.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::backend::Backend;
use crate::session::{self, ServerIdentity, SessionContext};
use crate::slots::Slots;

/// Connections still in their handshake beyond the session budget: enough for clients that
/// are told "busy" to get that answer, few enough that a flood cannot spawn unbounded threads.
const EXTRA_HANDSHAKES: usize = 16;
/// How long shutdown waits for running sessions to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub struct ServerConfig {
    pub token: Option<Vec<u8>>,
    pub max_sessions: usize,
    pub idle_timeout: Duration,
    pub once: bool,
}

pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
    backend: Arc<dyn Backend>,
    shutdown: Arc<AtomicBool>,
}

impl Server {
    pub fn bind(
        addr: &str,
        config: ServerConfig,
        backend: Arc<dyn Backend>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        Ok(Server {
            listener,
            config,
            backend,
            shutdown: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A flag that stops the accept loop; `wake` must then connect once to unblock accept.
    pub fn shutdown_handle(&self) -> (Arc<AtomicBool>, SocketAddr) {
        let mut wake = self.local_addr().expect("bound listener has an address");
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        (self.shutdown.clone(), wake)
    }

    pub fn run(self) {
        let slots = Slots::new(self.config.max_sessions);
        let connections = Arc::new(AtomicUsize::new(0));
        let next_id = AtomicU64::new(1);
        let identity = Arc::new(ServerIdentity {
            name: format!("vtremoted ({})", self.backend.name()),
            version: env!("CARGO_PKG_VERSION").to_string(),
        });
        let max_connections = self.config.max_sessions + EXTRA_HANDSHAKES;
        let mut backoff = Duration::from_millis(5);
        for conn in self.listener.incoming() {
            if self.shutdown.load(Ordering::Acquire) {
                break;
            }
            let stream = match conn {
                Ok(s) => {
                    backoff = Duration::from_millis(5);
                    s
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!("accept failed: {e}; retrying in {backoff:?}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            if connections.load(Ordering::Acquire) >= max_connections {
                warn!(peer = ?stream.peer_addr().ok(), "too many connections ({max_connections}); closing");
                drop(stream);
                continue;
            }
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            info!(session = id, peer = ?stream.peer_addr().ok(), "ACCEPT");
            let ctx = SessionContext {
                id,
                token: self.config.token.clone(),
                backend: self.backend.clone(),
                slots: slots.clone(),
                idle_timeout: self.config.idle_timeout,
                identity: identity.clone(),
                shutdown: self.shutdown.clone(),
            };
            if self.config.once {
                session::run(stream, ctx);
                break;
            }
            connections.fetch_add(1, Ordering::AcqRel);
            let counter = connections.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("vtremoted-session-{id}"))
                .spawn(move || {
                    session::run(stream, ctx);
                    counter.fetch_sub(1, Ordering::AcqRel);
                });
            if let Err(e) = spawned {
                connections.fetch_sub(1, Ordering::AcqRel);
                warn!("cannot start a session thread: {e}");
            }
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while connections.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        info!("vtremoted stopped");
    }
}

/// Wakes a blocked `accept` so the loop sees the shutdown flag.
pub fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
}
