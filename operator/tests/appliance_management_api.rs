//! The management extension against the simulator over real HTTPS: packages, staging,
//! installs with long polls, failover break/establish/sync, and the cluster operations.

mod appliance_support;

use std::time::Duration;

use secrecy::ExposeSecret;

use baton_operator::appliance::{
    ClusterMembership, Connector, Error, EstablishRequest, InstallRequest, InstallState,
    ManagementApi, OperationState, PackageKind, PackageState, Relationship, VendorApi,
};

use appliance_support::{PAIR_FLEET, appliance, connect, eventually, start};

const LONG_POLL: Duration = Duration::from_secs(10);

/// Installs `package_id` on `client` and long-polls until the install is terminal.
async fn install<M: ManagementApi>(
    client: &M,
    package_id: &str,
    key: &str,
) -> anyhow::Result<baton_operator::appliance::Install> {
    let request = InstallRequest {
        package_id: package_id.into(),
        allow_connected_clients: false,
    };
    let started = client.start_install(&request, key).await?;
    // The same Idempotency-Key returns the same install instead of starting another.
    let replay = client.start_install(&request, key).await?;
    assert_eq!(replay.id, started.id);
    eventually(
        "the install to finish",
        Duration::from_secs(60),
        async || {
            let i = client.install(&started.id, LONG_POLL).await?;
            Ok(i.state.is_terminal().then_some(i))
        },
    )
    .await
}

#[tokio::test]
async fn extension_round_trip_for_a_failover_pair() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let connector = Connector::new();
    let a = connect(&connector, &fleet, "rs-a")?;
    let b = connect(&connector, &fleet, "rs-b")?;

    let info = b.extension_info().await?;
    assert_eq!(info.appliance_id, appliance(&fleet, "rs-b")?.id);
    assert!(b.clock().await?.ntp_synchronized);
    assert_eq!(b.software().await?.product_version.to_string(), "24.1.0");

    // Packages: kind, prerequisites, staging.
    let packages = b.packages().await?;
    let product = packages
        .iter()
        .find(|p| p.id == "product-24.3.2")
        .ok_or_else(|| anyhow::anyhow!("product-24.3.2 not offered: {packages:?}"))?;
    assert_eq!(product.kind, PackageKind::Product);
    assert_eq!(product.state, PackageState::Available);
    assert!(packages.iter().any(|p| p.kind == PackageKind::Base));
    let staged = b.stage_package("product-24.3.2").await?;
    assert_eq!(staged.state, PackageState::Staged);
    let again = b.packages().await?;
    assert!(
        again
            .iter()
            .any(|p| p.id == "product-24.3.2" && p.state == PackageState::Staged)
    );

    // Upgrade the backup outside the relationship.
    let failover = b.failover().await?;
    assert_eq!(failover.relationship, Relationship::Established);
    let broken = a.break_failover().await?;
    assert_eq!(broken.relationship, Relationship::None);
    let done = install(&b, "product-24.3.2", "test-b-product-24.3.2").await?;
    assert_eq!(done.state, InstallState::Succeeded, "{done:?}");
    assert_eq!(done.progress_percent, 100);
    assert_eq!(b.software().await?.product_version.to_string(), "24.3.2");
    assert!(b.installs().await?.iter().any(|i| i.id == done.id));

    // Different versions cannot pair: the extension says so with a stable code.
    let b_address = appliance(&fleet, "rs-b")?.endpoint.to_string();
    let establish = EstablishRequest {
        peer_address: b_address,
        inter_appliance_key: None,
    };
    match a.establish_failover(&establish).await {
        Err(Error::Conflict { code, .. }) => assert_eq!(code, "version_mismatch"),
        other => anyhow::bail!("expected version_mismatch, got {other:?}"),
    }

    // Upgrade the other side, pair again, sync.
    a.stage_package("product-24.3.2").await?;
    let done = install(&a, "product-24.3.2", "test-a-product-24.3.2").await?;
    assert_eq!(done.state, InstallState::Succeeded, "{done:?}");
    let paired = a.establish_failover(&establish).await?;
    assert_eq!(paired.relationship, Relationship::Established);
    let sync = a.sync_failover_now().await?;
    assert!(
        matches!(
            sync.state,
            OperationState::Running | OperationState::Succeeded
        ),
        "{sync:?}"
    );
    let finished = eventually(
        "the failover sync to finish",
        Duration::from_secs(60),
        async || {
            let s = a.failover_sync(LONG_POLL).await?;
            Ok(s.state.is_terminal().then_some(s))
        },
    )
    .await?;
    assert_eq!(finished.state, OperationState::Succeeded, "{finished:?}");
    let health = a.health().await?;
    assert!(health.last_sync.is_some_and(|s| s.succeeded()));

    // Backup operations and shared IPs are switchable and reported back.
    let f = b.set_backup_operations(false).await?;
    assert!(!f.backup_operations_enabled);
    let f = b.set_backup_operations(true).await?;
    assert!(f.backup_operations_enabled);
    let f = a.set_shared_ips(false).await?;
    assert!(f.shared_ips.iter().all(|ip| !ip.enabled));
    let f = a.set_shared_ips(true).await?;
    assert!(!f.shared_ips.is_empty());
    fleet.shutdown().await;
    Ok(())
}

