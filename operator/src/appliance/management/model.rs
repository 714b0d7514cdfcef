//! Domain types for the management extension (`/api/management/v1`).
//!
//! They deserialize straight from the extension's JSON (the OpenAPI schemas in
//! `docs/api/management-extension-v1.openapi.yaml`). Unknown fields are ignored, as the
//! contract requires: no `deny_unknown_fields` here.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::appliance::vendor::model::FailoverRole;
use crate::appliance::version::Version;

/// Which product the appliance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// Remote Support.
    Rs,
    /// Privileged Remote Access.
    Pra,
}

/// `GET /info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExtensionInfo {
    pub extension_version: String,
    pub appliance_id: String,
    #[serde(default)]
    pub hostname: Option<String>,
    pub product: Product,
}

/// `GET /clock`: updates fail on a wrong clock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub ntp_synchronized: bool,
}

/// What the appliance's software is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftwareState {
    Idle,
    Installing,
    Rebooting,
    Failed,
}

/// `GET /software`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Software {
    pub product_version: Version,
    #[serde(default)]
    pub build: Option<String>,
    pub base_version: Version,
    pub state: SoftwareState,
    #[serde(default)]
    pub current_install_id: Option<String>,
}

/// Base software or the product itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    Base,
    Product,
}

/// Offered by the update server, or already on the appliance waiting to be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageState {
    Available,
    Staged,
}

/// One package from `GET /packages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub kind: PackageKind,
    pub version: Version,
    /// Package ids that must be installed first.
    pub requires: Vec<String>,
    pub state: PackageState,
    /// True when every package in `requires` is installed.
    pub installable: bool,
    /// The appliance reboots during this install (base software).
    #[serde(default)]
    pub reboots: bool,
}

#[derive(Deserialize)]
pub(crate) struct PackageList {
    pub packages: Vec<Package>,
}

/// `POST /installs` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallRequest {
    pub package_id: String,
    /// Install although clients are connected (they are cut). Only when the drain policy
    /// allows it after its timeout.
    pub allow_connected_clients: bool,
}

/// Where an install is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallState {
    Running,
    Rebooting,
    Succeeded,
    Failed,
}

impl InstallState {
    pub fn is_terminal(self) -> bool {
        matches!(self, InstallState::Succeeded | InstallState::Failed)
    }
}

/// One install from `POST /installs` or `GET /installs/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Install {
    pub id: String,
    pub package_id: String,
    pub state: InstallState,
    pub progress_percent: u8,
    /// The appliance's message, set on failure.
    #[serde(default)]
    pub message: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
pub(crate) struct InstallList {
    pub installs: Vec<Install>,
}

/// State of a long-running operation (sync, distribution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationState {
    Idle,
    Running,
    Succeeded,
    Failed,
}

impl OperationState {
    pub fn is_terminal(self) -> bool {
        matches!(self, OperationState::Succeeded | OperationState::Failed)
    }
}

/// A failover or cluster data sync (the `Sync` schema; renamed to keep clear of
/// `std::marker::Sync`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SyncStatus {
    pub state: OperationState,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Whether a failover relationship exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    None,
    Established,
}

/// One shared (site) IP.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SharedIp {
    pub ip: String,
    pub enabled: bool,
}

/// `GET /failover` and the reply of every failover change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Failover {
    pub relationship: Relationship,
    pub role: FailoverRole,
    /// The peer's unique address.
    #[serde(default)]
    pub peer_address: Option<String>,
    pub backup_operations_enabled: bool,
    pub shared_ips: Vec<SharedIp>,
    pub sync: SyncStatus,
}

/// `POST /failover/establish` body.
pub struct EstablishRequest {
    /// The peer's unique address (https URL or host:port), never the site hostname.
    pub peer_address: String,
    /// Shared secret both appliances must hold.
    pub inter_appliance_key: Option<SecretString>,
}

impl fmt::Debug for EstablishRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EstablishRequest")
            .field("peer_address", &self.peer_address)
            .field(
                "inter_appliance_key",
                &self.inter_appliance_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Serialize for EstablishRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("EstablishRequest", 2)?;
        st.serialize_field("peer_address", &self.peer_address)?;
        // Exposed only into the request body, which is never logged.
        if let Some(key) = &self.inter_appliance_key {
            st.serialize_field("inter_appliance_key", key.expose_secret())?;
        }
        st.end()
    }
}

/// A node's Atlas role as the extension reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    PrimaryMaster,
    BackupMaster,
    Traffic,
}

/// This appliance's place in a cluster (`none` when not clustered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMembership {
    None,
    PrimaryMaster,
    BackupMaster,
    Traffic,
}

/// One node of an Atlas cluster.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClusterNode {
    pub appliance_id: String,
    pub name: String,
    pub role: NodeRole,
    #[serde(default)]
    pub region: Option<String>,
    pub accepting_connections: bool,
    pub connected_clients: u64,
    #[serde(default)]
    pub product_version: Option<Version>,
}

/// `GET /cluster`: full on the primary master.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Cluster {
    pub role: ClusterMembership,
    pub nodes: Vec<ClusterNode>,
}

/// Staging state of one node during "Distribute to cluster".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStageState {
    Pending,
    Staged,
    Failed,
}

/// One node's part of a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DistributionNode {
    pub appliance_id: String,
    pub state: NodeStageState,
    #[serde(default)]
    pub message: Option<String>,
}

/// `GET|POST /cluster/distribute`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Distribution {
    #[serde(default)]
    pub package_id: Option<String>,
    pub state: OperationState,
    pub nodes: Vec<DistributionNode>,
}

/// The extension's error body: `{"error": "<stable code>", "message": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
pub(crate) struct DownloadKey {
    pub download_key: SecretString,
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
