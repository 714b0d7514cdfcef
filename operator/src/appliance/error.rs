//! The appliance client's error type.
//!
//! Every variant says what failed and what a person should do about it, because these
//! messages end up verbatim in Kubernetes Events and status conditions. `category()` gives a
//! small, bounded vocabulary for metric labels and Event reasons; `is_transient()` tells the
//! retry wrapper and the controllers whether waiting can help.

use std::time::Duration;

/// A boxed underlying cause (network or TLS error), kept for `source()` chains.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias for the appliance client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an appliance call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The member's CA bundle could not be used (empty, not PEM, not a certificate).
    #[error("failed to load the appliance CA certificate ({detail}); check caSecretRef")]
    InvalidCa { detail: String },

    /// The client could not be set up (bad endpoint URL, TLS setup).
    #[error("failed to configure the appliance client ({detail}); check the member's endpoint")]
    Config { detail: String },

    /// Connection refused, reset, timed out, or DNS failure.
    #[error(
        "failed to reach {endpoint}; check the endpoint and network \
         (an appliance rebooting during a base install is also unreachable)"
    )]
    Unreachable {
        endpoint: String,
        #[source]
        source: BoxError,
    },

    /// The appliance's certificate does not chain to the CA baton was given.
    #[error(
        "failed to verify the certificate of {endpoint}; check caSecretRef: it must hold \
         the CA that signed the appliance's certificate for this hostname"
    )]
    UntrustedCertificate {
        endpoint: String,
        #[source]
        source: BoxError,
    },

    /// Any other TLS failure (protocol mismatch, handshake failure).
    #[error(
        "failed to establish TLS with {endpoint}; check that the endpoint is the \
         appliance's HTTPS port and caSecretRef"
    )]
    Tls {
        endpoint: String,
        #[source]
        source: BoxError,
    },

    /// The appliance rejected the API account's client id/secret or the token it issued.
    #[error(
        "the appliance rejected the API credentials ({detail}); check the credentials \
         Secret (regenerating the client secret on the appliance invalidates the old one)"
    )]
    Unauthorized { detail: String },

    /// The API account is authenticated but lacks a permission (HTTP 403).
    #[error(
        "the API account lacks the {permission} permission ({message}); give the API \
         account full command access"
    )]
    MissingPermission { permission: String, message: String },

    /// The per-account rate limit was exceeded (HTTP 429) and backing off did not help.
    #[error(
        "the appliance rate limit was exceeded, retry after {}s; check that no other \
         client shares this API account",
        retry_after.as_secs_f32()
    )]
    RateLimited { retry_after: Duration },

    /// The reply could not be understood: malformed XML/JSON or an unexpected status.
    #[error(
        "failed to understand the reply to {op} ({detail}); check that the endpoint is a \
         supported B Series appliance and, for the management extension, its adapter version"
    )]
    BadResponse {
        op: &'static str,
        /// The HTTP status, when the reply had an unexpected one.
        status: Option<u16>,
        detail: String,
    },

    /// The management extension is not served at the configured address.
    #[error(
        "the management extension does not answer at {url}; install the site adapter \
         (docs/api/management-extension-v1.openapi.yaml) or fix the extension address"
    )]
    ExtensionMissing { url: String },

    /// The appliance reported an error of its own; `message` is its own words.
    #[error("the appliance reported an error ({code}): {message}; act on the appliance's message")]
    Appliance { code: String, message: String },

    /// The management extension refused the operation in the appliance's current state
    /// (HTTP 409: `version_mismatch`, `already_installed`, `not_primary`, ...).
    #[error(
        "the appliance refused the operation ({code}): {message}; the appliance is not in \
         the state this step expects, check it in the appliance's /login interface"
    )]
    Conflict { code: String, message: String },
}

impl Error {
    /// A bounded label for metrics and Kubernetes Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::InvalidCa { .. } => "invalid_ca",
            Error::Config { .. } => "config",
            Error::Unreachable { .. } => "unreachable",
            Error::UntrustedCertificate { .. } => "untrusted_certificate",
            Error::Tls { .. } => "tls",
            Error::Unauthorized { .. } => "unauthorized",
            Error::MissingPermission { .. } => "missing_permission",
            Error::RateLimited { .. } => "rate_limited",
            Error::BadResponse { .. } => "bad_response",
            Error::ExtensionMissing { .. } => "extension_missing",
            Error::Appliance { .. } => "appliance",
            Error::Conflict { .. } => "conflict",
        }
    }

    /// True when the same call may succeed later without anyone changing anything.
    ///
    /// Unreachable is transient because a base install reboots the appliance; a 5xx reply is
    /// transient because the appliance is usually busy. Configuration and permission errors
    /// need a person, and conflicts need the state machine to look again, not a blind retry.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::RateLimited { .. } => true,
            Error::BadResponse { status, .. } => status.is_some_and(|s| s >= 500),
            Error::Appliance { code, .. } => {
                matches!(code.as_str(), "server_error" | "unavailable")
            }
            _ => false,
        }
    }

    /// The Retry-After the appliance asked for, if this is a rate-limit error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    pub(crate) fn bad_response(op: &'static str, detail: impl Into<String>) -> Self {
        Error::BadResponse {
            op,
            status: None,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Error> {
        let io = || -> BoxError { Box::new(std::io::Error::other("x")) };
        vec![
            Error::InvalidCa {
                detail: "no certificate".into(),
            },
            Error::Config {
                detail: "bad url".into(),
            },
            Error::Unreachable {
                endpoint: "https://a".into(),
                source: io(),
            },
            Error::UntrustedCertificate {
                endpoint: "https://a".into(),
                source: io(),
            },
            Error::Tls {
                endpoint: "https://a".into(),
                source: io(),
            },
            Error::Unauthorized {
                detail: "invalid_client".into(),
            },
            Error::MissingPermission {
                permission: "perm_command".into(),
                message: "no".into(),
            },
            Error::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            Error::bad_response("check_health", "unexpected root"),
            Error::ExtensionMissing {
                url: "https://a/api/management/v1".into(),
            },
            Error::Appliance {
                code: "server_error".into(),
                message: "boom".into(),
            },
            Error::Conflict {
                code: "version_mismatch".into(),
                message: "24.1 vs 24.3".into(),
            },
        ]
    }

    #[test]
    fn messages_are_lowercase_and_say_what_to_do() {
        for e in all() {
            let msg = e.to_string();
            let first = msg.chars().next().unwrap_or('X');
            assert!(first.is_lowercase(), "{msg}");
            assert!(
                msg.contains("check")
                    || msg.contains("give")
                    || msg.contains("act on")
                    || msg.contains("install"),
                "no advice in: {msg}"
            );
        }
    }

    #[test]
    fn messages_do_not_repeat_their_source() {
        let e = Error::Unreachable {
            endpoint: "https://a".into(),
            source: Box::new(std::io::Error::other("connection refused")),
        };
        assert!(!e.to_string().contains("connection refused"));
    }

    #[test]
    fn categories_are_distinct() {
        let mut cats: Vec<_> = all().iter().map(Error::category).collect();
        let n = cats.len();
        cats.sort_unstable();
        cats.dedup();
        assert_eq!(cats.len(), n);
    }

    #[test]
    fn transient_errors() {
        let transient: Vec<_> = all()
            .into_iter()
            .filter(Error::is_transient)
            .map(|e| e.category())
            .collect();
        assert_eq!(transient, ["unreachable", "rate_limited", "appliance"]);
        let busy = Error::BadResponse {
            op: "x",
            status: Some(503),
            detail: String::new(),
        };
        assert!(busy.is_transient());
    }
}
