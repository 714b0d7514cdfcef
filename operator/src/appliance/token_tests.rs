#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::*;

/// Issues `token-1`, `token-2`, ... with a fixed lifetime; can be told to fail or be slow.
#[derive(Debug)]
struct FakeIssuer {
    lifetime: Duration,
    delay: Duration,
    issued: AtomicU32,
    failing: AtomicBool,
}

impl FakeIssuer {
    fn new(lifetime_s: u64) -> Arc<Self> {
        Arc::new(Self {
            lifetime: Duration::from_secs(lifetime_s),
            delay: Duration::ZERO,
            issued: AtomicU32::new(0),
            failing: AtomicBool::new(false),
        })
    }

    fn count(&self) -> u32 {
        self.issued.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenEndpoint for FakeIssuer {
    async fn issue(&self) -> Result<IssuedToken> {
        tokio::time::sleep(self.delay).await;
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Unreachable {
                endpoint: "fake".into(),
                source: Box::new(std::io::Error::other("down")),
            });
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(IssuedToken {
            access_token: format!("token-{n}").into(),
            lifetime: self.lifetime,
        })
    }
}

fn source(cache: &TokenCache, issuer: &Arc<FakeIssuer>) -> TokenSource {
    cache.source("https://a.example.com/", "baton", issuer.clone())
}

#[test]
fn refresh_point() {
    assert_eq!(
        refresh_after(Duration::from_secs(3600)),
        Duration::from_secs(3540)
    );
    assert_eq!(
        refresh_after(Duration::from_secs(120)),
        Duration::from_secs(96)
    );
    assert_eq!(
        refresh_after(Duration::from_secs(2)),
        Duration::from_millis(1600)
    );
    assert_eq!(refresh_after(Duration::ZERO), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn reuses_the_token_until_sixty_seconds_before_expiry() {
    let issuer = FakeIssuer::new(3600);
    let tokens = source(&TokenCache::new(), &issuer);
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-1");
    tokio::time::advance(Duration::from_secs(3539)).await;
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-1");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-2");
    assert_eq!(issuer.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn short_lived_tokens_refresh_at_eighty_percent() {
    let issuer = FakeIssuer::new(2);
    let tokens = source(&TokenCache::new(), &issuer);
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-1");
    tokio::time::advance(Duration::from_millis(1500)).await;
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-1");
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-2");
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_refresh() {
    let issuer = Arc::new(FakeIssuer {
        lifetime: Duration::from_secs(3600),
        delay: Duration::from_millis(200),
        issued: AtomicU32::new(0),
        failing: AtomicBool::new(false),
    });
    let tokens = source(&TokenCache::new(), &issuer);
    let calls = (0..16).map(|_| tokens.bearer());
    let results = futures::future::join_all(calls).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|b| b.expose() == "token-1"))
    );
    assert_eq!(issuer.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn sources_for_the_same_account_share_the_token() {
    let cache = TokenCache::new();
    let issuer = FakeIssuer::new(3600);
    let a = cache.source("https://a.example.com", "baton", issuer.clone());
    let b = cache.source("https://a.example.com/", "baton", issuer.clone());
    let other = cache.source("https://a.example.com", "readonly", issuer.clone());
    assert_eq!(a.bearer().await.unwrap().expose(), "token-1");
    assert_eq!(b.bearer().await.unwrap().expose(), "token-1");
    assert_eq!(other.bearer().await.unwrap().expose(), "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_still_valid_token() {
    let issuer = FakeIssuer::new(100);
    let tokens = source(&TokenCache::new(), &issuer);
    tokens.bearer().await.unwrap();
    issuer.failing.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(90)).await;
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-1");
    tokio::time::advance(Duration::from_secs(11)).await;
    let err = tokens.bearer().await.unwrap_err();
    assert_eq!(err.category(), "unreachable");
}

#[tokio::test(start_paused = true)]
async fn invalidate_drops_only_the_rejected_token() {
    let issuer = FakeIssuer::new(3600);
    let tokens = source(&TokenCache::new(), &issuer);
    let first = tokens.bearer().await.unwrap();
    tokens.invalidate(&first).await;
    let second = tokens.bearer().await.unwrap();
    assert_eq!(second.expose(), "token-2");
    // A late 401 for the first token must not throw away the second.
    tokens.invalidate(&first).await;
    assert_eq!(tokens.bearer().await.unwrap().expose(), "token-2");
    assert_eq!(issuer.count(), 2);
}

#[test]
fn secrets_are_redacted_in_debug() {
    let creds = Credentials::new("baton", "s3cr3t-value");
    let shown = format!("{creds:?}");
    assert!(
        shown.contains("baton") && !shown.contains("s3cr3t"),
        "{shown}"
    );
    let token = IssuedToken {
        access_token: "tok-value".into(),
        lifetime: Duration::from_secs(1),
    };
    assert!(!format!("{token:?}").contains("tok-value"));
    let bearer = Bearer {
        value: Arc::new("tok-value".into()),
        generation: 1,
    };
    assert!(!format!("{bearer:?}").contains("tok-value"));
}

#[test]
fn oauth_error_descriptions() {
    assert_eq!(
        OAuthError::describe(401, br#"{"error":"invalid_client","message":"bad secret"}"#),
        "invalid_client: bad secret"
    );
    assert_eq!(
        OAuthError::describe(401, br#"{"error":"access_denied"}"#),
        "access_denied"
    );
    assert_eq!(OAuthError::describe(401, b"<html>"), "HTTP 401");
}
