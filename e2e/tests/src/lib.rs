//! The end-to-end harness: a real Kubernetes API server (the cluster `KUBECONFIG` names, or a
//! local etcd + kube-apiserver built from Go modules), the simulated appliance fleet, and the
//! operator binary as a child process.
//!
//! Tests share one control plane per test binary and each gets its own namespace and its own
//! fleet, so they run in parallel without seeing each other.

pub mod admin;
pub mod apiproxy;
pub mod bench;
pub mod chaos;
pub mod cluster;
pub mod crds;
pub mod demo;
pub mod fleet;
pub mod helm;
pub mod identity;
pub mod kubectl;
pub mod manifest;
pub mod namespace;
pub mod operator;
pub mod otlp;
pub mod referee;
pub mod wait;
pub mod world;

use std::path::PathBuf;

/// The repository root (tests and the demo read committed files from it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}
