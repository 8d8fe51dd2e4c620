//! TLS for `https://` targets (ureq over rustls) and `tls://` streams (rustls directly, as syslog
//! over TLS uses it, RFC 5425), with the ring crypto provider.
//!
//! * The receiver's certificate is checked against Mozilla's roots (webpki-roots), or only
//!   against `--ca-cert FILE` (PEM) when it is given. `--insecure` checks nothing, and `send`
//!   says so on stderr.
//! * `--client-cert FILE --client-key FILE` (PEM) present a client certificate (mutual TLS).
//! * A certificate the checks refuse ends the run at once (no retry can mend it), with an error
//!   that names the host and the reason.
//!
//! Files are read when the send is prepared, before the cache is built. Without the `tls`
//! feature, TLS targets and flags are refused with an error that says so.

use std::path::PathBuf;

use super::target::Target;
use crate::error::{Error, Result};

/// The TLS flags of a send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `--ca-cert`: trust only these PEM certificates.
    pub ca_cert: Option<PathBuf>,
    /// `--insecure`: check no certificate.
    pub insecure: bool,
    /// `--client-cert`: a PEM certificate chain to present.
    pub client_cert: Option<PathBuf>,
    /// `--client-key`: its PEM private key.
    pub client_key: Option<PathBuf>,
}

impl TlsOptions {
    /// True when no flag is given.
    pub fn is_empty(&self) -> bool {
        *self == TlsOptions::default()
    }
}

/// The loaded TLS settings of a run.
#[derive(Clone)]
pub struct TlsSetup {
    #[cfg(feature = "tls")]
    pub(crate) stream: std::sync::Arc<rustls::ClientConfig>,
    #[cfg(feature = "tls")]
    pub(crate) http: ureq::tls::TlsConfig,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSetup")
    }
}

/// Loads the TLS settings `target` needs: `None` for a plain target.
///
/// # Errors
/// [`Error::Argument`] for TLS flags on a plain target, a client certificate without its key
/// (or the reverse), `--insecure` with `--ca-cert`, a file that cannot be read or holds no PEM
/// certificate or key, or a TLS target in a build without the `tls` feature.
pub fn setup(options: &TlsOptions, target: &Target) -> Result<Option<TlsSetup>> {
    if !target.is_tls() {
        if !options.is_empty() {
            return Err(Error::argument(
                "TLS option",
                target.to_string(),
                "--ca-cert, --insecure, --client-cert and --client-key apply to https:// and tls:// targets only",
            ));
        }
        return Ok(None);
    }
    if options.client_cert.is_some() != options.client_key.is_some() {
        return Err(Error::argument("client certificate", "", "give both --client-cert FILE and --client-key FILE"));
    }
    if options.insecure && options.ca_cert.is_some() {
        return Err(Error::argument("TLS option", "--insecure", "checks no certificate: drop --ca-cert or --insecure"));
    }
    load(options).map(Some)
}

#[cfg(not(feature = "tls"))]
fn load(_: &TlsOptions) -> Result<TlsSetup> {
    Err(Error::argument("target URL", "https:// or tls://", "this payforge was built without the `tls` feature"))
}

#[cfg(feature = "tls")]
fn load(options: &TlsOptions) -> Result<TlsSetup> {
    imp::load(options)
}

#[cfg(feature = "tls")]
pub(crate) use imp::{connect, tls_failure};

#[cfg(feature = "tls")]
mod imp {
    use std::net::TcpStream;
    use std::path::Path;
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};

    use super::{TlsOptions, TlsSetup};
    use crate::error::{Error, Result};

    fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
        let bad = |reason: String| Error::argument(flag, path.display().to_string(), reason);
        let certs: Vec<_> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        Ok(certs)
    }

    /// The ring provider, as ureq's `rustls` feature uses it. rustls 0.23.48 deprecates it
    /// because ring has no post-quantum key exchange; a load generator's loopback and test
    /// receivers do not need one, and aws-lc-rs would add a C and CMake build.
    #[allow(deprecated)]
    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    pub(super) fn load(options: &TlsOptions) -> Result<TlsSetup> {
        let roots = options.ca_cert.as_deref().map(|p| certificates("CA certificate", p)).transpose()?;
        let client = match (&options.client_cert, &options.client_key) {
            (Some(cert), Some(key_path)) => {
                let chain = certificates("client certificate", cert)?;
                let bad = |reason: String| Error::argument("client key", key_path.display().to_string(), reason);
                let pem = std::fs::read(key_path).map_err(|e| bad(e.to_string()))?;
                let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| bad(e.to_string()))?;
                let ureq_key = ureq::tls::PrivateKey::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
                Some((chain, key, ureq_key))
            }
            _ => None,
        };
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::argument("TLS option", "protocol versions", e.to_string()))?;
        let builder = if options.insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(Arc::clone(&provider))))
        } else {
            let mut store = RootCertStore::empty();
            match &roots {
                Some(certs) => {
                    for c in certs {
                        store.add(c.clone()).map_err(|e| {
                            Error::argument("CA certificate", format!("{:?}", options.ca_cert), e.to_string())
                        })?;
                    }
                }
                None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(store)
        };
        let stream = match &client {
            Some((chain, key, _)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| Error::argument("client key", format!("{:?}", options.client_key), e.to_string()))?,
            None => builder.with_no_client_auth(),
        };

        let mut http = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if options.insecure {
            http = http.disable_verification(true);
        }
        if let Some(certs) = &roots {
            let certs: Vec<_> = certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
            http = http.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        if let Some((chain, _, key)) = &client {
            let chain: Vec<_> = chain.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
            http = http.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key.to_owned())));
        }
        Ok(TlsSetup { stream: Arc::new(stream), http: http.build() })
    }

    /// Opens TLS over `tcp` to `host` and finishes the handshake (within the socket's timeouts).
    pub(crate) fn connect(
        setup: &TlsSetup,
        host: &str,
        mut tcp: TcpStream,
    ) -> std::io::Result<StreamOwned<ClientConnection, TcpStream>> {
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(name.to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("server name {name:?}: {e}")))?;
        let mut conn = ClientConnection::new(Arc::clone(&setup.stream), name).map_err(std::io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(StreamOwned::new(conn, tcp))
    }

    /// The TLS error inside an I/O error, said for people, and whether a certificate was refused.
    pub(crate) fn tls_failure(e: &std::io::Error) -> Option<(String, bool)> {
        let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
        Some((inner.to_string(), matches!(inner, rustls::Error::InvalidCertificate(_))))
    }

    /// `--insecure`: accepts any certificate, still checking the handshake's signatures.
    #[derive(Debug)]
    struct AcceptAny(Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
