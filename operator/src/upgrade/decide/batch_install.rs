//! A batch's install step: each target's install starts once it has no client connected
//! (I3, unless the drain timed out with `onTimeout: Proceed`, recorded as sessions cut), up
//! to `maxConcurrentInstalls`, under the key `<upgrade id>/<step id>/<node>` (I8). A target
//! done with the step's package starts the round's next package at once (working ahead):
//! each appliance still installs in order (R2), only without waiting for the slowest node.

use std::time::Duration;

use baton_crds::conditions::reasons;
use baton_crds::status::{StepAction, StepProgress};

use super::atlas::AtlasInput;
use super::batch::next_install;
use super::steps::{busy, install_failed, install_key};
use super::{StepContext, StepDecision};
use crate::upgrade::command::{Command, Report};
use crate::upgrade::observed::{InstallProgress, TargetView};
use crate::upgrade::verdict::{StepUpdate, Verdict};

/// Whether this round's drain of the batch timed out with `onTimeout: Proceed`.
fn proceeded(ctx: &StepContext<'_>) -> bool {
    ctx.upgrade.plan.iter().any(|s| {
        s.action == StepAction::Drain
            && s.batch == ctx.step.batch
            && s.round == ctx.step.round
            && matches!(s.progress, Some(StepProgress::DrainTimedOut { .. }))
    })
}

pub fn batch_targets<'a>(ctx: &StepContext<'a>) -> Result<&'a [TargetView], StepDecision> {
    match &ctx.observed.targets {
        Some(Ok(t)) => Ok(t),
        Some(Err(u)) if u.transient => Err(busy(ctx, u.reason, u.message.clone()).into()),
        Some(Err(u)) => Err(Verdict::failed(u.reason, u.message.clone()).into()),
        None => Err(busy(
            ctx,
            reasons::UNREACHABLE,
            "the batch's targets were not observed".into(),
        )
        .into()),
    }
}

/// Installs the step's package on every target, in parallel up to the limit, working ahead.
pub fn install(ctx: &StepContext<'_>, input: &AtlasInput<'_>, n: i32) -> StepDecision {
    let targets = match batch_targets(ctx) {
        Ok(t) => t,
        Err(d) => return d,
    };
    if let Some((t, message)) = targets.iter().find_map(|t| match &t.install {
        InstallProgress::Failed(m) => Some((t, m)),
        _ => None,
    }) {
        // Nothing more starts anywhere; what already serves keeps serving.
        return install_failed(ctx.step, &t.name, message).into();
    }
    let package = ctx.step.package.as_deref().unwrap_or_default();
    let limit = usize::try_from(input.spec.max_concurrent_installs)
        .unwrap_or(1)
        .max(1);
    let proceed = proceeded(ctx);
    let running_now = |p: &InstallProgress| matches!(p, InstallProgress::Running(_));
    let mut running = targets.iter().filter(|t| running_now(&t.install)).count()
        + targets
            .iter()
            .filter_map(|t| t.next.as_ref())
            .filter(|p| running_now(p))
            .count();
    let mut commands = Vec::new();
    for t in targets {
        if t.install != InstallProgress::NotStarted
            || running >= limit
            || (t.clients > 0 && !proceed)
        {
            continue;
        }
        running += 1;
        commands.push(Command::StartInstall {
            member: t.name.clone(),
            package: package.to_owned(),
            key: install_key(&ctx.upgrade.id, ctx.step, Some(&t.name)),
            allow_connected_clients: proceed && t.clients > 0,
            clients: t.clients,
        });
    }
    if let Some(next) = next_install(&ctx.upgrade.plan, ctx.step) {
        let failed_ahead = targets.iter().find_map(|t| match &t.next {
            Some(InstallProgress::Failed(m)) => Some((t, m)),
            _ => None,
        });
        if let Some((t, message)) = failed_ahead {
            // On a retry of this step the next step reports it itself, with its own retry.
            if ctx.step.attempt == 0 {
                return install_failed(next, &t.name, message).into();
            }
        } else {
            for t in targets {
                if running >= limit {
                    break;
                }
                // In order (R2): only once this step's package is installed there.
                if t.install != InstallProgress::Done
                    || t.next != Some(InstallProgress::NotStarted)
                    || (t.clients > 0 && !proceed)
                {
                    continue;
                }
                running += 1;
                commands.push(Command::StartInstall {
                    member: t.name.clone(),
                    package: next.package.clone().unwrap_or_default(),
                    key: install_key(&ctx.upgrade.id, next, Some(&t.name)),
                    allow_connected_clients: false,
                    clients: t.clients,
                });
            }
        }
    }
    let following: Vec<(String, String)> = targets
        .iter()
        .flat_map(|t| {
            [Some(&t.install), t.next.as_ref()]
                .into_iter()
                .flatten()
                .map(move |p| (t, p))
        })
        .filter_map(|(t, p)| match p {
            InstallProgress::Running(Some(id)) => Some((t.name.clone(), id.clone())),
            _ => None,
        })
        .collect();
    let waiting = targets
        .iter()
        .any(|t| t.install == InstallProgress::NotStarted && t.clients > 0 && !proceed);
    let all_done = targets.iter().all(|t| t.install == InstallProgress::Done);
    if !waiting && !all_done && (!following.is_empty() || !commands.is_empty()) {
        // The executor adds the installs this pass starts to the ones it follows.
        commands.push(Command::AwaitInstalls {
            installs: following,
        });
    }
    if commands.is_empty() {
        return StepDecision::Settle(install_verdict(ctx, n, &[], &[]));
    }
    StepDecision::Act(commands)
}

