//! One reconcile of an AtlasCluster: live read -> connect the masters -> the shared skeleton
//! ([`crate::drive::reconcile`]) with the cluster's observation and decision.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::{Resource, ResourceExt};

use baton_crds::atlas::{AtlasCluster, AtlasClusterStatus, BatchStatus, NodeAttention};
use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepAction, StepProgress, StepState, UpgradeStatus};

use super::{observe, targets};
use crate::context::Context;
use crate::drive::executors::{Executors, Fleet, Site, Target};
use crate::drive::observe::extras;
use crate::drive::summary::Situation;
use crate::drive::{self, Kind};
use crate::members::Connected;
use crate::pair::Error;
use crate::pair::reconcile::{common_of, publish};
use crate::secrets::SecretReader;
use crate::upgrade::command::{Command, Report};
use crate::upgrade::decide::atlas::{AtlasInput, decide};
use crate::upgrade::decide::{Common, Decision, Planned};
use crate::upgrade::needs::needs;
use crate::upgrade::observed::Observed;

/// Reconciles one Atlas cluster.
pub async fn reconcile(object: Arc<AtlasCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<AtlasCluster> = Api::namespaced(ctx.client.clone(), &namespace);
    // The cached object unless it may be older than our own last status write: acting on an
    // older step state could repeat a step (I8). Then a live read.
    let Some(cluster) = drive::fresh(&api, object.clone(), &ctx.status).await? else {
        ctx.members.forget(&namespace, &name);
        ctx.status.forget(&drive::write::key(object.as_ref()));
        return Ok(Action::await_change());
    };
    let mut run = Run::new(&ctx, &api, &cluster);
    match connect(&ctx, &namespace, &name, &cluster).await {
        Ok(masters) => {
            for m in &masters {
                run.fleet.add(m.clone());
            }
            run.masters = masters;
        }
        Err((reason, message)) => {
            let situation = Situation::Stalled {
                reason,
                message: message.clone(),
            };
            drive::finish(&mut run, &situation, Err(message)).await?;
            return Ok(Action::requeue(ctx.timings.gated));
        }
    }
    Ok(drive::reconcile(&mut run).await?)
}

struct Run<'a> {
    ctx: &'a Context,
    api: &'a Api<AtlasCluster>,
    cluster: &'a AtlasCluster,
    status: AtlasClusterStatus,
    masters: Vec<Connected>,
    fleet: Fleet,
    executors: Executors,
    recorder: Recorder,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Context, api: &'a Api<AtlasCluster>, cluster: &'a AtlasCluster) -> Self {
        let mut status = cluster.status.clone().unwrap_or_default();
        if let Some(upgrade) = status.upgrade.as_mut() {
            crate::upgrade::legacy::carry_over(upgrade);
        }
        Self {
            ctx,
            api,
            cluster,
            status,
            masters: Vec::new(),
            fleet: Fleet::default(),
            executors: Executors::default(),
            recorder: Recorder::new(ctx.client.clone(), ctx.reporter.clone()),
        }
    }

    fn batches(&self) -> Vec<Vec<String>> {
        self.status
            .batches
            .iter()
            .map(|b| b.nodes.clone())
            .collect()
    }

    fn input<'b>(
        &'b self,
        observed: &'b Observed,
        batches: &'b [Vec<String>],
        now: DateTime<Utc>,
    ) -> AtlasInput<'b> {
        let meta = self.cluster.meta();
        AtlasInput {
            common: self.common(now),
            spec: &self.cluster.spec,
            uid: meta.uid.as_deref().unwrap_or_default(),
            generation: meta.generation.unwrap_or_default(),
            upgrade: self.status.upgrade.as_ref(),
            batches,
            observed,
        }
    }
}

