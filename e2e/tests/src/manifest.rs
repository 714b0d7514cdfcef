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
