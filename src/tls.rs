//! Owns the trust of every TLS connection the binary makes (registry, GitHub, git over https): rustls with the
//! platform's roots, read from disk when the first server certificate has to be verified, never before.
//!
//! reqwest builds its rustls verifier (`rustls-platform-verifier`) when a client is *built*, and on Linux that
//! reads and parses the whole CA bundle and every file of `SSL_CERT_DIR` then, 2–4 ms per client here: a
//! run that never contacts an https server would pay it for each client it makes. So every client is handed
//! [`client_config`], whose verifier builds the platform verifier once per process, inside the first handshake
//! that presents a certificate; the handshake's signature checks need only the crypto provider, not the roots.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

/// The TLS configuration for an HTTPS client (`reqwest::ClientBuilder::tls_backend_preconfigured`): what
/// reqwest would build itself (its default crypto provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN), except that
/// the roots are read on first use. Fails only for an installed crypto provider that supports neither version.
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = provider();
    let verifier = Arc::new(LazyPlatformVerifier {
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS error somewhere in an error's chain (reqwest → hyper → the connector's `io::Error` → rustls).
pub fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error::source` skips the error it wraps (the connector nests them): look inside instead.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Whether a TLS handshake failed on the server's certificate (as opposed to a peer that speaks no TLS).
pub fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        rustls_error(e),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_))
    )
}

/// The process's crypto provider: one installed by the program, else the one reqwest defaults to.
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// The platform verifier, built (the roots read) on the first certificate of the process.
fn platform(
    provider: &Arc<CryptoProvider>,
) -> Result<&'static rustls_platform_verifier::Verifier, rustls::Error> {
    static PLATFORM: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>> =
        OnceLock::new();
    PLATFORM
        .get_or_init(|| {
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                // No roots at all is a certificate that can't be trusted, with the reason kept: the registry
                // then says how to trust a CA instead of taking the server for one that speaks no TLS.
                rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        platform(&self.provider)?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    // The handshake's signature checks are what the platform verifier does too (webpki with the provider's
    // algorithms): they need no roots, so a ClientHello, or a server that turns out to speak no TLS, reads none.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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
