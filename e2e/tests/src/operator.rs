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
    /// Where its admin server (/healthz, /readyz, /metrics) listens.
    pub admin: std::net::SocketAddr,
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

/// How to launch an operator beyond [`Operator::start`]'s defaults.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The kubeconfig it uses (default: the cluster's admin one).
    pub kubeconfig: Option<PathBuf>,
    /// Flags after the defaults (a later flag overrides an earlier one).
    pub args: Vec<String>,
    /// Extra environment variables (such as `POD_NAME`).
    pub env: Vec<(String, String)>,
}

impl Operator {
    /// Starts the operator on `namespace` with test timings (short requeues; the simulator
    /// runs on scaled time, the operator on real time), without leader election (tests run
    /// many operators at once, each on its own namespace) and with its admin server on a free
    /// loopback port ([`Operator::admin`]).
    pub fn start(cluster: &Cluster, namespace: &str, tag: &str, extra: &[&str]) -> Result<Self> {
        let launch = Launch {
            args: extra.iter().map(|a| (*a).to_owned()).collect(),
            ..Launch::default()
        };
        Self::launch(cluster, namespace, tag, launch)
    }

    /// Starts the operator on `namespace` as [`Operator::start`] does, then with `launch`.
    pub fn launch(cluster: &Cluster, namespace: &str, tag: &str, launch: Launch) -> Result<Self> {
        let logs = repo_root().join("target/e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{namespace}-{tag}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let admin = free_port()?;
        let kubeconfig = launch
            .kubeconfig
            .unwrap_or_else(|| cluster.kubeconfig.clone());
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
                "--leader-elect=false",
            ])
            .arg(format!("--admin-addr={admin}"))
            .args(&launch.args)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,baton_operator=debug")
            .envs(launch.env)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("failed to start the operator")?;
        Ok(Self { child, log, admin })
    }

    /// Kills the process at once (SIGKILL): no chance to finish what it was doing.
    pub async fn kill(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Sends SIGTERM, as the kubelet does when a pod is deleted.
    pub fn terminate(&self) -> Result<()> {
        let pid = self.child.id().context("the operator already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        Ok(())
    }

    /// Waits for the process to exit, at most `deadline`.
    pub async fn wait(
        &mut self,
        deadline: std::time::Duration,
    ) -> Result<std::process::ExitStatus> {
        tokio::time::timeout(deadline, self.child.wait())
            .await
            .with_context(|| format!("the operator did not exit within {deadline:?}"))?
            .context("failed to wait for the operator")
    }

    /// The log so far (for assertions and failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
