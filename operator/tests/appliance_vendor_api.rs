//! The documented vendor API against the simulator over real HTTPS: OAuth, TLS trust,
//! permissions, rate limiting and error mapping.

mod appliance_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use baton_operator::appliance::token::{IssuedToken, OAuthEndpoint, TokenEndpoint};
use baton_operator::appliance::{
    Access, Connector, Error, FailoverRole, HttpsTransport, Member, Session, SetFailoverRole,
    TargetRole, TokenCache, VendorApi, VendorClient,
};
use baton_sim::Fault;

use appliance_support::{
    PAIR_FLEET, appliance, ca_pem, connect, endpoint, eventually, full_access, read_only, start,
};

/// Counts the tokens the appliance issues, to tell refresh-before-expiry from 401 recovery.
#[derive(Debug)]
struct Counting {
    inner: OAuthEndpoint,
    issued: AtomicU32,
}

#[async_trait]
impl TokenEndpoint for Counting {
    async fn issue(&self) -> baton_operator::appliance::Result<IssuedToken> {
        let token = self.inner.issue().await?;
        self.issued.fetch_add(1, Ordering::SeqCst);
        Ok(token)
    }
}

/// A bare vendor client (no retry, no rate-limit wrapper) whose token issues are counted.
fn counted_client(
    fleet: &baton_sim::Fleet,
    name: &str,
    cache: &TokenCache,
) -> anyhow::Result<(VendorClient, Arc<Counting>)> {
    let a = appliance(fleet, name)?;
    let transport = HttpsTransport::new(endpoint(a)?, &ca_pem(fleet))?;
    let counting = Arc::new(Counting {
        inner: OAuthEndpoint::new(transport.clone(), full_access(a)),
        issued: AtomicU32::new(0),
    });
    let tokens = cache.source(
        transport.endpoint().as_str(),
        &a.client_id,
        counting.clone(),
    );
    Ok((VendorClient::new(Session::new(transport, tokens)), counting))
}

