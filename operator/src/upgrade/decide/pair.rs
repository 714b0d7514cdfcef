//! The failover pair's runbook (procedures.md sections 2 and 3) as decisions.
//!
//! Every step first looks at what the appliances show, so deciding again after a restart
//! repeats nothing: a broken relationship is not broken again, an established one not
//! established again, and an install is asked for with the same idempotency key (I8).

use baton_crds::AppliancePairSpec;
use baton_crds::common::Strategy;
use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, StepAction, UpgradeStatus};

use super::steps::{self, busy, member_of, seen};
use super::{Common, Decision, StepContext, StepDecision, decide_plan, idle};
use crate::upgrade::command::{Command, SyncKind};
use crate::upgrade::observed::{Observed, Seen};
use crate::upgrade::verdict::Verdict;

/// What a pair's decision reads.
#[derive(Debug, Clone, Copy)]
pub struct PairInput<'a> {
    pub common: Common<'a>,
    pub spec: &'a AppliancePairSpec,
    /// For the upgrade id: stable per resource generation and target.
    pub uid: &'a str,
    pub generation: i64,
    pub upgrade: Option<&'a UpgradeStatus>,
    pub observed: &'a Observed,
}

/// The pair's next decision.
pub fn decide(input: &PairInput<'_>) -> Decision {
    match input.upgrade {
        None => idle::pair(input),
        Some(upgrade) => decide_plan(&input.common, upgrade, input.observed, phase_of, |ctx| {
            step(ctx, input.spec.strategy)
        }),
    }
}

/// Which of the two members serves the site (0 or 1): the first unless only the second
/// serves. The plan starts from it, and the packages to plan with come from it.
pub fn serving(a: &Seen, b: &Seen) -> usize {
    if a.serves() || !b.serves() { 0 } else { 1 }
}

/// The phase a pair step belongs to.
pub fn phase_of(upgrade: &UpgradeStatus, index: usize) -> Phase {
    let step = &upgrade.plan[index];
    let after_break = upgrade.plan[..index]
        .iter()
        .any(|s| s.round == step.round && s.action == StepAction::BreakFailover);
    phase_of_action(step.action, after_break)
}

/// The phase of an action; `after_break` once the round's disruptive part began.
pub fn phase_of_action(action: StepAction, after_break: bool) -> Phase {
    match action {
        StepAction::Preflight | StepAction::Backup | StepAction::Stage if !after_break => {
            Phase::Preparing
        }
        StepAction::SyncFailover if !after_break => Phase::Preparing,
        StepAction::SyncFailover | StepAction::EstablishFailover => Phase::Finishing,
        StepAction::SwingTraffic => Phase::Promoting,
        StepAction::Soak => Phase::Soaking,
        StepAction::Approval => Phase::AwaitingApproval,
        _ => Phase::Upgrading,
    }
}

fn step(ctx: &StepContext<'_>, strategy: Strategy) -> StepDecision {
    match ctx.step.action {
        StepAction::Preflight => preflight(ctx),
        StepAction::Backup => steps::backup(ctx),
        StepAction::SyncFailover => steps::sync(ctx, SyncKind::Failover),
        StepAction::Approval => steps::approval(ctx),
        StepAction::BreakFailover => break_failover(ctx),
        StepAction::Stage => stage(ctx),
        // Synchronous upgrades take the site down while the primary installs: its sessions
        // end by design. Otherwise the member's sessions end first (I3).
        StepAction::Install => {
            steps::install_one(ctx, member_of(ctx.step), strategy == Strategy::Synchronous)
        }
        StepAction::Verify => steps::verify_one(ctx, member_of(ctx.step)),
        StepAction::SwingTraffic => swing(ctx),
        StepAction::EstablishFailover => establish(ctx),
        StepAction::Soak => steps::soak(ctx),
        StepAction::Distribute
        | StepAction::Drain
        | StepAction::Accept
        | StepAction::SyncCluster
        | StepAction::EnableBackupOperations => Verdict::failed(
            reasons::INVALID_SPEC,
            format!(
                "step {} is an Atlas cluster step, not a pair step; delete status.upgrade to plan again",
                ctx.step.id
            ),
        )
        .into(),
    }
}

/// The other member of the pair.
fn peer_of<'a>(ctx: &StepContext<'a>, name: &str) -> Option<&'a str> {
    ctx.observed
        .members
        .iter()
        .map(|m| m.name.as_str())
        .find(|n| *n != name)
}

