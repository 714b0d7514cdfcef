//! AtlasCluster upgrades end to end, judged by the referee.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use baton_crds::conditions::types;
use baton_e2e::world::{AtlasWorld, atlas_condition};
use baton_sim::Report;

const UPGRADE: Duration = Duration::from_secs(300);

fn assert_clean(report: &Report) {
    assert!(
        report.violations.is_empty(),
        "referee violations: {:#?}",
        report.violations
    );
    assert_eq!(
        report.duplicate_requests, 0,
        "repeated requests: {:#?}",
        report.duplicates
    );
}

/// Every appliance got every package exactly once.
fn assert_every_package_once(report: &Report, appliances: usize) {
    let starts: BTreeMap<(String, String), u32> = report
        .installs
        .iter()
        .map(|i| ((i.appliance.clone(), i.package_id.clone()), i.starts))
        .collect();
    assert_eq!(starts.len(), appliances * 2, "{starts:?}");
    assert!(
        starts.values().all(|n| *n == 1),
        "an install started more than once: {starts:?}"
    );
}

#[tokio::test]
async fn atlas_with_a_backup_master_upgrades_region_by_region_without_cutting_a_session()
-> Result<()> {
    let world = AtlasWorld::start("atlas-backup", true, |_| {}, |_| {}).await?;
    let _operator = world.operator("operator")?;
    let cluster = world
        .until(UPGRADE, |c| atlas_condition(c, types::READY, "True"))
        .await?;
    let status = cluster.status.unwrap_or_default();
    assert_eq!(status.current_version.as_deref(), Some("24.3.2"));
    assert_eq!(
        status.primary.as_deref(),
        Some("master-b"),
        "the roles stay swapped"
    );
    assert!(
        status
            .regions
            .iter()
            .all(|r| r.upgraded == r.total && r.serving == r.total),
        "{:?}",
        status.regions
    );
    let report = world.finish().await?;
    assert_clean(&report);
    assert_eq!(
        report.dropped_sessions, 0,
        "dropped: {:?}",
        report.dropped_by_appliance
    );
    assert_every_package_once(&report, 10);
    println!(
        "atlas with backup master: {} downtime_s={:.1}",
        report.summary_line(),
        report.downtime_s
    );
    Ok(())
}

#[tokio::test]
async fn atlas_without_a_backup_master_upgrades_with_the_same_guarantees() -> Result<()> {
    let world = AtlasWorld::start("atlas-single", false, |_| {}, |_| {}).await?;
    let _operator = world.operator("operator")?;
    let cluster = world
        .until(UPGRADE, |c| atlas_condition(c, types::READY, "True"))
        .await?;
    let status = cluster.status.unwrap_or_default();
    assert_eq!(status.current_version.as_deref(), Some("24.3.2"));
    let report = world.finish().await?;
    assert_clean(&report);
    assert_eq!(
        report.dropped_sessions, 0,
        "dropped: {:?}",
        report.dropped_by_appliance
    );
    assert_every_package_once(&report, 9);
    Ok(())
}
