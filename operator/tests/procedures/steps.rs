//! The procedures' steps as an operator takes them through the production client: syncs,
//! distributions and installs started once and long-polled until they are terminal, with
//! conditions re-checked on every world change.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use baton_operator::appliance::{
    Error, Install, InstallRequest, InstallState, ManagementApi, OperationState, PackageState,
    ProductionAppliance, SoftwareState, VendorApi,
};
use baton_sim::Fleet;

use crate::fleets::{HOPS, TARGET_BASE, TARGET_PRODUCT};

/// How long one step may take in real time before the test gives up.
const STEP_DEADLINE: Duration = Duration::from_secs(20);
/// Long polls of installs, syncs and distributions.
const LONG_POLL: Duration = Duration::from_secs(5);
/// Client arrivals and departures do not signal a world change, so conditions on client
/// counts are also re-checked at this interval (six simulated minutes at 3600x).
const TICK: Duration = Duration::from_millis(100);

/// Waits for the next significant world change, or one tick.
async fn settle(fleet: &Fleet) {
    let _ = tokio::time::timeout(TICK, fleet.changed()).await;
}

/// Re-checks `check` on every world change (or tick) until it returns `Some`, for at most
/// [`STEP_DEADLINE`].
pub(crate) async fn until<T>(
    fleet: &Fleet,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let wait = async {
        loop {
            if let Some(v) = check().await? {
                return Ok::<T, anyhow::Error>(v);
            }
            settle(fleet).await;
        }
    };
    tokio::time::timeout(STEP_DEADLINE, wait)
        .await
        .with_context(|| format!("timed out waiting for {what}"))?
}

/// Connected clients on one appliance, as `get_connected_client_list` reports them.
pub(crate) async fn clients_on(client: &ProductionAppliance, appliance_id: &str) -> Result<u64> {
    Ok(client.client_counts().await?.total_for(appliance_id))
}

/// R1 and the sync I5 wants: a configuration backup of the primary, then failover Sync Now
/// on it, waited for.
pub(crate) async fn backup_and_sync(fleet: &Fleet, primary: &ProductionAppliance) -> Result<()> {
    let backup = primary.backup(None).await?;
    ensure!(!backup.is_empty(), "empty configuration backup");
    failover_sync_now(fleet, primary).await
}

/// Failover Sync Now on the primary; waits until it succeeded.
pub(crate) async fn failover_sync_now(fleet: &Fleet, primary: &ProductionAppliance) -> Result<()> {
    primary.sync_failover_now().await?;
    let done = until(fleet, "the failover sync", async || {
        let s = primary.failover_sync(LONG_POLL).await?;
        Ok(s.state.is_terminal().then_some(s))
    })
    .await?;
    ensure!(
        done.state == OperationState::Succeeded,
        "failover sync: {done:?}"
    );
    Ok(())
}

/// Cluster Sync Now on the acting primary master; waits until it succeeded.
pub(crate) async fn cluster_sync_now(fleet: &Fleet, master: &ProductionAppliance) -> Result<()> {
    master.sync_cluster_now().await?;
    let done = until(fleet, "the cluster sync", async || {
        let s = master.cluster_sync(LONG_POLL).await?;
        Ok(s.state.is_terminal().then_some(s))
    })
    .await?;
    ensure!(
        done.state == OperationState::Succeeded,
        "cluster sync: {done:?}"
    );
    Ok(())
}

/// "Distribute to cluster" of one package from the primary master; waits until every node
/// has it staged.
pub(crate) async fn distribute(
    fleet: &Fleet,
    master: &ProductionAppliance,
    package: &str,
) -> Result<()> {
    master.distribute(package).await?;
    let done = until(fleet, "the distribution", async || {
        let d = master.distribution(LONG_POLL).await?;
        Ok(d.state.is_terminal().then_some(d))
    })
    .await?;
    ensure!(
        done.state == OperationState::Succeeded && done.package_id.as_deref() == Some(package),
        "distribution of {package}: {done:?}"
    );
    Ok(())
}

/// Long-polls an install until it is terminal. A base install ends with a reboot during
/// which the appliance does not answer at all: `Unreachable` then means "ask again".
async fn wait_install(
    fleet: &Fleet,
    client: &ProductionAppliance,
    name: &str,
    install_id: &str,
) -> Result<Install> {
    until(
        fleet,
        &format!("install {install_id} on {name}"),
        async || match client.install(install_id, LONG_POLL).await {
            Ok(i) => Ok(i.state.is_terminal().then_some(i)),
            Err(Error::Unreachable { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        },
    )
    .await
}

/// Where an appliance's packages come from before it installs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staging {
    /// Downloaded on the appliance right before each install (R7).
    Download,
    /// Already staged by "Distribute to cluster".
    Distributed,
}

/// Installs every hop in order, each started once (with an Idempotency-Key) and waited for,
/// then checks the appliance reports the target versions.
pub(crate) async fn install_every_hop(
    fleet: &Fleet,
    client: &ProductionAppliance,
    name: &str,
    staging: Staging,
) -> Result<()> {
    for package in HOPS {
        match staging {
            Staging::Download => {
                let staged = client.stage_package(package).await?;
                ensure!(
                    staged.state == PackageState::Staged,
                    "{package} on {name}: {staged:?}"
                );
            }
            Staging::Distributed => {
                let packages = client.packages().await?;
                ensure!(
                    packages
                        .iter()
                        .any(|p| p.id == package && p.state == PackageState::Staged),
                    "{package} was not distributed to {name}: {packages:?}"
                );
            }
        }
        let request = InstallRequest {
            package_id: package.into(),
            allow_connected_clients: false,
        };
        let started = client
            .start_install(&request, &format!("procedures-{name}-{package}"))
            .await
            .with_context(|| format!("starting {package} on {name}"))?;
        let done = wait_install(fleet, client, name, &started.id).await?;
        ensure!(
            done.state == InstallState::Succeeded,
            "{package} on {name}: {done:?}"
        );
    }
    verify(client, name).await
}

/// The verification of procedures.md §3 step 3 as far as the API shows it: healthy, idle,
/// on the target versions.
async fn verify(client: &ProductionAppliance, name: &str) -> Result<()> {
    let health = client.health().await?;
    ensure!(health.healthy, "{name} is not healthy: {health:?}");
    ensure!(
        health.version.version.to_string() == TARGET_PRODUCT,
        "{name} reports {}",
        health.version
    );
    let software = client.software().await?;
    ensure!(
        software.state == SoftwareState::Idle
            && software.product_version.to_string() == TARGET_PRODUCT
            && software.base_version.to_string() == TARGET_BASE,
        "{name}: {software:?}"
    );
    Ok(())
}
