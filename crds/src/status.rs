//! Status pieces shared by both kinds: the phase, the members table, the upgrade in progress
//! with its plan, the backup taken and the last finished upgrade.
//!
//! The plan is written before any step runs and every step's state is written before and
//! after it runs, keyed by the upgrade id: a restarted operator resumes from status alone and
//! never repeats a non-idempotent step (I8).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A one-word summary for people; conditions are the contract for machines.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Not observed yet.
    #[default]
    Pending,
    /// Every member runs the target version; nothing to do.
    UpToDate,
    /// Backup, sync and staging before the disruptive work.
    Preparing,
    /// Installing, verifying, draining.
    Upgrading,
    /// Traffic moves to the upgraded appliance.
    Promoting,
    /// Waiting between product hops (R3).
    Soaking,
    /// Failover re-established, final sync.
    Finishing,
    /// The next disruptive step waits for a maintenance window.
    WaitingForWindow,
    /// A gate waits for a person's approval.
    AwaitingApproval,
    /// `spec.paused` holds every new step.
    Paused,
    /// A person must act; the Stalled condition says what to do.
    Stalled,
    /// Members cannot be observed (unreachable, credentials, certificate); retried.
    Degraded,
}

/// A member's failover role as the appliance reports it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Role {
    /// Serves the site.
    Primary,
    /// Receives data syncs.
    Backup,
    /// No failover relationship.
    Standalone,
    /// Not observed.
    #[default]
    Unknown,
}

/// A member's health as last observed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Health {
    /// `check_health` succeeded.
    Healthy,
    /// The appliance answered and reported a problem.
    Unhealthy,
    /// The appliance did not answer.
    Unreachable,
    /// Installing or rebooting for an install.
    Installing,
    /// Not observed.
    #[default]
    Unknown,
}

/// One row of the members table.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// The member's name from spec.
    #[schemars(length(max = 63))]
    pub name: String,
    /// Failover role.
    pub role: Role,
    /// Product version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub version: Option<String>,
    /// Base software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub base_version: Option<String>,
    /// Health.
    pub health: Health,
    /// Shared IPs this member holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), inner(length(max = 64)))]
    pub shared_ips: Vec<String>,
    /// Accepting new client connections (Atlas traffic nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepting_connections: Option<bool>,
    /// Connected clients at the last observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_clients: Option<u32>,
    /// When the last data sync finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// The appliance's word on the last data sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub last_sync_status: Option<String>,
    /// What is wrong, when something is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

/// The upgrade in progress.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    /// Names this upgrade in approvals, events, backups and idempotency keys.
    #[schemars(length(max = 63))]
    pub id: String,
    /// The version the upgrade started from.
    #[schemars(length(max = 32))]
    pub from_version: String,
    /// The version it goes to.
    #[schemars(length(max = 32))]
    pub to_version: String,
    /// When the plan was made.
    pub started_at: Option<Time>,
    /// The id of the step running or next to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub current_step: Option<String>,
    /// Every step, in order.
    #[schemars(length(max = 256))]
    pub plan: Vec<PlanStep>,
    /// Retries approved so far: the next one is approved as `<id>-r<retries + 1>/Retry`, so
    /// an approval left in place never opens a later retry (R6).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// One step of a plan.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// Stable within the upgrade, such as `install-rs-b-product-24.1.0`.
    #[schemars(length(max = 128))]
    pub id: String,
    /// What the step does, for people.
    #[schemars(length(max = 256))]
    pub description: String,
    /// What the step does, for the operator resuming from status.
    pub action: StepAction,
    /// The upgrade round: one per product version the site passes through (R3).
    pub round: i32,
    /// The member the step acts on (a pair member or an Atlas master).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub member: Option<String>,
    /// The batch of Atlas traffic nodes the step acts on (1 or 2; see `status.batches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2))]
    pub batch: Option<i32>,
    /// The package the step installs or stages, or the gate an approval step waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub package: Option<String>,
    /// The package is base software: the appliance reboots, and a failure stops everything (R6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base_software: bool,
    /// The product version the round brings the members to (checked by Verify and Preflight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub version: Option<String>,
    /// Where the step stands.
    pub state: StepState,
    /// Attempts after the first (a retry after a failure): part of the install's idempotency
    /// key, so a retried install is a new install, not a replay of the failed one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: i32,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// What the step has done so far, so a restart follows it instead of starting it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<StepProgress>,
    /// Written by earlier releases (free text such as an install id or `cut:3`). Read once and
    /// carried over into `progress` and `batch`; never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub reference: Option<String>,
    /// Why the step failed (a condition reason), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub reason: Option<String>,
    /// The outcome or the reason it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

