//! AppliancePair upgrades end to end: the real API server, the operator binary, a simulated
//! pair, and the referee's verdict.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use baton_crds::conditions::{reasons, types};
use baton_crds::status::Phase;
use baton_e2e::world::{PairWorld, condition, condition_text};
use baton_sim::{Fault, Report};
use serde_json::json;

const UPGRADE: Duration = Duration::from_secs(240);

/// Install starts per (appliance, package) from the referee's log.
fn starts(report: &Report) -> BTreeMap<(String, String), u32> {
    report
        .installs
        .iter()
        .map(|i| ((i.appliance.clone(), i.package_id.clone()), i.starts))
        .collect()
}

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

fn assert_every_package_once(report: &Report) {
    let starts = starts(report);
    assert_eq!(starts.len(), 8, "{starts:?}");
    assert!(
        starts.values().all(|n| *n == 1),
        "an install started more than once: {starts:?}"
    );
}

#[tokio::test]
async fn pair_asynchronous_upgrade_crosses_a_base_prerequisite_and_an_intermediate_hop()
-> Result<()> {
    let world = PairWorld::start("pair-async", |_| {}, "24.3.2", |_| {}).await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let status = pair.status.clone().unwrap_or_default();
    assert_eq!(status.current_version.as_deref(), Some("24.3.2"));
    assert_eq!(status.phase, Phase::UpToDate);
    assert!(
        status
            .members
            .iter()
            .all(|m| m.version.as_deref() == Some("24.3.2")),
        "{:?}",
        status.members
    );
    // Two rounds (24.1.0, then 24.3.2), each swapping the roles: rs-a serves again.
    assert_eq!(status.primary.as_deref(), Some("rs-a"));
    let last = status.last_upgrade.clone().unwrap_or_default();
    assert_eq!(
        (last.from_version.as_str(), last.to_version.as_str()),
        ("23.3.1", "24.3.2")
    );
    assert!(
        status
            .backup
            .as_ref()
            .is_some_and(|b| b.size_bytes > 0 && b.sha256.len() == 64)
    );

    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_package_once(&report);
    println!(
        "pair async: downtime_s={:.1} floor_s={:.1} (time scale {})",
        report.downtime_s, report.swap_floor_s, report.time_scale
    );
    Ok(())
}

#[tokio::test]
async fn pair_synchronous_upgrade_keeps_the_primary() -> Result<()> {
    let world = PairWorld::start(
        "pair-sync",
        |f| f.pairs[0].strategy = baton_sim::fleet::Strategy::Synchronous,
        "24.3.2",
        |s| s["strategy"] = json!("Synchronous"),
    )
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let status = pair.status.unwrap_or_default();
    assert_eq!(status.primary.as_deref(), Some("rs-a"));
    assert!(
        status
            .members
            .iter()
            .all(|m| m.version.as_deref() == Some("24.3.2"))
    );
    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_package_once(&report);
    Ok(())
}

#[tokio::test]
async fn pair_base_install_failure_on_the_backup_stalls_and_installs_nothing_more() -> Result<()> {
    let world = PairWorld::start("pair-basefail", |_| {}, "24.3.2", |_| {}).await?;
    world.fleet.inject(Fault::FailNextInstall {
        appliance: "rs-b".into(),
        package_kind: Some(baton_sim::fleet::PackageKind::Base),
        message: Some("disk write error during base update".into()),
    })?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::STALLED, "True"))
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::BASE_INSTALL_FAILED);
    assert!(
        message.contains("disk write error during base update"),
        "{message}"
    );
    assert!(
        message.contains("Do not restart the appliance"),
        "{message}"
    );
    assert!(!condition(&pair, types::READY, "True"));

    let report = world.finish().await?;
    assert_clean(&report);
    let started: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.starts > 0)
        .map(|i| (i.appliance.as_str(), i.package_id.as_str()))
        .collect();
    assert_eq!(
        started,
        [("rs-b", "base-5.1.0")],
        "installs after the failed base install"
    );
    Ok(())
}

