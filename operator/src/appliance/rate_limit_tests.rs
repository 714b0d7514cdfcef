#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::appliance::fake::{ScriptedVendor, health};
use tokio::time::Instant;

fn limited(inner: ScriptedVendor) -> RateLimited<ScriptedVendor> {
    let backoff = Backoff::default();
    RateLimited::new(
        inner,
        RateLimiter::new(RateLimit::default(), backoff),
        backoff,
    )
}

fn rate_limited(secs: u64) -> Error {
    Error::RateLimited {
        retry_after: Duration::from_secs(secs),
    }
}

#[tokio::test(start_paused = true)]
async fn bursts_twenty_then_paces_at_twenty_per_second() {
    let client = limited(ScriptedVendor::default());
    let start = Instant::now();
    for _ in 0..40 {
        client.health().await.unwrap();
    }
    let calls = client.inner().calls();
    // The first twenty go at once, the next twenty one every 50 ms.
    assert_eq!(calls[19].1 - start, Duration::ZERO);
    let elapsed = calls[39].1 - start;
    assert!(
        elapsed >= Duration::from_millis(990) && elapsed <= Duration::from_millis(1010),
        "{elapsed:?}"
    );
    // No one-second window holds more than 40 (burst + refill), and pacing is even.
    let gap = calls[31].1 - calls[30].1;
    assert!(
        gap >= Duration::from_millis(49) && gap <= Duration::from_millis(51),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_hourly_budget_is_respected_too() {
    let backoff = Backoff::default();
    let limit = RateLimit {
        per_second: 1000.0,
        per_hour: 3.0,
    };
    let client = RateLimited::new(
        ScriptedVendor::default(),
        RateLimiter::new(limit, backoff),
        backoff,
    );
    for _ in 0..3 {
        client.health().await.unwrap();
    }
    // The fourth would need 20 minutes: far over max_wait, so it fails at once, typed.
    let err = client.health().await.unwrap_err();
    assert!(
        err.retry_after()
            .is_some_and(|d| d > Duration::from_secs(1000)),
        "{err:?}"
    );
    assert_eq!(client.inner().call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after_then_succeeds() {
    let client = limited(ScriptedVendor::failing_with([rate_limited(2)]));
    let start = Instant::now();
    assert_eq!(client.health().await.unwrap(), health());
    let calls = client.inner().calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[1].1 - start >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_short_retry_after_still_backs_off_exponentially() {
    let zero = || Error::RateLimited {
        retry_after: Duration::ZERO,
    };
    let client = limited(ScriptedVendor::failing_with([zero(), zero(), zero()]));
    client.health().await.unwrap();
    let calls = client.inner().calls();
    let gaps: Vec<_> = calls
        .windows(2)
        .map(|w| (w[1].1 - w[0].1).as_millis())
        .collect();
    assert_eq!(gaps, [250, 500, 1000]);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_bounded_retries() {
    let client = limited(ScriptedVendor::failing_with(
        (0..10).map(|_| rate_limited(1)),
    ));
    let err = client.health().await.unwrap_err();
    assert_eq!(err.category(), "rate_limited");
    assert_eq!(client.inner().call_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_bound_is_returned_at_once_and_pauses_nobody_forever() {
    let client = limited(ScriptedVendor::failing_with([rate_limited(600)]));
    let start = Instant::now();
    let err = client.health().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(Instant::now(), start);
    // The next call is not held up by a pause nobody asked the wrapper to sleep through.
    client.health().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_client_of_the_account() {
    let limits = RateLimits::default();
    let backoff = limits.backoff();
    let first = RateLimited::new(
        ScriptedVendor::failing_with([rate_limited(3)]),
        limits.for_account("https://a/", "baton"),
        backoff,
    );
    let second = RateLimited::new(
        ScriptedVendor::default(),
        limits.for_account("https://a", "baton"),
        backoff,
    );
    let other = RateLimited::new(
        ScriptedVendor::default(),
        limits.for_account("https://a", "other"),
        backoff,
    );
    let start = Instant::now();
    let (a, b, c) = tokio::join!(
        first.health(),
        async {
            // Start after the first call has been refused.
            tokio::task::yield_now().await;
            second.health().await
        },
        other.health()
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert!(second.inner().calls()[0].1 - start >= Duration::from_secs(3));
    assert_eq!(other.inner().calls()[0].1, start);
}

#[tokio::test(start_paused = true)]
async fn writes_are_resent_after_429_because_the_appliance_did_not_act() {
    let client = limited(ScriptedVendor::failing_with([rate_limited(1)]));
    let request = SetFailoverRole {
        role: crate::appliance::vendor::model::TargetRole::Backup,
        data_sync_first: true,
        force: false,
    };
    client.set_failover_role(request).await.unwrap();
    assert_eq!(client.inner().call_count(), 2);
}
