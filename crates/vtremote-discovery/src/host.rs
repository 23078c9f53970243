//! Names this helper goes by on the LAN.

use std::net::SocketAddr;

/// DNS labels are at most 63 bytes; instance names may be longer but nobody reads them.
const MAX_LABEL: usize = 63;

/// This machine's host name, without domain, or "vtremoted" when it cannot be learnt.
fn hostname() -> String {
    // /proc answers without spawning anything; `hostname` exists on macOS and the BSDs.
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| {
            std::process::Command::new("hostname")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
        })
        .unwrap_or_default();
    let short = name.trim().split('.').next().unwrap_or("").to_string();
    if short.is_empty() {
        "vtremoted".into()
    } else {
        short
    }
}

/// The instance name users see in `vtremote probe auto` and `avahi-browse`: the host name,
/// and the address when the helper listens on one address only, so that two helpers on one
/// machine (different addresses or ports) never claim the same name.
pub fn instance_name(listen: SocketAddr) -> String {
    let mut name = if listen.ip().is_unspecified() {
        format!("vtremoted on {} port {}", hostname(), listen.port())
    } else {
        format!("vtremoted on {} at {listen}", hostname())
    };
    name.truncate(
        (0..=MAX_LABEL.min(name.len()))
            .rev()
            .find(|&i| name.is_char_boundary(i))
            .unwrap_or(0),
    );
    name
}

/// The SRV target. Not the machine's own `host.local.`: the system responder owns that
/// name with all of the machine's addresses, and a second responder announcing it with
/// only the listening address would make caches flap between the two answers.
pub(crate) fn target_host(listen: SocketAddr) -> String {
    let label: String = format!("vtremoted-{}-{}", listen.port(), hostname())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_LABEL)
        .collect();
    format!("{label}.local.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_say_where() {
        let any = instance_name("0.0.0.0:5555".parse().unwrap());
        assert!(any.starts_with("vtremoted on ") && any.ends_with(" port 5555"));
        let one = instance_name("10.1.2.3:7000".parse().unwrap());
        assert!(one.ends_with(" at 10.1.2.3:7000") || one.len() == MAX_LABEL);
        assert!(one.len() <= MAX_LABEL);
        let target = target_host("[::1]:5555".parse().unwrap());
        assert!(target.starts_with("vtremoted-5555-") && target.ends_with(".local."));
        assert!(target.len() <= MAX_LABEL + ".local.".len());
    }
}
