//! The listener: accepts connections, bounds how many are handled at once, hands each to a
//! session thread, and on SIGINT/SIGTERM stops every session and waits for them within a
//! bound (`registry`).

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tracing::{info, warn};

use crate::backend::Backend;
use crate::metrics::{BuildInfo, Metrics};
use crate::registry::{Registry, STOP_DEADLINE, STOP_GRACE};
use crate::session::{ServerIdentity, SessionContext};
use crate::slots::Slots;
use crate::throttle::AuthThrottle;
use crate::transport::{self, TlsPolicy};

/// Connections still in their handshake beyond the session budget: enough for clients that
/// are told "busy" to get that answer, few enough that a flood cannot spawn unbounded threads.
const EXTRA_HANDSHAKES: usize = 16;

pub struct ServerConfig {
    pub token: Option<Vec<u8>>,
    pub max_sessions: usize,
    pub idle_timeout: Duration,
    pub once: bool,
    pub tls: TlsPolicy,
}

pub struct Server {
    listener: TcpListener,
    /// The token new sessions check; replaced on SIGHUP (`token_handle`).
    token: Arc<RwLock<Option<Vec<u8>>>>,
    config: ServerConfig,
    backend: Arc<dyn Backend>,
    shutdown: Arc<AtomicBool>,
    slots: Arc<Slots>,
    metrics: Arc<Metrics>,
}

/// Whether `ip` is only reachable from this machine (127.0.0.0/8, ::1, or either written as
/// an IPv4-mapped IPv6 address).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The rule behind `--allow-no-token`: a daemon that other machines can reach must ask for a
/// token unless its operator explicitly allowed otherwise. `addrs` are what the listen address
/// resolves to (all of them: binding takes the first that works). Returns the reason for
/// refusing, naming the first address that is not loopback.
pub fn exposure_refusal(
    addrs: &[SocketAddr],
    has_token: bool,
    allow_no_token: bool,
) -> Option<String> {
    if has_token || allow_no_token {
        return None;
    }
    let exposed = addrs.iter().find(|a| !is_loopback(a.ip()))?;
    Some(format!(
        "refusing to listen on {exposed} without a token: every machine that can reach this \
         port could use this helper. Give clients a shared secret (--token-file FILE), listen \
         on loopback only (--listen 127.0.0.1:PORT, e.g. behind an SSH tunnel), or pass \
         --allow-no-token on a network you trust"
    ))
}

impl Server {
    /// Binds the first address of `addr` that works (a string such as "0.0.0.0:5555", or
    /// addresses resolved beforehand, so that what was checked is what gets bound).
    pub fn bind<A: ToSocketAddrs>(
        addr: A,
        config: ServerConfig,
        backend: Arc<dyn Backend>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let slots = Slots::new(config.max_sessions);
        let metrics = Metrics::new(
            slots.clone(),
            BuildInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                backend: backend.name().to_string(),
            },
        );
        Ok(Server {
            listener,
            token: Arc::new(RwLock::new(config.token.clone())),
            config,
            backend,
            shutdown: Arc::new(AtomicBool::new(false)),
            slots,
            metrics,
        })
    }

    /// The counters `--metrics-listen` serves (`metrics::serve`).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Where a new token goes (SIGHUP reloads the token file): sessions accepted from then
    /// on check it; running ones are not disturbed.
    pub fn token_handle(&self) -> Arc<RwLock<Option<Vec<u8>>>> {
        self.token.clone()
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
        let throttle = Arc::new(AuthThrottle::default());
        let mut sessions = Registry::default();
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
            if sessions.reap() >= max_connections {
                warn!(peer = ?stream.peer_addr().ok(), "too many connections ({max_connections}); closing");
                drop(stream);
                continue;
            }
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            info!(session = id, peer = ?stream.peer_addr().ok(), "ACCEPT");
            let ctx = SessionContext {
                id,
                token: self.token.read().unwrap_or_else(|e| e.into_inner()).clone(),
                backend: self.backend.clone(),
                slots: self.slots.clone(),
                idle_timeout: self.config.idle_timeout,
                identity: identity.clone(),
                shutdown: self.shutdown.clone(),
                transport_refusal: None,
                throttle: throttle.clone(),
                peer_ip: stream.peer_addr().ok().map(|a| a.ip()),
                metrics: self.metrics.clone(),
            };
            if self.config.once {
                transport::serve(stream, ctx, &self.config.tls);
                break;
            }
            // The registry's handle on the socket lives only as long as the session: a
            // finished session's descriptor is closed at once, not at the next reap.
            let handle = match stream.try_clone() {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    warn!(
                        session = id,
                        "cannot keep a handle to stop the session: {e}; closing"
                    );
                    continue;
                }
            };
            let weak = Arc::downgrade(&handle);
            let tls = self.config.tls.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("vtremoted-session-{id}"))
                .spawn(move || {
                    transport::serve(stream, ctx, &tls);
                    drop(handle);
                });
            let stopper = move |how| {
                if let Some(s) = weak.upgrade() {
                    let _ = s.shutdown(how);
                }
            };
            match spawned {
                Ok(thread) => sessions.insert(id, Box::new(stopper), thread),
                Err(e) => warn!("cannot start a session thread: {e}"),
            }
        }
        sessions.stop_all(STOP_GRACE, STOP_DEADLINE);
        info!("vtremoted stopped");
    }
}

/// Wakes a blocked `accept` so the loop sees the shutdown flag.
pub fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn loopback_addresses_need_no_token() {
        for a in [
            "127.0.0.1:5555",
            "127.8.9.10:1",
            "[::1]:5555",
            "[::ffff:127.0.0.1]:5555",
        ] {
            assert_eq!(exposure_refusal(&addrs(&[a]), false, false), None, "{a}");
        }
        // "localhost" typically resolves to both.
        assert_eq!(
            exposure_refusal(&addrs(&["[::1]:5555", "127.0.0.1:5555"]), false, false),
            None
        );
    }

    #[test]
    fn beyond_loopback_without_token_is_refused_naming_the_address_and_the_ways_out() {
        for a in [
            "0.0.0.0:5555",
            "[::]:5555",
            "192.168.1.20:5555",
            "[fe80::1]:5555",
            "[::ffff:10.0.0.1]:5555",
        ] {
            let why = exposure_refusal(&addrs(&[a]), false, false).expect(a);
            assert!(why.contains(a), "{why}");
            for way in ["--token-file", "--listen 127.0.0.1", "--allow-no-token"] {
                assert!(why.contains(way), "{why} lacks {way}");
            }
        }
        // One exposed address among loopback ones is enough to refuse.
        let why = exposure_refusal(&addrs(&["127.0.0.1:1", "10.1.2.3:1"]), false, false);
        assert!(why.unwrap().contains("10.1.2.3:1"));
    }

    #[test]
    fn a_token_or_the_explicit_flag_allows_any_address() {
        let any = addrs(&["0.0.0.0:5555", "[::]:5555"]);
        assert_eq!(exposure_refusal(&any, true, false), None);
        assert_eq!(exposure_refusal(&any, false, true), None);
        assert_eq!(exposure_refusal(&any, true, true), None);
    }
}
