//! Resuming where status says, repeating nothing (I8), and following an install to its end
//! through the reboot of a base update (R4).

use serde_json::json;

use baton_crds::conditions::reasons;
use baton_crds::status::{StepAction, StepProgress, StepState};

use super::fixtures::*;
use crate::upgrade::command::{Command, Report, SyncKind};
use crate::upgrade::decide::Decision;
use crate::upgrade::fold::fold;
use crate::upgrade::observed::{Operation, OperationState, Unseen};
use crate::upgrade::verdict::Verdict;

#[test]
fn r4_an_install_is_done_only_when_the_appliance_says_so_even_through_a_reboot() {
    let u = base_install_running();
    let spec = pair_spec(json!({}));
    let mut observed = pair_seen("24.1.0");
    // Rebooting: the appliance does not answer. Still installing, never done.
    observed.operation = Some(Err(Unseen::transient(
        reasons::UNREACHABLE,
        "connection refused",
    )));
    let d = decide_pair(&spec, Some(&u), &observed, Knobs::default());
    assert!(
        matches!(d, Decision::Settle { ref update, .. } if matches!(update.verdict, Verdict::Wait { .. })),
        "{d:?}"
    );
    observed.operation = Some(Ok(Operation {
        state: OperationState::Succeeded,
        percent: Some(100),
        message: None,
        package: None,
    }));
    assert!(is_done(&decide_pair(
        &spec,
        Some(&u),
        &observed,
        Knobs::default()
    )));
}

#[test]
fn i8_a_step_is_recorded_running_before_its_first_command() {
    let u = upgrade(vec![install(
        "1/install/rs-b/product-24.3.2",
        "rs-b",
        "product-24.3.2",
        false,
        None,
    )]);
    let mut u = u;
    u.plan[0].state = StepState::Pending;
    let d = decide_on(&u, &pair_seen("24.1.0"));
    assert!(matches!(d, Decision::Start { index: 0, .. }), "{d:?}");
}

#[test]
fn i8_an_install_recorded_as_started_is_followed_not_started_again() {
    let started = started("i-7");
    let u = upgrade(vec![install(
        "1/install/rs-b/product-24.3.2",
        "rs-b",
        "product-24.3.2",
        false,
        started,
    )]);
    let mut observed = pair_seen("24.1.0");
    observed.operation = Some(Ok(Operation {
        state: OperationState::Running,
        percent: Some(40),
        message: None,
        package: None,
    }));
    let d = decide_on(&u, &observed);
    assert!(commands(&d).is_empty(), "{d:?}");
}

#[test]
fn i8_a_restarted_install_asks_with_the_same_idempotency_key() {
    let u = upgrade(vec![install(
        "1/install/rs-b/product-24.3.2",
        "rs-b",
        "product-24.3.2",
        false,
        None,
    )]);
    let key = |u: &baton_crds::status::UpgradeStatus| match commands(&decide_pair(
        &pair_spec(json!({})),
        Some(u),
        &pair_seen("24.1.0"),
        Knobs::default(),
    ))
    .as_slice()
    {
        [Command::StartInstall { key, .. }] => key.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(key(&u), key(&u.clone()));
    let mut retried = u.clone();
    retried.plan[0].attempt = 1;
    assert_ne!(key(&u), key(&retried), "a retry is a new install");
}

#[test]
fn i8_what_a_command_reported_is_recorded_in_the_step() {
    let u = upgrade(vec![sync_step("rs-a", None)]);
    let observed = pair_seen("24.1.0");
    let timings = crate::upgrade::timings::Timings::default();
    let common = common(&timings, &[], "24h", Knobs::default());
    let ctx = crate::upgrade::decide::StepContext {
        common: &common,
        upgrade: &u,
        index: 0,
        step: &u.plan[0],
        observed: &observed,
    };
    let command = Command::SyncNow {
        member: "rs-a".into(),
        kind: SyncKind::Failover,
    };
    let update = fold(&ctx, &[command], &[Report::Done]);
    assert_eq!(
        update.progress,
        Some(StepProgress::SyncStarted { attempt: 1 })
    );
}

fn sync_step(member: &str, attempt: Option<i32>) -> baton_crds::status::PlanStep {
    let mut s = step(
        &format!("1/sync-failover/{member}"),
        StepAction::SyncFailover,
        Some(member),
        StepState::Running,
    );
    s.progress = attempt.map(|attempt| StepProgress::SyncStarted { attempt });
    s
}

/// The Atlas plan of one round with m-a primary and m-b backup, as decided.
fn atlas_round_plan() -> (
    baton_crds::AtlasClusterSpec,
    baton_crds::status::UpgradeStatus,
) {
    let spec = atlas_spec(&[("eu-1", "eu"), ("eu-2", "eu")], json!({}));
    let mut observed = atlas_seen(
        "24.1.0",
        &[("eu-1", "eu", true, 0), ("eu-2", "eu", true, 0)],
    );
    observed.packages = Some(Ok(vec![product_offer()]));
    match decide_atlas(&spec, None, &[], &observed, Knobs::default()) {
        Decision::Plan(p) => (spec, p.upgrade),
        other => panic!("expected a plan, got {other:?}"),
    }
}

#[test]
fn i8_batch_one_installs_the_master_its_round_promotes_even_after_the_promotion() {
    let (spec, upgrade) = atlas_round_plan();
    let batches = vec![vec!["eu-1".to_owned()], vec!["eu-2".to_owned()]];
    // After the promotion m-b acts; a stale read replaying batch 1 must still name m-b, never
    // m-a, whose own install steps come later under their own keys.
    let mut observed = atlas_seen(
        "24.1.0",
        &[("eu-1", "eu", false, 0), ("eu-2", "eu", true, 0)],
    );
    observed.acting = Some(1);
    let timings = crate::upgrade::timings::Timings::default();
    let input = crate::upgrade::decide::atlas::AtlasInput {
        common: common(&timings, &[], "24h", Knobs::default()),
        spec: &spec,
        uid: "uid",
        generation: 1,
        upgrade: Some(&upgrade),
        batches: &batches,
        observed: &observed,
    };
    let targets = crate::upgrade::decide::batch::targets(&input, 1, 1);
    assert_eq!(targets, vec!["eu-1".to_owned(), "m-b".to_owned()]);
    assert!(
        crate::upgrade::decide::batch::targets(&input, 1, 2)
            .iter()
            .all(|t| !t.starts_with("m-"))
    );
}
