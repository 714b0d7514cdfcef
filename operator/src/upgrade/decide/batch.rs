//! The steps on a batch of traffic nodes: drain, install, verify, accept.
//!
//! - Drain takes at most the region's share out of rotation (I2), counting nodes already out
//!   and those taken out in the same pass, then waits for the clients to leave (I3).
//! - Install: see [`super::batch_install`].
//! - Verify checks every target; Accept puts the batch back.

use std::collections::BTreeMap;

use baton_crds::atlas::OnDrainTimeout;
use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepAction, StepProgress};

use super::atlas::{AtlasInput, acting};
use super::batch_install::batch_targets;
pub use super::batch_install::{install, install_verdict};
use super::steps::{busy, verify_deadline};
use super::{StepContext, StepDecision};
use crate::upgrade::batches::out_of_rotation_cap;
use crate::upgrade::command::Command;
use crate::upgrade::gates::parse_duration;
use crate::upgrade::observed::NodeView;
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

/// What an install or verify step of batch `n` in `round` acts on: its nodes and, with a
/// backup master, batch 1 also that master (procedure 4, steps 4 and 5). The master is the
/// one the round's plan promotes, never "the one not acting now": after the promotion that
/// is the former primary, which its own install steps upgrade later under their own keys.
pub fn targets(input: &AtlasInput<'_>, round: i32, n: i32) -> Vec<String> {
    let mut out = nodes(input, n).to_vec();
    if n == 1 {
        let promoted = input
            .upgrade
            .into_iter()
            .flat_map(|u| &u.plan)
            .find(|s| s.round == round && s.action == StepAction::SwingTraffic)
            .and_then(|s| s.member.clone());
        out.extend(promoted);
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
