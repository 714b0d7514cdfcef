//! One Kubernetes API server per test run: the cluster `KUBECONFIG` names when it is set,
//! otherwise a local control plane started on first use with `e2e/controlplane/up.sh`.
//!
//! A local control plane is stopped by a watchdog process that outlives the test process and
//! runs `down.sh` once it is gone: statics are never dropped in Rust, and a test binary killed
//! by a signal runs no destructor either, so cleanup cannot live in this process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::repo_root;

/// The Kubernetes version the local control plane is built at (see e2e/controlplane).
pub const LOCAL_KUBERNETES_VERSION: &str = "v1.36.3";

/// Where the cluster the tests use is, and how to reach it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The kubeconfig file (the user's, or the local control plane's admin one).
    pub kubeconfig: PathBuf,
    /// Whether the harness started the control plane itself.
    pub local: bool,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

impl Cluster {
    /// The shared cluster, started on first use. Blocking: call it from `spawn_blocking`
    /// or through [`shared`].
    pub fn shared_blocking() -> Result<Cluster> {
        CLUSTER
            .get_or_init(|| Self::connect().map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    fn connect() -> Result<Cluster> {
        if let Some(path) = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty()) {
            return Ok(Cluster {
                kubeconfig: PathBuf::from(path),
                local: false,
            });
        }
        let state = repo_root()
            .join(".cache/run")
            .join(format!("controlplane-{}", std::process::id()));
        start_local(&state)?;
        Ok(Cluster {
            kubeconfig: state.join("kubeconfig"),
            local: true,
        })
    }

    /// A client for this cluster, bound to the calling test's runtime.
    pub async fn client(&self) -> Result<kube::Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .with_context(|| format!("failed to read {}", self.kubeconfig.display()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }
}

/// The shared cluster, from async code.
pub async fn shared() -> Result<Cluster> {
    tokio::task::spawn_blocking(Cluster::shared_blocking).await?
}

/// The directory holding kubectl, etcd, kube-apiserver and helm built by `build.sh`.
pub fn controlplane_bin() -> PathBuf {
    std::env::var_os("CONTROLPLANE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            repo_root().join(format!(
                ".cache/controlplane/k8s-{LOCAL_KUBERNETES_VERSION}/bin"
            ))
        })
}

fn start_local(state: &Path) -> Result<()> {
    let scripts = repo_root().join("e2e/controlplane");
    let output = Command::new(scripts.join("up.sh"))
        .arg(state)
        .stdin(Stdio::null())
        .output()
        .context("failed to run e2e/controlplane/up.sh")?;
    // The watchdog goes first: even a half-started control plane must be stopped.
    spawn_watchdog(&scripts.join("down.sh"), state)?;
    if !output.status.success() {
        bail!(
            "the local control plane did not start:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A shell that waits for this process to end, then stops the control plane.
fn spawn_watchdog(down: &Path, state: &Path) -> Result<()> {
    let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; exec "$2" "$3""#;
    Command::new("bash")
        .args(["-c", script, "watchdog"])
        .arg(std::process::id().to_string())
        .arg(down)
        .arg(state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start the control plane watchdog")?;
    Ok(())
}
