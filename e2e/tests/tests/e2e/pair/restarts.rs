//! The operator killed at every step boundary, and once in the middle of an install, of one
//! upgrade: each new process resumes from the status and repeats nothing.

use anyhow::Result;
use baton_crds::conditions::types;
use baton_e2e::world::{PairWorld, condition};

use super::{UPGRADE, assert_clean, starts};

/// The step that runs now, if any.
fn running_step(pair: &baton_crds::AppliancePair) -> Option<(String, bool)> {
    let upgrade = pair.status.as_ref()?.upgrade.as_ref()?;
    upgrade
        .plan
        .iter()
        .find(|s| s.state == baton_crds::status::StepState::Running)
        .map(|s| (s.id.clone(), s.progress.is_some()))
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
        // appliance already accepted (its progress is recorded): the middle of an install.
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