/// What a running step has done, typed (one variant per kind of work).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StepProgress {
    /// An install was started on the member; the appliance's id follows it.
    #[serde(rename_all = "camelCase")]
    InstallStarted {
        /// The appliance's install id.
        #[schemars(length(max = 128))]
        install_id: String,
    },
    /// Sync Now was started (the attempt counts restarts of a failed sync).
    #[serde(rename_all = "camelCase")]
    SyncStarted {
        /// 1 for the first attempt.
        attempt: i32,
    },
    /// "Distribute to cluster" was started for the step's package.
    #[serde(rename_all = "camelCase")]
    DistributionStarted {
        /// The package distributed.
        #[schemars(length(max = 128))]
        package: String,
    },
    /// The configuration backup was stored.
    #[serde(rename_all = "camelCase")]
    BackupStored {
        /// `secret/<name>` or a file path.
        #[schemars(length(max = 1024))]
        location: String,
    },
    /// A drain timed out with `onTimeout: Proceed`: these sessions will be cut.
    #[serde(rename_all = "camelCase")]
    DrainTimedOut {
        /// Sessions still connected when the timeout passed.
        sessions: i64,
        /// The nodes and their sessions, `node (n)`, comma separated.
        #[schemars(length(max = 1024))]
        nodes: String,
    },
    /// A batch install started on nodes with clients connected (after a drain timeout).
    #[serde(rename_all = "camelCase")]
    SessionsCut {
        /// Sessions cut so far by this step's installs.
        sessions: i64,
    },
}

/// The actions a plan is made of.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum StepAction {
    /// Both members reachable, healthy, same version, permissions, clocks, failover in sync.
    #[default]
    Preflight,
    /// Download the configuration backup from the primary and store it (R1).
    Backup,
    /// Sync Now from the primary and wait for it to finish.
    SyncFailover,
    /// Wait for a person's approval of a gate.
    Approval,
    /// Break the failover relationship.
    BreakFailover,
    /// Download a package onto a member without installing it.
    Stage,
    /// Install a package and wait for it to finish.
    Install,
    /// Check version, health and reachability after installs.
    Verify,
    /// Move the site address to a member (the traffic swing).
    SwingTraffic,
    /// Re-establish failover with a member as primary.
    EstablishFailover,
    /// Wait between product hops so clients follow (R3).
    Soak,
    /// Stage a package on every node of an Atlas cluster ("Distribute to cluster").
    Distribute,
    /// Take a batch of traffic nodes out of rotation and wait for their clients to leave.
    Drain,
    /// Put a batch of traffic nodes back to accepting new client connections.
    Accept,
    /// Cluster Sync Now from the acting primary master, and wait for it.
    SyncCluster,
    /// Enable backup operations on the master that became the backup.
    EnableBackupOperations,
}

/// Where a plan step stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StepState {
    /// Not started.
    #[default]
    Pending,
    /// Started; recorded before the request was sent.
    Running,
    /// Finished and verified.
    Succeeded,
    /// Failed; the Stalled condition says what to do.
    Failed,
    /// Not needed (already in the desired state when reached).
    Skipped,
}

/// The configuration backup taken before the upgrade (R1).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// The upgrade it was taken for.
    #[schemars(length(max = 63))]
    pub upgrade_id: String,
    /// The member it was downloaded from.
    #[schemars(length(max = 63))]
    pub member: String,
    /// Where it was written: `secret/<name>` or a file path.
    #[schemars(length(max = 1024))]
    pub location: String,
    /// SHA-256 of the file, hex.
    #[schemars(length(max = 64))]
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Whether it is password protected.
    pub encrypted: bool,
    /// When it was taken.
    pub taken_at: Option<Time>,
}

/// The last finished upgrade.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastUpgrade {
    /// Its id.
    #[schemars(length(max = 63))]
    pub id: String,
    /// From this version.
    #[schemars(length(max = 32))]
    pub from_version: String,
    /// To this version.
    #[schemars(length(max = 32))]
    pub to_version: String,
    /// When it started.
    pub started_at: Option<Time>,
    /// When it finished.
    pub finished_at: Option<Time>,
    /// Wall-clock seconds from the first disruptive step to the last step.
    pub duration_seconds: i64,
    /// Seconds without a serving primary, as the operator observed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_seconds: Option<i64>,
    /// Sessions cut by a drain timeout with `onTimeout: Proceed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_cut: Option<i64>,
}
