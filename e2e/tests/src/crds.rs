//! Installs the committed CRDs (the files users apply) and waits until they are Established.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::repo_root;

/// Applies `crds/generated/*.yaml` with server-side apply and waits for Established.
pub async fn install(client: &kube::Client) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("baton-e2e").force();
    for crd in committed()? {
        let name = crd.metadata.name.clone().context("CRD without a name")?;
        api.patch(&name, &params, &Patch::Apply(&crd)).await?;
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(30), established)
            .await
            .with_context(|| format!("CRD {name} not Established within 30s"))??;
    }
    Ok(())
}

/// The CRDs as committed in the repository.
pub fn committed() -> Result<Vec<CustomResourceDefinition>> {
    let dir = repo_root().join("crds/generated");
    let mut crds = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path)?;
            crds.push(
                serde_saphyr::from_str(&text)
                    .with_context(|| format!("failed to parse {}", path.display()))?,
            );
        }
    }
    Ok(crds)
}
