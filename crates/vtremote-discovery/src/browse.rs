//! The client's side: who answers for `_vtremote._tcp` within a bounded window.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use mdns_sd::{ResolvedService, ScopedIp, ServiceEvent};
use tracing::{debug, warn};

use crate::error::DiscoveryError;
use crate::txt::Txt;
use crate::SERVICE_TYPE;

/// Long enough for a query, its retransmission and the answers, short enough to add little
/// to a session's start.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(1500);
/// A responder multicasts a record at most once a second (RFC 6762 §6) and drops answers
/// that would break that, so a browse that starts within a second of another one (the
/// previous session, another client) is answered only at its first retransmission, 1 s
/// after its first query (20–120 ms after the start), plus the 20–120 ms answer delay.
/// Measured between two namespaces: back-to-back browses alternate between answered at
/// about 50 ms and at about 1070 ms. A shorter window would miss helpers that are there.
pub const MIN_WINDOW: Duration = Duration::from_millis(1300);
/// A browse is a fixed wait before every session: longer is a mistake, not patience.
pub const MAX_WINDOW: Duration = Duration::from_secs(10);
/// Helper addresses kept from one browse: a LAN with more is unusual, and a flood of forged
/// advertisements must not turn into thousands of parallel probes.
pub const MAX_FOUND: usize = 64;
/// Interfaces named in the "nothing found" message.
const MAX_NAMED_INTERFACES: usize = 16;

/// One address of one advertised helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The instance name, e.g. "vtremoted on mini port 5555".
    pub instance: String,
    pub addr: SocketAddr,
    pub txt: Txt,
}

/// Browses for `window` (within [`MIN_WINDOW`]..=[`MAX_WINDOW`]) and returns every resolved
/// address of every helper (sorted by instance, then address), or
/// [`DiscoveryError::NothingFound`].
pub fn browse(window: Duration) -> Result<Vec<Found>, DiscoveryError> {
    let window = window.clamp(MIN_WINDOW, MAX_WINDOW);
    crate::port::check_shareable()?;
    let daemon = crate::responder::Responder::start()?;
    let events = daemon
        .browse(SERVICE_TYPE)
        .map_err(|e| DiscoveryError::Browse(e.to_string()))?;
    let deadline = Instant::now() + window;
    let mut found: BTreeMap<(String, SocketAddr), Found> = BTreeMap::new();
    let mut overflow = false;
    while let Ok(event) = events.recv_deadline(deadline) {
        match event {
            ServiceEvent::ServiceResolved(service) => {
                for f in addresses(&service) {
                    let key = (f.instance.clone(), f.addr);
                    if found.len() < MAX_FOUND || found.contains_key(&key) {
                        found.insert(key, f);
                    } else {
                        overflow = true;
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                let gone = instance_of(&fullname);
                found.retain(|(instance, _), _| *instance != gone);
            }
            other => debug!("mDNS browse: {other:?}"),
        }
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    drop(daemon);
    if overflow {
        warn!("mDNS browse: more than {MAX_FOUND} helper addresses answered; using the first {MAX_FOUND}");
    }
    if found.is_empty() {
        return Err(DiscoveryError::NothingFound {
            window,
            interfaces: interface_list(),
        });
    }
    Ok(found.into_values().collect())
}

/// Usable addresses of one resolved instance. IPv6 link-local addresses need their
/// interface, which the `host:port` strings of a pool do not carry; IPv4 and routable IPv6
/// addresses of the same helper are announced alongside.
fn addresses(service: &ResolvedService) -> Vec<Found> {
    if !service.is_valid() {
        return Vec::new();
    }
    let txt = Txt::parse(|k| service.get_property_val(k).flatten());
    let instance = instance_of(&service.fullname);
    let mut out: Vec<Found> = service
        .get_addresses()
        .iter()
        .filter_map(|ip| match ip {
            ScopedIp::V4(v4) => Some(SocketAddr::new(IpAddr::V4(*v4.addr()), service.port)),
            ScopedIp::V6(v6) if !is_link_local(v6.addr()) => Some(SocketAddr::V6(
                SocketAddrV6::new(*v6.addr(), service.port, 0, 0),
            )),
            _ => None,
        })
        .map(|addr| Found {
            instance: instance.clone(),
            addr,
            txt: txt.clone(),
        })
        .collect();
    out.sort_by_key(|f| f.addr);
    out
}

fn is_link_local(ip: &std::net::Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// "name._vtremote._tcp.local." → "name" (DNS-SD escapes kept as they came).
fn instance_of(fullname: &str) -> String {
    fullname
        .strip_suffix(SERVICE_TYPE)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fullname)
        .to_string()
}

/// "lo (127.0.0.1), eth0 (192.168.1.20)": where the browse listened, for the error message.
fn interface_list() -> String {
    let Ok(interfaces) = if_addrs::get_if_addrs() else {
        return "(unknown: cannot list interfaces)".into();
    };
    let mut named: Vec<String> = interfaces
        .iter()
        .map(|i| format!("{} ({})", i.name, i.ip()))
        .collect();
    if named.is_empty() {
        return "none".into();
    }
    named.sort();
    let more = named.len().saturating_sub(MAX_NAMED_INTERFACES);
    named.truncate(MAX_NAMED_INTERFACES);
    let mut list = named.join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_lose_the_service_type() {
        assert_eq!(
            instance_of("vtremoted on mini port 5555._vtremote._tcp.local."),
            "vtremoted on mini port 5555"
        );
        assert_eq!(instance_of("odd"), "odd");
    }

    #[test]
    fn link_local_is_recognised() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local(&"2001:db8::1".parse().unwrap()));
    }
}
