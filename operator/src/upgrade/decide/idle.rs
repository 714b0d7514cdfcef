//! No upgrade runs: everything is where the spec wants it, or an upgrade is planned (and
//! recorded before anything acts on it), or something keeps it from being planned.

use std::time::Duration;

use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, PlanStep, UpgradeStatus};

use super::atlas::AtlasInput;
use super::pair::PairInput;
use super::{Common, Decision, Planned};
use crate::upgrade::atlas_plan::{AtlasPlanInput, atlas_plan};
use crate::upgrade::batches::{Node, batches};
use crate::upgrade::hops::{self, PathError, Round};
use crate::upgrade::observed::{Offer, Seen, Unseen};
use crate::upgrade::plan::{PairPlanInput, pair_plan};
use crate::upgrade::time::to_k8s;
use crate::upgrade::verdict::Situation;
use crate::upgrade::version::Version;

fn hold(situation: Situation, after: Duration) -> Decision {
    Decision::Hold { situation, after }
}

fn stalled(reason: &'static str, message: impl Into<String>, common: &Common<'_>) -> Decision {
    let message = message.into();
    hold(Situation::Stalled { reason, message }, common.timings.gated)
}

fn degraded(u: &Unseen, common: &Common<'_>) -> Decision {
    if u.transient {
        let situation = Situation::Working {
            phase: Phase::Degraded,
            reason: u.reason,
            message: u.message.clone(),
        };
        hold(situation, common.timings.busy)
    } else {
        hold(
            Situation::Stalled {
                reason: u.reason,
                message: u.message.clone(),
            },
            common.timings.busy,
        )
    }
}

fn target(spec_version: &str, common: &Common<'_>) -> Result<Version, Decision> {
    spec_version
        .parse()
        .map_err(|e: crate::upgrade::version::ParseVersionError| {
            stalled(reasons::INVALID_SPEC, e.to_string(), common)
        })
}

/// The rounds from `installed` to `target` through what the serving member offers.
fn rounds(
    installed: &Version,
    target: &Version,
    offers: Option<&Result<Vec<Offer>, Unseen>>,
    common: &Common<'_>,
) -> Result<Vec<Round>, Decision> {
    let offers = match offers {
        Some(Ok(o)) => o,
        Some(Err(u)) => {
            return Err(degraded(
                &Unseen {
                    transient: true,
                    ..u.clone()
                },
                common,
            ));
        }
        None => {
            let u = Unseen::transient(
                reasons::UNREACHABLE,
                "the packages offered were not observed",
            );
            return Err(degraded(&u, common));
        }
    };
    hops::rounds(installed, target, offers).map_err(|e| {
        let reason = if matches!(e, PathError::Downgrade { .. }) {
            reasons::DOWNGRADE
        } else {
            reasons::NO_UPGRADE_PATH
        };
        stalled(reason, e.to_string(), common)
    })
}

/// The pair: up to date, or a plan from the serving member's packages.
pub fn pair(input: &PairInput<'_>) -> Decision {
    let common = &input.common;
    let target = match target(&input.spec.version, common) {
        Ok(t) => t,
        Err(d) => return d,
    };
    let seen: Vec<(&str, &Seen)> = match input
        .observed
        .members
        .iter()
        .map(|m| m.seen.as_ref().map(|s| (m.name.as_str(), s)))
        .collect::<Result<_, _>>()
    {
        Ok(s) => s,
        Err(u) => return degraded(u, common),
    };
    let [(a, sa), (b, sb)] = seen.as_slice() else {
        return stalled(
            reasons::INVALID_SPEC,
            "a pair has exactly two members",
            common,
        );
    };
    if sa.version == target && sb.version == target {
        if sa.established && sb.established {
            let message = format!("both members run {target} with failover established");
            return hold(Situation::UpToDate(message), common.timings.idle);
        }
        return stalled(
            reasons::PREFLIGHT_FAILED,
            "both members run the target version but failover is not established; baton changes failover only during an upgrade: re-establish it from the primary",
            common,
        );
    }
    let (primary, backup) = match super::pair::serving(sa, sb) {
        0 => (a, b),
        _ => (b, a),
    };
    let installed = sa.version.clone().min(sb.version.clone());
    let rounds = match rounds(
        &installed,
        &target,
        input.observed.packages.as_ref(),
        common,
    ) {
        Ok(r) => r,
        Err(d) => return d,
    };
    let plan = pair_plan(&PairPlanInput {
        strategy: input.spec.strategy,
        primary,
        backup,
        rounds: &rounds,
        gates: &input.spec.approval.gates,
    });
    let upgrade = new_upgrade(
        input.uid,
        input.generation,
        &installed,
        &target,
        plan,
        common,
    );
    let route: Vec<String> = rounds.iter().map(|r| r.product.to_string()).collect();
    let note = format!(
        "upgrade {} from {installed} through {}: {} steps",
        upgrade.id,
        route.join(" -> "),
        upgrade.plan.len()
    );
    Decision::Plan(Box::new(Planned {
        upgrade,
        batches: Vec::new(),
        note,
    }))
}

