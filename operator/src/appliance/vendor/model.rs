//! Domain types for the documented vendor API (Command API v1 and Backup API).
//!
//! These are what controllers see; no XML or HTTP type leaks out of the vendor client.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::appliance::version::ProductVersion;

/// An appliance's failover role (`<failover_role>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverRole {
    /// Not in a failover relationship.
    None,
    Primary,
    Backup,
}

impl FailoverRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverRole::None => "none",
            FailoverRole::Primary => "primary",
            FailoverRole::Backup => "backup",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(FailoverRole::None),
            "primary" => Some(FailoverRole::Primary),
            "backup" => Some(FailoverRole::Backup),
            _ => None,
        }
    }
}

impl fmt::Display for FailoverRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An appliance's Atlas role as `get_appliances` reports it (`<cluster_role>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterRole {
    /// Not clustered.
    Single,
    /// The primary master of an Atlas cluster.
    Primary,
    /// A traffic node.
    Traffic,
}

impl ClusterRole {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(ClusterRole::Single),
            "primary" => Some(ClusterRole::Primary),
            "traffic" => Some(ClusterRole::Traffic),
            _ => None,
        }
    }
}

/// The result of `check_health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub appliance_id: String,
    pub hostname: String,
    /// Version and build (`24.3.2 (build-8f3c2a)`).
    pub version: ProductVersion,
    /// `<success>1</success>`.
    pub healthy: bool,
    /// Only present on a problem.
    pub error_message: Option<String>,
    pub failover_role: FailoverRole,
    /// Shared (site) IPs this appliance currently holds; empty when none.
    pub shared_ips: Vec<String>,
    /// The last failover data sync; `None` without failover.
    pub last_sync: Option<SyncRecord>,
}

/// `<last_data_sync_time>` and `<last_data_sync_status>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    pub at: DateTime<Utc>,
    /// As the appliance words it (`Success`, or a failure description).
    pub status: Option<String>,
}

impl SyncRecord {
    /// True when the appliance reported the sync as successful.
    pub fn succeeded(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("success"))
    }
}

/// One entry of `get_appliances`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplianceInfo {
    pub id: String,
    pub name: String,
    pub public_hostname: String,
    pub cluster_role: ClusterRole,
    pub failover_role: FailoverRole,
    /// Whether the node accepts new client connections (read-only in the vendor API).
    pub accepting_connections: bool,
    /// `<timezone_offset>` as the appliance wrote it: the vendor does not document the unit.
    pub timezone_offset: String,
}

/// `get_connected_client_list&summary_only=1`, keyed by appliance id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCounts {
    pub per_appliance: BTreeMap<String, ClientCount>,
}

impl ClientCounts {
    /// Connected clients on one appliance; 0 when the appliance is not listed.
    pub fn total_for(&self, appliance_id: &str) -> u64 {
        self.per_appliance.get(appliance_id).map_or(0, |c| c.total)
    }
}

/// One `<appliance_summary>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCount {
    /// Count per client type (`representative`, `support_customer`, `presentation_attendee`,
    /// `push_agent`, `pinned_client`, and any type a newer appliance adds).
    pub by_type: BTreeMap<String, u64>,
    /// Sum over all types: a node's connected clients.
    pub total: u64,
}

/// `perm_command` access level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    FullAccess,
    ReadOnly,
    Deny,
}

impl Access {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "full_access" => Some(Access::FullAccess),
            "read_only" => Some(Access::ReadOnly),
            "deny" => Some(Access::Deny),
            _ => None,
        }
    }
}

/// The API account's permissions from `get_api_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// `perm_command`; `Deny` when absent.
    pub command: Access,
    /// `perm_backup`.
    pub backup: bool,
    /// Every permission as reported, including ones baton does not interpret.
    pub all: BTreeMap<String, String>,
}

/// The result of `get_api_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiInfo {
    pub api_version: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub permissions: Permissions,
}

/// The role `set_failover_role` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetRole {
    Primary,
    Backup,
}

impl TargetRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetRole::Primary => "primary",
            TargetRole::Backup => "backup",
        }
    }
}

/// A `set_failover_role` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetFailoverRole {
    pub role: TargetRole,
    /// Sync data to the peer first; users on the primary are disconnected during the sync and
    /// the role changes when it completes.
    pub data_sync_first: bool,
    /// Only for primary -> backup: become backup even if the peer cannot be contacted.
    pub force: bool,
}
