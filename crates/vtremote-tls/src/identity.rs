//! The helper's TLS identity: a self-signed certificate and its key, generated on first
//! start into the state directory and reused afterwards, so its fingerprint stays stable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::fingerprint::{fingerprint, Fingerprint};
use crate::{provider, TlsError};

const CERT_FILE: &str = "tls-cert.der";
const KEY_FILE: &str = "tls-key.der";

pub struct HelperIdentity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pub fingerprint: Fingerprint,
    /// Where the key lives (for messages).
    pub dir: PathBuf,
}

/// Where a helper keeps its key when `--state-dir` is not given: the system's state folder
/// for root (a service), the user's otherwise.
pub fn default_state_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if cfg!(target_os = "macos") {
        return match home {
            Some(h) if !is_root() => h.join("Library/Application Support/vtremoted"),
            _ => PathBuf::from("/Library/Application Support/vtremoted"),
        };
    }
    if is_root() {
        return PathBuf::from("/var/lib/vtremoted");
    }
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(state).join("vtremoted");
    }
    match home {
        Some(h) => h.join(".local/state/vtremoted"),
        None => PathBuf::from("/var/lib/vtremoted"),
    }
}

fn is_root() -> bool {
    // The owner of /proc/self is the effective user on Linux; elsewhere HOME decides.
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::env::var("USER").is_ok_and(|u| u == "root")
    }
}

impl HelperIdentity {
    /// Loads the identity from `dir`, or creates one there (the key readable by the owner
    /// only).
    pub fn load_or_create(dir: &Path) -> Result<HelperIdentity, TlsError> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        let state = |path: &Path, what, cause| TlsError::State {
            path: path.to_path_buf(),
            what,
            cause,
        };
        if !key_path.exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| state(dir, "creating the state directory", e))?;
            let generated = rcgen::generate_simple_self_signed(vec!["vtremoted".to_string()])
                .map_err(|e| TlsError::Generate(e.to_string()))?;
            write_private(&key_path, &generated.signing_key.serialize_der())
                .map_err(|e| state(&key_path, "writing the key", e))?;
            std::fs::write(&cert_path, generated.cert.der().as_ref())
                .map_err(|e| state(&cert_path, "writing the certificate", e))?;
        }
        let key = std::fs::read(&key_path).map_err(|e| state(&key_path, "reading the key", e))?;
        let cert = std::fs::read(&cert_path)
            .map_err(|e| state(&cert_path, "reading the certificate", e))?;
        let identity = HelperIdentity {
            fingerprint: fingerprint(&cert),
            cert: CertificateDer::from(cert),
            key: PrivatePkcs8KeyDer::from(key),
            dir: dir.to_path_buf(),
        };
        // Fail now, naming the file, rather than at the first client.
        identity
            .server_config()
            .map_err(|e| TlsError::BadIdentity {
                path: key_path,
                why: e.to_string(),
            })?;
        Ok(identity)
    }

    /// TLS 1.3 only, no client certificates: clients prove themselves with the token.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        Ok(Arc::new(config))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_created_once_and_keeps_its_fingerprint() {
        let dir = std::env::temp_dir().join(format!("vtremote-tls-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = HelperIdentity::load_or_create(&dir).unwrap();
        let again = HelperIdentity::load_or_create(&dir).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
        }
        std::fs::write(dir.join(KEY_FILE), b"junk").unwrap();
        let e = HelperIdentity::load_or_create(&dir)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(KEY_FILE), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
