//! The benchmark's fleets, grown from the committed e2e fleet files so that appliances,
//! packages and client traffic stay those the tests use: an Atlas cluster of any shape, and
//! failover pairs already at the target version for the idle figures.

use anyhow::{Context, Result};
use baton_sim::FleetSpec;
use baton_sim::fleet::{ClientSpec, PairSpec, TrafficNodeSpec};

use crate::repo_root;

/// The version every benchmark resource ends at.
pub const TARGET: &str = "24.3.2";

fn committed(name: &str) -> Result<FleetSpec> {
    let path = repo_root().join("e2e/tests/fleets").join(name);
    let yaml = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    Ok(FleetSpec::from_yaml(&yaml)?)
}

/// The name of traffic node `i` of region `r`.
pub fn node_name(r: usize, i: usize) -> String {
    format!("r{r}-n{i:03}")
}

/// The region of traffic node `(r, _)`.
pub fn region_name(r: usize) -> String {
    format!("region-{r}")
}

/// `fleets/atlas.yaml` (PRA, primary and backup master with a shared IP, one hop of a base
/// and a product package, clients on every traffic node) with `regions` regions of
/// `per_region` traffic nodes each, at `time_scale`.
pub fn atlas(regions: usize, per_region: usize, time_scale: f64) -> Result<FleetSpec> {
    let mut spec = committed("atlas.yaml")?;
    spec.time_scale = time_scale;
    let template = spec
        .appliances
        .iter()
        .find(|a| a.clients.is_some())
        .cloned()
        .context("atlas.yaml has no traffic node with clients")?;
    spec.appliances.retain(|a| a.name.starts_with("master-"));
    let cluster = spec
        .clusters
        .first_mut()
        .context("atlas.yaml has no cluster")?;
    cluster.traffic_nodes.clear();
    for r in 0..regions {
        for i in 0..per_region {
            let mut node = template.clone();
            node.name = node_name(r, i);
            node.hostname = None;
            node.port = None;
            cluster.traffic_nodes.push(TrafficNodeSpec {
                appliance: node.name.clone(),
                region: region_name(r),
            });
            spec.appliances.push(node);
        }
    }
    Ok(spec)
}

/// The name of the appliances of idle site `k`.
pub fn idle_members(k: usize) -> [String; 2] {
    [format!("rs{k}-a"), format!("rs{k}-b")]
}

/// `sites` Remote Support pairs shaped like `fleets/pair.yaml` but already on [`TARGET`]
/// (base 5.2.0) with failover established, each member with client traffic, on real time
/// (scale 1): what idle resources look like in production.
pub fn idle(sites: usize) -> Result<FleetSpec> {
    let mut spec = committed("pair.yaml")?;
    spec.time_scale = 1.0;
    let version_of = |id: &str| {
        spec.catalogue
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.version.clone())
            .with_context(|| format!("pair.yaml offers no {id}"))
    };
    let (product, base) = (version_of("product-24.3.2")?, version_of("base-5.2.0")?);
    let template = spec
        .appliances
        .first()
        .cloned()
        .context("pair.yaml has no appliance")?;
    let clients = template.clients.clone().unwrap_or(ClientSpec {
        arrival_per_min: 0.5,
        session_min: [2.0, 8.0],
    });
    let pair = spec
        .pairs
        .first()
        .cloned()
        .context("pair.yaml has no pair")?;
    spec.appliances.clear();
    spec.pairs.clear();
    for k in 0..sites {
        let names = idle_members(k);
        for name in &names {
            let mut a = template.clone();
            a.name.clone_from(name);
            a.hostname = None;
            a.port = None;
            a.version = product.clone();
            a.base_version = base.clone();
            a.clients = Some(clients.clone());
            spec.appliances.push(a);
        }
        let [primary, backup] = names;
        spec.pairs.push(PairSpec {
            name: format!("site{k}"),
            primary,
            backup,
            // Unique per site: the referee follows each shared IP.
            shared_ip: Some(format!("10.1.{}.{}", k / 200, k % 200 + 10)),
            ..pair.clone()
        });
    }
    Ok(spec)
}
