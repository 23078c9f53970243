//! `SHA256:` + unpadded base64 of the certificate's SHA-256, as OpenSSH shows host keys.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::TlsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

/// The fingerprint of a DER certificate.
pub fn fingerprint(cert_der: &[u8]) -> Fingerprint {
    Fingerprint(Sha256::digest(cert_der).into())
}

impl Fingerprint {
    /// Accepts what `Display` prints (with or without base64 padding; the `SHA256:` prefix
    /// in any case).
    pub fn parse(text: &str) -> Result<Fingerprint, TlsError> {
        let bad = || TlsError::BadFingerprint(text.to_string());
        let t = text.trim();
        let body = t
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256:"))
            .map(|_| &t[7..])
            .ok_or_else(bad)?;
        let bytes = STANDARD_NO_PAD
            .decode(body.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(body))
            .map_err(|_| bad())?;
        Ok(Fingerprint(bytes.try_into().map_err(|_| bad())?))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SHA256:{}", STANDARD_NO_PAD.encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses_back() {
        let f = fingerprint(b"certificate");
        let text = f.to_string();
        assert!(
            text.starts_with("SHA256:") && text.len() == 7 + 43,
            "{text}"
        );
        assert_eq!(Fingerprint::parse(&text).unwrap(), f);
        assert_eq!(
            Fingerprint::parse(&format!(" sha256:{}= ", &text[7..])).unwrap(),
            f
        );
    }

    #[test]
    fn garbage_is_refused_naming_the_expected_form() {
        for bad in ["", "SHA256:", "MD5:abcd", "SHA256:!!!", "SHA256:AAAA"] {
            let e = Fingerprint::parse(bad).unwrap_err().to_string();
            assert!(e.contains("SHA256:"), "{e}");
        }
    }
}
