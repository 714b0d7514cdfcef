//! Steps both kinds decide the same way: backup, Sync Now, approval, soak, install and verify
//! one appliance, the account and clock checks of preflight.

use std::time::Duration;

use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepProgress};

use super::{StepContext, StepDecision};
use crate::upgrade::command::{Command, SyncKind};
use crate::upgrade::gates::{self, parse_duration};
use crate::upgrade::observed::{OperationState, Seen};
use crate::upgrade::verdict::Verdict;

/// The member's observation; a wait (transient) or a failure when it cannot be read, or when
/// the spec no longer names it.
pub fn seen<'a>(ctx: &StepContext<'a>, name: &str) -> Result<&'a Seen, StepDecision> {
    let Some(member) = ctx.observed.member(name) else {
        return Err(Verdict::failed(
            reasons::INVALID_SPEC,
            format!(
                "step {} names member {name}, which the spec no longer has; restore it or delete status.upgrade",
                ctx.step.id
            ),
        )
        .into());
    };
    match &member.seen {
        Ok(s) => Ok(s),
        Err(u) if u.transient => {
            Err(busy(ctx, u.reason, format!("waiting for {name}: {}", u.message)).into())
        }
        Err(u) => Err(Verdict::failed(u.reason, u.message.clone()).into()),
    }
}

/// Waits with the busy requeue.
pub fn busy(ctx: &StepContext<'_>, reason: &'static str, message: String) -> Verdict {
    Verdict::wait(reason, message, ctx.common.timings.busy)
}

/// The member the step names.
pub fn member_of(step: &PlanStep) -> &str {
    step.member.as_deref().unwrap_or_default()
}

/// Download the configuration backup from the step's member (R1).
pub fn backup(ctx: &StepContext<'_>) -> StepDecision {
    let member = member_of(ctx.step);
    if let Err(d) = seen(ctx, member) {
        return d;
    }
    StepDecision::Act(vec![Command::Backup {
        member: member.to_owned(),
        round: ctx.step.round,
    }])
}

/// The word for a sync in messages.
pub fn sync_word(kind: SyncKind) -> &'static str {
    match kind {
        SyncKind::Failover => "data sync",
        SyncKind::Cluster => "cluster sync",
    }
}

/// The attempt of a started sync, from the step's progress.
pub fn sync_attempt(step: &PlanStep) -> Option<i32> {
    match step.progress {
        Some(StepProgress::SyncStarted { attempt }) => Some(attempt),
        _ => None,
    }
}

/// Sync Now, then wait for it. Syncs on one appliance run one at a time, so once ours was
/// started the next terminal state is ours. Starting one again after a restart is harmless (a
/// sync copies data and changes nothing else); a failed sync is started again twice.
pub fn sync(ctx: &StepContext<'_>, kind: SyncKind) -> StepDecision {
    let name = member_of(ctx.step);
    let start = || {
        StepDecision::Act(vec![Command::SyncNow {
            member: name.to_owned(),
            kind,
        }])
    };
    let Some(attempt) = sync_attempt(ctx.step) else {
        return start();
    };
    let what = sync_word(kind);
    match &ctx.observed.operation {
        Some(Ok(op)) => match op.state {
            OperationState::Succeeded => Verdict::Done(format!("{what} from {name} finished")).into(),
            OperationState::Failed if attempt < 3 => start(),
            OperationState::Failed => Verdict::failed(
                reasons::PREFLIGHT_FAILED,
                format!(
                    "{what} on {name} failed {attempt} times: {}; check the appliance, then approve a retry",
                    op.message.clone().unwrap_or_default()
                ),
            )
            .into(),
            OperationState::Running => Verdict::wait(
                reasons::UPGRADING,
                format!("waiting for the {what} on {name}"),
                Duration::ZERO,
            )
            .into(),
        },
        Some(Err(u)) => busy(ctx, reasons::UNREACHABLE, u.message.clone()).into(),
        None => busy(ctx, reasons::UNREACHABLE, format!("the {what} on {name} was not observed")).into(),
    }
}

