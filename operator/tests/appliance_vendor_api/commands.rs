//! The documented reads and commands: health, the appliance list, client counts, API info,
//! failover role changes and the configuration backup.

use std::time::Duration;

use baton_operator::appliance::{
    Access, Connector, FailoverRole, SetFailoverRole, TargetRole, VendorApi,
};

use crate::appliance_support::{PAIR_FLEET, appliance, connect, eventually, start};

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
