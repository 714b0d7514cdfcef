//! A finished upgrade, recorded as `lastUpgrade` (from, to, duration from the first
//! disruptive step, the operator's own measure of the swap).

use chrono::{DateTime, Utc};

use baton_crds::status::{LastUpgrade, StepAction, UpgradeStatus};

use super::status::CommonStatus;
use crate::time::{from_k8s, to_k8s};
use crate::upgrade::gates;

/// Every step succeeded: record the upgrade as the last one and clear it.
pub fn complete(status: &mut impl CommonStatus, upgrade: &UpgradeStatus, now: DateTime<Utc>) {
    let first_disruptive = upgrade
        .plan
        .iter()
        .find(|s| gates::is_disruptive(s.action))
        .and_then(|s| s.started_at.as_ref())
        .map(from_k8s);
    let started = first_disruptive
        .or_else(|| upgrade.started_at.as_ref().map(from_k8s))
        .unwrap_or(now);
    let swings: Vec<i64> = upgrade
        .plan
        .iter()
        .filter(|s| s.action == StepAction::SwingTraffic)
        .filter_map(|s| {
            Some(
                (from_k8s(s.finished_at.as_ref()?) - from_k8s(s.started_at.as_ref()?))
                    .num_seconds(),
            )
        })
        .collect();
    *status.last_upgrade_mut() = Some(LastUpgrade {
        id: upgrade.id.clone(),
        from_version: upgrade.from_version.clone(),
        to_version: upgrade.to_version.clone(),
        started_at: upgrade.started_at.clone(),
        finished_at: Some(to_k8s(now)),
        duration_seconds: (now - started).num_seconds(),
        // The operator's own view of the swap; the referee's measure is the one that counts.
        downtime_seconds: (!swings.is_empty()).then(|| swings.iter().sum()),
        sessions_cut: None,
    });
    *status.upgrade_mut() = None;
}
