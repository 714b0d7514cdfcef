//! One reconcile of an AppliancePair: live read -> connect -> observe -> plan, or drive the
//! current step (see [`crate::drive`]) -> write status.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};

use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, PlanStep, StepAction, UpgradeStatus};
use baton_crds::{AppliancePair, AppliancePairStatus};

use super::Error;
use super::observe::{self, Observation, Seen};
use super::step::{self, StepInput};
use crate::appliance::{Relationship, Version};
use crate::context::{Context, Timings};
use crate::drive::summary::{self, Situation};
use crate::drive::{self, Driven, Next, StepResult};
use crate::members::Connected;
use crate::secrets::SecretReader;
use crate::time::to_k8s;
use crate::upgrade::{hops, plan};

/// Reconciles one pair.
pub async fn reconcile(object: Arc<AppliancePair>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<AppliancePair> = Api::namespaced(ctx.client.clone(), &namespace);
    // The cached object unless it may be older than our own last status write: acting on an
    // older step state could repeat a step (I8). Then a live read.
    let Some(pair) = drive::fresh(&api, object.clone(), &ctx.status).await? else {
        ctx.members.forget(&namespace, &name);
        ctx.status.forget(&drive::write::key(object.as_ref()));
        return Ok(Action::await_change());
    };
    let members = match connect(&ctx, &namespace, &name, &pair).await {
        Ok(m) => m,
        Err((reason, message)) => {
            let mut run = Run::new(&ctx, &api, &pair, None);
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
    };
    let mut run = Run::new(&ctx, &api, &pair, Some(members));
    Ok(drive::reconcile(&mut run).await?)
}

/// The state of one reconcile.
struct Run<'a> {
    ctx: &'a Context,
    api: &'a Api<AppliancePair>,
    pair: &'a AppliancePair,
    status: AppliancePairStatus,
    members: Option<[Connected; 2]>,
    seen: Option<[Observation; 2]>,
    recorder: Recorder,
}

impl<'a> Run<'a> {
    fn new(
        ctx: &'a Context,
        api: &'a Api<AppliancePair>,
        pair: &'a AppliancePair,
        members: Option<[Connected; 2]>,
    ) -> Self {
        let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
        Self {
            ctx,
            api,
            pair,
            status: pair.status.clone().unwrap_or_default(),
            members,
            seen: None,
            recorder,
        }
    }
}

