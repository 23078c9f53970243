//! Host `auto`: the pool is whoever answers an mDNS browse for `_vtremote._tcp`.

use crate::config::ClientConfig;
use crate::error::ClientError;

/// The host value that asks for discovery.
const AUTO: &str = "auto";

pub(crate) fn is_auto(host: &str) -> bool {
    host.trim().eq_ignore_ascii_case(AUTO)
}

/// One configuration per address found, carrying the fingerprint that helper advertised.
pub(crate) fn members(config: &ClientConfig) -> Result<Vec<ClientConfig>, ClientError> {
    let found = vtremote_discovery::browse(config.discovery_window).map_err(|e| {
        ClientError::Discovery {
            cause: e.to_string(),
            nothing_found: matches!(e, vtremote_discovery::DiscoveryError::NothingFound { .. }),
        }
    })?;
    config.log.info(format_args!(
        "auto: mDNS found {}",
        found
            .iter()
            .map(|f| format!("\"{}\" at {}", f.instance, f.addr))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(found
        .into_iter()
        .map(|f| {
            let mut c = config.clone();
            c.host = f.addr.to_string();
            c.advertised_fingerprint = f.txt.fingerprint;
            c
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_recognised_in_any_case_and_nothing_else_is() {
        assert!(is_auto("auto") && is_auto(" AUTO "));
        assert!(!is_auto("auto:5555") && !is_auto("autohost") && !is_auto("a,auto"));
    }
}
