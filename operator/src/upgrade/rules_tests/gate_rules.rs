//! The gates every step passes (R3, R5, R6, I6, I9): soak, maintenance windows, the pause,
//! and approvals of a retry after a failure.

use serde_json::json;

use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, StepAction, StepState};

use super::fixtures::*;
use crate::upgrade::decide::Decision;
use crate::upgrade::verdict::Situation;

fn pending(action: StepAction, member: Option<&str>) -> baton_crds::status::UpgradeStatus {
    upgrade(vec![step("1/x", action, member, StepState::Pending)])
}

fn held_phase(d: &Decision) -> Option<Phase> {
    match d {
        Decision::Hold {
            situation: Situation::Held { phase, .. },
            ..
        } => Some(*phase),
        _ => None,
    }
}

/// A window on Mondays 02:00-04:00 UTC; `now()` is a Saturday night.
fn monday_window() -> serde_json::Value {
    json!({"maintenanceWindows": [{"days": ["Mon"], "start": "02:00", "duration": "2h"}]})
}

#[test]
fn r3_the_next_product_hop_waits_for_the_soak() {
    let mut sync = step(
        "1/sync-failover/rs-b",
        StepAction::SyncFailover,
        Some("rs-b"),
        StepState::Succeeded,
    );
    sync.finished_at = Some(crate::upgrade::time::to_k8s(
        now() - chrono::Duration::hours(3),
    ));
    let soak = step("1/soak", StepAction::Soak, None, StepState::Running);
    let u = upgrade(vec![sync, soak]);
    let d = decide_pair(
        &pair_spec(json!({"soak": "24h"})),
        Some(&u),
        &pair_seen("24.1.0"),
        Knobs::default(),
    );
    assert!(!is_done(&d), "3 hours into a 24-hour soak: {d:?}");
    let later = Knobs {
        now: Some(now() + chrono::Duration::hours(21)),
        ..Knobs::default()
    };
    assert!(is_done(&decide_pair(
        &pair_spec(json!({"soak": "24h"})),
        Some(&u),
        &pair_seen("24.1.0"),
        later
    )));
}

#[test]
fn r5_i9_disruptive_steps_wait_for_a_maintenance_window() {
    let spec = pair_spec(monday_window());
    for action in [
        StepAction::BreakFailover,
        StepAction::Install,
        StepAction::SwingTraffic,
    ] {
        let d = decide_pair(
            &spec,
            Some(&pending(action, Some("rs-b"))),
            &pair_seen("24.1.0"),
            Knobs::default(),
        );
        assert_eq!(
            held_phase(&d),
            Some(Phase::WaitingForWindow),
            "{action:?}: {d:?}"
        );
    }
    let monday = Knobs {
        now: Some(now() + chrono::Duration::hours(27) + chrono::Duration::minutes(30)),
        ..Knobs::default()
    };
    let d = decide_pair(
        &spec,
        Some(&pending(StepAction::Install, Some("rs-b"))),
        &pair_seen("24.1.0"),
        monday,
    );
    assert!(
        matches!(d, Decision::Start { .. }),
        "inside the window: {d:?}"
    );
}

#[test]
fn r5_preparation_runs_outside_a_window() {
    let spec = pair_spec(monday_window());
    for action in [
        StepAction::Preflight,
        StepAction::Backup,
        StepAction::SyncFailover,
        StepAction::Stage,
    ] {
        let d = decide_pair(
            &spec,
            Some(&pending(action, Some("rs-a"))),
            &pair_seen("24.1.0"),
            Knobs::default(),
        );
        assert!(matches!(d, Decision::Start { .. }), "{action:?}: {d:?}");
    }
}

#[test]
fn i9_no_step_starts_while_paused() {
    let paused = Knobs {
        paused: true,
        ..Knobs::default()
    };
    for action in [StepAction::Backup, StepAction::Install, StepAction::Drain] {
        let d = decide_pair(
            &pair_spec(json!({})),
            Some(&pending(action, Some("rs-b"))),
            &pair_seen("24.1.0"),
            paused,
        );
        assert_eq!(held_phase(&d), Some(Phase::Paused), "{action:?}: {d:?}");
    }
}

#[test]
fn r6_i6_a_failed_step_waits_for_the_approval_of_one_retry() {
    let mut failed = install(
        "1/install/rs-b/base-5.2.0",
        "rs-b",
        "base-5.2.0",
        true,
        None,
    );
    failed.state = StepState::Failed;
    failed.reason = Some(reasons::BASE_INSTALL_FAILED.into());
    let mut u = upgrade(vec![failed]);
    let spec = pair_spec(json!({}));
    let d = decide_pair(&spec, Some(&u), &pair_seen("24.1.0"), Knobs::default());
    assert!(is_stalled(&d) && commands(&d).is_empty(), "{d:?}");
    let approved = vec!["u-000001-r1/Retry".to_owned()];
    let k = Knobs {
        approved: &approved,
        ..Knobs::default()
    };
    assert!(matches!(
        decide_pair(&spec, Some(&u), &pair_seen("24.1.0"), k),
        Decision::Retry { index: 0, .. }
    ));
    // Once that retry was used, the same approval does not open another (I6).
    u.retries = 1;
    assert!(is_stalled(&decide_pair(
        &spec,
        Some(&u),
        &pair_seen("24.1.0"),
        k
    )));
}

#[test]
fn an_approval_gate_waits_for_its_own_approval() {
    let mut gate = step(
        "1/approval/BeforeUpgrade",
        StepAction::Approval,
        None,
        StepState::Running,
    );
    gate.package = Some("BeforeUpgrade".into());
    let u = upgrade(vec![gate]);
    let spec = pair_spec(json!({}));
    let other = vec!["u-000001/BeforePromotion".to_owned()];
    let d = decide_pair(
        &spec,
        Some(&u),
        &pair_seen("24.1.0"),
        Knobs {
            approved: &other,
            ..Knobs::default()
        },
    );
    assert!(!is_done(&d));
    let right = vec!["u-000001/BeforeUpgrade".to_owned()];
    assert!(is_done(&decide_pair(
        &spec,
        Some(&u),
        &pair_seen("24.1.0"),
        Knobs {
            approved: &right,
            ..Knobs::default()
        }
    )));
}