#[async_trait]
impl Driven for Run<'_> {
    type Status = AppliancePairStatus;
    type Resource = AppliancePair;

    fn resource(&self) -> &AppliancePair {
        self.pair
    }

    /// Observes both members; updates the members table, primary and versions.
    async fn observe(&mut self) {
        let Some(members) = &self.members else { return };
        let seen = observe::observe_pair(&members[0], &members[1]).await;
        let mut rows: Vec<_> = seen.iter().map(observe::member_status).collect();
        for m in &mut rows {
            // A member that did not answer keeps its last known version.
            if m.version.is_none()
                && let Some(old) = self.status.members.iter().find(|o| o.name == m.name)
            {
                m.version.clone_from(&old.version);
                m.base_version.clone_from(&old.base_version);
            }
        }
        self.status.members = rows;
        if let Some(p) = seen.iter().find(|o| o.seen.as_ref().is_ok_and(serves)) {
            self.status.primary = Some(p.name.clone());
        }
        let versions: Vec<Version> = self
            .status
            .members
            .iter()
            .filter_map(|m| m.version.as_deref()?.parse().ok())
            .collect();
        self.status.current_version = versions.iter().min().map(ToString::to_string);
        self.status.target_version = Some(self.pair.spec.version.clone());
        self.seen = Some(seen);
    }

    fn reachability(&self) -> Result<(), String> {
        let Some(seen) = &self.seen else {
            return Err("not connected".to_owned());
        };
        let problems: Vec<String> = seen
            .iter()
            .filter_map(|o| {
                o.seen
                    .as_ref()
                    .err()
                    .map(|u| format!("{}: {}", o.name, u.message))
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// No upgrade runs: everything is where the spec wants it, or an upgrade is planned.
    async fn idle_or_plan(&mut self) -> Result<Next, kube::Error> {
        let (Some(members), Some(seen)) = (&self.members, &self.seen) else {
            return Ok(Next::Stop(
                Situation::Stalled {
                    reason: reasons::INVALID_SPEC,
                    message: "members not connected".into(),
                },
                self.ctx.timings.gated,
            ));
        };
        let gated = self.ctx.timings.gated;
        let target: Version = match self.pair.spec.version.parse() {
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
        let (a, b) = match (&seen[0].seen, &seen[1].seen) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(u), _) | (_, Err(u)) => {
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
        };
        if *a.version() == target && *b.version() == target {
            if a.failover.relationship == Relationship::Established
                && b.failover.relationship == Relationship::Established
            {
                return Ok(Next::Stop(
                    Situation::UpToDate(format!(
                        "both members run {target} with failover established"
                    )),
                    self.ctx.timings.idle,
                ));
            }
            let message = "both members run the target version but failover is not established; baton changes failover only during an upgrade: re-establish it from the primary".to_owned();
            return Ok(Next::Stop(
                Situation::Stalled {
                    reason: reasons::PREFLIGHT_FAILED,
                    message,
                },
                gated,
            ));
        }
        let (p, b_index) = if serves(a) || !serves(b) {
            (0, 1)
        } else {
            (1, 0)
        };
        let installed = a.version().min(b.version()).clone();
        // The package list with prerequisites comes from the primary.
        let packages = match members[p].appliance.packages().await {
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
        let input = plan::PairPlanInput {
            strategy: self.pair.spec.strategy,
            primary: &members[p].name,
            backup: &members[b_index].name,
            rounds: &rounds,
            gates: &self.pair.spec.approval.gates,
        };
        let steps = plan::pair_plan(&input);
        let upgrade = new_upgrade(
            self.pair.metadata.uid.as_deref(),
            self.pair.metadata.generation,
            &installed,
            &target,
            steps,
        );
        let (id, count) = (upgrade.id.clone(), upgrade.plan.len());
        self.status.upgrade = Some(upgrade);
        // The plan is written before anything acts on it.
        self.summarize(&Situation::Working {
            phase: Phase::Preparing,
            reason: reasons::UPGRADING,
            message: format!("planned upgrade {id}: {count} steps"),
        });
        self.write().await?;
        let route: Vec<String> = rounds.iter().map(|r| r.product.to_string()).collect();
        self.event(
            EventType::Normal,
            "UpgradePlanned",
            format!(
                "upgrade {id} from {installed} through {}: {count} steps",
                route.join(" -> ")
            ),
        )
        .await;
        Ok(Next::Continue)
    }

    fn status(&mut self) -> &mut AppliancePairStatus {
        &mut self.status
    }

    fn timings(&self) -> &Timings {
        &self.ctx.timings
    }

    fn phase_of(&self, upgrade: &UpgradeStatus, index: usize) -> Phase {
        let round = upgrade.plan[index].round;
        let after_break = upgrade.plan[..index]
            .iter()
            .any(|s| s.round == round && s.action == StepAction::BreakFailover);
        summary::phase_of(upgrade.plan[index].action, after_break)
    }

    async fn write(&mut self) -> Result<(), kube::Error> {
        drive::write_status(self.api, self.pair, &self.status, &self.ctx.status).await
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        publish(
            &self.recorder,
            &self.pair.object_ref(&()),
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
        let (Some(members), Some(seen)) = (&self.members, &self.seen) else {
            return drive::Outcome::Wait {
                reason: reasons::UNREACHABLE,
                message: "members not observed".into(),
                after: self.ctx.timings.busy,
            }
            .into();
        };
        let input = StepInput {
            ctx: self.ctx,
            pair: self.pair,
            upgrade_id,
            step,
            previous_finished,
            members,
            seen,
            now,
        };
        step::run(&input).await
    }
}

/// Publishes an Event; best effort, since losing one must not stop an upgrade.
pub async fn publish(
    recorder: &Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Upgrade".to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, reference).await {
        tracing::warn!(error = %e, "failed to publish an event");
    }
}

/// A new upgrade with its plan.
pub fn new_upgrade(
    uid: Option<&str>,
    generation: Option<i64>,
    installed: &Version,
    target: &Version,
    plan: Vec<PlanStep>,
) -> UpgradeStatus {
    UpgradeStatus {
        id: upgrade_id(uid, generation, target),
        from_version: installed.to_string(),
        to_version: target.to_string(),
        started_at: Some(to_k8s(Utc::now())),
        current_step: plan.first().map(|s| s.id.clone()),
        plan,
        retries: 0,
    }
}

/// Serving the site: primary of an established relationship, or holding the site address.
fn serves(seen: &Seen) -> bool {
    seen.is_established_primary() || seen.holds_site_address()
}

/// Stable for a resource generation and target, so idempotency keys survive a lost write.
fn upgrade_id(uid: Option<&str>, generation: Option<i64>, target: &Version) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((
        uid.unwrap_or_default(),
        generation.unwrap_or_default(),
        target.to_string(),
    ));
    format!("u-{:06x}", hash & 0xff_ffff)
}

async fn connect(
    ctx: &Context,
    namespace: &str,
    name: &str,
    pair: &AppliancePair,
) -> Result<[Connected; 2], (&'static str, String)> {
    let secrets = SecretReader::new(ctx.client.clone(), namespace);
    let [a, b] = pair.spec.members.as_slice() else {
        return Err((
            reasons::INVALID_SPEC,
            "a pair has exactly two members".to_owned(),
        ));
    };
    let a = ctx
        .members
        .connect(&ctx.connector, &secrets, name, a)
        .await
        .map_err(|e| (e.reason(), e.to_string()))?;
    let b = ctx
        .members
        .connect(&ctx.connector, &secrets, name, b)
        .await
        .map_err(|e| (e.reason(), e.to_string()))?;
    Ok([a, b])
}
