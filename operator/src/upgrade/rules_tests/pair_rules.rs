//! Rules a failover pair's upgrade follows (procedures.md sections 0, 2, 3 and 8).

use serde_json::json;

use baton_crds::conditions::reasons;
use baton_crds::status::{StepAction, StepProgress, StepState};

use super::fixtures::*;
use crate::upgrade::command::Command;
use crate::upgrade::decide::Decision;
use crate::upgrade::observed::{Account, FailoverRole, Observed, Offer, OperationState};
use crate::upgrade::verdict::{Situation, Verdict};

fn offers() -> Vec<Offer> {
    let offer = |id: &str, base: bool, version: &str, requires: &[&str]| Offer {
        id: id.into(),
        base,
        version: v(version),
        requires: requires.iter().map(|s| (*s).to_owned()).collect(),
        installable: requires.is_empty(),
        staged: false,
    };
    vec![
        offer("base-5.2.0", true, "5.2.0", &[]),
        offer("product-24.3.2", false, "24.3.2", &["base-5.2.0"]),
    ]
}

fn planned(spec: serde_json::Value) -> Vec<baton_crds::status::PlanStep> {
    let mut observed = pair_seen("24.1.0");
    observed.packages = Some(Ok(offers()));
    match decide_pair(&pair_spec(spec), None, &observed, Knobs::default()) {
        Decision::Plan(p) => p.upgrade.plan,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn position(plan: &[baton_crds::status::PlanStep], id: &str) -> usize {
    plan.iter()
        .position(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn r1_the_backup_is_downloaded_from_the_primary_before_failover_breaks() {
    let plan = planned(json!({}));
    assert!(position(&plan, "1/backup/rs-a") < position(&plan, "1/break-failover/rs-a"));
    let u = running("1/backup/rs-a", StepAction::Backup, Some("rs-a"));
    let d = decide_on(&u, &pair_seen("24.1.0"));
    assert_eq!(
        commands(&d),
        vec![Command::Backup {
            member: "rs-a".into(),
            round: 1
        }]
    );
}

#[test]
#[ignore = "R1b: no fresh backup is planned between base and product updates yet"]
fn r1b_a_fresh_backup_is_taken_between_the_base_and_the_product_update() {
    let plan = planned(json!({}));
    let base = position(&plan, "1/install/rs-b/base-5.2.0");
    let product = position(&plan, "1/install/rs-b/product-24.3.2");
    assert!(
        plan[base..product]
            .iter()
            .any(|s| s.action == StepAction::Backup)
    );
}

#[test]
fn r2_base_software_installs_right_before_the_product_that_needs_it() {
    let plan = planned(json!({}));
    let base = position(&plan, "1/install/rs-b/base-5.2.0");
    let product = position(&plan, "1/install/rs-b/product-24.3.2");
    assert!(base < product);
    assert!(
        plan[base + 1..product]
            .iter()
            .all(|s| s.member.as_deref() == Some("rs-b"))
    );
}

#[test]
fn r6_a_failed_base_install_stops_with_the_vendor_s_advice() {
    let u = base_install_running();
    let mut observed = pair_seen("24.1.0");
    observed.operation = operation(OperationState::Failed, Some("disk"));
    let d = decide_on(&u, &observed);
    assert_eq!(failed_reason(&d), Some(reasons::BASE_INSTALL_FAILED));
    let Decision::Settle { update, .. } = d else {
        unreachable!()
    };
    let Verdict::Failed { message, .. } = update.verdict else {
        unreachable!()
    };
    assert!(
        message.contains("Do not restart the appliance"),
        "{message}"
    );
}

#[test]
fn r8_a_wrong_appliance_clock_stops_preflight() {
    let u = running("1/preflight", StepAction::Preflight, None);
    let mut observed = pair_seen("24.1.0");
    let account = |skew: i64| Account {
        full_command: true,
        backup: true,
        clock: now() + chrono::Duration::seconds(skew),
        ntp_synchronized: true,
    };
    observed.accounts = vec![
        ("rs-a".into(), Ok(account(0))),
        ("rs-b".into(), Ok(account(600))),
    ];
    let d = decide_on(&u, &observed);
    assert_eq!(failed_reason(&d), Some(reasons::PREFLIGHT_FAILED), "{d:?}");
    observed.accounts[1].1 = Ok(account(30));
    assert!(is_done(&decide_on(&u, &observed)));
}

#[test]
fn r8_preflight_refuses_members_on_different_versions() {
    let u = running("1/preflight", StepAction::Preflight, None);
    let mut observed = pair_seen("24.1.0");
    observed.members[1]
        .seen
        .as_mut()
        .map(|s| s.version = v("23.3.1"))
        .ok();
    let d = decide_on(&u, &observed);
    assert_eq!(failed_reason(&d), Some(reasons::PREFLIGHT_FAILED));
}

#[test]
fn i3_never_installs_on_a_member_with_clients_connected() {
    let u = upgrade(vec![install(
        "1/install/rs-b/product-24.3.2",
        "rs-b",
        "product-24.3.2",
        false,
        None,
    )]);
    let mut observed = pair_seen("24.1.0");
    observed.members[1]
        .seen
        .as_mut()
        .map(|s| s.clients = 3)
        .ok();
    let d = decide_on(&u, &observed);
    assert!(commands(&d).is_empty(), "{d:?}");
    observed.members[1]
        .seen
        .as_mut()
        .map(|s| s.clients = 0)
        .ok();
    let d = decide_on(&u, &observed);
    assert!(matches!(
        commands(&d).as_slice(),
        [Command::StartInstall {
            allow_connected_clients: false,
            ..
        }]
    ));
}

#[test]
fn i4_the_backup_is_verified_before_it_is_promoted() {
    let plan = planned(json!({}));
    assert!(position(&plan, "1/verify/rs-b") < position(&plan, "1/swing-traffic/rs-b"));
    // Still on the old version: no verdict of success, whatever the wait.
    let u = running("1/verify/rs-b", StepAction::Verify, Some("rs-b"));
    let d = decide_on(&u, &pair_seen("24.1.0"));
    assert!(!is_done(&d) && commands(&d).is_empty(), "{d:?}");
}

#[test]
fn i4_the_serving_primary_installs_last_in_the_asynchronous_strategy() {
    let plan = planned(json!({}));
    assert!(position(&plan, "1/swing-traffic/rs-b") < position(&plan, "1/install/rs-a/base-5.2.0"));
}

#[test]
fn i5_backup_and_sync_complete_before_failover_breaks() {
    let plan = planned(json!({}));
    let brk = position(&plan, "1/break-failover/rs-a");
    assert!(
        position(&plan, "1/backup/rs-a") < brk && position(&plan, "1/sync-failover/rs-a") < brk
    );
    let u = upgrade(vec![PlanStep2::sync("rs-a", Some(1))]);
    let mut observed = pair_seen("24.1.0");
    observed.operation = operation(OperationState::Running, None);
    assert!(!is_done(&decide_on(&u, &observed)));
}

#[test]
#[ignore = "I5: the backup and sync are not yet retaken when a gate held the break for longer than allowed"]
fn i5_a_backup_older_than_allowed_is_taken_again_before_the_break() {
    let mut backup = step(
        "1/backup/rs-a",
        StepAction::Backup,
        Some("rs-a"),
        StepState::Succeeded,
    );
    backup.finished_at = Some(crate::upgrade::time::to_k8s(
        now() - chrono::Duration::hours(30),
    ));
    let sync = PlanStep2::done(step(
        "1/sync-failover/rs-a",
        StepAction::SyncFailover,
        Some("rs-a"),
        StepState::Succeeded,
    ));
    let brk = step(
        "1/break-failover/rs-a",
        StepAction::BreakFailover,
        Some("rs-a"),
        StepState::Pending,
    );
    let u = upgrade(vec![backup, sync, brk]);
    let d = decide_on(&u, &pair_seen("24.1.0"));
    assert!(
        !matches!(d, Decision::Start { .. }),
        "a 30-hour-old backup must be taken again: {d:?}"
    );
}

#[test]
fn i7_never_establishes_failover_between_different_versions() {
    let u = running(
        "1/establish-failover/rs-b",
        StepAction::EstablishFailover,
        Some("rs-b"),
    );
    let mut observed = pair_seen("24.3.2");
    observed.members[0]
        .seen
        .as_mut()
        .map(|s| s.version = v("24.1.0"))
        .ok();
    let d = decide_on(&u, &observed);
    assert_eq!(failed_reason(&d), Some(reasons::PREFLIGHT_FAILED));
    assert!(commands(&d).is_empty());
    let d = decide_on(&u, &pair_seen("24.3.2"));
    assert!(matches!(
        commands(&d).as_slice(),
        [Command::EstablishFailover { .. }]
    ));
}

#[test]
fn up_to_date_pairs_are_left_alone() {
    let d = decide_pair(
        &pair_spec(json!({})),
        None,
        &pair_seen("24.3.2"),
        Knobs::default(),
    );
    assert!(
        matches!(
            d,
            Decision::Hold {
                situation: Situation::UpToDate(_),
                ..
            }
        ),
        "{d:?}"
    );
    let mut broken: Observed = pair_seen("24.3.2");
    broken.members[1].seen = Ok(healthy("24.3.2", FailoverRole::None, false));
    assert!(is_stalled(&decide_pair(
        &pair_spec(json!({})),
        None,
        &broken,
        Knobs::default()
    )));
}

/// Small builders local to these tests.
struct PlanStep2;

impl PlanStep2 {
    fn sync(member: &str, attempt: Option<i32>) -> baton_crds::status::PlanStep {
        let mut s = step(
            &format!("1/sync-failover/{member}"),
            StepAction::SyncFailover,
            Some(member),
            StepState::Running,
        );
        s.progress = attempt.map(|attempt| StepProgress::SyncStarted { attempt });
        s
    }

    fn done(mut s: baton_crds::status::PlanStep) -> baton_crds::status::PlanStep {
        s.finished_at = Some(crate::upgrade::time::to_k8s(
            now() - chrono::Duration::hours(29),
        ));
        s
    }
}