/// The Atlas cluster: up to date, or a plan from the acting master's packages, with the
/// batches chosen per region (I2).
pub fn atlas(input: &AtlasInput<'_>) -> Decision {
    let common = &input.common;
    let spec = input.spec;
    let target = match target(&spec.version, common) {
        Ok(t) => t,
        Err(d) => return d,
    };
    let observed = input.observed;
    if let Some(u) = observed.members.iter().find_map(|m| m.seen.as_ref().err()) {
        return degraded(u, common);
    }
    let (Some(acting), Some(Ok(nodes))) = (observed.acting, &observed.nodes) else {
        let message = match &observed.nodes {
            Some(Err(u)) => u.message.clone(),
            _ => "no master acts as primary".to_owned(),
        };
        return degraded(&Unseen::transient(reasons::UNREACHABLE, message), common);
    };
    let masters: Vec<&Seen> = observed
        .members
        .iter()
        .filter_map(|m| m.seen.as_ref().ok())
        .collect();
    let node_versions: Vec<Option<&Version>> = spec
        .traffic_nodes
        .iter()
        .map(|n| nodes.get(&n.name).and_then(|v| v.version.as_ref()))
        .collect();
    let all_at_target = masters.iter().all(|s| s.version == target)
        && node_versions.iter().all(|v| *v == Some(&target));
    if all_at_target {
        if masters.len() == 1 || masters.iter().all(|s| s.established) {
            let message = format!(
                "{} masters and {} traffic nodes run {target}",
                masters.len(),
                node_versions.len()
            );
            return hold(Situation::UpToDate(message), common.timings.idle);
        }
        return stalled(
            reasons::PREFLIGHT_FAILED,
            "the cluster runs the target version but the masters' failover is not established; baton changes failover only during an upgrade",
            common,
        );
    }
    let installed = masters
        .iter()
        .map(|s| &s.version)
        .chain(node_versions.iter().flatten().copied())
        .min()
        .cloned()
        .unwrap_or_else(|| target.clone());
    let rounds = match rounds(&installed, &target, observed.packages.as_ref(), common) {
        Ok(r) => r,
        Err(d) => return d,
    };
    let node_list: Vec<Node<'_>> = spec
        .traffic_nodes
        .iter()
        .map(|n| Node {
            name: &n.name,
            region: n.region.as_deref().unwrap_or_default(),
        })
        .collect();
    let chosen = batches(
        &node_list,
        spec.drain.fraction,
        spec.drain.single_node_regions,
    );
    let names: Vec<&str> = observed.members.iter().map(|m| m.name.as_str()).collect();
    let backup = names
        .iter()
        .enumerate()
        .find(|(i, _)| *i != acting)
        .map(|(_, n)| *n);
    let plan = atlas_plan(&AtlasPlanInput {
        primary: names[acting],
        backup,
        rounds: &rounds,
        gates: &spec.approval.gates,
    });
    let upgrade = new_upgrade(
        input.uid,
        input.generation,
        &installed,
        &target,
        plan,
        common,
    );
    let sizes: Vec<String> = chosen.iter().map(|b| b.len().to_string()).collect();
    let note = format!(
        "upgrade {} from {installed} to {target}: {} steps, batches of {} traffic nodes",
        upgrade.id,
        upgrade.plan.len(),
        sizes.join(" and ")
    );
    Decision::Plan(Box::new(Planned {
        upgrade,
        batches: chosen.to_vec(),
        note,
    }))
}

/// A new upgrade with its plan.
pub fn new_upgrade(
    uid: &str,
    generation: i64,
    installed: &Version,
    target: &Version,
    plan: Vec<PlanStep>,
    common: &Common<'_>,
) -> UpgradeStatus {
    UpgradeStatus {
        id: upgrade_id(uid, generation, target),
        from_version: installed.to_string(),
        to_version: target.to_string(),
        started_at: Some(to_k8s(common.now)),
        current_step: plan.first().map(|s| s.id.clone()),
        plan,
        retries: 0,
    }
}

/// Stable for a resource generation and target, so idempotency keys survive a lost write.
pub fn upgrade_id(uid: &str, generation: i64, target: &Version) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((
        uid,
        generation,
        target.to_string(),
    ));
    format!("u-{:06x}", hash & 0xff_ffff)
}
