//! The operator binary as a child process, as users run it: its own process, its own
//! kubeconfig, a namespace to watch, logs to a file per test. Killing it is how the tests
//! check that a restart resumes from status (I8).

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::cluster::Cluster;
use crate::repo_root;

/// A running operator.
#[derive(Debug)]
pub struct Operator {
    child: Child,
    /// Where its logs go.
    pub log: PathBuf,
}

/// The operator binary `make e2e` and `make demo` build next to the test and demo binaries.
pub fn binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // Test binaries live in target/<profile>/deps, the demo in target/<profile>.
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("baton-operator"))
        .collect();
    match candidates.iter().find(|c| c.is_file()) {
        Some(found) => Ok(found.clone()),
        None => bail!(
            "baton-operator not found next to {}: run `cargo build -p baton-operator` (`make e2e` and `make demo` do)",
            exe.display()
        ),
    }
}

impl Operator {
    /// Starts the operator on `namespace` with test timings (short requeues; the simulator
    /// runs on scaled time, the operator on real time).
    pub fn start(cluster: &Cluster, namespace: &str, tag: &str, extra: &[&str]) -> Result<Self> {
        let logs = repo_root().join("target/e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{namespace}-{tag}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(binary()?)
            .args([
                "--namespace",
                namespace,
                "--busy-requeue",
                "500ms",
                "--gated-requeue",
                "1s",
                "--long-poll",
                "2s",
                "--idle-requeue",
                "10s",
            ])
            .args(extra)
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("RUST_LOG", "info,baton_operator=debug")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("failed to start the operator")?;
        Ok(Self { child, log })
    }

    /// Kills the process at once (SIGKILL): no chance to finish what it was doing.
    pub async fn kill(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
