//! Encrypting a connection: TLS 1.3 pinned to the helper's fingerprint, bridged back to a
//! plain socket so the session code is the same with and without it.

use std::net::TcpStream;

use vtremote_tls::{bridge, client_config, Fingerprint, KnownHelpers};

use crate::config::{ClientConfig, Tls};
use crate::error::ClientError;

/// Runs the TLS handshake on `net` and returns the plain end of the bridge. Without a
/// pinned fingerprint, the one recorded for this host is expected; on first use the
/// helper's is recorded, with a warning saying where.
pub(crate) fn secure(net: TcpStream, config: &ClientConfig) -> Result<TcpStream, ClientError> {
    let host = &config.host;
    let Tls::On(pinned) = config.tls else {
        return Ok(net);
    };
    let known = KnownHelpers::default_location();
    let (expected, source_note) = match pinned {
        Some(f) => (Some(f), String::new()),
        None => match (known.get(host), config.advertised_fingerprint) {
            (Some(f), _) => (Some(f), format!(" recorded in {}", known.path().display())),
            // Unauthenticated, like first use itself: it only narrows what first use accepts.
            (None, Some(f)) => (Some(f), " advertised over mDNS".to_string()),
            (None, None) => (None, String::new()),
        },
    };
    let first_use = pinned.is_none() && known.get(host).is_none();
    let tls_error = |cause: String| ClientError::Tls {
        host: host.clone(),
        cause,
    };
    let (tls, check) = client_config(expected).map_err(|e| tls_error(e.to_string()))?;
    let name = rustls::pki_types::ServerName::try_from("vtremoted")
        .map_err(|e| tls_error(e.to_string()))?;
    let conn = rustls::ClientConnection::new(tls, name).map_err(|e| tls_error(e.to_string()))?;
    let bridged = match bridge(net, conn, config.timeout) {
        Ok(b) => b,
        Err(rustls::Error::InvalidCertificate(_)) if check.seen().is_some() => {
            return Err(ClientError::TlsFingerprint {
                host: host.clone(),
                expected: expected.map(|f| f.to_string()).unwrap_or_default(),
                presented: check.seen().map(|f| f.to_string()).unwrap_or_default(),
                source_note,
            })
        }
        Err(e) => return Err(tls_error(e.to_string())),
    };
    // The pumps end with the connection; nothing waits for them.
    drop(bridged.pumps);
    if first_use {
        record_first_use(&known, config, check.seen());
    }
    let local = bridged.local;
    local
        .set_read_timeout(Some(config.timeout))
        .and_then(|_| local.set_write_timeout(Some(config.timeout)))
        .map_err(|e| ClientError::io(host, "configuring the TLS bridge", e))?;
    Ok(local)
}

fn record_first_use(known: &KnownHelpers, config: &ClientConfig, seen: Option<Fingerprint>) {
    let Some(f) = seen else { return };
    let host = &config.host;
    match known.record(host, f) {
        Ok(()) => config.log.warn(format_args!(
            "{host}: first TLS connection to this helper: trusting its fingerprint {f} and \
             recording it in {}; check it against `vtremoted --fingerprint` on the helper, \
             or pin it (FFmpeg: -vt_remote_tls_fingerprint {f})",
            known.path().display()
        )),
        Err(e) => config.log.warn(format_args!(
            "{host}: trusting TLS fingerprint {f} for this connection only: {e}"
        )),
    }
}
