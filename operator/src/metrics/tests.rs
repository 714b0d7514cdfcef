//! The metrics' exposition, as dashboards read it, after reconciles and status changes.

use std::collections::HashSet;
use std::time::Duration;

use baton_crds::status::{LastUpgrade, Phase, StepAction, StepState, UpgradeStatus};

use super::{Metrics, StatusView};
use crate::time::to_k8s;
use baton_crds::status::PlanStep;

fn step(id: &str, action: StepAction, state: StepState, secs: Option<i64>) -> PlanStep {
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    PlanStep {
        id: id.into(),
        action,
        state,
        started_at: Some(to_k8s(start)),
        finished_at: secs.map(|s| to_k8s(start + chrono::Duration::seconds(s))),
        ..PlanStep::default()
    }
}

fn upgrade(steps: Vec<PlanStep>) -> UpgradeStatus {
    UpgradeStatus {
        id: "u-1".into(),
        plan: steps,
        ..UpgradeStatus::default()
    }
}

fn view<'a>(phase: Phase, upgrade: Option<&'a UpgradeStatus>) -> StatusView<'a> {
    StatusView {
        phase,
        stalled: phase == Phase::Stalled,
        upgrade,
        last_upgrade: None,
    }
}

#[test]
fn the_exposition_has_the_names_dashboards_know() {
    let m = Metrics::new();
    m.register_controller("appliancepair", "AppliancePair");
    m.reconciled("appliancepair", "requeue_after", Duration::from_millis(20));
    m.reconciled("appliancepair", "error", Duration::from_millis(20));
    m.set_leader("baton-operator", true);
    let text = m.encode();
    for name in [
        "controller_runtime_reconcile_total{controller=\"appliancepair\",result=\"requeue_after\"} 1",
        "controller_runtime_reconcile_errors_total{controller=\"appliancepair\"} 1",
        "controller_runtime_reconcile_time_seconds_count{controller=\"appliancepair\"} 2",
        "leader_election_master_status{name=\"baton-operator\"} 1",
        "baton_resources{kind=\"AppliancePair\",phase=\"UpToDate\"} 0",
        "baton_stalled_resources{kind=\"AppliancePair\"} 0",
        "baton_drain_wait_seconds_count 0",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn steps_are_counted_once_and_only_when_seen_finishing() {
    let m = Metrics::new();
    // Already finished when first seen (before this process started): not counted.
    let before = upgrade(vec![step(
        "s1",
        StepAction::Backup,
        StepState::Succeeded,
        Some(4),
    )]);
    m.observe(
        "AppliancePair",
        "ns",
        "site",
        &view(Phase::Preparing, Some(&before)),
    );
    let running = upgrade(vec![
        step("s1", StepAction::Backup, StepState::Succeeded, Some(4)),
        step("s2", StepAction::Install, StepState::Running, None),
    ]);
    m.observe(
        "AppliancePair",
        "ns",
        "site",
        &view(Phase::Upgrading, Some(&running)),
    );
    let done = upgrade(vec![
        step("s1", StepAction::Backup, StepState::Succeeded, Some(4)),
        step("s2", StepAction::Install, StepState::Succeeded, Some(90)),
    ]);
    // Seen twice: counted once.
    m.observe(
        "AppliancePair",
        "ns",
        "site",
        &view(Phase::Upgrading, Some(&done)),
    );
    m.observe(
        "AppliancePair",
        "ns",
        "site",
        &view(Phase::Upgrading, Some(&done)),
    );
    let text = m.encode();
    assert!(
        text.contains(
            "baton_step_duration_seconds_count{kind=\"AppliancePair\",action=\"Install\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "baton_step_duration_seconds_sum{kind=\"AppliancePair\",action=\"Install\"} 90.0"
        ),
        "{text}"
    );
    assert!(!text.contains("action=\"Backup\""), "{text}");
    assert!(
        text.contains("baton_resources{kind=\"AppliancePair\",phase=\"Upgrading\"} 1"),
        "{text}"
    );
}

#[test]
fn phases_stalled_and_downtime_follow_the_resources() {
    let m = Metrics::new();
    m.observe("AppliancePair", "a", "one", &view(Phase::Stalled, None));
    m.observe("AppliancePair", "b", "two", &view(Phase::Stalled, None));
    let last = LastUpgrade {
        downtime_seconds: Some(7),
        ..LastUpgrade::default()
    };
    let mut up = view(Phase::UpToDate, None);
    up.last_upgrade = Some(&last);
    m.observe("AppliancePair", "a", "three", &up);
    let text = m.encode();
    assert!(
        text.contains("baton_resources{kind=\"AppliancePair\",phase=\"Stalled\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("baton_stalled_resources{kind=\"AppliancePair\"} 2"),
        "{text}"
    );
    assert!(text.contains("baton_last_upgrade_downtime_seconds{kind=\"AppliancePair\",namespace=\"a\",name=\"three\"} 7"), "{text}");

    m.forget("AppliancePair", "a", "one");
    // A relist of namespace b that no longer has `two`.
    m.retain("AppliancePair", Some("b"), &HashSet::new());
    m.forget("AppliancePair", "a", "three");
    let text = m.encode();
    assert!(
        text.contains("baton_stalled_resources{kind=\"AppliancePair\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("baton_resources{kind=\"AppliancePair\",phase=\"Stalled\"} 0"),
        "{text}"
    );
    assert!(
        !text.contains("baton_last_upgrade_downtime_seconds{"),
        "{text}"
    );
}
