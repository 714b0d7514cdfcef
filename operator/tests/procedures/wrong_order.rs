//! The wrong orders the invariants forbid, each flagged by the referee on the appliance that
//! broke it: the primary installed first (I4), a traffic node installed with clients (I3),
//! failover established across versions (I7).

use anyhow::{Result, bail, ensure};
use baton_operator::appliance::{
    Connector, Error, EstablishRequest, InstallRequest, InstallState, ManagementApi, Relationship,
};

use crate::appliance_support::{appliance, connect, start};
use crate::fleets::{HOPS, atlas_fleet, pair_fleet};
use crate::steps::{Staging, backup_and_sync, clients_on, distribute, install_every_hop, until};

/// Under the asynchronous strategy the backup goes first: installing the serving primary
/// while its healthy partner could serve is I4, although the appliance accepts it.
#[tokio::test]
async fn installing_the_primary_first_under_the_asynchronous_procedure_is_flagged_i4() -> Result<()>
{
    let fleet = start(&pair_fleet("")).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "rs-a")?;

    backup_and_sync(&fleet, &a).await?;
    a.break_failover().await?;
    a.stage_package(HOPS[0]).await?;
    let request = InstallRequest {
        package_id: HOPS[0].into(),
        allow_connected_clients: false,
    };
    let started = a.start_install(&request, "procedures-wrong-order").await?;
    ensure!(started.state == InstallState::Running, "{started:?}");

    let report = fleet.shutdown().await;
    let i4: Vec<_> = report.violations_of("I4").collect();
    assert_eq!(i4.len(), 1, "{:#?}", report.violations);
    assert_eq!(i4[0].appliance.as_deref(), Some("rs-a"), "{:?}", i4[0]);
    assert_eq!(i4[0].group, "site1");
    assert_eq!(
        report.violations.len(),
        1,
        "only I4: {:#?}",
        report.violations
    );
    Ok(())
}

/// A traffic node is drained before it installs: installing one that still has connected
/// clients, without the drain policy's override, is I3 and drops its sessions.
#[tokio::test]
async fn installing_a_traffic_node_with_clients_is_flagged_i3() -> Result<()> {
    let fleet = start(&atlas_fleet()).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "m-a")?;
    let node = connect(&connector, &fleet, "t-eu1")?;
    let node_id = appliance(&fleet, "t-eu1")?.id.clone();

    // Everything else in order: backup, sync, the package distributed.
    backup_and_sync(&fleet, &a).await?;
    distribute(&fleet, &a, HOPS[0]).await?;

    // The node takes clients; install on it while it has some.
    let clients = until(&fleet, "clients on t-eu1", async || {
        let n = clients_on(&node, &node_id).await?;
        Ok((n > 0).then_some(n))
    })
    .await?;
    let request = InstallRequest {
        package_id: HOPS[0].into(),
        allow_connected_clients: false,
    };
    node.start_install(&request, "procedures-no-drain").await?;

    let report = fleet.shutdown().await;
    let i3: Vec<_> = report.violations_of("I3").collect();
    assert_eq!(i3.len(), 1, "{:#?}", report.violations);
    assert_eq!(i3[0].appliance.as_deref(), Some("t-eu1"), "{:?}", i3[0]);
    assert_eq!(
        report.violations.len(),
        1,
        "only I3: {:#?}",
        report.violations
    );
    let dropped = report.dropped_by_appliance.get("t-eu1").copied();
    assert!(
        dropped.is_some_and(|d| d > 0),
        "{clients} clients seen before the install, dropped: {:?}",
        report.dropped_by_appliance
    );
    assert_eq!(report.sessions_cut_by_override, 0);
    Ok(())
}

/// Failover is re-established only between appliances on the same version: establishing
/// from the upgraded backup before the old primary is upgraded is refused and is I7.
#[tokio::test]
async fn establishing_failover_across_versions_is_refused_and_flagged_i7() -> Result<()> {
    let fleet = start(&pair_fleet("")).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "rs-a")?;
    let b = connect(&connector, &fleet, "rs-b")?;
    let a_address = appliance(&fleet, "rs-a")?.endpoint.clone();

    // §3 up to the swing, correctly.
    backup_and_sync(&fleet, &a).await?;
    a.break_failover().await?;
    install_every_hop(&fleet, &b, "rs-b", Staging::Download).await?;
    a.set_shared_ips(false).await?;
    b.set_shared_ips(true).await?;

    // Then re-establishing from B with A still on 23.3.1.
    let establish = EstablishRequest {
        peer_address: a_address,
        inter_appliance_key: None,
    };
    match b.establish_failover(&establish).await {
        Err(Error::Conflict { code, .. }) if code == "version_mismatch" => {}
        other => bail!("expected a version_mismatch conflict, got {other:?}"),
    }
    let failover = b.failover().await?;
    ensure!(failover.relationship == Relationship::None, "{failover:?}");

    let report = fleet.shutdown().await;
    let i7: Vec<_> = report.violations_of("I7").collect();
    assert_eq!(i7.len(), 1, "{:#?}", report.violations);
    assert_eq!(i7[0].appliance.as_deref(), Some("rs-b"), "{:?}", i7[0]);
    assert_eq!(i7[0].group, "site1");
    assert_eq!(
        report.violations.len(),
        1,
        "only I7: {:#?}",
        report.violations
    );
    Ok(())
}