const CLUSTER_FLEET: &str = r#"
seed: 5
time_scale: 600
catalogue:
  - { id: product-24.3.2, name: "BeyondTrust 24.3.2", kind: product, version: 24.3.2, requires: [], install_s: [60, 120] }
appliances:
  - { name: pm, product: rs, version: 24.1.0, base_version: 5.1.0 }
  - { name: t1, product: rs, version: 24.1.0, base_version: 5.1.0 }
  - { name: t2, product: rs, version: 24.1.0, base_version: 5.1.0 }
clusters:
  - name: atlas
    primary_master: pm
    traffic_nodes: [ { appliance: t1, region: eu }, { appliance: t2, region: us } ]
timings: { reboot_s: 60, sync_s: [30, 60], swap_s: 5, shared_ip_s: 2, distribute_s: [10, 20], first_sync_after_establish_s: 30 }
"#;

#[tokio::test]
async fn extension_round_trip_for_an_atlas_cluster() -> anyhow::Result<()> {
    let fleet = start(CLUSTER_FLEET).await?;
    let connector = Connector::new();
    let pm = connect(&connector, &fleet, "pm")?;
    let t1 = connect(&connector, &fleet, "t1")?;
    let t1_id = appliance(&fleet, "t1")?.id.clone();

    let cluster = pm.cluster().await?;
    assert_eq!(cluster.role, ClusterMembership::PrimaryMaster);
    assert_eq!(cluster.nodes.len(), 3, "{cluster:?}");

    // Drain a traffic node: the vendor API reports it too.
    let node = pm.set_accepting_connections(&t1_id, false).await?;
    assert!(!node.accepting_connections);
    let listed = pm.appliances().await?;
    let t1_listed = listed
        .iter()
        .find(|a| a.id == t1_id)
        .ok_or_else(|| anyhow::anyhow!("t1 not listed on the primary master"))?;
    assert!(!t1_listed.accepting_connections);

    // Distribute to the cluster and wait for every node to have it staged.
    let started = pm.distribute("product-24.3.2").await?;
    assert_eq!(started.package_id.as_deref(), Some("product-24.3.2"));
    let done = eventually(
        "the distribution to finish",
        Duration::from_secs(60),
        async || {
            let d = pm.distribution(LONG_POLL).await?;
            Ok(d.state.is_terminal().then_some(d))
        },
    )
    .await?;
    assert_eq!(done.state, OperationState::Succeeded, "{done:?}");
    let on_t1 = t1.packages().await?;
    assert!(
        on_t1
            .iter()
            .any(|p| p.id == "product-24.3.2" && p.state == PackageState::Staged)
    );

    // Sync Now in the cluster.
    pm.sync_cluster_now().await?;
    let synced = eventually(
        "the cluster sync to finish",
        Duration::from_secs(60),
        async || {
            let s = pm.cluster_sync(LONG_POLL).await?;
            Ok(s.state.is_terminal().then_some(s))
        },
    )
    .await?;
    assert_eq!(synced.state, OperationState::Succeeded, "{synced:?}");

    // Cluster-wide operations belong to the primary master.
    match t1.sync_cluster_now().await {
        Err(Error::Conflict { .. }) => {}
        other => anyhow::bail!("expected a conflict on a traffic node, got {other:?}"),
    }
    pm.set_accepting_connections(&t1_id, true).await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn offline_update_uploads_a_package() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let solo = connect(&Connector::new(), &fleet, "solo")?;
    let key = solo.download_key().await?;
    // What a person would fetch elsewhere with the download key.
    let file = fleet.package_file("product-24.3.2", key.expose_secret())?;
    let package = solo.upload_package(bytes::Bytes::from(file)).await?;
    assert_eq!(package.id, "product-24.3.2");
    assert_eq!(package.state, PackageState::Staged);
    // Not a package file: the extension refuses it with its own message.
    match solo
        .upload_package(bytes::Bytes::from_static(b"not a package"))
        .await
    {
        Err(Error::Appliance { code, message }) => assert!(!code.is_empty() && !message.is_empty()),
        Ok(p) => anyhow::bail!("garbage accepted as {p:?}"),
        Err(other) => anyhow::bail!("unexpected error {other:?}"),
    }
    fleet.shutdown().await;
    Ok(())
}
