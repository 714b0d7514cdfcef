#![allow(clippy::unwrap_used, clippy::expect_used)]

use tokio::time::Instant;

use super::*;
use crate::appliance::error::Error;
use crate::appliance::fake::{ScriptedVendor, unreachable};
use crate::appliance::vendor::model::TargetRole;

fn retrying(inner: ScriptedVendor) -> Retrying<ScriptedVendor> {
    Retrying::new(inner, RetryPolicy::default())
}

#[tokio::test(start_paused = true)]
async fn transient_read_failures_are_retried_with_backoff() {
    let client = retrying(ScriptedVendor::failing_with([unreachable(), unreachable()]));
    client.health().await.unwrap();
    let calls = client.inner().calls();
    let gaps: Vec<_> = calls
        .windows(2)
        .map(|w| (w[1].1 - w[0].1).as_millis())
        .collect();
    assert_eq!(gaps, [200, 400]);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded() {
    let client = retrying(ScriptedVendor::failing_with((0..10).map(|_| unreachable())));
    assert_eq!(
        client.api_info().await.unwrap_err().category(),
        "unreachable"
    );
    assert_eq!(client.inner().call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let denied = Error::MissingPermission {
        permission: "perm_command".into(),
        message: "no".into(),
    };
    let client = retrying(ScriptedVendor::failing_with([denied]));
    assert_eq!(
        client.health().await.unwrap_err().category(),
        "missing_permission"
    );
    assert_eq!(client.inner().call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn writes_are_never_retried() {
    let client = retrying(ScriptedVendor::failing_with([unreachable()]));
    let request = SetFailoverRole {
        role: TargetRole::Primary,
        data_sync_first: false,
        force: false,
    };
    let start = Instant::now();
    assert_eq!(
        client
            .set_failover_role(request)
            .await
            .unwrap_err()
            .category(),
        "unreachable"
    );
    assert_eq!(client.inner().call_count(), 1);
    assert_eq!(Instant::now(), start);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_waits_at_least_the_retry_after() {
    let limited = Error::RateLimited {
        retry_after: Duration::from_secs(2),
    };
    let client = retrying(ScriptedVendor::failing_with([limited]));
    client.client_counts().await.unwrap();
    let calls = client.inner().calls();
    assert_eq!(calls[1].1 - calls[0].1, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_long_rate_limit_is_returned_not_slept_through() {
    let limited = Error::RateLimited {
        retry_after: Duration::from_secs(600),
    };
    let client = retrying(ScriptedVendor::failing_with([limited]));
    let start = Instant::now();
    assert_eq!(
        client.health().await.unwrap_err().category(),
        "rate_limited"
    );
    assert_eq!(client.inner().call_count(), 1);
    assert_eq!(Instant::now(), start);
}

#[test]
fn delay_is_bounded() {
    let p = RetryPolicy::default();
    assert_eq!(p.delay(0, None), Duration::from_millis(200));
    assert_eq!(p.delay(10, None), Duration::from_secs(5));
    assert_eq!(
        p.delay(0, Some(Duration::from_secs(60))),
        Duration::from_secs(5)
    );
}