#[tokio::test]
async fn pair_pause_holds_new_steps_and_resume_finishes() -> Result<()> {
    let world = PairWorld::start(
        "pair-pause",
        |_| {},
        "24.1.0",
        |s| s["paused"] = json!(true),
    )
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| {
            condition(p, types::PAUSED, "True")
                && p.status.as_ref().is_some_and(|s| s.phase == Phase::Paused)
        })
        .await?;
    assert!(
        pair.status
            .as_ref()
            .and_then(|s| s.upgrade.as_ref())
            .is_some(),
        "the plan is written even while paused"
    );
    assert!(
        world.fleet.report().installs.iter().all(|i| i.starts == 0),
        "installed while paused"
    );
    world.patch_spec(json!({ "paused": false })).await?;
    world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    Ok(())
}

#[tokio::test]
async fn pair_approval_gate_holds_until_approved() -> Result<()> {
    let world = PairWorld::start(
        "pair-approval",
        |_| {},
        "24.1.0",
        |s| s["approval"] = json!({ "gates": ["BeforePromotion"] }),
    )
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::AWAITING_APPROVAL, "True"))
        .await?;
    let id = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    assert!(
        message.contains(&format!("{id}/BeforePromotion")),
        "{message}"
    );
    // Held before promotion: the backup is upgraded, the primary still serves.
    assert_eq!(
        pair.status
            .as_ref()
            .and_then(|s| s.primary.clone())
            .as_deref(),
        Some("rs-a")
    );
    world.patch_spec(json!({ "approval": { "gates": ["BeforePromotion"], "approved": [format!("{id}/BeforePromotion")] } })).await?;
    world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    Ok(())
}

#[tokio::test]
async fn pair_maintenance_window_holds_disruptive_steps_but_not_the_backup() -> Result<()> {
    // A one-minute window that opened an hour ago: closed now, for most of a day.
    let start = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%H:%M")
        .to_string();
    let world = PairWorld::start(
        "pair-window",
        |_| {},
        "24.1.0",
        |s| s["maintenanceWindows"] = json!([{ "start": start, "duration": "1m" }]),
    )
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::AWAITING_WINDOW, "True"))
        .await?;
    let status = pair.status.clone().unwrap_or_default();
    assert_eq!(status.phase, Phase::WaitingForWindow);
    // Backup and sync ran outside the window; breaking failover did not.
    assert!(
        status.backup.is_some(),
        "the backup may run outside a window"
    );
    let upgrade = status.upgrade.unwrap_or_default();
    assert_eq!(
        upgrade.current_step.as_deref(),
        Some("1/break-failover/rs-a")
    );
    // Opening the window lets it finish.
    world
        .patch_spec(json!({ "maintenanceWindows": [] }))
        .await?;
    world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    Ok(())
}

#[tokio::test]
async fn pair_missing_secret_is_reported_on_the_resource() -> Result<()> {
    let world = PairWorld::start(
        "pair-nosecret",
        |_| {},
        "24.1.0",
        |s| s["members"][1]["credentialsSecretRef"]["name"] = json!("does-not-exist"),
    )
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(Duration::from_secs(60), |p| {
            condition(p, types::STALLED, "True")
        })
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::SECRET_NOT_FOUND);
    assert!(
        message.contains("does-not-exist") && message.contains("not found"),
        "{message}"
    );
    world.finish().await?;
    Ok(())
}

#[tokio::test]
async fn pair_wrong_ca_is_reported_on_the_resource() -> Result<()> {
    let world = PairWorld::start(
        "pair-wrongca",
        |_| {},
        "24.1.0",
        |s| s["members"][0]["caSecretRef"] = json!({ "name": "other-ca" }),
    )
    .await?;
    // A valid CA that did not sign the fleet's certificates.
    let other = baton_sim::start(baton_sim::FleetSpec::from_yaml(
        "appliances: [{ name: x, product: rs, version: 1.0.0, base_version: 1.0.0 }]",
    )?)
    .await?;
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "other-ca" }, "stringData": { "ca.crt": other.connection().ca_pem } });
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(world.client.clone(), &world.namespace.name);
    secrets
        .create(&Default::default(), &serde_json::from_value(secret)?)
        .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(Duration::from_secs(60), |p| {
            condition(p, types::STALLED, "True")
        })
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::UNTRUSTED_CERTIFICATE, "{message}");
    assert!(message.contains("caSecretRef"), "{message}");
    other.shutdown().await;
    world.finish().await?;
    Ok(())
}

