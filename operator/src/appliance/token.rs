//! OAuth2 client-credentials tokens, shared per API account.
//!
//! An API account may hold at most 30 live tokens (the appliance drops the oldest), so every
//! client for the same account must share one token: [`TokenCache`] is created once per
//! process and hands out [`TokenSource`]s keyed by endpoint and client id. A source refreshes
//! its token before it expires (60 s early, or at 80 % of the lifetime for short-lived
//! tokens) and is single-flight: concurrent callers wait for one refresh instead of each
//! fetching a token. Time is `tokio::time::Instant`, so tests drive it with a paused clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tracing::{debug, instrument, warn};

use super::error::{Error, Result};
use super::transport::HttpsTransport;

/// An API account's client id and secret, as read from the member's credentials Secret.
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl Credentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// A token as the token endpoint issued it.
pub struct IssuedToken {
    pub access_token: SecretString,
    /// `expires_in` from the reply.
    pub lifetime: Duration,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Where tokens come from; the production one is [`OAuthEndpoint`], tests use fakes.
#[async_trait]
pub trait TokenEndpoint: Send + Sync + fmt::Debug {
    async fn issue(&self) -> Result<IssuedToken>;
}

/// `POST /oauth2/token` with HTTP Basic client credentials.
#[derive(Debug)]
pub struct OAuthEndpoint {
    transport: HttpsTransport,
    credentials: Credentials,
}

impl OAuthEndpoint {
    pub fn new(transport: HttpsTransport, credentials: Credentials) -> Self {
        Self {
            transport,
            credentials,
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenReply {
    access_token: SecretString,
    #[serde(default)]
    token_type: Option<String>,
    expires_in: u64,
}

/// The documented OAuth error body: `{"error": "invalid_client", "message": "..."}`.
#[derive(serde::Deserialize)]
pub(crate) struct OAuthError {
    pub error: String,
    #[serde(default, alias = "error_description")]
    pub message: Option<String>,
}

impl OAuthError {
    /// "invalid_client: bad secret", or "HTTP 401" when the body is not the documented JSON.
    pub fn describe(status: u16, body: &[u8]) -> String {
        match serde_json::from_slice::<OAuthError>(body) {
            Ok(e) => match e.message {
                Some(m) if !m.is_empty() => format!("{}: {m}", e.error),
                _ => e.error,
            },
            Err(_) => format!("HTTP {status}"),
        }
    }
}

#[async_trait]
impl TokenEndpoint for OAuthEndpoint {
    #[instrument(skip_all, fields(endpoint = %self.transport.endpoint(), op = "oauth2_token"))]
    async fn issue(&self) -> Result<IssuedToken> {
        const OP: &str = "oauth2_token";
        let url = self
            .transport
            .endpoint()
            .join("oauth2/token")
            .map_err(|e| Error::Config {
                detail: format!("token URL: {e}"),
            })?;
        let request = self
            .transport
            .client()
            .post(url)
            .basic_auth(
                &self.credentials.client_id,
                Some(self.credentials.client_secret.expose_secret()),
            )
            .form(&[("grant_type", "client_credentials")])
            .build()
            .map_err(|e| Error::Config {
                detail: format!("token request: {e}"),
            })?;
        let reply = self.transport.execute(request).await?;
        match reply.status {
            200 => {}
            400 | 401 | 403 => {
                return Err(Error::Unauthorized {
                    detail: OAuthError::describe(reply.status, &reply.body),
                });
            }
            429 => {
                return Err(Error::RateLimited {
                    retry_after: super::session::retry_after(&reply.headers),
                });
            }
            status => {
                return Err(Error::BadResponse {
                    op: OP,
                    status: Some(status),
                    detail: format!("unexpected status {status}"),
                });
            }
        }
        let token: TokenReply = serde_json::from_slice(&reply.body).map_err(|e| {
            Error::bad_response(OP, format!("token reply is not the documented JSON: {e}"))
        })?;
        if let Some(kind) = &token.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(Error::bad_response(
                OP,
                format!("token type {kind:?} is not Bearer"),
            ));
        }
        debug!(expires_in = token.expires_in, "issued an access token");
        Ok(IssuedToken {
            access_token: token.access_token,
            lifetime: Duration::from_secs(token.expires_in),
        })
    }
}

/// A bearer token handed to one request.
#[derive(Clone)]
pub struct Bearer {
    value: Arc<SecretString>,
    /// Which issue this is, so a 401 only discards the token that was actually rejected.
    generation: u64,
}

impl Bearer {
    pub(crate) fn expose(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

struct Cached {
    bearer: Bearer,
    refresh_at: Instant,
    expires_at: Instant,
}

#[derive(Default)]
struct Slot {
    token: Option<Cached>,
    issued: u64,
}

type SlotRef = Arc<tokio::sync::Mutex<Slot>>;

/// Process-wide token cache: one slot per (endpoint, client id).
#[derive(Clone, Default)]
pub struct TokenCache {
    slots: Arc<Mutex<HashMap<(String, String), SlotRef>>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TokenCache").field("accounts", &n).finish()
    }
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token source for one account; every source for the same key shares one token.
    pub fn source(
        &self,
        endpoint: &str,
        client_id: &str,
        issuer: Arc<dyn TokenEndpoint>,
    ) -> TokenSource {
        let key = (
            endpoint.trim_end_matches('/').to_owned(),
            client_id.to_owned(),
        );
        // A poisoned lock only means another thread panicked while inserting; the map is
        // still usable, so recover it instead of failing every later call.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(key).or_default().clone();
        TokenSource { slot, issuer }
    }
}

/// Hands out a valid bearer token for one account.
#[derive(Clone)]
pub struct TokenSource {
    slot: SlotRef,
    issuer: Arc<dyn TokenEndpoint>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// When to refresh a token of `lifetime`: 60 s before expiry, but never later than 80 % of
/// its life, so a short-lived token is not used until its last instant.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    let margin = (lifetime / 5).min(Duration::from_secs(60));
    lifetime.saturating_sub(margin)
}

impl TokenSource {
    /// A token that is valid now, refreshing it first when it is due.
    pub async fn bearer(&self) -> Result<Bearer> {
        // Holding the slot across the fetch is the single flight: callers that arrive during
        // a refresh wait here and then find the new token.
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        if let Some(cached) = &slot.token {
            if now < cached.refresh_at {
                return Ok(cached.bearer.clone());
            }
            if now < cached.expires_at {
                // Due for refresh but still valid: a failed refresh need not fail the call.
                let still_valid = cached.bearer.clone();
                return match self.refresh(&mut slot).await {
                    Ok(fresh) => Ok(fresh),
                    Err(e) => {
                        warn!(error = %e, category = e.category(), "token refresh failed; using the current token until it expires");
                        Ok(still_valid)
                    }
                };
            }
        }
        self.refresh(&mut slot).await
    }

    /// Forgets `rejected` after the appliance refused it (401), unless it was already replaced.
    pub async fn invalidate(&self, rejected: &Bearer) {
        let mut slot = self.slot.lock().await;
        if slot
            .token
            .as_ref()
            .is_some_and(|c| c.bearer.generation == rejected.generation)
        {
            slot.token = None;
        }
    }

    async fn refresh(&self, slot: &mut Slot) -> Result<Bearer> {
        // Measure from before the request so network latency only makes baton refresh early.
        let requested = Instant::now();
        let issued = self.issuer.issue().await?;
        slot.issued += 1;
        let bearer = Bearer {
            value: Arc::new(issued.access_token),
            generation: slot.issued,
        };
        slot.token = Some(Cached {
            bearer: bearer.clone(),
            refresh_at: requested + refresh_after(issued.lifetime),
            expires_at: requested + issued.lifetime,
        });
        Ok(bearer)
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
