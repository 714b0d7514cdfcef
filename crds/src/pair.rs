//! `AppliancePair`: two appliances in a failover relationship, upgraded together.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::{
    Approval, BackupSpec, DURATION_RULE, MaintenanceWindow, Member, Strategy, TrafficSwing,
    VERSION_MESSAGE, VERSION_RULE,
};
use crate::status::{BackupRecord, LastUpgrade, MemberStatus, Phase, UpgradeStatus};

/// The desired state of a failover pair: the version both members should run, and how to get
/// there safely.
// Printer columns repeat `type_ = "string"` by design; clippy reads that as a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "baton.dev",
    version = "v1alpha1",
    kind = "AppliancePair",
    namespaced,
    doc = "A failover pair of BeyondTrust B Series appliances that baton upgrades to spec.version.",
    status = "AppliancePairStatus",
    shortname = "apair",
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
#[x_kube(validation = Rule::new("size(self.members) < 2 || self.members[0].name != self.members[1].name").message("the two members need distinct names"))]
#[x_kube(validation = Rule::new("size(self.members) < 2 || self.members[0].endpoint != self.members[1].endpoint").message("the two members need distinct endpoints: each appliance's own address, not the shared site hostname"))]
pub struct AppliancePairSpec {
    /// The product version both members should run, such as `24.3.2`.
    #[x_kube(validation = Rule::new(VERSION_RULE).message(VERSION_MESSAGE))]
    #[schemars(length(min = 1, max = 32))]
    pub version: String,
    /// Backup first with swapped roles (`Asynchronous`, default) or primary first (`Synchronous`).
    #[serde(default)]
    pub strategy: Strategy,
    /// The two appliances of the pair.
    #[x_kube(validation = Rule::new("size(self) == 2").message("a pair has exactly two members: the primary and its backup"))]
    #[schemars(length(max = 2))]
    pub members: Vec<Member>,
    /// How the site address moves to the new primary (asynchronous strategy).
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
    /// No new step starts while true; a running install is still observed.
    #[serde(default)]
    pub paused: bool,
}

/// R3's default: a day between product hops so deployed clients can follow.
pub fn default_soak() -> String {
    "24h".to_owned()
}

/// What the operator observed and did, for people and for GitOps tools.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliancePairStatus {
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
    /// The version both members run, or the lowest of the two while they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub current_version: Option<String>,
    /// The version the operator is working toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub target_version: Option<String>,
    /// The member serving the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub primary: Option<String>,
    /// Both members as last observed.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 2))]
    pub members: Vec<MemberStatus>,
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
