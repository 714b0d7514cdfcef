//! Runs the kubectl built with the control plane against the test cluster: some behaviour
//! (printer columns, `kubectl wait`) is only visible through kubectl itself.

use std::process::{Command, Output};

use anyhow::{Context, Result};

use crate::cluster::{Cluster, controlplane_bin};

/// What a kubectl run printed and how it ended.
#[derive(Debug)]
pub struct KubectlOutput {
    /// Exit success.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for KubectlOutput {
    fn from(o: Output) -> Self {
        Self {
            success: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `kubectl <args>` against the cluster, off the async runtime.
pub async fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<KubectlOutput> {
    let mut command = Command::new(controlplane_bin().join("kubectl"));
    command
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("failed to run kubectl (built by e2e/controlplane/build.sh)")?;
    Ok(output.into())
}

/// Runs `kubectl <args>` with `input` on its standard input (`-f -`).
pub async fn kubectl_with_input(
    cluster: &Cluster,
    args: &[&str],
    input: String,
) -> Result<KubectlOutput> {
    use std::io::Write;
    use std::process::Stdio;
    let mut command = Command::new(controlplane_bin().join("kubectl"));
    command
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || -> std::io::Result<Output> {
        let mut child = command.spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        child.wait_with_output()
    })
    .await?
    .context("failed to run kubectl (built by e2e/controlplane/build.sh)")?;
    Ok(output.into())
}
