//! procedures.md §3, the asynchronous pair procedure, walked through the client.

use anyhow::{Result, ensure};
use baton_operator::appliance::{
    Connector, EstablishRequest, FailoverRole, ManagementApi, Relationship, VendorApi,
};
use baton_sim::DrainOutcome;

use crate::appliance_support::{appliance, connect, start};
use crate::fleets::{CLIENTS, pair_fleet};
use crate::steps::{
    Staging, backup_and_sync, clients_on, failover_sync_now, install_every_hop, until,
};
use crate::{assert_each_install_started_once, upgrade_completed};

/// procedures.md §3: backup + Sync Now, break, upgrade the backup, verify it, swing the
/// shared IP, let the old primary's clients finish, upgrade it, re-establish from the new
/// primary, Sync Now.
#[tokio::test]
async fn asynchronous_pair_procedure_through_the_client_is_judged_clean() -> Result<()> {
    let fleet = start(&pair_fleet(CLIENTS)).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "rs-a")?;
    let b = connect(&connector, &fleet, "rs-b")?;
    let a_id = appliance(&fleet, "rs-a")?.id.clone();
    let a_address = appliance(&fleet, "rs-a")?.endpoint.clone();

    until(&fleet, "site clients on rs-a", async || {
        Ok((clients_on(&a, &a_id).await? > 0).then_some(()))
    })
    .await?;

    // 1. On A: backup, Sync Now, wait; break the relationship.
    backup_and_sync(&fleet, &a).await?;
    let broken = a.break_failover().await?;
    ensure!(broken.relationship == Relationship::None, "{broken:?}");

    // 2. Update B; 3. verify it out of production.
    install_every_hop(&fleet, &b, "rs-b", Staging::Download).await?;

    // 4. Swing: the shared IP off on A, on on B.
    let off = a.set_shared_ips(false).await?;
    ensure!(off.shared_ips.iter().all(|ip| !ip.enabled), "{off:?}");
    let on = b.set_shared_ips(true).await?;
    ensure!(on.shared_ips.iter().any(|ip| ip.enabled), "{on:?}");

    // 5. A keeps its sessions until they end; new ones go to B. Then update A.
    until(&fleet, "rs-a to have no connected clients", async || {
        Ok((clients_on(&a, &a_id).await? == 0).then_some(()))
    })
    .await?;
    install_every_hop(&fleet, &a, "rs-a", Staging::Download).await?;

    // 6. Re-establish from B: B primary, A backup. Then Sync Now.
    let paired = b
        .establish_failover(&EstablishRequest {
            peer_address: a_address,
            inter_appliance_key: None,
        })
        .await?;
    ensure!(
        paired.relationship == Relationship::Established && paired.role == FailoverRole::Primary,
        "{paired:?}"
    );
    failover_sync_now(&fleet, &b).await?;
    ensure!(a.health().await?.failover_role == FailoverRole::Backup);

    let report = fleet.shutdown().await;
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(
        report.dropped_sessions, 0,
        "{:?}",
        report.dropped_by_appliance
    );
    assert_eq!(report.duplicate_requests, 0, "{:#?}", report.duplicates);
    assert_each_install_started_once(&report, &["rs-a", "rs-b"]);
    assert!(report.sessions_started > 0, "no client traffic");
    assert!(
        report
            .drains
            .iter()
            .any(|d| d.appliance == "rs-a" && d.outcome == DrainOutcome::Drained),
        "{:#?}",
        report.drains
    );
    assert!(upgrade_completed(&report, "site1"));
    Ok(())
}
