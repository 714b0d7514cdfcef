//! OAuth and permissions: tokens refreshed before they expire and replaced after a 401,
//! a wrong secret reported without leaking it, a read-only account refused commands.

use std::sync::atomic::Ordering;
use std::time::Duration;

use baton_operator::appliance::{
    Access, Connector, Error, Member, SetFailoverRole, TargetRole, TokenCache, VendorApi,
};

use crate::appliance_support::{PAIR_FLEET, appliance, ca_pem, endpoint, read_only, start};
use crate::counted_client;

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
