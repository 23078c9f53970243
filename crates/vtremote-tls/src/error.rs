use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {what}: {cause}")]
    State {
        path: PathBuf,
        what: &'static str,
        cause: std::io::Error,
    },
    #[error("generating the helper's TLS key: {0}")]
    Generate(String),
    #[error("{path}: not a usable TLS key or certificate: {why}")]
    BadIdentity { path: PathBuf, why: String },
    #[error("{0:?} is not a fingerprint: expected SHA256: followed by 43 base64 characters (as vtremoted --fingerprint prints)")]
    BadFingerprint(String),
    #[error("TLS setup: {0}")]
    Config(#[from] rustls::Error),
}
