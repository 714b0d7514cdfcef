//! An HTTP proxy in front of the API server, in the test process, for chaos and benchmark
//! harnesses: it counts every request by verb and resource, and injects the faults a real
//! cluster produces rarely and at random (write conflicts, stale reads from a lagging cache,
//! a connection lost in the middle of a write) exactly when a test asks for them.
//!
//! Clients reach it over plain HTTP with a kubeconfig that carries no credentials
//! ([`ApiProxy::kubeconfig`]); it forwards with its own admin client, so what the API server
//! sees is the admin user, and what a client sees is the API server's answers, streamed
//! (watches included), or an injected fault.

mod body;
mod classify;
mod serve;
mod state;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
pub use classify::{Call, Matcher};
use serve::serve;
pub use state::Injected;
use state::{Decision, HoldSlot, State};

/// A running proxy. Dropping it (or [`ApiProxy::stop`]) closes the port and every open
/// connection, as a dead API server would.
#[derive(Debug)]
pub struct ApiProxy {
    addr: SocketAddr,
    state: Arc<State>,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl ApiProxy {
    /// Starts a proxy on a free loopback port in front of `cluster`, on the calling runtime
    /// (it serves only while that runtime runs: a `#[tokio::test]`'s, for a test).
    pub async fn start(cluster: &Cluster) -> Result<Self> {
        let upstream = upstream_client(cluster).await?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(addr))
            .with_context(|| format!("failed to write {}", kubeconfig.display()))?;
        let state = Arc::new(State::default());
        let task = tokio::spawn(serve(listener, upstream, state.clone()));
        Ok(Self {
            addr,
            state,
            kubeconfig,
            _dir: dir,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig naming the proxy, without credentials (the proxy adds its own), for
    /// [`crate::operator::Launch::kubeconfig`], kubectl or [`ApiProxy::client`]. It lives as
    /// long as the proxy.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The cluster as seen through the proxy, for harness functions that take a [`Cluster`].
    pub fn cluster(&self) -> Cluster {
        Cluster {
            kubeconfig: self.kubeconfig.clone(),
            local: false,
        }
    }

    /// A client that talks to the API server through the proxy.
    pub async fn client(&self) -> Result<kube::Client> {
        self.cluster().client().await
    }

    /// How many requests of each (verb, resource) the proxy received since it started or
    /// since [`ApiProxy::reset_counts`], faulted ones included.
    pub fn counts(&self) -> BTreeMap<(String, String), u64> {
        self.state.counts(None)
    }

    /// [`ApiProxy::counts`] for the requests naming `namespace` in their path.
    pub fn counts_in(&self, namespace: &str) -> BTreeMap<(String, String), u64> {
        self.state.counts(Some(namespace))
    }

    /// The count of one (verb, resource), 0 if none.
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        let key = (verb.to_owned(), resource.to_owned());
        self.counts().get(&key).copied().unwrap_or(0)
    }

    /// Starts counting again from zero.
    pub fn reset_counts(&self) {
        self.state.reset_counts();
    }

    /// The next `n` writes `matcher` matches are answered `409 Conflict` by the proxy and
    /// never reach the API server, as if another writer had changed the object first.
    pub fn conflict_next(&self, matcher: Matcher, n: u64) {
        self.state.arm_conflicts(matcher, n);
    }

    /// The next `n` gets or lists `matcher` matches are answered with the previous different
    /// answer the proxy saw to the same URL, as a lagging cache would. A read with no such
    /// earlier answer is forwarded and does not use up the fault.
    pub fn stale_next(&self, matcher: Matcher, n: u64) {
        self.state.arm_stale(matcher, n);
    }

    /// The next write `matcher` matches is held at the proxy until the returned [`Held`]
    /// releases it (dropping the [`Held`] forwards it).
    pub fn hold_next(&self, matcher: Matcher) -> Held {
        let (slot, arrived, decision) = HoldSlot::new(matcher);
        self.state.arm_hold(slot);
        Held {
            arrived: Some(arrived),
            call: None,
            decision,
        }
    }

    /// Disarms the faults not fired yet (requests already held stay held).
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// How many faults of each kind fired.
    pub fn injected(&self) -> Injected {
        self.state.injected()
    }

    /// Stops serving and waits until the port and every connection are closed.
    pub async fn stop(mut self) {
        self.task.abort();
        // The task was aborted: its result is only that cancellation.
        let _ = (&mut self.task).await;
    }
}

impl Drop for ApiProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A write held at the proxy by [`ApiProxy::hold_next`].
#[derive(Debug)]
pub struct Held {
    arrived: Option<oneshot::Receiver<Call>>,
    call: Option<Call>,
    decision: oneshot::Sender<Decision>,
}

impl Held {
    /// Waits until the held request has reached the proxy (its body read, nothing sent to the
    /// API server yet) and returns what it is. Wrap it in a timeout: it waits for ever if no
    /// matching write comes.
    pub async fn arrived(&mut self) -> Result<Call> {
        if let Some(call) = &self.call {
            return Ok(call.clone());
        }
        let receiver = self
            .arrived
            .as_mut()
            .ok_or_else(|| anyhow!("the held request was already awaited"))?;
        let call = receiver
            .await
            .map_err(|_| anyhow!("the proxy stopped before the held request arrived"))?;
        self.arrived = None;
        self.call = Some(call.clone());
        Ok(call)
    }

    /// Sends the held request on to the API server.
    pub fn release_forward(self) {
        // A proxy already stopped has nothing left to release.
        let _ = self.decision.send(Decision::Forward);
    }

    /// Closes the held request's connection without forwarding it: the client sees a
    /// connection error and the API server never sees the request.
    pub fn release_drop(self) {
        let _ = self.decision.send(Decision::Drop);
    }
}

/// The admin client the proxy forwards with.
async fn upstream_client(cluster: &Cluster) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig)
        .with_context(|| format!("failed to read {}", cluster.kubeconfig.display()))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    // A proxy is a wire: retrying a 429 or 503 is its client's decision, not the proxy's.
    config.default_retry = false;
    // Watches stay quiet for minutes; timeouts are the client's business.
    config.read_timeout = None;
    Ok(kube::Client::try_from(config)?)
}

fn kubeconfig_yaml(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: apiproxy
    cluster:
      server: http://{addr}
users:
  - name: apiproxy
    user: {{}}
contexts:
  - name: apiproxy
    context:
      cluster: apiproxy
      user: apiproxy
current-context: apiproxy
"
    )
}
