//! The chart, through the helm built with the control plane: lint and render. Rendering is
//! client-side (`helm template`), so tests apply the output with kubectl as they choose.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cluster::controlplane_bin;
use crate::kubectl::KubectlOutput;
use crate::repo_root;

/// The chart's directory.
pub fn chart() -> PathBuf {
    repo_root().join("charts/baton")
}

/// Runs `helm <args>`, off the async runtime.
pub async fn helm(args: &[String]) -> Result<KubectlOutput> {
    let mut command = Command::new(controlplane_bin().join("helm"));
    // Helm's own state stays in the ignored .cache, not in the user's home.
    let home = repo_root().join(".cache/helm");
    command
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("failed to run helm (built by e2e/controlplane/build.sh)")?;
    Ok(output.into())
}

/// `--set` arguments for `values`.
fn sets(values: &[(&str, &str)]) -> Vec<String> {
    values
        .iter()
        .flat_map(|(k, v)| ["--set".to_owned(), format!("{k}={v}")])
        .collect()
}

/// `helm lint --strict` with `values`.
pub async fn lint(values: &[(&str, &str)]) -> Result<KubectlOutput> {
    let mut args = vec![
        "lint".to_owned(),
        "--strict".to_owned(),
        chart().display().to_string(),
    ];
    args.extend(sets(values));
    helm(&args).await
}

/// `helm template <release> -n <namespace>` with `values`: the manifests, or the error.
pub async fn template(release: &str, namespace: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut args = vec![
        "template".to_owned(),
        release.to_owned(),
        chart().display().to_string(),
        "--namespace".to_owned(),
        namespace.to_owned(),
    ];
    args.extend(sets(values));
    let out = helm(&args).await?;
    if !out.success {
        bail!("helm template failed: {}", out.stderr);
    }
    Ok(out.stdout)
}

/// The documents of a multi-document YAML stream, as JSON values (empty ones dropped).
pub fn documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    let mut docs = Vec::new();
    for doc in yaml.split("\n---") {
        let doc = doc.trim_start_matches("---");
        let value: serde_json::Value = serde_saphyr::from_str(doc)
            .with_context(|| format!("failed to parse a rendered document:\n{doc}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}
