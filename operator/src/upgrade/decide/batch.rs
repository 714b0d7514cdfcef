//! The steps on a batch of traffic nodes: drain, install, verify, accept.
//!
//! - Drain takes at most the region's share out of rotation (I2), counting nodes already out
//!   and those taken out in the same pass, then waits for the clients to leave (I3).
//! - Install starts each target's install once it has no client connected (I3, unless the
//!   drain timed out with `onTimeout: Proceed`, recorded as sessions cut), up to
//!   `maxConcurrentInstalls`, under the key `<upgrade id>/<step id>/<node>` (I8). A target
//!   done with the step's package starts the round's next package at once (working ahead):
//!   each appliance still installs in order (R2), only without waiting for the slowest node.
//! - Verify checks every target; Accept puts the batch back.

use std::collections::BTreeMap;
use std::time::Duration;

use baton_crds::atlas::OnDrainTimeout;
use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepAction, StepProgress};

use super::atlas::{AtlasInput, acting};
use super::steps::{busy, install_key, verify_deadline};
use super::{StepContext, StepDecision};
use crate::upgrade::batches::out_of_rotation_cap;
use crate::upgrade::command::{Command, Report};
use crate::upgrade::gates::parse_duration;
use crate::upgrade::observed::{InstallProgress, NodeView, Observed, TargetView};
use crate::upgrade::verdict::{StepUpdate, Verdict};

/// The nodes of batch `n`.
pub fn nodes<'a>(input: &AtlasInput<'a>, n: i32) -> &'a [String] {
    let index = usize::try_from(n - 1).unwrap_or(usize::MAX);
    input
        .batches
        .get(index)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// What an install or verify step of batch `n` acts on: its nodes and, with a backup master,
/// batch 1 also that master (procedure 4, steps 4 and 5).
pub fn targets(input: &AtlasInput<'_>, observed: &Observed, n: i32) -> Vec<String> {
    let mut out = nodes(input, n).to_vec();
    if n == 1 && observed.members.len() == 2 {
        let acting = observed.acting.unwrap_or(0);
        let backup = observed
            .members
            .iter()
            .enumerate()
            .find(|(i, _)| *i != acting);
        out.extend(backup.map(|(_, m)| m.name.clone()));
    }
    out
}

/// The install step right after `step` for the same batch, in the same round.
pub fn next_install<'p>(plan: &'p [PlanStep], step: &PlanStep) -> Option<&'p PlanStep> {
    let at = plan.iter().position(|s| s.id == step.id)?;
    plan.get(at + 1).filter(|next| {
        next.action == StepAction::Install && next.batch == step.batch && next.round == step.round
    })
}

fn node_view<'a>(ctx: &StepContext<'a>) -> Result<&'a BTreeMap<String, NodeView>, StepDecision> {
    match &ctx.observed.nodes {
        Some(Ok(v)) => Ok(v),
        Some(Err(u)) => Err(busy(ctx, u.reason, u.message.clone()).into()),
        None => Err(busy(
            ctx,
            reasons::UNREACHABLE,
            "the cluster view was not observed".into(),
        )
        .into()),
    }
}