/// The install step's verdict after its commands ran (or with none).
pub fn install_verdict(
    ctx: &StepContext<'_>,
    n: i32,
    commands: &[Command],
    reports: &[Report],
) -> StepUpdate {
    let Ok(targets) = batch_targets(ctx) else {
        return busy(
            ctx,
            reasons::UNREACHABLE,
            "the batch's targets were not observed".into(),
        )
        .into();
    };
    let package = ctx.step.package.as_deref().unwrap_or_default();
    let mut cut: i64 = match ctx.step.progress {
        Some(StepProgress::SessionsCut { sessions }) => sessions,
        _ => 0,
    };
    let mut started = 0;
    let mut ended = false;
    for (command, report) in commands.iter().zip(reports) {
        match (command, report) {
            (
                Command::StartInstall {
                    member,
                    package: p,
                    allow_connected_clients,
                    clients,
                    ..
                },
                report,
            ) if p == package => match report {
                Report::Started { .. } => {
                    started += 1;
                    // What the drain policy allowed to be cut, counted where it happens.
                    if *allow_connected_clients {
                        cut += i64::try_from(*clients).unwrap_or(i64::MAX);
                    }
                }
                Report::InstallFailed { message }
                | Report::Failed {
                    transient: false,
                    message,
                    ..
                } => {
                    return install_failed(ctx.step, member, message).into();
                }
                _ => {}
            },
            (Command::AwaitInstalls { .. }, Report::Awaited { ended: e }) => ended = *e,
            _ => {}
        }
    }
    let progress = (cut > 0).then_some(StepProgress::SessionsCut { sessions: cut });
    let done = targets
        .iter()
        .filter(|t| t.install == InstallProgress::Done)
        .count();
    let verdict = if done == targets.len() {
        Verdict::Done(format!(
            "{package} installed on the {} targets of batch {n}",
            targets.len()
        ))
    } else {
        let running = targets
            .iter()
            .filter(|t| matches!(t.install, InstallProgress::Running(_)))
            .count()
            + started;
        let mut message = format!(
            "installing {package} on batch {n}: {done}/{} done, {running} running",
            targets.len()
        );
        let waiting: Vec<String> = targets
            .iter()
            .filter(|t| {
                t.install == InstallProgress::NotStarted && t.clients > 0 && !proceeded(ctx)
            })
            .map(|t| format!("{} ({})", t.name, t.clients))
            .collect();
        if !waiting.is_empty() {
            message.push_str(&format!(
                "; waiting for clients to leave {}",
                waiting.join(", ")
            ));
        }
        let after = if ended {
            Duration::ZERO
        } else {
            ctx.common.timings.busy.min(Duration::from_secs(2))
        };
        Verdict::wait(reasons::UPGRADING, message, after)
    };
    StepUpdate {
        verdict,
        progress,
        backup: None,
    }
}
