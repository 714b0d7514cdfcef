//! `AtlasCluster`: one site spread over a primary master, an optional backup master and many
//! traffic nodes in regions, upgraded without cutting sessions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    Approval, BackupSpec, DURATION_RULE, MaintenanceWindow, Member, SecretKeyRef, SecretRef,
    TrafficSwing, VERSION_MESSAGE, VERSION_RULE,
};
use crate::pair::default_soak;
use crate::status::{BackupRecord, LastUpgrade, MemberStatus, Phase, UpgradeStatus};

/// The desired state of an Atlas cluster.
// Printer columns repeat `type_ = "string"` by design; clippy reads that as a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "baton.dev",
    version = "v1alpha1",
    kind = "AtlasCluster",
    namespaced,
    doc = "An Atlas cluster of BeyondTrust B Series appliances that baton upgrades to spec.version.",
    status = "AtlasClusterStatus",
    shortname = "atlas",
    category = "baton",
    printcolumn(name = "Desired", type_ = "string", json_path = ".spec.version"),
    printcolumn(
        name = "Current",
        type_ = "string",
        json_path = ".status.currentVersion"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Primary", type_ = "string", json_path = ".status.primary"),
    printcolumn(
        name = "Step",
        type_ = "string",
        json_path = ".status.upgrade.currentStep"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.backupMaster) || self.backupMaster.name != self.primaryMaster.name").message("the backup master needs a name different from the primary master's"))]
#[x_kube(validation = Rule::new("!self.trafficNodes.exists(n, n.name == self.primaryMaster.name || (has(self.backupMaster) && n.name == self.backupMaster.name))").message("node names must be unique: a traffic node has the same name as a master"))]
pub struct AtlasClusterSpec {
    /// The product version every node should run, such as `24.3.2`.
    #[x_kube(validation = Rule::new(VERSION_RULE).message(VERSION_MESSAGE))]
    #[schemars(length(min = 1, max = 32))]
    pub version: String,
    /// The primary master node: all configuration and session initiation.
    pub primary_master: Member,
    /// The failover partner of the primary master. Without it, the cluster is upgraded by the
    /// procedure without failover (the master's install is downtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_master: Option<Member>,
    /// The traffic nodes, each in a region. Names are unique.
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(min = 1, max = 1000))]
    pub traffic_nodes: Vec<TrafficNode>,
    /// How traffic nodes are taken out of rotation before their install.
    #[serde(default)]
    pub drain: DrainPolicy,
    /// How many installs run at the same time (masters and traffic nodes together). A node
    /// out of rotation serves nobody, so a higher bound shortens the upgrade without adding
    /// risk to the site; it is there for what the network and the masters can carry.
    #[serde(default = "default_max_concurrent_installs")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 1000").message("maxConcurrentInstalls must be between 1 and 1000"))]
    pub max_concurrent_installs: i32,
    /// How the site address moves to the new primary master.
    #[serde(default)]
    pub traffic_swing: TrafficSwing,
    /// Where the pre-upgrade configuration backup goes.
    #[serde(default)]
    pub backup: BackupSpec,
    /// How long to wait after each product hop that is not the last (R3), such as `24h`.
    #[serde(default = "default_soak")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("soak must be a duration such as 24h or 90m"))]
    #[schemars(length(min = 2, max = 32))]
    pub soak: String,
    /// Disruptive steps start only inside one of these; any time when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// Gates that wait for a person.
    #[serde(default)]
    pub approval: Approval,
    /// No new step starts while true; running installs are still observed.
    #[serde(default)]
    pub paused: bool,
}

fn default_max_concurrent_installs() -> i32 {
    10
}

/// A traffic node. Atlas syncs configuration (API accounts included) from the primary master
/// to every node, so a node uses the primary master's Secrets unless it names its own.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.region) && size(self.region) > 0").message("every traffic node needs a region (the geographic region its clients are in)"))]
pub struct TrafficNode {
    /// A short name, unique in the cluster.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("node name must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// The node's own https URL.
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''").message("endpoint must be an https:// URL with a host, such as https://atlas-t1.example.com"))]
    #[schemars(length(min = 1, max = 253))]
    pub endpoint: String,
    /// The region the node serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub region: Option<String>,
    /// Overrides the primary master's credentials Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// Overrides the primary master's CA Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
}

