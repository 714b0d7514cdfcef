//! The `Manual` swing provider: the upgrade waits at each swing until a person has moved the
//! traffic (here, the test moving the referee's site) and approved it by annotation.

use std::time::Duration;

use anyhow::Result;
use baton_crds::AppliancePair;
use baton_crds::conditions::types;
use baton_crds::status::StepState;
use baton_e2e::referee::{assert_clean, assert_every_install_once};
use baton_e2e::world::{PairWorld, condition, condition_text};
use serde_json::json;

use super::{
    APPROVE_ANNOTATION, SITE, UPGRADE, assert_swung_before_installing, external_swing,
    first_install_on, member_routes, upgraded,
};

#[tokio::test]
async fn pair_manual_swing_waits_for_the_person_and_then_finishes() -> Result<()> {
    let world = PairWorld::start("swing-manual", external_swing, "24.1.0", |s| {
        s["trafficSwing"] = json!({ "provider": "Manual" });
    })
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::AWAITING_APPROVAL, "True"))
        .await?;
    let upgrade = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.clone())
        .unwrap_or_default();
    let approval = format!("{}/TrafficSwing", upgrade.id);
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    let rs_b = member_routes(&pair)
        .into_iter()
        .find(|(_, name)| name == "rs-b")
        .map(|(endpoint, _)| endpoint)
        .unwrap_or_default();
    assert!(message.contains(&approval), "{message}");
    assert!(
        message.contains("rs-b") && message.contains(&rs_b),
        "{message}"
    );
    let waiting: Vec<_> = upgrade
        .plan
        .iter()
        .filter(|s| s.state == StepState::Running)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(waiting, ["1/swing-traffic/rs-b"]);

    // It keeps waiting: a few gated requeues later nothing has moved on.
    let moved_on = world
        .until(Duration::from_secs(3), |p| {
            !condition(p, types::AWAITING_APPROVAL, "True")
        })
        .await;
    assert!(
        moved_on.is_err(),
        "went on without the person: {moved_on:?}"
    );
    // The backup is upgraded; the old primary, still serving, was not touched.
    let report = world.fleet.report();
    assert_eq!(
        first_install_on(&report, "rs-a"),
        None,
        "{:#?}",
        report.installs
    );
    let on_b: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.appliance == "rs-b")
        .map(|i| (i.package_id.as_str(), i.starts))
        .collect();
    assert_eq!(
        on_b,
        [("base-5.1.0", 1), ("product-24.1.0", 1)],
        "{:#?}",
        report.installs
    );

    // The person moves DNS, then says so.
    world.fleet.set_site_target(SITE, "rs-b")?;
    world.annotate(APPROVE_ANNOTATION, &approval).await?;
    let pair = world.until(UPGRADE, upgraded).await?;
    assert_eq!(
        pair.status.as_ref().and_then(|s| s.primary.as_deref()),
        Some("rs-b")
    );

    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 4);
    assert_swung_before_installing(&report, "rs-b", "rs-a");
    println!(
        "pair Manual swing: downtime_s={:.1} floor_s={:.1} (time scale {})",
        report.downtime_s, report.swap_floor_s, report.time_scale
    );
    Ok(())
}

/// The upgrade waits at the swing of `round` for the person, with the site still elsewhere.
fn awaiting_swing(p: &AppliancePair, round: i32) -> bool {
    condition(p, types::AWAITING_APPROVAL, "True")
        && p.status
            .as_ref()
            .and_then(|s| s.upgrade.as_ref())
            .and_then(|u| u.current_step.as_deref())
            .is_some_and(|c| c.starts_with(&format!("{round}/swing-traffic/")))
}

#[tokio::test]
async fn pair_manual_swing_asks_the_person_again_in_every_round() -> Result<()> {
    // Two rounds (24.1.0, then 24.3.2): the site goes to rs-b, then back to rs-a.
    let world = PairWorld::start("swing-manual2", external_swing, "24.3.2", |s| {
        s["trafficSwing"] = json!({ "provider": "Manual" });
    })
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world.until(UPGRADE, |p| awaiting_swing(p, 1)).await?;
    let id = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let first = format!("{id}/TrafficSwing");
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    assert!(message.contains(&first), "{message}");
    world.fleet.set_site_target(SITE, "rs-b")?;
    world.annotate(APPROVE_ANNOTATION, &first).await?;

    // Round 2 swings back to rs-a: the first confirmation does not stand for it.
    let pair = world.until(UPGRADE, |p| awaiting_swing(p, 2)).await?;
    let second = format!("{id}-round2/TrafficSwing");
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    assert!(
        message.contains(&second) && message.contains("rs-a"),
        "{message}"
    );
    // rs-b serves the site again and was not touched in round 2.
    let report = world.fleet.report();
    let round_2_on_b: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.appliance == "rs-b" && i.starts > 0)
        .filter(|i| ["base-5.2.0", "product-24.3.2"].contains(&i.package_id.as_str()))
        .map(|i| i.package_id.clone())
        .collect();
    assert!(round_2_on_b.is_empty(), "{round_2_on_b:?}");

    world.fleet.set_site_target(SITE, "rs-a")?;
    world
        .annotate(APPROVE_ANNOTATION, &format!("{first},{second}"))
        .await?;
    let pair = world
        .until(UPGRADE, |p| {
            condition(p, types::READY, "True")
                && p.status
                    .as_ref()
                    .is_some_and(|s| s.current_version.as_deref() == Some("24.3.2"))
        })
        .await?;
    assert_eq!(
        pair.status.as_ref().and_then(|s| s.primary.as_deref()),
        Some("rs-a")
    );
    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 8);
    println!(
        "pair Manual swing, two rounds: downtime_s={:.1} floor_s={:.1} (time scale {})",
        report.downtime_s, report.swap_floor_s, report.time_scale
    );
    Ok(())
}
