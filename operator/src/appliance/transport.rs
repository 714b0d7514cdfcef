//! HTTPS to one appliance: rustls with the ring provider, trusting only the member's CA.
//!
//! One `reqwest::Client` per member, built once and cloned (it is an `Arc` inside). The TLS
//! configuration is built here rather than through reqwest's defaults for two reasons: the
//! binary must carry exactly one crypto provider (ring; aws-lc-rs is never compiled in), and
//! the only trust anchor must be the CA from the member's `caSecretRef`, never the platform
//! store, so a certificate from any other CA is refused.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use url::Url;

use super::error::{Error, Result};

/// How long to wait for the TCP and TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a normal call may take end to end.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTPS connection factory for one appliance endpoint.
#[derive(Clone)]
pub struct HttpsTransport {
    client: reqwest::Client,
    endpoint: Url,
}

impl std::fmt::Debug for HttpsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsTransport")
            .field("endpoint", &self.endpoint.as_str())
            .finish()
    }
}

/// A reply read in full; crate-private so HTTP types do not leak to callers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl HttpsTransport {
    /// Builds the client for `endpoint` (e.g. `https://rs-a.example.com`), trusting only the
    /// CA certificates in `ca_pem`.
    pub fn new(endpoint: Url, ca_pem: &[u8]) -> Result<Self> {
        require_https(&endpoint)?;
        Self::with_client(endpoint, client_for(ca_pem)?)
    }

    /// A transport for `endpoint` over `client` (from [`client_for`], possibly shared by
    /// every member trusting the same CA).
    pub fn with_client(endpoint: Url, client: reqwest::Client) -> Result<Self> {
        require_https(&endpoint)?;
        Ok(Self { client, endpoint })
    }

    /// The appliance's base URL.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request and reads the whole reply, mapping transport failures to typed errors.
    pub(crate) async fn execute(&self, request: reqwest::Request) -> Result<Reply> {
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // A connection reset while reading the body is as unreachable as one before it.
        let body = response.bytes().await.map_err(|e| self.classify(e))?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    fn classify(&self, error: reqwest::Error) -> Error {
        classify(self.endpoint.as_str(), error)
    }
}

/// Refuses anything but an https endpoint.
pub(crate) fn require_https(endpoint: &Url) -> Result<()> {
    if endpoint.scheme() != "https" {
        return Err(Error::Config {
            detail: format!("endpoint {endpoint} is not https"),
        });
    }
    Ok(())
}

/// An HTTPS client trusting only the CA certificates in `ca_pem`. It holds no per-host state
/// (connections are closed after each call), so members trusting the same CA can share one:
/// with thousands of members, one client each was most of the operator's memory.
pub fn client_for(ca_pem: &[u8]) -> Result<reqwest::Client> {
    let tls = tls_config(ca_pem)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        // The vendor asks clients to close the connection after each call.
        .pool_max_idle_per_host(0)
        // A redirect would carry the bearer token somewhere baton did not choose.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| Error::Config {
            detail: format!("failed to build the HTTPS client: {e}"),
        })
}

/// The rustls client configuration: ring, safe protocol versions, only the member's CA.
fn tls_config(ca_pem: &[u8]) -> Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| Error::InvalidCa {
            detail: format!("bad PEM: {e}"),
        })?;
        roots.add(cert).map_err(|e| Error::InvalidCa {
            detail: format!("unusable certificate: {e}"),
        })?;
    }
    if roots.is_empty() {
        return Err(Error::InvalidCa {
            detail: "no CERTIFICATE block in the PEM".into(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            detail: format!("TLS setup: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Maps a reqwest error by what a person has to do about it.
pub(crate) fn classify(endpoint: &str, error: reqwest::Error) -> Error {
    let endpoint = endpoint.to_owned();
    if let Some(tls) = find_rustls_error(&error) {
        let certificate = matches!(
            tls,
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
        );
        return if certificate {
            Error::UntrustedCertificate {
                endpoint,
                source: Box::new(error),
            }
        } else {
            Error::Tls {
                endpoint,
                source: Box::new(error),
            }
        };
    }
    if error.is_builder() {
        return Error::Config {
            detail: format!("failed to build the request: {error}"),
        };
    }
    if error.is_decode() {
        return Error::bad_response("http", format!("failed to decode the body: {error}"));
    }
    if error.is_redirect() {
        return Error::bad_response("http", "unexpected redirect");
    }
    // Connect, timeout, reset and body errors: the appliance is not answering.
    Error::Unreachable {
        endpoint,
        source: Box::new(error),
    }
}

/// Finds a rustls error anywhere in the chain. `io::Error` hides a wrapped error from
/// `source()` (it forwards to the inner error's source), so look inside it explicitly.
fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(tls) = find_rustls_error(inner)
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rejects_plain_http() {
        let err = HttpsTransport::new("http://a.example.com".parse().unwrap(), b"").unwrap_err();
        assert_eq!(err.category(), "config");
    }

    #[test]
    fn rejects_a_ca_bundle_without_certificates() {
        let url: Url = "https://a.example.com".parse().unwrap();
        for pem in [
            &b""[..],
            b"not a pem",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = HttpsTransport::new(url.clone(), pem).unwrap_err();
            assert_eq!(err.category(), "invalid_ca", "{err}");
        }
    }

    #[test]
    fn finds_rustls_errors_inside_io_errors() {
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(matches!(
            find_rustls_error(&io),
            Some(rustls::Error::InvalidCertificate(_))
        ));
        assert!(find_rustls_error(&std::io::Error::other("plain")).is_none());
    }
}