#[async_trait]
impl Kind for Run<'_> {
    type Status = AtlasClusterStatus;
    type Resource = AtlasCluster;

    fn resource(&self) -> &AtlasCluster {
        self.cluster
    }

    fn status(&mut self) -> &mut AtlasClusterStatus {
        &mut self.status
    }

    fn status_ref(&self) -> &AtlasClusterStatus {
        &self.status
    }

    fn common(&self, now: DateTime<Utc>) -> Common<'_> {
        common_of(
            self.cluster,
            "atlas",
            &self.cluster.spec.soak,
            self.ctx,
            now,
        )
    }

    async fn observe(&mut self) -> Observed {
        let mut observed =
            observe::observe_cluster(self.cluster, &self.masters, &mut self.status).await;
        let needs = needs(self.status.upgrade.as_ref());
        extras(
            &needs,
            &self.masters,
            &mut observed,
            self.ctx.timings.long_poll,
        )
        .await;
        if let Some(need) = &needs.targets {
            let batches = self.batches();
            let input = self.input(&observed, &batches, Utc::now());
            let at = (need.round, need.batch);
            let connected =
                targets::connect(self.ctx, self.cluster, &input, &self.masters, at).await;
            observed.targets = Some(match connected {
                Ok(list) => {
                    let views = targets::read(&list, &need.query, &observed).await;
                    for t in list {
                        self.fleet.add(t);
                    }
                    Ok(views)
                }
                Err(u) => Err(u),
            });
        }
        if self.status.upgrade.is_none() && observe::needs_plan(self.cluster, &observed) {
            // The package list with prerequisites comes from the acting master.
            if let Some(m) = observed.acting.and_then(|i| self.masters.get(i)) {
                observed.packages = Some(crate::drive::observe::packages(m).await);
            }
        }
        observed
    }

    fn decide(&self, observed: &Observed, now: DateTime<Utc>) -> Decision {
        if self.masters.is_empty() {
            return Decision::Hold {
                situation: Situation::Stalled {
                    reason: reasons::INVALID_SPEC,
                    message: "masters not connected".into(),
                },
                after: self.ctx.timings.gated,
            };
        }
        let batches = self.batches();
        decide(&self.input(observed, &batches, now))
    }

    async fn act(&mut self, commands: &[Command]) -> Vec<Report> {
        let site = Site {
            namespace: self.cluster.namespace().unwrap_or_default(),
            name: self.cluster.name_any(),
            short_name: "atlas",
            upgrade_id: self
                .status
                .upgrade
                .as_ref()
                .map(|u| u.id.clone())
                .unwrap_or_default(),
            swing: self.cluster.spec.traffic_swing.clone(),
            backup: self.cluster.spec.backup.clone(),
        };
        let target = Target {
            ctx: self.ctx,
            site: &site,
            fleet: &self.fleet,
        };
        self.executors.act(commands, &target).await
    }

    /// The batches are written with the plan, before anything is drained.
    fn planned(&mut self, planned: &Planned) {
        self.status.batches = planned
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
    fn finished(&mut self, upgrade: &UpgradeStatus) {
        let cut: i64 = upgrade
            .plan
            .iter()
            .filter_map(|s| match s.progress {
                Some(StepProgress::SessionsCut { sessions }) => Some(sessions),
                _ => None,
            })
            .sum();
        if let Some(last) = self.status.last_upgrade.as_mut() {
            last.sessions_cut = (cut > 0).then_some(cut);
        }
        self.status.batches.clear();
        self.status.current_batch = None;
    }

    async fn write(&mut self, force: bool) -> Result<bool, kube::Error> {
        drive::write_status(
            self.api,
            self.cluster,
            &self.status,
            &self.ctx.status,
            force,
        )
        .await
    }

    fn read_is_current(&self) -> bool {
        drive::write::shows_our_last_write(self.cluster, &self.ctx.status)
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        publish(
            &self.recorder,
            &self.cluster.object_ref(&()),
            type_,
            reason,
            note,
        )
        .await;
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

async fn connect(
    ctx: &Context,
    namespace: &str,
    name: &str,
    cluster: &AtlasCluster,
) -> Result<Vec<Connected>, (&'static str, String)> {
    let secrets = SecretReader::new(ctx.client.clone(), namespace);
    let mut out = Vec::new();
    for m in
        std::iter::once(&cluster.spec.primary_master).chain(cluster.spec.backup_master.as_ref())
    {
        out.push(
            ctx.members
                .connect(&ctx.connector, &secrets, name, m)
                .await
                .map_err(|e| (e.reason(), e.to_string()))?,
        );
    }
    Ok(out)
}