/// An approval gate: done once `<upgrade id>/<gate>` is approved, else how to approve it.
pub fn approval(ctx: &StepContext<'_>) -> StepDecision {
    let gate = ctx.step.package.as_deref().unwrap_or_default();
    let id = &ctx.upgrade.id;
    if ctx.common.approvals.approved(id, gate) {
        return Verdict::Done(format!("{gate} approved")).into();
    }
    Verdict::wait(
        reasons::AWAITING_APPROVAL,
        format!(
            "waiting for approval {id}/{gate}: add it to spec.approval.approved, or run `kubectl annotate {} {} {}={id}/{gate}`",
            ctx.common.short_name,
            ctx.common.name,
            gates::APPROVE_ANNOTATION
        ),
        ctx.common.timings.gated,
    )
    .into()
}

/// The soak after a product hop (R3): done once `spec.soak` has passed since the step before.
pub fn soak(ctx: &StepContext<'_>) -> StepDecision {
    let soak = ctx.common.soak;
    let version = ctx.step.version.as_deref().unwrap_or_default();
    let Some(length) = parse_duration(soak) else {
        return Verdict::failed(
            reasons::INVALID_SPEC,
            format!("spec.soak {soak:?} does not parse"),
        )
        .into();
    };
    let now = ctx.common.now;
    let until = ctx.previous_finished().unwrap_or(now) + length;
    if now >= until {
        return Verdict::Done(format!("soaked {soak} on {version}")).into();
    }
    let left = (until - now).to_std().unwrap_or_default();
    Verdict::wait(
        reasons::SOAKING,
        format!(
            "soaking on {version} until {} so deployed clients can follow (R3)",
            until.to_rfc3339()
        ),
        left.min(ctx.common.timings.gated),
    )
    .into()
}

/// The idempotency key of an install: `<upgrade id>/<step id>[/<node>]`, and `/a<n>` for the
/// n-th retry, so a retried install is a new one rather than a replay of the failed one.
pub fn install_key(upgrade_id: &str, step: &PlanStep, node: Option<&str>) -> String {
    let mut key = format!("{upgrade_id}/{}", step.id);
    if let Some(node) = node {
        key.push('/');
        key.push_str(node);
    }
    if step.attempt > 0 {
        key.push_str(&format!("/a{}", step.attempt));
    }
    key
}

/// The verdict of a failed install, with what to do: a base install is R6's.
pub fn install_failed(step: &PlanStep, name: &str, message: &str) -> Verdict {
    let package = step.package.as_deref().unwrap_or_default();
    if step.base_software {
        Verdict::failed(
            reasons::BASE_INSTALL_FAILED,
            format!(
                "base software install {package} failed on {name}: {message}. Do not restart the appliance; contact BeyondTrust support (R6). Once it is fixed, approve a retry"
            ),
        )
    } else {
        Verdict::failed(
            reasons::INSTALL_FAILED,
            format!(
                "install of {package} failed on {name}: {message}. Once the cause is fixed, approve a retry"
            ),
        )
    }
}

/// Installs the step's package on one member: waits for its sessions to end unless `cut` (I3),
/// starts the install once, then follows it.
pub fn install_one(ctx: &StepContext<'_>, name: &str, cut: bool) -> StepDecision {
    let step = ctx.step;
    let package = step.package.as_deref().unwrap_or_default();
    if let Some(StepProgress::InstallStarted { install_id }) = &step.progress {
        return follow_install(ctx, name, package, install_id).into();
    }
    let seen = match seen(ctx, name) {
        Ok(s) => s,
        Err(d) => return d,
    };
    if seen.clients > 0 && !cut {
        return busy(
            ctx,
            reasons::UPGRADING,
            format!(
                "waiting for {} sessions on {name} to end before installing",
                seen.clients
            ),
        )
        .into();
    }
    StepDecision::Act(vec![Command::StartInstall {
        member: name.to_owned(),
        package: package.to_owned(),
        key: install_key(&ctx.upgrade.id, step, None),
        allow_connected_clients: cut,
        clients: seen.clients,
    }])
}

