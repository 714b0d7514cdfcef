//! procedures.md §4, the Atlas-with-failover procedure, walked through the client: half of
//! each region drained and upgraded with the backup master, the failover, then the rest.

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use baton_operator::appliance::{
    ClusterMembership, Connector, FailoverRole, ManagementApi, NodeRole, ProductionAppliance,
    SetFailoverRole, TargetRole, VendorApi,
};
use baton_sim::Fleet;

use crate::appliance_support::{connect, start};
use crate::fleets::{HOPS, TARGET_PRODUCT, atlas_fleet};
use crate::steps::{
    Staging, backup_and_sync, clients_on, cluster_sync_now, distribute, install_every_hop, until,
};
use crate::{assert_each_install_started_once, upgrade_completed};

/// One traffic node as the test drives it.
struct Node {
    name: String,
    id: String,
    client: ProductionAppliance,
}

async fn wait_until_drained(fleet: &Fleet, nodes: &[&Node]) -> Result<()> {
    until(fleet, "the offline traffic nodes to drain", async || {
        for n in nodes {
            if clients_on(&n.client, &n.id).await? > 0 {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await
}

async fn install_nodes(fleet: &Fleet, nodes: &[&Node]) -> Result<()> {
    futures::future::try_join_all(
        nodes
            .iter()
            .map(|n| install_every_hop(fleet, &n.client, &n.name, Staging::Distributed)),
    )
    .await?;
    Ok(())
}

async fn set_accepting(
    master: &ProductionAppliance,
    nodes: &[&Node],
    accepting: bool,
) -> Result<()> {
    for n in nodes {
        let node = master.set_accepting_connections(&n.id, accepting).await?;
        ensure!(node.accepting_connections == accepting, "{node:?}");
    }
    Ok(())
}

/// procedures.md §4: prepare on A (backup, sync, distribute, half of each region offline and
/// drained), upgrade B and the offline nodes, fail over to B, bring the upgraded nodes back,
/// upgrade the rest and A, restore backup operations and sync.
#[tokio::test]
async fn atlas_with_failover_procedure_through_the_client_is_judged_clean() -> Result<()> {
    let fleet = start(&atlas_fleet()).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "m-a")?;
    let b = connect(&connector, &fleet, "m-b")?;

    // The cluster as the primary master describes it: traffic nodes by region.
    let cluster = a.cluster().await?;
    ensure!(
        cluster.role == ClusterMembership::PrimaryMaster,
        "{cluster:?}"
    );
    let mut regions: BTreeMap<String, Vec<Node>> = BTreeMap::new();
    for n in cluster.nodes.iter().filter(|n| n.role == NodeRole::Traffic) {
        let region = n.region.clone().context("a traffic node without region")?;
        regions.entry(region).or_default().push(Node {
            name: n.name.clone(),
            id: n.appliance_id.clone(),
            client: connect(&connector, &fleet, &n.name)?,
        });
    }
    ensure!(regions.len() == 3, "{regions:?}", regions = regions.keys());
    // Half of each region (rounded down) goes first; a region of one keeps its node serving.
    let (first, rest): (Vec<&Node>, Vec<&Node>) = {
        let mut first = Vec::new();
        let mut rest = Vec::new();
        for nodes in regions.values() {
            let half = nodes.len() / 2;
            first.extend(nodes.iter().take(half));
            rest.extend(nodes.iter().skip(half));
        }
        (first, rest)
    };
    ensure!(first.len() == 2 && rest.len() == 4);

    until(&fleet, "clients on every traffic node", async || {
        for n in first.iter().chain(&rest) {
            if clients_on(&n.client, &n.id).await? == 0 {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await?;

    // Preparation: backup and failover sync on A (R1, I5).
    backup_and_sync(&fleet, &a).await?;
    // 1. Distribute every hop to the cluster (stages, installs nothing).
    for package in HOPS {
        distribute(&fleet, &a, package).await?;
    }
    // 2. Half of each region out of "accepting"; 3. wait for their clients to leave.
    set_accepting(&a, &first, false).await?;
    wait_until_drained(&fleet, &first).await?;

    // 4. Install on B (it sets every node to not accepting in its own configuration);
    // 5. on each offline node.
    install_every_hop(&fleet, &b, "m-b", Staging::Distributed).await?;
    install_nodes(&fleet, &first).await?;

    // 6. A becomes backup even though B (another version) cannot be contacted.
    a.set_failover_role(SetFailoverRole {
        role: TargetRole::Backup,
        data_sync_first: false,
        force: true,
    })
    .await?;
    // 8. B becomes primary; backup operations off on it. 7. The shared IP moves with the
    // promotion under shared-IP failover; enable it on B only if it did not.
    b.set_failover_role(SetFailoverRole {
        role: TargetRole::Primary,
        data_sync_first: false,
        force: false,
    })
    .await?;
    let failover = b.failover().await?;
    ensure!(failover.role == FailoverRole::Primary, "{failover:?}");
    if !failover.shared_ips.iter().any(|ip| ip.enabled) {
        b.set_shared_ips(true).await?;
    }
    let failover = b.set_backup_operations(false).await?;
    ensure!(!failover.backup_operations_enabled, "{failover:?}");

    // 9. On B: the upgraded nodes accept again; cluster Sync Now.
    set_accepting(&b, &first, true).await?;
    cluster_sync_now(&fleet, &b).await?;

    // 10. The other nodes are out of rotation in B's configuration: wait for their
    // sessions to end, then install on them.
    let view = b.cluster().await?;
    for n in &rest {
        let node = view
            .nodes
            .iter()
            .find(|v| v.appliance_id == n.id)
            .with_context(|| format!("{} not in B's cluster view", n.name))?;
        ensure!(!node.accepting_connections, "{node:?}");
    }
    wait_until_drained(&fleet, &rest).await?;
    install_nodes(&fleet, &rest).await?;
    // 11. They accept again.
    set_accepting(&b, &rest, true).await?;

    // 12. Install on A; 13. backup operations on A (now the backup master); 14. Sync Now.
    install_every_hop(&fleet, &a, "m-a", Staging::Distributed).await?;
    let failover = a.set_backup_operations(true).await?;
    ensure!(
        failover.backup_operations_enabled && failover.role == FailoverRole::Backup,
        "{failover:?}"
    );
    cluster_sync_now(&fleet, &b).await?;

    // Every node upgraded and taking clients in the configuration in force.
    let view = b.cluster().await?;
    ensure!(view.role == ClusterMembership::PrimaryMaster, "{view:?}");
    for node in view.nodes.iter().filter(|n| n.role == NodeRole::Traffic) {
        ensure!(
            node.accepting_connections
                && node.product_version.as_ref().map(ToString::to_string)
                    == Some(TARGET_PRODUCT.to_owned()),
            "{node:?}"
        );
    }

    let report = fleet.shutdown().await;
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(
        report.dropped_sessions, 0,
        "{:?}",
        report.dropped_by_appliance
    );
    assert_eq!(report.duplicate_requests, 0, "{:#?}", report.duplicates);
    let mut everyone: Vec<&str> = vec!["m-a", "m-b"];
    everyone.extend(first.iter().chain(&rest).map(|n| n.name.as_str()));
    assert_each_install_started_once(&report, &everyone);
    assert!(report.sessions_started > 0, "no client traffic");
    assert!(upgrade_completed(&report, "atlas1"));
    Ok(())
}
