//! The AtlasCluster adapter: connect the masters, observe them, the cluster view and a
//! batch's nodes, the cluster's decision; the batches kept beside the plan.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::runtime::controller::Action;

use baton_crds::atlas::{AtlasCluster, BatchStatus, NodeAttention};
use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepAction, StepProgress, StepState, UpgradeStatus};

use super::{observe, targets};
use crate::context::Context;
use crate::drive::observe::extras;
use crate::drive::run::{self, Adapter, Run};
use crate::members::Connected;
use crate::pair::Error;
use crate::secrets::SecretReader;
use crate::upgrade::decide::atlas::{AtlasInput, decide};
use crate::upgrade::decide::{Decision, Planned};
use crate::upgrade::needs::needs;
use crate::upgrade::observed::Observed;

/// Reconciles one Atlas cluster.
pub async fn reconcile(object: Arc<AtlasCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    Ok(run::reconcile::<AtlasCluster, Cluster>(object, ctx).await?)
}

/// The masters, connected: the primary master from spec first, then the backup master.
#[derive(Debug)]
struct Cluster {
    masters: Vec<Connected>,
}

/// The traffic nodes of each batch, as recorded when the upgrade was planned.
fn batches(run: &Run<'_, AtlasCluster>) -> Vec<Vec<String>> {
    run.status.batches.iter().map(|b| b.nodes.clone()).collect()
}

fn input<'b>(
    run: &'b Run<'_, AtlasCluster>,
    observed: &'b Observed,
    batches: &'b [Vec<String>],
    now: DateTime<Utc>,
) -> AtlasInput<'b> {
    let (uid, generation) = run.identity();
    AtlasInput {
        common: run.common(now),
        spec: &run.resource.spec,
        uid,
        generation,
        upgrade: run.status.upgrade.as_ref(),
        batches,
        observed,
    }
}

#[async_trait]
impl Adapter<AtlasCluster> for Cluster {
    async fn connect(
        ctx: &Context,
        cluster: &AtlasCluster,
    ) -> Result<Self, (&'static str, String)> {
        let namespace = cluster.metadata.namespace.clone().unwrap_or_default();
        let name = cluster.metadata.name.clone().unwrap_or_default();
        let secrets = SecretReader::new(ctx.client.clone(), &namespace);
        let mut masters = Vec::new();
        let spec = &cluster.spec;
        for m in std::iter::once(&spec.primary_master).chain(spec.backup_master.as_ref()) {
            let connected = ctx
                .members
                .connect(&ctx.connector, &secrets, &name, m)
                .await;
            masters.push(connected.map_err(|e| (e.reason(), e.to_string()))?);
        }
        Ok(Self { masters })
    }

    fn members(&self) -> Vec<Connected> {
        self.masters.clone()
    }

    async fn observe(&mut self, run: &mut Run<'_, AtlasCluster>) -> Observed {
        let mut observed =
            observe::observe_cluster(run.resource, &self.masters, &mut run.status).await;
        let needs = needs(run.status.upgrade.as_ref());
        extras(
            &needs,
            &self.masters,
            &mut observed,
            run.ctx.timings.long_poll,
        )
        .await;
        if let Some(need) = &needs.targets {
            let batches = batches(run);
            let input = input(run, &observed, &batches, Utc::now());
            let at = (need.round, need.batch);
            let connected =
                targets::connect(run.ctx, run.resource, &input, &self.masters, at).await;
            observed.targets = Some(match connected {
                Ok(list) => {
                    let views = targets::read(&list, &need.query, &observed).await;
                    for t in list {
                        run.fleet.add(t);
                    }
                    Ok(views)
                }
                Err(u) => Err(u),
            });
        }
        if run.status.upgrade.is_none() && observe::needs_plan(run.resource, &observed) {
            // The package list with prerequisites comes from the acting master.
            if let Some(m) = observed.acting.and_then(|i| self.masters.get(i)) {
                observed.packages = Some(crate::drive::observe::packages(m).await);
            }
        }
        observed
    }

    fn decide(
        &self,
        run: &Run<'_, AtlasCluster>,
        observed: &Observed,
        now: DateTime<Utc>,
    ) -> Decision {
        let batches = batches(run);
        decide(&input(run, observed, &batches, now))
    }

    /// The batches are written with the plan, before anything is drained.
    fn planned(&mut self, run: &mut Run<'_, AtlasCluster>, planned: &Planned) {
        run.status.batches = planned
            .batches
            .iter()
            .enumerate()
            .map(|(i, nodes)| BatchStatus {
                number: i as i32 + 1,
                state: "Pending".into(),
                nodes: nodes.clone(),
            })
            .collect();
    }

    /// Records the sessions cut after drain timeouts (Proceed) in lastUpgrade and clears the
    /// batches, which belong to the finished upgrade.
    fn finished(&mut self, run: &mut Run<'_, AtlasCluster>, upgrade: &UpgradeStatus) {
        let cut: i64 = upgrade
            .plan
            .iter()
            .filter_map(|s| match s.progress {
                Some(StepProgress::SessionsCut { sessions }) => Some(sessions),
                _ => None,
            })
            .sum();
        if let Some(last) = run.status.last_upgrade.as_mut() {
            last.sessions_cut = (cut > 0).then_some(cut);
        }
        run.status.batches.clear();
        run.status.current_batch = None;
    }
}

/// Nodes whose drain timed out with `onTimeout: Proceed`, for the attention list.
pub fn cut_sessions(plan: &[PlanStep]) -> Vec<NodeAttention> {
    plan.iter()
        .filter_map(|s| match &s.progress {
            Some(StepProgress::DrainTimedOut { nodes, .. }) => Some(nodes.clone()),
            _ => None,
        })
        .flat_map(|list| list.split(", ").map(str::to_owned).collect::<Vec<_>>())
        .map(|entry| {
            let name = entry.split(' ').next().unwrap_or_default().to_owned();
            NodeAttention {
                name,
                reason: reasons::DRAIN_TIMEOUT.into(),
                message: format!("installed with clients connected after the drain timeout (onTimeout: Proceed): {entry} sessions cut"),
            }
        })
        .collect()
}

/// The batch the current step works on.
pub fn current_batch(upgrade: &UpgradeStatus) -> Option<i32> {
    crate::upgrade::needs::current(upgrade)?.batch
}

/// Pending, Draining, Installing or Serving, from the plan's steps for the batch.
pub fn batch_state(upgrade: &UpgradeStatus, number: i32) -> String {
    let round = crate::upgrade::needs::current(upgrade).map_or(i32::MAX, |s| s.round);
    let of = |a: StepAction| -> Vec<&PlanStep> {
        upgrade
            .plan
            .iter()
            .filter(|s| s.round == round && s.action == a && s.batch == Some(number))
            .collect()
    };
    let accept = of(StepAction::Accept);
    if !accept.is_empty() && accept.iter().all(|s| s.state == StepState::Succeeded) {
        "Serving"
    } else if of(StepAction::Install)
        .iter()
        .any(|s| s.state != StepState::Pending)
    {
        "Installing"
    } else if of(StepAction::Drain)
        .iter()
        .any(|s| s.state != StepState::Pending)
    {
        "Draining"
    } else {
        "Pending"
    }
    .to_owned()
}