fn follow_install(ctx: &StepContext<'_>, name: &str, package: &str, id: &str) -> Verdict {
    match &ctx.observed.operation {
        Some(Ok(op)) => match op.state {
            OperationState::Succeeded => Verdict::Done(format!("{package} installed on {name}")),
            OperationState::Failed => install_failed(
                ctx.step,
                name,
                op.message.as_deref().unwrap_or("no message"),
            ),
            OperationState::Running => Verdict::wait(
                reasons::UPGRADING,
                format!(
                    "installing {package} on {name} ({}%)",
                    op.percent.unwrap_or(0)
                ),
                Duration::ZERO,
            ),
        },
        // A base install reboots the appliance: unreachable is expected, never "done".
        Some(Err(u)) if u.transient => busy(
            ctx,
            reasons::UPGRADING,
            format!(
                "waiting for {name} ({package} installing, the appliance may be rebooting): {}",
                u.message
            ),
        ),
        Some(Err(u)) => busy(
            ctx,
            reasons::UNREACHABLE,
            format!("failed to read install {id} on {name}: {}", u.message),
        ),
        None => busy(
            ctx,
            reasons::UNREACHABLE,
            format!("install {id} on {name} was not observed"),
        ),
    }
}

/// The member runs the round's version, is healthy and not installing; else wait until the
/// verify timeout, then stop: nothing is promoted (I4).
pub fn verify_one(ctx: &StepContext<'_>, name: &str) -> StepDecision {
    let seen = match seen(ctx, name) {
        Ok(s) => s,
        Err(d) => return d,
    };
    let want = ctx.step.version.as_deref().unwrap_or_default();
    let runs = seen.version.to_string();
    if runs == want && seen.healthy && !seen.installing {
        return Verdict::Done(format!("{name} runs {runs} and is healthy")).into();
    }
    let problem = if seen.installing {
        format!("{name} is still installing")
    } else if runs != want {
        format!("{name} runs {runs}, not {want}")
    } else {
        format!(
            "{name} is unhealthy: {}",
            seen.health_message.as_deref().unwrap_or("no message")
        )
    };
    verify_deadline(ctx, problem).into()
}

/// Waits for verification until the verify timeout, then stops: nothing is promoted.
pub fn verify_deadline(ctx: &StepContext<'_>, problem: String) -> Verdict {
    let waited = ctx.running_for().to_std().unwrap_or_default();
    if waited > ctx.common.timings.verify_timeout {
        return Verdict::failed(
            reasons::VERIFICATION_FAILED,
            format!(
                "verification failed after {}s: {problem}. Nothing was promoted; fix it, then approve a retry",
                waited.as_secs()
            ),
        );
    }
    busy(ctx, reasons::UPGRADING, format!("verifying: {problem}"))
}

/// The API account may command and back up, and the appliance's clock is right (R8).
pub fn check_account(ctx: &StepContext<'_>, name: &str) -> Result<(), StepDecision> {
    let account = ctx.observed.accounts.iter().find(|(n, _)| n == name);
    let account = match account.map(|(_, a)| a) {
        Some(Ok(a)) => a,
        Some(Err(u)) => return Err(busy(ctx, u.reason, u.message.clone()).into()),
        None => {
            return Err(busy(
                ctx,
                reasons::UNREACHABLE,
                format!("the API account on {name} was not observed"),
            )
            .into());
        }
    };
    if !account.full_command || !account.backup {
        return Err(Verdict::failed(
            reasons::MISSING_PERMISSION,
            format!(
                "the API account on {name} needs full command access and the backup permission; grant them in /login > Management > API Configuration"
            ),
        )
        .into());
    }
    let skew = (account.clock - ctx.common.now)
        .abs()
        .to_std()
        .unwrap_or_default();
    if skew > ctx.common.timings.clock_tolerance || !account.ntp_synchronized {
        return Err(Verdict::failed(
            reasons::PREFLIGHT_FAILED,
            format!(
                "the clock of {name} is off by {}s (NTP synchronized: {}); updates fail on a wrong clock (R8): fix NTP, then approve a retry",
                skew.as_secs(),
                account.ntp_synchronized
            ),
        )
        .into());
    }
    Ok(())
}

/// The swing from `from` to `to`, with what the swing reads: who holds the site address and
/// whether a person confirmed a manual swing of this round.
pub fn swing_command(ctx: &StepContext<'_>, from: (&str, &Seen), to: (&str, &Seen)) -> Command {
    let confirmation = gates::confirmation_id(&ctx.upgrade.id, ctx.step.round);
    Command::SwingTraffic {
        from: from.0.to_owned(),
        to: to.0.to_owned(),
        round: ctx.step.round,
        from_holds_address: from.1.holds_site_address,
        to_holds_address: to.1.holds_site_address,
        confirmed: ctx.common.approvals.approved(&confirmation, "TrafficSwing"),
    }
}