/// How traffic nodes leave rotation before their install (I2, I3).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrainPolicy {
    /// At most this fraction of each region's traffic nodes is out of rotation at once: more
    /// than 0, at most 0.5, so a region of two or more nodes always keeps one serving.
    #[serde(default = "default_fraction")]
    #[x_kube(validation = Rule::new("self > 0.0 && self <= 0.5").message("drain.fraction must be more than 0 and at most 0.5, so every region keeps nodes serving"))]
    pub fraction: f64,
    /// How long to wait for a drained node's connected clients to reach zero.
    #[serde(default = "default_drain_timeout")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("drain.timeout must be a duration such as 2h or 30m"))]
    #[schemars(length(min = 2, max = 32))]
    pub timeout: String,
    /// What happens when the timeout passes with clients still connected.
    #[serde(default)]
    pub on_timeout: OnDrainTimeout,
    /// When regions with a single traffic node are upgraded.
    #[serde(default)]
    pub single_node_regions: SingleNodeRegions,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        Self {
            fraction: default_fraction(),
            timeout: default_drain_timeout(),
            on_timeout: OnDrainTimeout::default(),
            single_node_regions: SingleNodeRegions::default(),
        }
    }
}

fn default_fraction() -> f64 {
    0.5
}

fn default_drain_timeout() -> String {
    "2h".to_owned()
}

/// The drain timeout policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum OnDrainTimeout {
    /// Keep waiting; sessions are never cut.
    #[default]
    Wait,
    /// Install anyway, cutting the remaining sessions; recorded on the node and in an Event.
    Proceed,
    /// Stop the upgrade with Stalled; nothing is installed on that node.
    Fail,
}

/// When a region's only traffic node is upgraded.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SingleNodeRegions {
    /// With the second batch, after the new primary serves.
    #[default]
    SecondBatch,
    /// With the first batch (the region has no serving node while it installs).
    FirstBatch,
}

/// What the operator observed and did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AtlasClusterStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled` and the domain conditions.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    #[schemars(length(max = 16))]
    pub conditions: Vec<Condition>,
    /// A one-word summary for people.
    #[serde(default)]
    pub phase: Phase,
    /// The lowest version any node runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub current_version: Option<String>,
    /// The version the operator is working toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub target_version: Option<String>,
    /// The master serving the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub primary: Option<String>,
    /// The master nodes as last observed.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 2))]
    pub masters: Vec<MemberStatus>,
    /// Per-region counts: readable at 500 nodes where a row per node would not be.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 256))]
    pub regions: Vec<RegionStatus>,
    /// The traffic node batches of the upgrade, chosen before anything is drained.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub batches: Vec<BatchStatus>,
    /// The batch being drained or upgraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_batch: Option<i32>,
    /// Nodes that need a person's attention (bounded; the count says how many in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub attention: Vec<NodeAttention>,
    /// The upgrade in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeStatus>,
    /// The backup taken for the current or last upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupRecord>,
    /// The last finished upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_upgrade: Option<LastUpgrade>,
}

/// One region's traffic nodes, counted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    /// The region.
    #[schemars(length(max = 63))]
    pub name: String,
    /// Nodes in the region.
    pub total: i32,
    /// Nodes accepting new client connections.
    pub serving: i32,
    /// Nodes out of rotation for the upgrade.
    pub drained: i32,
    /// Nodes on the target version.
    pub upgraded: i32,
}

/// The batch in progress.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchStatus {
    /// 1 for the nodes drained first (upgraded with the backup master), 2 for the rest.
    pub number: i32,
    /// Where the batch stands (Pending, Draining, Installing, Serving).
    #[schemars(length(max = 32))]
    pub state: String,
    /// The nodes in it.
    #[schemars(length(max = 1000), inner(length(max = 63)))]
    pub nodes: Vec<String>,
}

/// A node that needs attention, and why.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeAttention {
    /// The node.
    #[schemars(length(max = 63))]
    pub name: String,
    /// A CamelCase reason, as in conditions.
    #[schemars(length(max = 64))]
    pub reason: String,
    /// What is wrong and what to do.
    #[schemars(length(max = 1024))]
    pub message: String,
}
