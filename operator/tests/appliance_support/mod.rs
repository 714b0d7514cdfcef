//! Shared set-up for the appliance client tests: a simulated fleet over real HTTPS and the
//! production client stack pointed at it.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context;
use baton_operator::appliance::{Connector, Credentials, Member, ProductionAppliance};
use baton_sim::{ApplianceConnection, Fleet, FleetSpec};
use url::Url;

/// Starts a fleet from YAML.
pub async fn start(yaml: &str) -> anyhow::Result<Fleet> {
    let spec = FleetSpec::from_yaml(yaml).map_err(|e| anyhow::anyhow!("fleet spec: {e}"))?;
    baton_sim::start(spec)
        .await
        .map_err(|e| anyhow::anyhow!("starting the simulator: {e}"))
}

/// One appliance's connection details by name.
pub fn appliance<'a>(fleet: &'a Fleet, name: &str) -> anyhow::Result<&'a ApplianceConnection> {
    fleet
        .connection()
        .appliances
        .iter()
        .find(|a| a.name == name)
        .with_context(|| format!("no appliance {name} in the fleet"))
}

pub fn endpoint(a: &ApplianceConnection) -> anyhow::Result<Url> {
    Ok(Url::parse(&a.endpoint.to_string())?)
}

pub fn ca_pem(fleet: &Fleet) -> Vec<u8> {
    fleet.connection().ca_pem.as_bytes().to_vec()
}

/// The full-access account of `name`.
pub fn full_access(a: &ApplianceConnection) -> Credentials {
    Credentials::new(a.client_id.clone(), a.client_secret.clone())
}

/// The read-only account of `name`.
pub fn read_only(a: &ApplianceConnection) -> Credentials {
    Credentials::new(
        a.readonly_client_id.clone(),
        a.readonly_client_secret.clone(),
    )
}

/// The production client for `name` with the full-access account.
pub fn connect(
    connector: &Connector,
    fleet: &Fleet,
    name: &str,
) -> anyhow::Result<ProductionAppliance> {
    let a = appliance(fleet, name)?;
    let ca = ca_pem(fleet);
    Ok(connector.connect(Member {
        endpoint: endpoint(a)?,
        ca_pem: &ca,
        credentials: full_access(a),
        extension_base: None,
    })?)
}

/// Polls `check` every 100 ms until it returns `Some`, or fails after `timeout`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A standalone appliance and a failover pair, fast clocks, no client traffic.
pub const PAIR_FLEET: &str = r#"
seed: 11
time_scale: 600
catalogue:
  - { id: base-5.2.0, name: "Base Software 5.2.0", kind: base, version: 5.2.0, requires: [], install_s: [60, 120] }
  - { id: product-24.3.2, name: "BeyondTrust 24.3.2", kind: product, version: 24.3.2, requires: [], install_s: [60, 120] }
appliances:
  - { name: solo, product: rs, version: 24.1.0, base_version: 5.1.0 }
  - { name: rs-a, product: rs, version: 24.1.0, base_version: 5.1.0 }
  - { name: rs-b, product: rs, version: 24.1.0, base_version: 5.1.0 }
pairs:
  - { name: site, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10 }
timings: { reboot_s: 60, sync_s: [30, 60], swap_s: 5, shared_ip_s: 2, distribute_s: [10, 20], first_sync_after_establish_s: 30 }
"#;