/// The step that runs now, if any.
fn running_step(pair: &baton_crds::AppliancePair) -> Option<(String, bool)> {
    let upgrade = pair.status.as_ref()?.upgrade.as_ref()?;
    upgrade
        .plan
        .iter()
        .find(|s| s.state == baton_crds::status::StepState::Running)
        .map(|s| (s.id.clone(), s.reference.is_some()))
}

#[tokio::test]
async fn pair_operator_killed_at_every_step_boundary_repeats_nothing() -> Result<()> {
    let world = PairWorld::start("pair-kill", |_| {}, "24.1.0", |_| {}).await?;
    let mut killed_at: Vec<String> = Vec::new();
    let mut killed_mid_install = false;
    loop {
        let operator = world.operator(&format!("operator-{}", killed_at.len()))?;
        let seen = killed_at.clone();
        let mid_install_done = killed_mid_install;
        // Stop at the next step that starts (recorded Running), or, once, at an install the
        // appliance already accepted (its reference is recorded): the middle of an install.
        let pair = world
            .until(UPGRADE, move |p| {
                condition(p, types::READY, "True")
                    || running_step(p).is_some_and(|(id, referenced)| {
                        !seen.contains(&id)
                            || (!mid_install_done && id.contains("/install/") && referenced)
                    })
            })
            .await?;
        if condition(&pair, types::READY, "True") {
            break;
        }
        operator.kill().await?;
        if let Some((id, referenced)) = running_step(&pair) {
            if killed_at.contains(&id) && referenced {
                killed_mid_install = true;
            }
            killed_at.push(id);
        }
    }
    assert!(
        killed_mid_install,
        "never killed in the middle of an install"
    );
    let steps = world
        .api
        .get(&world.name)
        .await?
        .status
        .and_then(|s| s.last_upgrade)
        .map(|u| u.id);
    assert!(steps.is_some(), "the upgrade did not finish");
    assert!(killed_at.len() >= 15, "killed only at {killed_at:?}");
    let report = world.finish().await?;
    assert_clean(&report);
    let starts = starts(&report);
    assert_eq!(starts.len(), 4, "{starts:?}");
    assert!(
        starts.values().all(|n| *n == 1),
        "an install started more than once: {starts:?}"
    );
    println!(
        "killed the operator {} times: {killed_at:?}",
        killed_at.len()
    );
    Ok(())
}

#[tokio::test]
async fn pair_retry_after_a_failed_base_install_needs_one_approval_per_attempt() -> Result<()> {
    let world = PairWorld::start("pair-retry", |_| {}, "24.1.0", |_| {}).await?;
    let fail = || Fault::FailNextInstall {
        appliance: "rs-b".into(),
        package_kind: Some(baton_sim::fleet::PackageKind::Base),
        message: Some("disk write error".into()),
    };
    world.fleet.inject(fail())?;
    let _operator = world.operator("operator")?;
    let stalled = |token: &'static str| {
        move |p: &baton_crds::AppliancePair| {
            condition(p, types::STALLED, "True")
                && condition_text(p, types::STALLED).is_some_and(|(_, m)| m.contains(token))
        }
    };
    let pair = world.until(UPGRADE, stalled("-r1/Retry")).await?;
    let id = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .map(|u| u.id.clone())
        .unwrap_or_default();

    // A person fixes the appliance (the simulator's fault cleared), the next attempt will fail
    // again, and the person approves one retry.
    world.fleet.clear_faults("rs-b")?;
    world.fleet.inject(fail())?;
    world
        .patch_spec(json!({ "approval": { "approved": [format!("{id}-r1/Retry")] } }))
        .await?;
    // The retried install ran and failed: stalled again, asking for the second retry. The
    // first approval, still in spec, does not open it (R6: a person decides each time).
    world.until(UPGRADE, stalled("-r2/Retry")).await?;
    assert_eq!(
        world
            .fleet
            .report()
            .install("rs-b", "base-5.1.0")
            .map(|i| i.starts),
        Some(2),
        "the retry did not start a new install"
    );

    world.fleet.clear_faults("rs-b")?;
    world.patch_spec(json!({ "approval": { "approved": [format!("{id}-r1/Retry"), format!("{id}-r2/Retry")] } })).await?;
    world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    assert_eq!(
        report.install("rs-b", "base-5.1.0").map(|i| i.starts),
        Some(3)
    );
    Ok(())
}
