//! The Atlas cluster's runbook (procedures.md sections 4 and 5) as decisions: the master
//! steps here, the batch steps in [`super::batch`].

use baton_crds::AtlasClusterSpec;
use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, StepAction, UpgradeStatus};

use super::steps::{self, busy, member_of, seen};
use super::{Common, Decision, StepContext, StepDecision, batch, decide_plan, idle};
use crate::upgrade::command::{Command, Role, SyncKind};
use crate::upgrade::observed::{FailoverRole, Observed, OperationState};
use crate::upgrade::verdict::Verdict;
use baton_crds::status::StepProgress;

/// What an Atlas cluster's decision reads.
#[derive(Debug, Clone, Copy)]
pub struct AtlasInput<'a> {
    pub common: Common<'a>,
    pub spec: &'a AtlasClusterSpec,
    pub uid: &'a str,
    pub generation: i64,
    pub upgrade: Option<&'a UpgradeStatus>,
    /// The traffic nodes of each batch, as chosen when the upgrade was planned.
    pub batches: &'a [Vec<String>],
    pub observed: &'a Observed,
}

/// The cluster's next decision.
pub fn decide(input: &AtlasInput<'_>) -> Decision {
    match input.upgrade {
        None => idle::atlas(input),
        Some(upgrade) => decide_plan(&input.common, upgrade, input.observed, phase_of, |ctx| {
            step(ctx, input)
        }),
    }
}

/// The phase an Atlas step belongs to.
pub fn phase_of(upgrade: &UpgradeStatus, index: usize) -> Phase {
    let step = &upgrade.plan[index];
    let started = upgrade.plan[..index]
        .iter()
        .any(|s| s.round == step.round && s.action == StepAction::Drain);
    match step.action {
        StepAction::Distribute if !started => Phase::Preparing,
        StepAction::Drain | StepAction::Install | StepAction::Verify => Phase::Upgrading,
        StepAction::Accept | StepAction::SyncCluster | StepAction::EnableBackupOperations => {
            Phase::Finishing
        }
        other => super::pair::phase_of_action(other, started),
    }
}

fn step(ctx: &StepContext<'_>, input: &AtlasInput<'_>) -> StepDecision {
    let only_master = ctx.observed.members.len() == 1;
    match (ctx.step.action, ctx.step.batch) {
        (StepAction::Preflight, _) => preflight(ctx, input),
        (StepAction::Backup, _) => steps::backup(ctx),
        (StepAction::SyncFailover, _) => steps::sync(ctx, SyncKind::Failover),
        (StepAction::SyncCluster, _) => steps::sync(ctx, SyncKind::Cluster),
        (StepAction::Distribute, _) => distribute(ctx),
        (StepAction::Approval, _) => steps::approval(ctx),
        (StepAction::Drain, Some(n)) => batch::drain(ctx, input, n),
        (StepAction::Install, Some(n)) => batch::install(ctx, input, n),
        (StepAction::Verify, Some(n)) => batch::verify(ctx, n),
        (StepAction::Accept, Some(n)) => batch::accept(ctx, input, n),
        // The former primary master installs once it serves nobody; a cluster without a
        // backup master stops while its master installs (procedure 5): its sessions end.
        (StepAction::Install, None) => steps::install_one(ctx, member_of(ctx.step), only_master),
        (StepAction::Verify, None) => steps::verify_one(ctx, member_of(ctx.step)),
        (StepAction::SwingTraffic, _) => promote(ctx),
        (StepAction::EnableBackupOperations, _) => backup_operations(ctx),
        (StepAction::Soak, _) => steps::soak(ctx),
        (other, _) => Verdict::failed(
            reasons::INVALID_SPEC,
            format!(
                "step {} ({other:?}) is not an Atlas cluster step; delete status.upgrade to plan again",
                ctx.step.id
            ),
        )
        .into(),
    }
}

/// Masters and nodes on one version, masters healthy with the permissions and clocks an
/// upgrade needs, failover established between the masters.
fn preflight(ctx: &StepContext<'_>, input: &AtlasInput<'_>) -> StepDecision {
    let two_masters = ctx.observed.members.len() == 2;
    let mut versions = Vec::new();
    for m in &ctx.observed.members {
        let s = match seen(ctx, &m.name) {
            Ok(s) => s,
            Err(d) => return d,
        };
        if !s.healthy || s.installing {
            return busy(
                ctx,
                reasons::UPGRADING,
                format!("waiting for {} to be healthy", m.name),
            )
            .into();
        }
        if two_masters && !s.established {
            return Verdict::failed(
                reasons::PREFLIGHT_FAILED,
                format!(
                    "{} is not in an established failover relationship with the other master",
                    m.name
                ),
            )
            .into();
        }
        if let Err(d) = steps::check_account(ctx, &m.name) {
            return d;
        }
        versions.push((m.name.clone(), s.version.clone()));
    }
    let nodes = match &ctx.observed.nodes {
        Some(Ok(n)) => n,
        Some(Err(u)) => return busy(ctx, u.reason, u.message.clone()).into(),
        None => {
            return busy(
                ctx,
                reasons::UNREACHABLE,
                "the cluster view was not observed".into(),
            )
            .into();
        }
    };
    for n in &input.spec.traffic_nodes {
        match nodes.get(&n.name).and_then(|v| v.version.clone()) {
            Some(v) => versions.push((n.name.clone(), v)),
            None => {
                return Verdict::failed(
                    reasons::INVALID_SPEC,
                    format!(
                        "traffic node {} is not in the cluster the primary master reports",
                        n.name
                    ),
                )
                .into();
            }
        }
    }
    if let Some((name, v)) = versions.iter().find(|(_, v)| *v != versions[0].1) {
        return Verdict::failed(
            reasons::PREFLIGHT_FAILED,
            format!(
                "the cluster runs mixed versions ({name} runs {v}, {} runs {}); bring it to one version first",
                versions[0].0, versions[0].1
            ),
        )
        .into();
    }
    Verdict::Done(format!(
        "{} masters and {} nodes on one version, healthy, permissions and clocks right",
        ctx.observed.members.len(),
        nodes.len().min(input.spec.traffic_nodes.len())
    ))
    .into()
}

