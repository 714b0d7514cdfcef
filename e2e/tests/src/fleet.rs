//! A simulated fleet per test, and the Secrets that let the operator reach it: one
//! credentials Secret per appliance (`<appliance>-api`) and the fleet CA (`fleet-ca`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};

use baton_sim::{Connection, Fleet, FleetSpec};

use crate::repo_root;

/// The Secret holding the fleet's CA, key `ca.crt`.
pub const CA_SECRET: &str = "fleet-ca";

/// Starts the fleet described by `yaml`.
pub async fn start(yaml: &str) -> Result<Fleet> {
    let spec = FleetSpec::from_yaml(yaml)?;
    Ok(baton_sim::start(spec).await?)
}

/// Starts a fleet from a file under `e2e/simulator/fleets/`, editing its spec first.
pub async fn start_file(name: &str, edit: impl FnOnce(&mut FleetSpec)) -> Result<Fleet> {
    let path = repo_root().join("e2e/simulator/fleets").join(name);
    let yaml = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let mut spec = FleetSpec::from_yaml(&yaml)?;
    edit(&mut spec);
    Ok(baton_sim::start(spec).await?)
}

/// The credentials Secret name of an appliance.
pub fn credentials_secret(appliance: &str) -> String {
    format!("{appliance}-api")
}

/// Creates the fleet's Secrets in `namespace`.
pub async fn create_secrets(
    client: &kube::Client,
    namespace: &str,
    connection: &Connection,
) -> Result<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secrets = vec![secret(CA_SECRET, [("ca.crt", connection.ca_pem.as_str())])];
    for a in &connection.appliances {
        secrets.push(secret(
            &credentials_secret(&a.name),
            [
                ("clientId", a.client_id.as_str()),
                ("clientSecret", a.client_secret.as_str()),
            ],
        ));
    }
    for s in secrets {
        api.create(&PostParams::default(), &s).await?;
    }
    Ok(())
}

fn secret<'a>(name: &str, data: impl IntoIterator<Item = (&'a str, &'a str)>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k.to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}
