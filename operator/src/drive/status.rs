//! What both kinds' statuses share, so one driver and one summary serve both.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use baton_crds::common::{BackupSpec, MaintenanceWindow, TrafficSwing};
use baton_crds::status::{BackupRecord, LastUpgrade, Phase, UpgradeStatus};
use baton_crds::{AppliancePairStatus, AtlasClusterStatus};

use crate::upgrade::gates;

/// The status fields every upgradeable kind has.
pub trait CommonStatus: serde::Serialize + Send {
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn phase_mut(&mut self) -> &mut Phase;
    fn observed_generation_mut(&mut self) -> &mut Option<i64>;
    fn upgrade_mut(&mut self) -> &mut Option<UpgradeStatus>;
    fn upgrade(&self) -> Option<&UpgradeStatus>;
    fn backup_mut(&mut self) -> &mut Option<BackupRecord>;
    fn last_upgrade_mut(&mut self) -> &mut Option<LastUpgrade>;
}

macro_rules! common_status {
    ($t:ty) => {
        impl CommonStatus for $t {
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn phase_mut(&mut self) -> &mut Phase {
                &mut self.phase
            }
            fn observed_generation_mut(&mut self) -> &mut Option<i64> {
                &mut self.observed_generation
            }
            fn upgrade_mut(&mut self) -> &mut Option<UpgradeStatus> {
                &mut self.upgrade
            }
            fn upgrade(&self) -> Option<&UpgradeStatus> {
                self.upgrade.as_ref()
            }
            fn backup_mut(&mut self) -> &mut Option<BackupRecord> {
                &mut self.backup
            }
            fn last_upgrade_mut(&mut self) -> &mut Option<LastUpgrade> {
                &mut self.last_upgrade
            }
        }
    };
}

common_status!(AppliancePairStatus);
common_status!(AtlasClusterStatus);

/// What the skeleton reads of a resource, the same for both kinds.
pub trait UpgradeResource:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The kind's name, for spans and messages.
    const KIND: &'static str;
    /// The kubectl short name, for the commands messages suggest.
    const SHORT_NAME: &'static str;
    /// The kind's status.
    type Status: CommonStatus + Clone + Default + Sync;
    /// The status as read.
    fn status_of(&self) -> Option<&Self::Status>;
    /// `spec.paused`.
    fn paused(&self) -> bool;
    /// `spec.maintenanceWindows`.
    fn windows(&self) -> &[MaintenanceWindow];
    /// `spec.approval.approved`.
    fn approvals(&self) -> &[String];
    /// `spec.soak`.
    fn soak(&self) -> &str;
    /// `spec.trafficSwing`.
    fn traffic_swing(&self) -> &TrafficSwing;
    /// `spec.backup`.
    fn backup_spec(&self) -> &BackupSpec;

    /// The `baton.dev/approve` annotation, if any.
    fn approve_annotation(&self) -> Option<&str> {
        self.meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(gates::APPROVE_ANNOTATION))
            .map(String::as_str)
    }
}

macro_rules! upgrade_resource {
    ($t:ty, $status:ty, $kind:literal, $short:literal) => {
        impl UpgradeResource for $t {
            const KIND: &'static str = $kind;
            const SHORT_NAME: &'static str = $short;
            type Status = $status;
            fn status_of(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn paused(&self) -> bool {
                self.spec.paused
            }
            fn windows(&self) -> &[MaintenanceWindow] {
                &self.spec.maintenance_windows
            }
            fn approvals(&self) -> &[String] {
                &self.spec.approval.approved
            }
            fn soak(&self) -> &str {
                &self.spec.soak
            }
            fn traffic_swing(&self) -> &TrafficSwing {
                &self.spec.traffic_swing
            }
            fn backup_spec(&self) -> &BackupSpec {
                &self.spec.backup
            }
        }
    };
}

upgrade_resource!(
    baton_crds::AppliancePair,
    AppliancePairStatus,
    "AppliancePair",
    "apair"
);
upgrade_resource!(
    baton_crds::AtlasCluster,
    AtlasClusterStatus,
    "AtlasCluster",
    "atlas"
);
