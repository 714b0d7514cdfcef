//! One reconcile of an AtlasCluster: live read -> connect the masters -> observe masters and
//! nodes -> plan, or drive the current step (see [`crate::drive`]) -> write status.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::{Resource, ResourceExt};

use baton_crds::atlas::{AtlasCluster, AtlasClusterStatus, BatchStatus, NodeAttention};
use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, PlanStep, StepAction, StepState, UpgradeStatus};

use super::observe::{self, ClusterView};
use super::step::{self, AtlasStep};
use crate::appliance::{Relationship, Version};
use crate::context::{Context, Timings};
use crate::drive::summary::{self, Situation};
use crate::drive::{self, Driven, Next, StepResult};
use crate::members::Connected;
use crate::pair::Error;
use crate::pair::reconcile::{new_upgrade, publish};
use crate::secrets::SecretReader;
use crate::upgrade::atlas_plan::{self, AtlasPlanInput};
use crate::upgrade::batches::{self, Node};
use crate::upgrade::hops;

/// At most this many nodes are listed as needing attention; status stays small at 500 nodes.
const MAX_ATTENTION: usize = 50;

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
        Ok(m) => run.masters = m,
        Err((reason, message)) => {
            drive::finish(
                &mut run,
                &Situation::Stalled {
                    reason,
                    message: message.clone(),
                },
                Err(message),
            )
            .await?;
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
    view: Option<ClusterView>,
    recorder: Recorder,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Context, api: &'a Api<AtlasCluster>, cluster: &'a AtlasCluster) -> Self {
        let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
        Self {
            ctx,
            api,
            cluster,
            status: cluster.status.clone().unwrap_or_default(),
            masters: Vec::new(),
            view: None,
            recorder,
        }
    }
}

