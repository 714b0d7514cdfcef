//! Builders for the rule tests: specs from JSON (as a person writes them), observations and
//! plans by hand, one fixed clock.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use baton_crds::status::{PlanStep, StepAction, StepProgress, StepState, UpgradeStatus};
use baton_crds::{AppliancePairSpec, AtlasClusterSpec};

use crate::upgrade::command::Command;
use crate::upgrade::decide::atlas::AtlasInput;
use crate::upgrade::decide::pair::PairInput;
use crate::upgrade::decide::{Approvals, Common, Decision};
use crate::upgrade::observed::{
    FailoverRole, MemberView, NodeView, Observed, Offer, Operation, OperationState, Seen, Unseen,
};
use crate::upgrade::timings::Timings;
use crate::upgrade::version::Version;

/// Saturday 2026-12-05 23:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 23, 0, 0)
        .single()
        .unwrap_or_default()
}

pub fn v(s: &str) -> Version {
    s.parse().unwrap_or_default()
}

fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

fn member(name: &str) -> Value {
    json!({"name": name, "endpoint": format!("https://{name}.example.com"),
           "credentialsSecretRef": {"name": "api"}, "caSecretRef": {"name": "ca"}})
}

/// A pair spec: rs-a and rs-b to 24.3.2, with `extra` fields over the defaults.
pub fn pair_spec(extra: Value) -> AppliancePairSpec {
    let mut spec = json!({"version": "24.3.2", "members": [member("rs-a"), member("rs-b")],
        "trafficSwing": {"provider": "SharedIp"}, "backup": {"destination": {"secret": {}}}});
    merge(&mut spec, extra);
    serde_json::from_value(spec).unwrap_or_else(|e| panic!("pair spec: {e}"))
}

/// An Atlas spec: masters m-a (primary) and m-b, and `nodes` as (name, region).
pub fn atlas_spec(nodes: &[(&str, &str)], extra: Value) -> AtlasClusterSpec {
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|(n, r)| json!({"name": n, "endpoint": format!("https://{n}.example.com"), "region": r}))
        .collect();
    let mut spec = json!({"version": "24.3.2", "primaryMaster": member("m-a"), "backupMaster": member("m-b"),
        "trafficNodes": nodes, "trafficSwing": {"provider": "SharedIp"}, "backup": {"destination": {"secret": {}}}});
    merge(&mut spec, extra);
    serde_json::from_value(spec).unwrap_or_else(|e| panic!("atlas spec: {e}"))
}

/// A healthy appliance on `version`.
pub fn healthy(version: &str, role: FailoverRole, established: bool) -> Seen {
    Seen {
        version: v(version),
        base_version: v("5.2.0"),
        healthy: true,
        role,
        established,
        holds_site_address: role == FailoverRole::Primary,
        ..Seen::default()
    }
}

/// rs-a primary and rs-b backup, both on `version`, in failover.
pub fn pair_seen(version: &str) -> Observed {
    Observed {
        members: vec![
            MemberView {
                name: "rs-a".into(),
                seen: Ok(healthy(version, FailoverRole::Primary, true)),
            },
            MemberView {
                name: "rs-b".into(),
                seen: Ok(healthy(version, FailoverRole::Backup, true)),
            },
        ],
        ..Observed::default()
    }
}

/// Masters m-a (acting) and m-b on `version`, and `nodes` (name, region, accepting, clients).
pub fn atlas_seen(version: &str, nodes: &[(&str, &str, bool, u64)]) -> Observed {
    let nodes: BTreeMap<String, NodeView> = nodes
        .iter()
        .enumerate()
        .map(|(i, (n, r, accepting, clients))| {
            let view = NodeView {
                name: (*n).to_owned(),
                appliance_id: format!("id-{i}"),
                region: Some((*r).to_owned()),
                accepting: *accepting,
                clients: *clients,
                version: Some(v(version)),
            };
            ((*n).to_owned(), view)
        })
        .collect();
    Observed {
        members: vec![
            MemberView {
                name: "m-a".into(),
                seen: Ok(healthy(version, FailoverRole::Primary, true)),
            },
            MemberView {
                name: "m-b".into(),
                seen: Ok(healthy(version, FailoverRole::Backup, true)),
            },
        ],
        acting: Some(0),
        nodes: Some(Ok(nodes)),
        ..Observed::default()
    }
}

/// A plan step.
pub fn step(id: &str, action: StepAction, member: Option<&str>, state: StepState) -> PlanStep {
    PlanStep {
        id: id.into(),
        action,
        round: 1,
        member: member.map(str::to_owned),
        version: Some("24.3.2".into()),
        state,
        ..PlanStep::default()
    }
}

/// A batch step of batch `n`.
pub fn batch_step(
    id: &str,
    action: StepAction,
    n: i32,
    package: Option<&str>,
    state: StepState,
) -> PlanStep {
    PlanStep {
        batch: Some(n),
        package: package.map(str::to_owned),
        ..step(id, action, None, state)
    }
}