#[tokio::test]
async fn reads_health_appliances_client_counts_and_api_info() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let client = connect(&Connector::new(), &fleet, "rs-a")?;
    let id = appliance(&fleet, "rs-a")?.id.clone();

    let health = client.health().await?;
    assert_eq!(health.appliance_id, id);
    assert!(health.healthy);
    assert_eq!(health.version.version.to_string(), "24.1.0");
    assert_eq!(health.failover_role, FailoverRole::Primary);

    let list = client.appliances().await?;
    let me = list
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| anyhow::anyhow!("rs-a not listed"))?;
    assert_eq!(me.name, "rs-a");
    assert_eq!(me.failover_role, FailoverRole::Primary);

    let counts = client.client_counts().await?;
    assert_eq!(counts.total_for(&id), 0);

    let info = client.api_info().await?;
    assert_eq!(info.permissions.command, Access::FullAccess);
    assert!(info.permissions.backup);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn oauth_token_is_refreshed_before_it_expires() -> anyhow::Result<()> {
    let fleet =
        start(&PAIR_FLEET.replace("seed: 11", "seed: 11\noauth: { token_ttl_s: 2 }")).await?;
    let (client, counting) = counted_client(&fleet, "solo", &TokenCache::new())?;
    let issued = || counting.issued.load(Ordering::SeqCst);

    client.health().await?;
    assert_eq!(issued(), 1);
    // Well inside the 2 s lifetime: the cached token is reused.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.health().await?;
    assert_eq!(issued(), 1);
    // Past 80 % of the lifetime but before expiry: refreshed proactively. (Without that, the
    // still-valid token would be reused and the count stay at 1.)
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.health().await?;
    assert_eq!(issued(), 2);
    // Long past expiry: one new token, no failed call.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    client.api_info().await?;
    assert_eq!(issued(), 3);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_token_revoked_server_side_is_replaced_after_one_401() -> anyhow::Result<()> {
    // One live token per account: a token issued to another process revokes ours.
    let fleet =
        start(&PAIR_FLEET.replace("seed: 11", "seed: 11\noauth: { max_tokens: 1 }")).await?;
    let (ours, our_issues) = counted_client(&fleet, "solo", &TokenCache::new())?;
    let (theirs, _) = counted_client(&fleet, "solo", &TokenCache::new())?;

    ours.health().await?;
    theirs.health().await?;
    // Our cached token is now dead on the appliance; the call still succeeds, after one
    // 401 and one new token.
    ours.health().await?;
    assert_eq!(our_issues.issued.load(Ordering::SeqCst), 2);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn wrong_client_secret_is_unauthorized() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let a = appliance(&fleet, "solo")?;
    let ca = ca_pem(&fleet);
    let client = Connector::new().connect(Member {
        endpoint: endpoint(a)?,
        ca_pem: &ca,
        credentials: baton_operator::appliance::Credentials::new(
            a.client_id.clone(),
            "not-the-secret-5f2c",
        ),
        extension_base: None,
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("credentials Secret"));
    assert!(
        !err.to_string().contains("not-the-secret-5f2c"),
        "the secret leaked into: {err}"
    );
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn read_only_account_gets_missing_permission_on_set_failover_role() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let a = appliance(&fleet, "rs-b")?;
    let ca = ca_pem(&fleet);
    let client = Connector::new().connect(Member {
        endpoint: endpoint(a)?,
        ca_pem: &ca,
        credentials: read_only(a),
        extension_base: None,
    })?;
    // Reads are fine with read-only access.
    assert_eq!(
        client.api_info().await?.permissions.command,
        Access::ReadOnly
    );
    let request = SetFailoverRole {
        role: TargetRole::Primary,
        data_sync_first: false,
        force: false,
    };
    let err = client
        .set_failover_role(request)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::MissingPermission { .. }), "{err:?}");
    assert!(err.to_string().contains("full command access"));
    let err = client
        .backup(None)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::MissingPermission { .. }), "{err:?}");
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn set_failover_role_promotes_the_backup() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "rs-a")?;
    let b = connect(&connector, &fleet, "rs-b")?;
    assert_eq!(b.health().await?.failover_role, FailoverRole::Backup);
    b.set_failover_role(SetFailoverRole {
        role: TargetRole::Primary,
        data_sync_first: false,
        force: false,
    })
    .await?;
    eventually(
        "rs-b to become primary and rs-a backup",
        Duration::from_secs(20),
        async || {
            let (ha, hb) = (a.health().await?, b.health().await?);
            Ok((ha.failover_role == FailoverRole::Backup
                && hb.failover_role == FailoverRole::Primary)
                .then_some(()))
        },
    )
    .await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn backup_downloads_the_configuration_file() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let client = connect(&Connector::new(), &fleet, "solo")?;
    let file = client.backup(None).await?;
    assert!(!file.is_empty());
    fleet.shutdown().await;
    Ok(())
}

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

#[tokio::test]
async fn a_certificate_from_another_ca_is_untrusted() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let other = start(PAIR_FLEET).await?;
    let a = appliance(&fleet, "solo")?;
    let wrong_ca = ca_pem(&other);
    let client = Connector::new().connect(Member {
        endpoint: endpoint(a)?,
        ca_pem: &wrong_ca,
        credentials: full_access(a),
        extension_base: None,
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::UntrustedCertificate { .. }), "{err:?}");
    assert!(err.to_string().contains("caSecretRef"));
    other.shutdown().await;
    fleet.shutdown().await;
    Ok(())
}

#[test]
fn only_the_ring_crypto_provider_is_compiled_in() -> anyhow::Result<()> {
    // Two rustls providers in one binary make rustls panic at run time when neither is
    // installed as the default; the appliance client builds its TLS config with ring.
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))?;
    for banned in ["name = \"aws-lc-rs\"", "name = \"aws-lc-sys\""] {
        assert!(!lock.contains(banned), "Cargo.lock contains {banned}");
    }
    assert!(lock.contains("name = \"ring\""));
    Ok(())
}
