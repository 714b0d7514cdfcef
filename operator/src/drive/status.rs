//! What both kinds' statuses share, so one driver and one summary serve both.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use baton_crds::status::{BackupRecord, LastUpgrade, Phase, UpgradeStatus};
use baton_crds::{AppliancePairStatus, AtlasClusterStatus};

/// The status fields every upgradeable kind has.
pub trait CommonStatus: serde::Serialize + Send {
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn phase_mut(&mut self) -> &mut Phase;
    fn observed_generation_mut(&mut self) -> &mut Option<i64>;
    fn upgrade_mut(&mut self) -> &mut Option<UpgradeStatus>;
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
