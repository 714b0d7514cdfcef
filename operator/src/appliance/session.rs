//! The token-aware request path shared by the vendor and extension clients.
//!
//! Every authenticated request goes through [`Session::send`]: it attaches the shared bearer
//! token, and on `401` discards that token, fetches a new one and resends exactly once (the
//! token may have expired early or been revoked when the secret was regenerated). A second
//! `401` means the credentials themselves are wrong. `429` becomes `RateLimited` with the
//! server's `Retry-After`, for the rate-limit wrapper to honour.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use tracing::debug;

use super::error::{Error, Result};
use super::token::{Bearer, OAuthError, TokenSource};
use super::transport::{HttpsTransport, Reply};

/// Used when a `429` carries no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One appliance's transport plus its account's token source.
#[derive(Debug, Clone)]
pub struct Session {
    transport: HttpsTransport,
    tokens: TokenSource,
}

impl Session {
    pub fn new(transport: HttpsTransport, tokens: TokenSource) -> Self {
        Self { transport, tokens }
    }

    pub fn transport(&self) -> &HttpsTransport {
        &self.transport
    }

    /// Sends `request` with a bearer token, retrying once on `401` with a fresh token.
    ///
    /// Resending is safe even for non-idempotent calls: a `401` means the appliance did not
    /// act on the request.
    pub(crate) async fn send(&self, request: reqwest::Request) -> Result<Reply> {
        let bearer = self.tokens.bearer().await?;
        let reply = self
            .transport
            .execute(authorized(&request, &bearer)?)
            .await?;
        let reply = if reply.status == 401 {
            debug!("token rejected; refreshing it and retrying once");
            self.tokens.invalidate(&bearer).await;
            let fresh = self.tokens.bearer().await?;
            self.transport
                .execute(authorized(&request, &fresh)?)
                .await?
        } else {
            reply
        };
        match reply.status {
            401 => Err(Error::Unauthorized {
                detail: OAuthError::describe(401, &reply.body),
            }),
            429 => Err(Error::RateLimited {
                retry_after: retry_after(&reply.headers),
            }),
            _ => Ok(reply),
        }
    }
}

/// A copy of `request` carrying the token; the header is marked sensitive so that no layer
/// below prints it.
fn authorized(request: &reqwest::Request, bearer: &Bearer) -> Result<reqwest::Request> {
    let mut copy = request.try_clone().ok_or_else(|| Error::Config {
        detail: "request body cannot be resent".into(),
    })?;
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", bearer.expose())).map_err(|_| {
            Error::bad_response("oauth2_token", "access token is not a valid header value")
        })?;
    value.set_sensitive(true);
    copy.headers_mut().insert(AUTHORIZATION, value);
    Ok(copy)
}

/// `Retry-After` as seconds or an HTTP date; one second when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap) -> Duration {
    let Some(value) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) else {
        return DEFAULT_RETRY_AFTER;
    };
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Duration::from_secs_f64(secs.min(3600.0));
    }
    match chrono::DateTime::parse_from_rfc2822(value) {
        Ok(at) => (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
        Err(_) => DEFAULT_RETRY_AFTER,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(&HeaderMap::new()), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(&headers("3")), Duration::from_secs(3));
        assert_eq!(retry_after(&headers("0.5")), Duration::from_millis(500));
        assert_eq!(retry_after(&headers("soon")), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(&headers("-1")), DEFAULT_RETRY_AFTER);
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Duration::ZERO
        );
    }
}
