//! The client's check of the helper: the certificate's fingerprint must be the pinned one.
//! No certificate authority is involved (a helper's certificate is self-signed), so the
//! pin is the whole trust decision; the handshake signature is still verified, proving the
//! helper holds the key.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::fingerprint::{fingerprint, Fingerprint};
use crate::{provider, TlsError};

/// Accepts the helper whose certificate has the expected fingerprint (any, on first use)
/// and remembers what it saw, for the error message and for recording it.
#[derive(Debug)]
pub struct PinCheck {
    expected: Option<Fingerprint>,
    seen: Mutex<Option<Fingerprint>>,
    provider: Arc<CryptoProvider>,
}

impl PinCheck {
    pub fn expected(&self) -> Option<Fingerprint> {
        self.expected
    }
    /// The fingerprint the helper presented, once the handshake got that far.
    pub fn seen(&self) -> Option<Fingerprint> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ServerCertVerifier for PinCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity.as_ref());
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(presented);
        match self.expected {
            Some(pin) if pin != presented => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS 1.3 client configuration that trusts exactly `expected` (anything, recorded by
/// the caller, when `None`), and the check to ask what was seen.
pub fn client_config(
    expected: Option<Fingerprint>,
) -> Result<(Arc<rustls::ClientConfig>, Arc<PinCheck>), TlsError> {
    let provider = provider();
    let check = Arc::new(PinCheck {
        expected,
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(check.clone())
        .with_no_client_auth();
    // The helper is named by its fingerprint, not by a host name.
    config.enable_sni = false;
    Ok((Arc::new(config), check))
}
