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

/// Sessions long enough (10 simulated hours) to outlast any drain timeout in these tests.
fn long_sessions(spec: &mut baton_sim::FleetSpec) {
    for a in &mut spec.appliances {
        if let Some(c) = a.clients.as_mut() {
            c.session_min = [600.0, 600.0];
            c.arrival_per_min = 1.0;
        }
    }
}

#[tokio::test]
async fn atlas_drain_timeout_with_proceed_finishes_and_reports_the_cut_sessions() -> Result<()> {
    let world = AtlasWorld::start("atlas-proceed", true, long_sessions, |s| {
        s["drain"] = serde_json::json!({ "timeout": "2s", "onTimeout": "Proceed" })
    })
    .await?;
    let _operator = world.operator("operator")?;
    let cluster = world
        .until(UPGRADE, |c| atlas_condition(c, types::READY, "True"))
        .await?;
    let cut = cluster
        .status
        .and_then(|s| s.last_upgrade)
        .and_then(|l| l.sessions_cut)
        .unwrap_or_default();
    let report = world.finish().await?;
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(
        report.sessions_cut_by_override > 0,
        "the referee saw no cut session"
    );
    assert!(cut > 0, "the resource reports no cut session");
    // Both count the sessions connected when each install starts; the operator reads the
    // count a few milliseconds before, so allow a session or two of difference.
    let referee = i64::try_from(report.sessions_cut_by_override).unwrap_or(i64::MAX);
    assert!(
        (cut - referee).abs() <= 2.max(referee / 50),
        "resource {cut} vs referee {referee}"
    );
    println!(
        "drain Proceed: resource reports {cut} sessions cut, referee {}",
        report.sessions_cut_by_override
    );
    Ok(())
}

#[tokio::test]
async fn atlas_drain_timeout_with_fail_stalls_and_installs_nothing_on_the_node() -> Result<()> {
    let world = AtlasWorld::start("atlas-fail", true, long_sessions, |s| {
        s["drain"] = serde_json::json!({ "timeout": "2s", "onTimeout": "Fail" })
    })
    .await?;
    let _operator = world.operator("operator")?;
    let cluster = world
        .until(UPGRADE, |c| atlas_condition(c, types::STALLED, "True"))
        .await?;
    let (reason, message) = cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == types::STALLED))
        .map(|c| (c.reason.clone(), c.message.clone()))
        .unwrap_or_default();
    assert_eq!(
        reason,
        baton_crds::conditions::reasons::DRAIN_TIMEOUT,
        "{message}"
    );
    let batch1 = cluster
        .status
        .as_ref()
        .and_then(|s| s.batches.first())
        .map(|b| b.nodes.clone())
        .unwrap_or_default();
    assert!(
        batch1.iter().any(|n| message.contains(n.as_str())),
        "the message names no node of batch 1: {message}"
    );
    let report = world.finish().await?;
    assert_clean(&report);
    let installed_on_batch1: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.starts > 0 && batch1.contains(&i.appliance))
        .collect();
    assert!(
        installed_on_batch1.is_empty(),
        "installed on a node that did not drain: {installed_on_batch1:?}"
    );
    Ok(())
}

#[tokio::test]
async fn atlas_base_install_failure_on_a_traffic_node_stalls_and_starts_nothing_more() -> Result<()>
{
    let world = AtlasWorld::start("atlas-basefail", true, |_| {}, |_| {}).await?;
    world.fleet.inject(baton_sim::Fault::FailNextInstall {
        appliance: "ap-1".into(),
        package_kind: Some(baton_sim::fleet::PackageKind::Base),
        message: Some("filesystem check failed".into()),
    })?;
    let _operator = world.operator("operator")?;
    let cluster = world
        .until(UPGRADE, |c| atlas_condition(c, types::STALLED, "True"))
        .await?;
    let message = cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == types::STALLED))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("ap-1") && message.contains("filesystem check failed"),
        "{message}"
    );
    assert!(
        message.contains("Do not restart the appliance"),
        "{message}"
    );
    let report = world.finish().await?;
    assert_clean(&report);
    let failed_at = report
        .install("ap-1", "base-5.2.0")
        .and_then(|i| i.finished_at_s)
        .unwrap_or(f64::MAX);
    let later: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.started_at_s.is_some_and(|t| t > failed_at))
        .collect();
    assert!(
        later.is_empty(),
        "installs started after the failed base install: {later:?}"
    );
    assert!(
        report
            .installs
            .iter()
            .all(|i| i.package_id != "product-24.3.2" || i.starts == 0),
        "a product install started after the base failure"
    );
    Ok(())
}

/// The step that runs now, if any.
fn running_step(c: &baton_crds::AtlasCluster) -> Option<String> {
    let upgrade = c.status.as_ref()?.upgrade.as_ref()?;
    upgrade
        .plan
        .iter()
        .find(|s| s.state == baton_crds::status::StepState::Running)
        .map(|s| s.id.clone())
}

#[tokio::test]
async fn atlas_operator_killed_at_every_phase_boundary_completes_cleanly() -> Result<()> {
    let world = AtlasWorld::start("atlas-kill", true, |_| {}, |_| {}).await?;
    let mut killed_at: Vec<String> = Vec::new();
    loop {
        let operator = world.operator(&format!("operator-{}", killed_at.len()))?;
        let seen = killed_at.clone();
        let cluster = world
            .until(UPGRADE, move |c| {
                atlas_condition(c, types::READY, "True")
                    || running_step(c).is_some_and(|id| !seen.contains(&id))
            })
            .await?;
        if atlas_condition(&cluster, types::READY, "True") {
            break;
        }
        operator.kill().await?;
        killed_at.extend(running_step(&cluster));
    }
    assert!(killed_at.len() >= 15, "killed only at {killed_at:?}");
    let report = world.finish().await?;
    assert_clean(&report);
    assert_eq!(
        report.dropped_sessions, 0,
        "dropped: {:?}",
        report.dropped_by_appliance
    );
    assert_every_package_once(&report, 10);
    println!(
        "killed the operator {} times: {killed_at:?}",
        killed_at.len()
    );
    Ok(())
}
