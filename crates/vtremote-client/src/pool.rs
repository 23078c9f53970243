//! A pool of helpers: `host` may list several (`a:5555,b:5555`), or name one host that
//! resolves to several addresses (a Kubernetes headless Service, round-robin DNS): all of
//! them are the pool. Each member is asked for its load in parallel (HELLO_ACK's sessions in
//! use of max), the unreachable are skipped after a short timeout, and the session opens on
//! the least loaded member that serves the codec.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use vtremote_proto::Codec;

use crate::config::{ClientConfig, ServerInfo};
use crate::connection::{probe, split_host_port};
use crate::error::ClientError;

/// How long a member may take to answer the load question: a helper that is down should
/// not delay the session by the full timeout.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Every helper `spec` names, each as a `host:port` to connect to. A single entry that
/// resolves to one address (or not at all: connecting reports that) stays as given.
pub(crate) fn members(spec: &str) -> Vec<String> {
    let entries: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let mut out = Vec::new();
    for entry in &entries {
        let addrs = resolve(entry);
        if addrs.len() > 1 {
            out.extend(addrs.iter().map(SocketAddr::to_string));
        } else {
            out.push(entry.to_string());
        }
    }
    if out.is_empty() {
        out.push(spec.to_string());
    }
    out.dedup();
    out
}

fn resolve(entry: &str) -> Vec<SocketAddr> {
    let Ok((name, port)) = split_host_port(entry) else {
        return Vec::new();
    };
    let mut addrs: Vec<SocketAddr> = (name.as_str(), port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default();
    addrs.sort();
    addrs.dedup();
    addrs
}

/// The configuration to connect with: `config` itself for a single helper, else `config`
/// aimed at the least loaded member that answered and serves `codec`.
pub(crate) fn choose(config: &ClientConfig, codec: Codec) -> Result<ClientConfig, ClientError> {
    let mut members = member_configs(config)?;
    let mut reasons = Vec::new();
    if let Some(avoid) = &config.avoid {
        let before = members.len();
        members.retain(|m| m.host != *avoid);
        if members.len() < before {
            reasons.push(format!("{avoid}: left out, it failed this job"));
        }
        if members.is_empty() {
            return Err(ClientError::NoHelper {
                pool: config.host.clone(),
                reasons: reasons.join("; "),
            });
        }
    }
    if members.len() == 1 && reasons.is_empty() {
        return Ok(members.remove(0));
    }
    for m in &mut members {
        m.timeout = config.timeout.min(PROBE_TIMEOUT);
    }
    let answers = ask_all(&members, codec);
    let mut best: Option<(f64, &str, &ServerInfo)> = None;
    for (member, answer) in &answers {
        match answer {
            Ok(info) if serves(info, codec) => {
                let load = load(info);
                if best.is_none_or(|(b, _, _)| load < b) {
                    best = Some((load, member, info));
                }
            }
            Ok(_) => reasons.push(format!("{member}: does not serve {codec}")),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    let Some((_, member, info)) = best else {
        return Err(ClientError::NoHelper {
            pool: config.host.clone(),
            reasons: reasons.join("; "),
        });
    };
    config.log.info(format_args!(
        "pool {}: using {member} ({} of {} sessions in use){}",
        config.host,
        // The probe's own connection is counted by the helper.
        info.active_sessions.saturating_sub(1),
        info.max_sessions,
        if reasons.is_empty() {
            String::new()
        } else {
            format!("; skipped: {}", reasons.join("; "))
        }
    ));
    let chosen = members
        .into_iter()
        .find(|m| m.host == member)
        .expect("the chosen member is one of the pool");
    Ok(chosen)
}

/// Whether `host` may name more than one helper: a list, `auto`, or a name with several
/// addresses.
pub(crate) fn has_others(host: &str) -> bool {
    crate::discover::is_auto(host) || members(host).len() > 1
}

/// One configuration per member: `config` aimed at each helper `config.host` names, or at
/// each address mDNS finds for `auto`, with what that helper advertised.
pub(crate) fn member_configs(config: &ClientConfig) -> Result<Vec<ClientConfig>, ClientError> {
    if crate::discover::is_auto(&config.host) {
        return crate::discover::members(config);
    }
    Ok(members(&config.host)
        .into_iter()
        .map(|m| {
            let mut c = config.clone();
            c.host = m;
            c
        })
        .collect())
}

/// Probes every member in parallel; answers in `members` order.
pub(crate) fn ask_all(
    members: &[ClientConfig],
    codec: Codec,
) -> Vec<(String, Result<ServerInfo, ClientError>)> {
    std::thread::scope(|s| {
        let asks: Vec<_> = members
            .iter()
            .map(|c| s.spawn(move || (c.host.clone(), probe(c, codec))))
            .collect();
        asks.into_iter()
            .map(|a| a.join().expect("probe thread"))
            .collect()
    })
}

/// An empty codec list is an original daemon's: it serves both.
fn serves(info: &ServerInfo, codec: Codec) -> bool {
    info.codecs.is_empty() || info.codecs.iter().any(|c| c == codec.wire_name())
}

/// Sessions in use per slot; the probe itself holds one on every member alike.
fn load(info: &ServerInfo) -> f64 {
    f64::from(info.active_sessions) / f64::from(info.max_sessions.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_split_and_a_single_name_stays_as_given() {
        assert_eq!(
            members("127.0.0.1:1, 127.0.0.2:2,,"),
            ["127.0.0.1:1", "127.0.0.2:2"]
        );
        assert_eq!(members("mac.invalid:5555"), ["mac.invalid:5555"]);
        assert_eq!(members("[::1]:7"), ["[::1]:7"]);
    }

    #[test]
    fn load_is_the_share_of_sessions_in_use() {
        let info = |active, max| ServerInfo {
            address: String::new(),
            name: String::new(),
            version: String::new(),
            codecs: vec!["h264".into()],
            features: vec![],
            max_sessions: max,
            active_sessions: active,
        };
        assert!(load(&info(1, 4)) < load(&info(1, 2)));
        assert_eq!(load(&info(0, 0)), 0.0);
        assert!(serves(&info(0, 1), Codec::H264));
        assert!(!serves(&info(0, 1), Codec::Hevc));
    }
}
