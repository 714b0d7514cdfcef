//! Rate limiting and error mapping under injected faults: 429s backed off or reported with
//! their Retry-After, transient errors retried, malformed replies and unreachable
//! appliances reported as such.

use std::time::{Duration, Instant};

use baton_operator::appliance::{Connector, Error, Member, TokenCache, VendorApi};
use baton_sim::Fault;

use crate::appliance_support::{PAIR_FLEET, appliance, ca_pem, connect, full_access, start};
use crate::counted_client;

#[tokio::test]
async fn http_429_backs_off_then_succeeds() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let client = connect(&Connector::new(), &fleet, "solo")?;
    client.health().await?; // token in hand, so the 429s hit the command itself
    fleet.inject(Fault::RateLimited {
        appliance: "solo".into(),
        requests: 2,
    })?;
    let started = Instant::now();
    client.health().await?;
    // Two refusals, each with Retry-After: 1.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn http_429_without_the_wrapper_is_rate_limited_with_retry_after() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let (client, _) = counted_client(&fleet, "solo", &TokenCache::new())?;
    client.health().await?;
    fleet.inject(Fault::RateLimited {
        appliance: "solo".into(),
        requests: 1,
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)), "{err:?}");
    assert!(err.is_transient());
    client.health().await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn transient_server_errors_on_reads_are_retried() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let client = connect(&Connector::new(), &fleet, "solo")?;
    client.health().await?;
    fleet.inject(Fault::ServerErrors {
        appliance: "solo".into(),
        requests: 2,
        status: Some(503),
    })?;
    client.health().await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn malformed_xml_is_a_bad_response() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let client = connect(&Connector::new(), &fleet, "solo")?;
    client.health().await?;
    fleet.inject(Fault::MalformedXml {
        appliance: "solo".into(),
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(
        matches!(
            err,
            Error::BadResponse {
                op: "check_health",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
    // Only that one reply was broken.
    client.health().await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn closed_port_is_unreachable() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    // A port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let ca = ca_pem(&fleet);
    let a = appliance(&fleet, "solo")?;
    let client = Connector::new().connect(Member {
        endpoint: format!("https://127.0.0.1:{port}").parse()?,
        ca_pem: &ca,
        credentials: full_access(a),
        extension_base: None,
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_unreachable_appliance_is_unreachable_until_it_answers_again() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let client = connect(&Connector::new(), &fleet, "solo")?;
    client.health().await?;
    fleet.inject(Fault::Unreachable {
        appliance: "solo".into(),
        for_s: None,
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    fleet.clear_faults("solo")?;
    client.health().await?;
    fleet.shutdown().await;
    Ok(())
}