/// An install step with its package.
pub fn install(
    id: &str,
    member: &str,
    package: &str,
    base: bool,
    progress: Option<StepProgress>,
) -> PlanStep {
    PlanStep {
        package: Some(package.into()),
        base_software: base,
        progress,
        ..step(id, StepAction::Install, Some(member), StepState::Running)
    }
}

/// An upgrade whose earlier steps succeeded, then `steps`.
pub fn upgrade(steps: Vec<PlanStep>) -> UpgradeStatus {
    UpgradeStatus {
        id: "u-000001".into(),
        from_version: "24.1.0".into(),
        to_version: "24.3.2".into(),
        plan: steps,
        ..UpgradeStatus::default()
    }
}

/// What the tests vary about the resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Knobs<'a> {
    pub paused: bool,
    pub approved: &'a [String],
    pub now: Option<DateTime<Utc>>,
}

pub fn common<'a>(
    timings: &'a Timings,
    windows: &'a [baton_crds::common::MaintenanceWindow],
    soak: &'a str,
    k: Knobs<'a>,
) -> Common<'a> {
    Common {
        short_name: "apair",
        name: "site",
        paused: k.paused,
        windows,
        approvals: Approvals {
            in_spec: k.approved,
            annotation: None,
        },
        soak,
        timings,
        now: k.now.unwrap_or_else(now),
    }
}

/// The pair's decision.
pub fn decide_pair(
    spec: &AppliancePairSpec,
    upgrade: Option<&UpgradeStatus>,
    observed: &Observed,
    k: Knobs<'_>,
) -> Decision {
    let timings = Timings::default();
    let input = PairInput {
        common: common(&timings, &spec.maintenance_windows, &spec.soak, k),
        spec,
        uid: "uid",
        generation: 1,
        upgrade,
        observed,
    };
    crate::upgrade::decide::pair::decide(&input)
}

/// The cluster's decision, with `batches` as planned.
pub fn decide_atlas(
    spec: &AtlasClusterSpec,
    upgrade: Option<&UpgradeStatus>,
    batches: &[Vec<String>],
    observed: &Observed,
    k: Knobs<'_>,
) -> Decision {
    let timings = Timings::default();
    let input = AtlasInput {
        common: common(&timings, &spec.maintenance_windows, &spec.soak, k),
        spec,
        uid: "uid",
        generation: 1,
        upgrade,
        batches,
        observed,
    };
    crate::upgrade::decide::atlas::decide(&input)
}

/// The commands of an `Act` decision (empty otherwise).
pub fn commands(d: &Decision) -> Vec<Command> {
    match d {
        Decision::Act { commands, .. } => commands.clone(),
        _ => Vec::new(),
    }
}

/// Whether a decision holds with a Stalled situation.
pub fn is_stalled(d: &Decision) -> bool {
    matches!(
        d,
        Decision::Hold {
            situation: crate::upgrade::verdict::Situation::Stalled { .. },
            ..
        }
    ) || matches!(d, Decision::Settle { update, .. } if matches!(update.verdict, crate::upgrade::verdict::Verdict::Failed { .. }))
}

/// The reason of a failed verdict, if the decision settles on one.
pub fn failed_reason(d: &Decision) -> Option<&'static str> {
    match d {
        Decision::Settle { update, .. } => match &update.verdict {
            crate::upgrade::verdict::Verdict::Failed { reason, .. } => Some(reason),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the decision settles the step as done.
pub fn is_done(d: &Decision) -> bool {
    matches!(d, Decision::Settle { update, .. } if matches!(update.verdict, crate::upgrade::verdict::Verdict::Done(_)))
}

/// An upgrade whose current step `id` runs.
pub fn running(id: &str, action: StepAction, member: Option<&str>) -> UpgradeStatus {
    upgrade(vec![step(id, action, member, StepState::Running)])
}

/// The decision on the default pair spec, for `upgrade` and `observed`.
pub fn decide_on(upgrade: &UpgradeStatus, observed: &Observed) -> Decision {
    decide_pair(
        &pair_spec(json!({})),
        Some(upgrade),
        observed,
        Knobs::default(),
    )
}

/// The progress of an install the appliance started as `id`.
pub fn started(id: &str) -> Option<StepProgress> {
    Some(StepProgress::InstallStarted {
        install_id: id.into(),
    })
}

/// rs-b's base install, started as `i-1` and running.
pub fn base_install_running() -> UpgradeStatus {
    upgrade(vec![install(
        "1/install/rs-b/base-5.2.0",
        "rs-b",
        "base-5.2.0",
        true,
        started("i-1"),
    )])
}

/// The current step's operation as polled.
pub fn operation(
    state: OperationState,
    message: Option<&str>,
) -> Option<Result<Operation, Unseen>> {
    Some(Ok(Operation {
        state,
        percent: None,
        message: message.map(str::to_owned),
        package: None,
    }))
}

/// The product package 24.3.2, offered with no prerequisite.
pub fn product_offer() -> Offer {
    Offer {
        id: "product-24.3.2".into(),
        base: false,
        version: v("24.3.2"),
        requires: vec![],
        installable: true,
        staged: false,
    }
}
