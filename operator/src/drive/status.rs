//! What both kinds' statuses share, so one driver and one summary serve both.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use baton_crds::common::MaintenanceWindow;
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

/// What the driver reads of a resource's spec, the same for both kinds.
pub trait UpgradeResource: kube::Resource<DynamicType = ()> + Send + Sync {
    /// The kind's name, for spans and messages.
    const KIND: &'static str;
    /// `spec.paused`.
    fn paused(&self) -> bool;
    /// `spec.maintenanceWindows`.
    fn windows(&self) -> &[MaintenanceWindow];
    /// `spec.approval.approved`.
    fn approvals(&self) -> &[String];

    /// Whether `<id>/<gate>` was approved, in spec or in the `baton.dev/approve` annotation.
    fn approved(&self, id: &str, gate: &str) -> bool {
        let annotation = self
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(gates::APPROVE_ANNOTATION));
        gates::is_approved(id, gate, self.approvals(), annotation.map(String::as_str))
    }
}

macro_rules! upgrade_resource {
    ($t:ty, $kind:literal) => {
        impl UpgradeResource for $t {
            const KIND: &'static str = $kind;
            fn paused(&self) -> bool {
                self.spec.paused
            }
            fn windows(&self) -> &[MaintenanceWindow] {
                &self.spec.maintenance_windows
            }
            fn approvals(&self) -> &[String] {
                &self.spec.approval.approved
            }
        }
    };
}

upgrade_resource!(baton_crds::AppliancePair, "AppliancePair");
upgrade_resource!(baton_crds::AtlasCluster, "AtlasCluster");