/// Takes the batch out of rotation and waits for its clients to leave.
pub fn drain(ctx: &StepContext<'_>, input: &AtlasInput<'_>, n: i32) -> StepDecision {
    let (view, via) = match (node_view(ctx), acting(ctx)) {
        (Ok(v), Ok(a)) => (v, a),
        (Err(d), _) | (_, Err(d)) => return d,
    };
    let batch = nodes(input, n);
    let in_spec = |name: &str| input.spec.traffic_nodes.iter().any(|t| t.name == name);
    let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
    let mut commands = Vec::new();
    for name in batch {
        let Some(node) = view.get(name).filter(|n| n.accepting) else {
            continue;
        };
        let region = node.region.as_deref().unwrap_or_default();
        let in_region: Vec<&NodeView> = view
            .values()
            .filter(|v| v.region.as_deref().unwrap_or_default() == region && in_spec(&v.name))
            .collect();
        let out = in_region.iter().filter(|v| !v.accepting).count()
            + taken.get(region).copied().unwrap_or(0);
        let cap = if in_region.len() == 1 {
            1
        } else {
            out_of_rotation_cap(in_region.len(), input.spec.drain.fraction)
        };
        if out >= cap {
            if !commands.is_empty() {
                break;
            }
            let message = format!(
                "{name} waits: {out} of {} nodes of region {region} are already out of rotation",
                in_region.len()
            );
            return busy(ctx, reasons::UPGRADING, message).into();
        }
        *taken.entry(region).or_default() += 1;
        commands.push(Command::SetAccepting {
            via: via.to_owned(),
            node: name.clone(),
            appliance_id: node.appliance_id.clone(),
            accepting: false,
        });
    }
    if !commands.is_empty() {
        return StepDecision::Act(commands);
    }
    let connected: Vec<(&str, u64)> = batch
        .iter()
        .filter_map(|name| view.get(name))
        .filter(|v| v.clients > 0)
        .map(|v| (v.name.as_str(), v.clients))
        .collect();
    if connected.is_empty() {
        return Verdict::Done(format!(
            "batch {n} ({} nodes) out of rotation with no client connected",
            batch.len()
        ))
        .into();
    }
    let sessions: u64 = connected.iter().map(|(_, c)| c).sum();
    let list = connected
        .iter()
        .map(|(n, c)| format!("{n} ({c})"))
        .collect::<Vec<_>>()
        .join(", ");
    let drain = &input.spec.drain;
    let timeout = parse_duration(&drain.timeout).unwrap_or_else(|| chrono::Duration::hours(2));
    if ctx.running_for() < timeout {
        return busy(
            ctx,
            reasons::UPGRADING,
            format!("waiting for {sessions} sessions to end on {list}"),
        )
        .into();
    }
    match drain.on_timeout {
        OnDrainTimeout::Wait => busy(ctx, reasons::UPGRADING, format!("drain timeout {} passed; still waiting (onTimeout: Wait) for {sessions} sessions on {list}", drain.timeout)).into(),
        OnDrainTimeout::Proceed => StepDecision::Settle(StepUpdate::with(
            Verdict::Done(format!("drain timeout {} passed; proceeding (onTimeout: Proceed): {sessions} sessions will be cut on {list}", drain.timeout)),
            StepProgress::DrainTimedOut { sessions: i64::try_from(sessions).unwrap_or(i64::MAX), nodes: list },
        )),
        OnDrainTimeout::Fail => Verdict::failed(reasons::DRAIN_TIMEOUT, format!("drain timeout {} passed with {sessions} sessions on {list}; nothing was installed on them. Wait for them or raise drain.timeout, then approve a retry", drain.timeout)).into(),
    }
}

/// Whether this round's drain of the batch timed out with `onTimeout: Proceed`.
fn proceeded(ctx: &StepContext<'_>) -> bool {
    ctx.upgrade.plan.iter().any(|s| {
        s.action == StepAction::Drain
            && s.batch == ctx.step.batch
            && s.round == ctx.step.round
            && matches!(s.progress, Some(StepProgress::DrainTimedOut { .. }))
    })
}

fn batch_targets<'a>(ctx: &StepContext<'a>) -> Result<&'a [TargetView], StepDecision> {
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

/// The verdict of a failed install of `step`'s package on `name` (R6 for base software).
fn failed(step: &PlanStep, name: &str, message: &str) -> Verdict {
    super::steps::install_failed(step, name, message)
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
        return failed(ctx.step, &t.name, message).into();
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
                return failed(next, &t.name, message).into();
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
                    return failed(ctx.step, member, message).into();
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

/// Every target runs the round's version, healthy and idle.
pub fn verify(ctx: &StepContext<'_>, n: i32) -> StepDecision {
    let targets = match batch_targets(ctx) {
        Ok(t) => t,
        Err(d) => return d,
    };
    let problems: Vec<&str> = targets
        .iter()
        .filter_map(|t| t.problem.as_deref())
        .collect();
    if problems.is_empty() {
        let want = ctx.step.version.as_deref().unwrap_or_default();
        return Verdict::Done(format!(
            "the {} targets of batch {n} run {want} and are healthy",
            targets.len()
        ))
        .into();
    }
    verify_deadline(ctx, problems.join("; ")).into()
}

/// Puts the batch back to accepting new client connections, from the acting master.
pub fn accept(ctx: &StepContext<'_>, input: &AtlasInput<'_>, n: i32) -> StepDecision {
    let (view, via) = match (node_view(ctx), acting(ctx)) {
        (Ok(v), Ok(a)) => (v, a),
        (Err(d), _) | (_, Err(d)) => return d,
    };
    let batch = nodes(input, n);
    let commands: Vec<Command> = batch
        .iter()
        .filter_map(|name| view.get(name))
        .filter(|v| !v.accepting)
        .map(|v| Command::SetAccepting {
            via: via.to_owned(),
            node: v.name.clone(),
            appliance_id: v.appliance_id.clone(),
            accepting: true,
        })
        .collect();
    if commands.is_empty() {
        return Verdict::Done(format!(
            "batch {n} ({} nodes) accepts new client connections",
            batch.len()
        ))
        .into();
    }
    StepDecision::Act(commands)
}
