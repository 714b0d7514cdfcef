//! What holds an upgrade until a person or the clock lets it go on: pause, an approval
//! gate, a maintenance window.

use anyhow::Result;
use baton_crds::conditions::types;
use baton_crds::status::Phase;
use baton_e2e::world::{PairWorld, condition, condition_text};
use serde_json::json;

use super::{UPGRADE, assert_clean};

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