/// The master acting as primary.
pub fn acting<'a>(ctx: &StepContext<'a>) -> Result<&'a str, StepDecision> {
    ctx.observed
        .acting
        .and_then(|i| ctx.observed.members.get(i))
        .map(|m| m.name.as_str())
        .ok_or_else(|| {
            busy(
                ctx,
                reasons::UNREACHABLE,
                "waiting for a master to act as primary".into(),
            )
            .into()
        })
}

/// "Distribute to cluster" from the acting master: stages the package everywhere, installs
/// nothing (may run outside a maintenance window).
fn distribute(ctx: &StepContext<'_>) -> StepDecision {
    let master = match acting(ctx) {
        Ok(m) => m,
        Err(d) => return d,
    };
    let package = ctx.step.package.as_deref().unwrap_or_default();
    if !matches!(
        ctx.step.progress,
        Some(StepProgress::DistributionStarted { .. })
    ) {
        return StepDecision::Act(vec![Command::Distribute {
            master: master.to_owned(),
            package: package.to_owned(),
        }]);
    }
    match &ctx.observed.operation {
        Some(Ok(op))
            if op.package.as_deref() == Some(package) && op.state == OperationState::Succeeded =>
        {
            Verdict::Done(format!("{package} staged on every node")).into()
        }
        Some(Ok(op)) if op.state == OperationState::Failed => Verdict::failed(
            reasons::INSTALL_FAILED,
            format!(
                "distribution of {package} failed on {}; fix it, then approve a retry",
                op.message.clone().unwrap_or_default()
            ),
        )
        .into(),
        Some(Ok(_)) => Verdict::wait(
            reasons::UPGRADING,
            format!("distributing {package}"),
            std::time::Duration::ZERO,
        )
        .into(),
        Some(Err(u)) => busy(ctx, reasons::UNREACHABLE, u.message.clone()).into(),
        None => busy(
            ctx,
            reasons::UNREACHABLE,
            "the distribution was not observed".into(),
        )
        .into(),
    }
}

/// Makes the upgraded backup master primary (procedure 4, steps 6 to 8): the old primary
/// becomes backup even if the peer cannot be contacted, then the backup becomes primary
/// (one after the other: never two primaries, I1), backup operations off on the new primary,
/// and the site address moved. `set_failover_role` is not idempotent: each is sent only
/// when the roles observed say it has not happened.
fn promote(ctx: &StepContext<'_>) -> StepDecision {
    let new = member_of(ctx.step);
    let Some(old) = ctx
        .observed
        .members
        .iter()
        .map(|m| m.name.as_str())
        .find(|n| *n != new)
    else {
        return Verdict::failed(reasons::INVALID_SPEC, "promotion needs a backup master").into();
    };
    let (old_seen, new_seen) = match (seen(ctx, old), seen(ctx, new)) {
        (Ok(o), Ok(n)) => (o, n),
        _ => {
            return busy(
                ctx,
                reasons::UNREACHABLE,
                "waiting for both masters to answer".into(),
            )
            .into();
        }
    };
    if old_seen.role == FailoverRole::Primary {
        return StepDecision::Act(vec![Command::SetFailoverRole {
            member: old.to_owned(),
            role: Role::Backup,
            force: true,
        }]);
    }
    if new_seen.role != FailoverRole::Primary {
        return StepDecision::Act(vec![Command::SetFailoverRole {
            member: new.to_owned(),
            role: Role::Primary,
            force: false,
        }]);
    }
    let mut commands = Vec::new();
    if new_seen.backup_operations {
        commands.push(Command::SetBackupOperations {
            member: new.to_owned(),
            enabled: false,
        });
    }
    commands.push(steps::swing_command(ctx, (old, old_seen), (new, new_seen)));
    StepDecision::Act(commands)
}

/// Backup operations on the former primary, now the backup master (procedure 4, step 13).
fn backup_operations(ctx: &StepContext<'_>) -> StepDecision {
    let name = member_of(ctx.step);
    match seen(ctx, name) {
        Ok(s) if s.backup_operations => {
            Verdict::Done(format!("backup operations enabled on {name}")).into()
        }
        Ok(_) => StepDecision::Act(vec![Command::SetBackupOperations {
            member: name.to_owned(),
            enabled: true,
        }]),
        Err(_) => busy(ctx, reasons::UNREACHABLE, format!("waiting for {name}")).into(),
    }
}