#[async_trait]
impl Driven for Run<'_> {
    type Status = AtlasClusterStatus;
    type Resource = AtlasCluster;

    fn resource(&self) -> &AtlasCluster {
        self.cluster
    }

    async fn observe(&mut self) {
        let view = observe::observe_cluster(&self.masters).await;
        self.status.masters = view
            .masters
            .iter()
            .map(crate::pair::observe::member_status)
            .collect();
        if let Some(i) = view.acting {
            self.status.primary = Some(view.masters[i].name.clone());
        }
        let target: Option<Version> = self.cluster.spec.version.parse().ok();
        let mut versions: Vec<Version> = view
            .masters
            .iter()
            .filter_map(|o| o.seen.as_ref().ok().map(|s| s.version().clone()))
            .collect();
        let mut attention = Vec::new();
        if let Ok(nodes) = &view.nodes {
            if let Some(t) = &target {
                self.status.regions = observe::regions(&self.cluster.spec, nodes, t);
            }
            for n in &self.cluster.spec.traffic_nodes {
                match nodes.get(&n.name).and_then(|c| c.product_version.clone()) {
                    Some(v) => versions.push(v),
                    None => attention.push(NodeAttention {
                        name: n.name.clone(),
                        reason: reasons::INVALID_SPEC.into(),
                        message: "not in the cluster the primary master reports".into(),
                    }),
                }
            }
        }
        self.status.current_version = versions.iter().min().map(ToString::to_string);
        self.status.target_version = Some(self.cluster.spec.version.clone());
        if let Some(upgrade) = &self.status.upgrade {
            attention.extend(cut_sessions(&upgrade.plan));
            self.status.current_batch = current_batch(upgrade);
            for b in &mut self.status.batches {
                b.state = batch_state(upgrade, b.number);
            }
        }
        attention.truncate(MAX_ATTENTION);
        self.status.attention = attention;
        self.view = Some(view);
    }

    fn reachability(&self) -> Result<(), String> {
        let Some(view) = &self.view else {
            return Err("not connected".into());
        };
        let mut problems: Vec<String> = view
            .masters
            .iter()
            .filter_map(|o| {
                o.seen
                    .as_ref()
                    .err()
                    .map(|u| format!("{}: {}", o.name, u.message))
            })
            .collect();
        if let Err(u) = &view.nodes {
            problems.push(format!("cluster view: {}", u.message));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    async fn idle_or_plan(&mut self) -> Result<Next, kube::Error> {
        let gated = self.ctx.timings.gated;
        let Some(view) = &self.view else {
            return Ok(Next::Stop(
                Situation::Stalled {
                    reason: reasons::INVALID_SPEC,
                    message: "masters not connected".into(),
                },
                gated,
            ));
        };
        let target: Version = match self.cluster.spec.version.parse() {
            Ok(v) => v,
            Err(e) => {
                return Ok(Next::Stop(
                    Situation::Stalled {
                        reason: reasons::INVALID_SPEC,
                        message: e.to_string(),
                    },
                    gated,
                ));
            }
        };
        if let Some(u) = view.masters.iter().find_map(|o| o.seen.as_ref().err()) {
            let situation = if u.transient {
                Situation::Working {
                    phase: Phase::Degraded,
                    reason: u.reason,
                    message: u.message.clone(),
                }
            } else {
                Situation::Stalled {
                    reason: u.reason,
                    message: u.message.clone(),
                }
            };
            return Ok(Next::Stop(situation, self.ctx.timings.busy));
        }
        let (Some(acting), Ok(nodes)) = (view.acting, &view.nodes) else {
            let message = view.nodes.as_ref().err().map_or_else(
                || "no master acts as primary".to_owned(),
                |u| u.message.clone(),
            );
            return Ok(Next::Stop(
                Situation::Working {
                    phase: Phase::Degraded,
                    reason: reasons::UNREACHABLE,
                    message,
                },
                self.ctx.timings.busy,
            ));
        };
        let master_versions: Vec<Version> = view
            .masters
            .iter()
            .filter_map(|o| o.seen.as_ref().ok().map(|s| s.version().clone()))
            .collect();
        let node_versions: Vec<Option<Version>> = self
            .cluster
            .spec
            .traffic_nodes
            .iter()
            .map(|n| nodes.get(&n.name).and_then(|c| c.product_version.clone()))
            .collect();
        let all_at_target = master_versions.iter().all(|v| *v == target)
            && node_versions.iter().all(|v| v.as_ref() == Some(&target));
        if all_at_target {
            let established = self.masters.len() == 1
                || view.masters.iter().all(|o| {
                    o.seen
                        .as_ref()
                        .is_ok_and(|s| s.failover.relationship == Relationship::Established)
                });
            if established {
                let message = format!(
                    "{} masters and {} traffic nodes run {target}",
                    self.masters.len(),
                    node_versions.len()
                );
                return Ok(Next::Stop(
                    Situation::UpToDate(message),
                    self.ctx.timings.idle,
                ));
            }
            let message = "the cluster runs the target version but the masters' failover is not established; baton changes failover only during an upgrade".to_owned();
            return Ok(Next::Stop(
                Situation::Stalled {
                    reason: reasons::PREFLIGHT_FAILED,
                    message,
                },
                gated,
            ));
        }
        let installed = master_versions
            .iter()
            .chain(node_versions.iter().flatten())
            .min()
            .cloned()
            .unwrap_or_else(|| target.clone());
        let packages = match self.masters[acting].appliance.packages().await {
            Ok(p) => p,
            Err(e) => {
                return Ok(Next::Stop(
                    Situation::Working {
                        phase: Phase::Degraded,
                        reason: reasons::UNREACHABLE,
                        message: e.to_string(),
                    },
                    self.ctx.timings.busy,
                ));
            }
        };
        let rounds = match hops::rounds(&installed, &target, &packages) {
            Ok(r) => r,
            Err(e) => {
                let reason = if matches!(e, hops::PathError::Downgrade { .. }) {
                    reasons::DOWNGRADE
                } else {
                    reasons::NO_UPGRADE_PATH
                };
                return Ok(Next::Stop(
                    Situation::Stalled {
                        reason,
                        message: e.to_string(),
                    },
                    gated,
                ));
            }
        };
        let spec = &self.cluster.spec;
        let node_list: Vec<Node<'_>> = spec
            .traffic_nodes
            .iter()
            .map(|n| Node {
                name: &n.name,
                region: n.region.as_deref().unwrap_or_default(),
            })
            .collect();
        let chosen = batches::batches(
            &node_list,
            spec.drain.fraction,
            spec.drain.single_node_regions,
        );
        let backup = self
            .masters
            .iter()
            .enumerate()
            .find(|(i, _)| *i != acting)
            .map(|(_, m)| m.name.as_str());
        let input = AtlasPlanInput {
            primary: &self.masters[acting].name,
            backup,
            rounds: &rounds,
            gates: &spec.approval.gates,
        };
        let steps = atlas_plan::atlas_plan(&input);
        let upgrade = new_upgrade(
            self.cluster.metadata.uid.as_deref(),
            self.cluster.metadata.generation,
            &installed,
            &target,
            steps,
        );
        let (id, count) = (upgrade.id.clone(), upgrade.plan.len());
        // The batches are written with the plan, before anything is drained.
        self.status.batches = chosen
            .iter()
            .enumerate()
            .map(|(i, nodes)| BatchStatus {
                number: i as i32 + 1,
                state: "Pending".into(),
                nodes: nodes.clone(),
            })
            .collect();
        self.status.upgrade = Some(upgrade);
        self.summarize(&Situation::Working {
            phase: Phase::Preparing,
            reason: reasons::UPGRADING,
            message: format!("planned upgrade {id}: {count} steps"),
        });
        self.write().await?;
        let sizes: Vec<String> = chosen.iter().map(|b| b.len().to_string()).collect();
        self.event(EventType::Normal, "UpgradePlanned", format!("upgrade {id} from {installed} to {target}: {count} steps, batches of {} traffic nodes", sizes.join(" and "))).await;
        Ok(Next::Continue)
    }

    /// Records the sessions cut after drain timeouts (Proceed) in lastUpgrade and clears the
    /// batches, which belong to the finished upgrade.
    fn finished(&mut self, upgrade: &UpgradeStatus) -> bool {
        let cut: u64 = upgrade
            .plan
            .iter()
            .filter(|s| s.action == StepAction::Install)
            .map(|s| super::batch::cut_so_far(s.reference.as_deref()))
            .sum();
        if let Some(last) = self.status.last_upgrade.as_mut() {
            last.sessions_cut = (cut > 0).then(|| i64::try_from(cut).unwrap_or(i64::MAX));
        }
        self.status.batches.clear();
        self.status.current_batch = None;
        true
    }

    fn status(&mut self) -> &mut AtlasClusterStatus {
        &mut self.status
    }

    fn timings(&self) -> &Timings {
        &self.ctx.timings
    }

    fn phase_of(&self, upgrade: &UpgradeStatus, index: usize) -> Phase {
        let round = upgrade.plan[index].round;
        let started = upgrade.plan[..index]
            .iter()
            .any(|s| s.round == round && s.action == StepAction::Drain);
        match upgrade.plan[index].action {
            StepAction::Distribute if !started => Phase::Preparing,
            StepAction::Drain | StepAction::Install | StepAction::Verify => Phase::Upgrading,
            StepAction::Accept | StepAction::SyncCluster | StepAction::EnableBackupOperations => {
                Phase::Finishing
            }
            other => summary::phase_of(other, started),
        }
    }

    async fn write(&mut self) -> Result<(), kube::Error> {
        drive::write_status(self.api, self.cluster, &self.status, &self.ctx.status).await
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

    async fn run_step(
        &mut self,
        upgrade_id: &str,
        step: &PlanStep,
        previous_finished: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StepResult {
        let Some(view) = &self.view else {
            return drive::Outcome::Wait {
                reason: reasons::UNREACHABLE,
                message: "cluster not observed".into(),
                after: self.ctx.timings.busy,
            }
            .into();
        };
        let batches: Vec<Vec<String>> = self
            .status
            .batches
            .iter()
            .map(|b| b.nodes.clone())
            .collect();
        let plan = self
            .status
            .upgrade
            .as_ref()
            .map(|u| u.plan.clone())
            .unwrap_or_default();
        let input = AtlasStep {
            ctx: self.ctx,
            cluster: self.cluster,
            upgrade_id,
            step,
            previous_finished,
            masters: &self.masters,
            view,
            batches: &batches,
            plan: &plan,
            now,
        };
        step::run(&input).await
    }
}

/// Nodes whose drain timed out with `onTimeout: Proceed`, for the attention list.
fn cut_sessions(plan: &[PlanStep]) -> Vec<NodeAttention> {
    plan.iter()
        .filter(|s| s.action == StepAction::Drain)
        .filter_map(|s| s.reference.as_deref()?.strip_prefix("proceed:")?.split_once(':').map(|(_, list)| list.to_owned()))
        .flat_map(|list| list.split(", ").map(str::to_owned).collect::<Vec<_>>())
        .map(|entry| {
            let name = entry.split(' ').next().unwrap_or_default().to_owned();
            NodeAttention { name, reason: reasons::DRAIN_TIMEOUT.into(), message: format!("installed with clients connected after the drain timeout (onTimeout: Proceed): {entry} sessions cut") }
        })
        .collect()
}

/// The batch the current step works on.
fn current_batch(upgrade: &UpgradeStatus) -> Option<i32> {
    let step = upgrade
        .plan
        .iter()
        .find(|s| !matches!(s.state, StepState::Succeeded | StepState::Skipped))?;
    step.member.as_deref()?.strip_prefix("batch-")?.parse().ok()
}

/// Pending, Draining, Installing or Serving, from the plan's steps for the batch.
fn batch_state(upgrade: &UpgradeStatus, number: i32) -> String {
    let member = atlas_plan::batch_member(number);
    let round = upgrade
        .plan
        .iter()
        .find(|s| !matches!(s.state, StepState::Succeeded | StepState::Skipped))
        .map_or(i32::MAX, |s| s.round);
    let of = |a: StepAction| -> Vec<&PlanStep> {
        upgrade
            .plan
            .iter()
            .filter(|s| {
                s.round == round && s.action == a && s.member.as_deref() == Some(member.as_str())
            })
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
