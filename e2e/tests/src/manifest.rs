//! Manifests for the resources under test, pointed at a simulated fleet.

use baton_crds::AppliancePair;
use baton_sim::Connection;
use serde_json::{Value, json};

use crate::fleet::{CA_SECRET, credentials_secret};

/// An AppliancePair for two appliances of the fleet, upgraded to `version`; `edit` adjusts the
/// spec (strategy, gates, windows) before it is parsed.
pub fn pair(
    name: &str,
    connection: &Connection,
    members: [&str; 2],
    version: &str,
    edit: impl FnOnce(&mut Value),
) -> anyhow::Result<AppliancePair> {
    let member = |n: &str| -> anyhow::Result<Value> {
        let a = connection
            .appliance(n)
            .ok_or_else(|| anyhow::anyhow!("the fleet has no appliance {n}"))?;
        Ok(json!({
            "name": n,
            "endpoint": a.endpoint,
            "credentialsSecretRef": { "name": credentials_secret(n) },
            "caSecretRef": { "name": CA_SECRET },
        }))
    };
    let mut object = json!({
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "AppliancePair",
        "metadata": { "name": name },
        "spec": {
            "version": version,
            "members": [member(members[0])?, member(members[1])?],
            "soak": "1s",
        },
    });
    edit(&mut object["spec"]);
    Ok(serde_json::from_value(object)?)
}

/// An AtlasCluster for the fleet's cluster: masters and `(node, region)` traffic nodes, all
/// reached with the primary master's Secrets (as Atlas syncs API accounts).
pub fn atlas(
    name: &str,
    connection: &Connection,
    masters: &[&str],
    nodes: &[(&str, &str)],
    version: &str,
    edit: impl FnOnce(&mut Value),
) -> anyhow::Result<baton_crds::AtlasCluster> {
    let endpoint = |n: &str| -> anyhow::Result<String> {
        Ok(connection
            .appliance(n)
            .ok_or_else(|| anyhow::anyhow!("the fleet has no appliance {n}"))?
            .endpoint
            .clone())
    };
    let master = |n: &str| -> anyhow::Result<Value> {
        Ok(
            json!({ "name": n, "endpoint": endpoint(n)?, "credentialsSecretRef": { "name": credentials_secret(masters[0]) }, "caSecretRef": { "name": CA_SECRET } }),
        )
    };
    let traffic: anyhow::Result<Vec<Value>> = nodes
        .iter()
        .map(|(n, region)| Ok(json!({ "name": n, "endpoint": endpoint(n)?, "region": region })))
        .collect();
    let mut spec = json!({
        "version": version,
        "primaryMaster": master(masters[0])?,
        "trafficNodes": traffic?,
        "soak": "1s",
        "drain": { "timeout": "30m" },
        "maxConcurrentInstalls": 4,
    });
    if let Some(b) = masters.get(1) {
        spec["backupMaster"] = master(b)?;
    }
    edit(&mut spec);
    Ok(serde_json::from_value(
        json!({ "apiVersion": "baton.dev/v1alpha1", "kind": "AtlasCluster", "metadata": { "name": name }, "spec": spec }),
    )?)
}