/// Both members on the same version, healthy, in failover; accounts and clocks right (R8).
fn preflight(ctx: &StepContext<'_>) -> StepDecision {
    let members: Vec<&str> = ctx
        .observed
        .members
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let [a, b] = members.as_slice() else {
        return Verdict::failed(reasons::INVALID_SPEC, "a pair has exactly two members").into();
    };
    let (sa, sb) = match (seen(ctx, a), seen(ctx, b)) {
        (Ok(sa), Ok(sb)) => (sa, sb),
        (Err(d), _) | (_, Err(d)) => return d,
    };
    if sa.version != sb.version {
        return Verdict::failed(
            reasons::PREFLIGHT_FAILED,
            format!(
                "the members run different versions ({a} runs {}, {b} runs {}); bring them to the same version first",
                sa.version, sb.version
            ),
        )
        .into();
    }
    for (name, s) in [(a, sa), (b, sb)] {
        if !s.healthy || s.installing {
            let why = s.health_message.as_deref().unwrap_or("installing");
            return busy(
                ctx,
                reasons::UPGRADING,
                format!("waiting for {name} to be healthy: {why}"),
            )
            .into();
        }
        if !s.established {
            return Verdict::failed(
                reasons::PREFLIGHT_FAILED,
                format!(
                    "{name} is not in an established failover relationship; baton upgrades pairs with failover established"
                ),
            )
            .into();
        }
    }
    for name in [a, b] {
        if let Err(d) = steps::check_account(ctx, name) {
            return d;
        }
    }
    Verdict::Done(format!(
        "both members on {}, healthy, in failover, clocks and permissions right",
        sa.version
    ))
    .into()
}

fn break_failover(ctx: &StepContext<'_>) -> StepDecision {
    let name = member_of(ctx.step);
    let Some(peer) = peer_of(ctx, name) else {
        return Verdict::failed(reasons::INVALID_SPEC, "a pair has exactly two members").into();
    };
    let (this, other) = match (seen(ctx, name), seen(ctx, peer)) {
        (Ok(t), Ok(o)) => (t, o),
        (Err(d), _) | (_, Err(d)) => return d,
    };
    if !this.established && !other.established {
        return Verdict::Done("failover relationship is broken".to_owned()).into();
    }
    StepDecision::Act(vec![Command::BreakFailover {
        member: name.to_owned(),
    }])
}

/// Downloads the package onto the member (R7: right before its install).
fn stage(ctx: &StepContext<'_>) -> StepDecision {
    let name = member_of(ctx.step);
    if let Err(d) = seen(ctx, name) {
        return d;
    }
    let package = ctx.step.package.as_deref().unwrap_or_default();
    match &ctx.observed.packages {
        Some(Ok(offers)) => match offers.iter().find(|p| p.id == package) {
            Some(p) if p.staged => Verdict::Done(format!("{package} is staged on {name}")).into(),
            Some(_) => StepDecision::Act(vec![Command::Stage {
                member: name.to_owned(),
                package: package.to_owned(),
            }]),
            // Offered packages are those not installed yet: gone from the list means installed.
            None => Verdict::Done(format!(
                "{package} is no longer offered by {name}: installed"
            ))
            .into(),
        },
        Some(Err(u)) => busy(ctx, u.reason, u.message.clone()).into(),
        None => busy(
            ctx,
            reasons::UNREACHABLE,
            format!("the packages of {name} were not observed"),
        )
        .into(),
    }
}

/// Swings the site traffic from the peer to the step's member (the swing checks what it moves).
fn swing(ctx: &StepContext<'_>) -> StepDecision {
    let to = member_of(ctx.step);
    let Some(from) = peer_of(ctx, to) else {
        return Verdict::failed(reasons::INVALID_SPEC, "a pair has exactly two members").into();
    };
    match (seen(ctx, from), seen(ctx, to)) {
        (Ok(f), Ok(t)) => StepDecision::Act(vec![steps::swing_command(ctx, (from, f), (to, t))]),
        (Err(d), _) | (_, Err(d)) => d,
    }
}

/// Re-establishes failover with the step's member as primary; never between appliances on
/// different versions (I7), although the appliance would refuse too.
fn establish(ctx: &StepContext<'_>) -> StepDecision {
    let primary = member_of(ctx.step);
    let Some(backup) = peer_of(ctx, primary) else {
        return Verdict::failed(reasons::INVALID_SPEC, "a pair has exactly two members").into();
    };
    let (p, b) = match (seen(ctx, primary), seen(ctx, backup)) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(d), _) | (_, Err(d)) => return d,
    };
    if p.is_established_primary() && b.established {
        return Verdict::Done(format!(
            "failover established: {primary} primary, {backup} backup"
        ))
        .into();
    }
    if p.version != b.version {
        return Verdict::failed(
            reasons::PREFLIGHT_FAILED,
            format!(
                "refusing to establish failover between different versions ({primary} runs {}, {backup} runs {}) (I7)",
                p.version, b.version
            ),
        )
        .into();
    }
    StepDecision::Act(vec![Command::EstablishFailover {
        primary: primary.to_owned(),
        backup: backup.to_owned(),
    }])
}
