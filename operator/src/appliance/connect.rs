//! Assembling the production client for one member.
//!
//! [`Connector`] holds what must be shared process-wide (the token cache and the per-account
//! rate limiters) and is built once at start-up. [`Connector::connect`] builds one member's
//! client, which controllers keep and reuse until the member's Secrets change.

use std::sync::Arc;

use url::Url;

use super::api::Split;
use super::error::Result;
use super::management::ManagementClient;
use super::rate_limit::{Backoff, RateLimit, RateLimited, RateLimiter, RateLimits};
use super::retry::{RetryPolicy, Retrying};
use super::session::Session;
use super::token::{Credentials, IssuedToken, OAuthEndpoint, TokenCache, TokenEndpoint};
use super::transport::HttpsTransport;
use super::vendor::VendorClient;

/// The production appliance client: retries (reads only) around the rate limit around the
/// two halves. Retrying sits outside so that every retry also waits for the rate limit.
pub type ProductionAppliance = Retrying<RateLimited<Split<VendorClient, ManagementClient>>>;

/// What baton knows about one member, read from its spec and Secrets.
#[derive(Debug)]
pub struct Member<'a> {
    /// The appliance's unique address, `https://host[:port]`.
    pub endpoint: Url,
    /// PEM of the CA that signed the appliance's certificate (from `caSecretRef`).
    pub ca_pem: &'a [u8],
    pub credentials: Credentials,
    /// Where the management extension is served, when not on the appliance itself.
    pub extension_base: Option<Url>,
}

/// Process-wide client state; clone it freely (it is shared inside).
#[derive(Debug, Clone, Default)]
pub struct Connector {
    tokens: TokenCache,
    limits: RateLimits,
    retry: RetryPolicy,
    https: HttpsClients,
}

/// One HTTPS client per distinct CA (by the sha256 of its PEM), shared by every member that
/// trusts it. A CA no longer used keeps its client: there are few CAs in a fleet.
#[derive(Debug, Clone, Default)]
struct HttpsClients(Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], reqwest::Client>>>);

impl HttpsClients {
    fn for_ca(&self, ca_pem: &[u8]) -> Result<reqwest::Client> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(ca_pem).into();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = map.get(&key) {
            return Ok(client.clone());
        }
        let client = super::transport::client_for(ca_pem)?;
        map.insert(key, client.clone());
        Ok(client)
    }
}

impl Connector {
    /// With the documented limits and default retry policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// With explicit limits, backoff and retry policy.
    pub fn with_policy(limit: RateLimit, backoff: Backoff, retry: RetryPolicy) -> Self {
        Self {
            tokens: TokenCache::new(),
            limits: RateLimits::new(limit, backoff),
            retry,
            https: HttpsClients::default(),
        }
    }

    /// Builds the client for one member. No network traffic happens until the first call.
    pub fn connect(&self, member: Member<'_>) -> Result<ProductionAppliance> {
        // The endpoint first: a plain-http one is a configuration error whatever the CA.
        super::transport::require_https(&member.endpoint)?;
        let client = self.https.for_ca(member.ca_pem)?;
        let transport = HttpsTransport::with_client(member.endpoint, client)?;
        let endpoint = transport.endpoint().as_str().to_owned();
        let client_id = member.credentials.client_id.clone();
        let limiter = self.limits.for_account(&endpoint, &client_id);
        let oauth = OAuthEndpoint::new(transport.clone(), member.credentials);
        let issuer = Arc::new(LimitedIssuer {
            inner: oauth,
            limiter: limiter.clone(),
        });
        let tokens = self.tokens.source(&endpoint, &client_id, issuer);
        let session = Session::new(transport, tokens);
        let management = match member.extension_base {
            Some(base) => ManagementClient::with_base(session.clone(), base),
            None => ManagementClient::new(session.clone())?,
        };
        let halves = Split::new(VendorClient::new(session), management);
        let limited = RateLimited::new(halves, limiter, self.limits.backoff());
        Ok(Retrying::new(limited, self.retry))
    }
}

/// Token requests count against the account's rate limit like any other request (the
/// appliance counts them), so they take a slot from the same budget.
#[derive(Debug)]
struct LimitedIssuer<T> {
    inner: T,
    limiter: RateLimiter,
}

#[async_trait::async_trait]
impl<T: TokenEndpoint> TokenEndpoint for LimitedIssuer<T> {
    async fn issue(&self) -> Result<IssuedToken> {
        self.limiter.acquire().await?;
        self.inner.issue().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;

    #[derive(Debug)]
    struct Issuer;

    #[async_trait::async_trait]
    impl TokenEndpoint for Issuer {
        async fn issue(&self) -> Result<IssuedToken> {
            Ok(IssuedToken {
                access_token: SecretString::from("t"),
                lifetime: Duration::from_secs(3600),
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn token_requests_take_a_slot_of_the_accounts_rate_limit() -> Result<()> {
        let limiter = RateLimiter::new(
            RateLimit {
                per_second: 1.0,
                per_hour: 3600.0,
            },
            Backoff::default(),
        );
        let issuer = LimitedIssuer {
            inner: Issuer,
            limiter: limiter.clone(),
        };
        let start = tokio::time::Instant::now();
        issuer.issue().await?;
        // The budget is spent: the next request, token or not, waits a second.
        issuer.issue().await?;
        assert!(
            start.elapsed() >= Duration::from_millis(990),
            "waited only {:?}",
            start.elapsed()
        );
        Ok(())
    }
}
