//! Upgrade quality as the referee measures it: makespan and downtime next to their floors
//! (what an orchestrator with zero reaction time would have achieved on the same fleet, with
//! the durations recorded in the same run). The figures are printed with the time scale;
//! `docs/src/figures.md` records them.

use std::time::Duration;

use anyhow::{Context, Result};
use baton_crds::conditions::types;
use baton_e2e::world::{AtlasWorld, PairWorld, atlas_condition, condition};
use baton_sim::Report;

/// The site's makespan and floor, both present, the floor positive and not above the makespan.
fn makespan_and_floor(report: &Report, group: &str) -> Result<(f64, f64)> {
    let site = report.site(group).context("no such site")?;
    let makespan = report
        .makespan_s(group)
        .with_context(|| format!("no makespan for {group}: {site:?}"))?;
    let floor = report
        .makespan_floor_s(group)
        .with_context(|| format!("no makespan floor for {group}: {site:?}"))?;
    assert!(floor > 0.0, "{site:?}");
    assert!(
        floor <= makespan,
        "the floor is above the makespan: {site:?}"
    );
    Ok((makespan, floor))
}

fn assert_clean(report: &Report) {
    assert!(
        report.violations.is_empty(),
        "referee violations: {:#?}",
        report.violations
    );
}

#[tokio::test]
async fn atlas_makespan_is_reported_next_to_its_floor() -> Result<()> {
    let world = AtlasWorld::start("atlas-measure", true, |_| {}, |_| {}).await?;
    let _operator = world.operator("operator")?;
    world
        .until(Duration::from_secs(300), |c| {
            atlas_condition(c, types::READY, "True")
        })
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    let (makespan, floor) = makespan_and_floor(&report, "atlas")?;
    let site = report.site("atlas").context("no atlas site")?;
    println!(
        "measure atlas (backup master, 8 traffic nodes in regions of 1, 2 and 5, one hop of 2 packages): \
         time_scale={} makespan_s={makespan:.0} makespan_floor_s={floor:.0} overhead_s={:.0} ratio={:.2} \
         downtime_s={:.1} swap_floor_s={:.1} dropped_sessions={}",
        report.time_scale,
        makespan - floor,
        makespan / floor,
        site.downtime_s,
        site.swap_floor_s,
        report.dropped_sessions,
    );
    Ok(())
}

#[tokio::test]
async fn pair_downtime_is_reported_next_to_its_floor() -> Result<()> {
    let world = PairWorld::start("pair-measure", |_| {}, "24.3.2", |_| {}).await?;
    let _operator = world.operator("operator")?;
    world
        .until(Duration::from_secs(240), |p| {
            condition(p, types::READY, "True")
        })
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    let site = report.site("site").context("no pair site")?;
    assert!(site.swap_floor_s > 0.0, "{site:?}");
    assert!(
        site.swap_floor_s <= site.downtime_s,
        "the downtime floor is above the downtime: {site:?}"
    );
    let (makespan, floor) = makespan_and_floor(&report, "site")?;
    println!(
        "measure pair (asynchronous, shared IP, two rounds of 2 packages): time_scale={} \
         downtime_s={:.1} swap_floor_s={:.1} makespan_s={makespan:.0} makespan_floor_s={floor:.0} \
         overhead_s={:.0} ratio={:.2} dropped_sessions={}",
        report.time_scale,
        site.downtime_s,
        site.swap_floor_s,
        makespan - floor,
        makespan / floor,
        report.dropped_sessions,
    );
    Ok(())
}
