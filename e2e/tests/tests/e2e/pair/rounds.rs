//! Whole pair upgrades: the asynchronous strategy across a base prerequisite and an
//! intermediate hop (two rounds, the roles swapped in each), and the synchronous one.

use anyhow::Result;
use baton_crds::conditions::types;
use baton_crds::status::Phase;
use baton_e2e::world::{PairWorld, condition};
use serde_json::json;

use super::{UPGRADE, assert_clean, assert_every_package_once};

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
