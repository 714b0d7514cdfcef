//! Acting as a ServiceAccount: a token for it (TokenRequest, as a pod gets one) and a
//! kubeconfig that uses it, so a process runs with exactly that account's permissions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kube::config::Kubeconfig;

use crate::cluster::Cluster;
use crate::kubectl::kubectl;

/// Writes into `dir` a kubeconfig for `namespace/account` (same API server and CA as the
/// cluster's) and returns its path.
pub async fn kubeconfig_for(
    cluster: &Cluster,
    namespace: &str,
    account: &str,
    dir: &Path,
) -> Result<PathBuf> {
    let out = kubectl(
        cluster,
        &["create", "token", account, "-n", namespace, "--duration=2h"],
    )
    .await?;
    if !out.success {
        bail!("kubectl create token failed: {}", out.stderr);
    }
    let token = out.stdout.trim().to_owned();
    let admin = Kubeconfig::read_from(&cluster.kubeconfig)
        .with_context(|| format!("failed to read {}", cluster.kubeconfig.display()))?;
    let cluster_name = admin
        .contexts
        .iter()
        .find(|c| Some(&c.name) == admin.current_context.as_ref())
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .context("the admin kubeconfig has no current context")?;
    let user = format!("system:serviceaccount:{namespace}:{account}");
    let clusters: Vec<serde_json::Value> = admin
        .clusters
        .iter()
        .filter(|c| c.name == cluster_name)
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [{ "name": user, "user": { "token": token } }],
        "contexts": [{ "name": user, "context": { "cluster": cluster_name, "user": user, "namespace": namespace } }],
        "current-context": user,
    });
    let path = dir.join(format!("{namespace}-{account}.kubeconfig"));
    std::fs::write(&path, serde_saphyr::to_string(&config)?)?;
    Ok(path)
}
