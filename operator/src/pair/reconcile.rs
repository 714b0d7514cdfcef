//! One reconcile of an AppliancePair: live read -> connect -> observe -> plan, or drive the
//! current step -> write status. Every step is written to status as Running before its first
//! request and as Succeeded after it, so a restarted operator resumes from status alone (I8).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde_json::json;

use baton_crds::conditions::reasons;
use baton_crds::status::{LastUpgrade, Phase, StepAction, StepState, UpgradeStatus};
use baton_crds::{AppliancePair, AppliancePairStatus};

use super::Error;
use super::observe::{self, Observation, Seen};
use super::step::{self, Outcome, StepInput};
use super::summary::{self, Situation};
use crate::appliance::{Relationship, Version};
use crate::context::{Context, FIELD_MANAGER};
use crate::members::Connected;
use crate::time::{from_k8s, to_k8s};
use crate::upgrade::{gates, hops, plan};

/// How many step transitions one reconcile makes before yielding (each one is written).
const MAX_TRANSITIONS: usize = 32;
/// Marks a step reset by a Retry approval, so one approval buys one retry.
const RETRIED: &str = "retried after approval";

/// Reconciles one pair.
pub async fn reconcile(object: Arc<AppliancePair>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<AppliancePair> = Api::namespaced(ctx.client.clone(), &namespace);
    // A live read, not the cache: the cache may not show our own last status write yet, and
    // acting on an older step state could repeat a step (I8).
    let Some(pair) = api.get_opt(&name).await? else {
        ctx.members.forget(&namespace, &name);
        return Ok(Action::await_change());
    };
    let mut run = Run {
        ctx: &ctx,
        api: &api,
        pair: &pair,
        status: pair.status.clone().unwrap_or_default(),
        recorder: Recorder::new(ctx.client.clone(), ctx.reporter.clone()),
    };
    let members = match connect(&ctx, &namespace, &name, &pair).await {
        Ok(m) => m,
        Err((reason, message)) => {
            run.finish(
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
    for _ in 0..MAX_TRANSITIONS {
        let seen = observe::observe_pair(&members[0], &members[1]).await;
        run.observe(&seen);
        if let Next::Stop(situation, after) = run.next(&members, &seen).await? {
            run.finish(&situation, reachability(&seen)).await?;
            return Ok(Action::requeue(after));
        }
    }
    Ok(Action::requeue(Duration::ZERO))
}

enum Next {
    /// A step finished or a plan was written: go on within this reconcile.
    Continue,
    /// Write this situation and come back after the duration.
    Stop(Situation, Duration),
}

struct Run<'a> {
    ctx: &'a Context,
    api: &'a Api<AppliancePair>,
    pair: &'a AppliancePair,
    status: AppliancePairStatus,
    recorder: Recorder,
}

impl Run<'_> {
    /// Members table, primary and versions from this observation.
    fn observe(&mut self, seen: &[Observation; 2]) {
        let mut members: Vec<_> = seen.iter().map(observe::member_status).collect();
        for m in &mut members {
            // A member that did not answer keeps its last known version.
            if m.version.is_none()
                && let Some(old) = self.status.members.iter().find(|o| o.name == m.name)
            {
                m.version.clone_from(&old.version);
                m.base_version.clone_from(&old.base_version);
            }
        }
        self.status.members = members;
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
    }

    /// Decides and acts once.
    async fn next(
        &mut self,
        members: &[Connected; 2],
        seen: &[Observation; 2],
    ) -> Result<Next, Error> {
        let Some(mut upgrade) = self.status.upgrade.take() else {
            return self.idle_or_plan(members, seen).await;
        };
        let result = self.drive(&mut upgrade, members, seen).await;
        self.status.upgrade = Some(upgrade);
        result
    }

    async fn drive(
        &mut self,
        upgrade: &mut UpgradeStatus,
        members: &[Connected; 2],
        seen: &[Observation; 2],
    ) -> Result<Next, Error> {
        let now = Utc::now();
        let Some(index) = upgrade
            .plan
            .iter()
            .position(|s| !matches!(s.state, StepState::Succeeded | StepState::Skipped))
        else {
            self.complete(upgrade, now);
            self.write().await?;
            self.event(
                EventType::Normal,
                "UpgradeSucceeded",
                format!("upgrade {} to {} finished", upgrade.id, upgrade.to_version),
            )
            .await;
            return Ok(Next::Continue);
        };
        let phase = summary::phase_of(upgrade.plan[index].action, after_break(upgrade, index));
        // The step shown is the one running or waiting to run, also while a gate holds it.
        upgrade.current_step = Some(upgrade.plan[index].id.clone());

        if upgrade.plan[index].state == StepState::Failed {
            let step = &mut upgrade.plan[index];
            let retried = step
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with(RETRIED));
            if self.approved(&upgrade.id, "Retry") && !retried {
                step.state = StepState::Pending;
                step.reference = None;
                step.finished_at = None;
                step.message = Some(format!("{RETRIED} {}/Retry", upgrade.id));
                let note = format!("retrying step {}", step.id);
                self.write_with(upgrade).await?;
                self.event(EventType::Normal, "RetryApproved", note).await;
                return Ok(Next::Continue);
            }
            let reason = if step.base_software {
                reasons::BASE_INSTALL_FAILED
            } else {
                reasons::INSTALL_FAILED
            };
            let message = step.message.clone().unwrap_or_default();
            return Ok(Next::Stop(
                Situation::Stalled { reason, message },
                self.ctx.timings.gated,
            ));
        }

        if upgrade.plan[index].state == StepState::Pending {
            if let Some(hold) = self.hold(&upgrade.plan[index], now) {
                return Ok(Next::Stop(hold, self.ctx.timings.gated));
            }
            let step = &mut upgrade.plan[index];
            step.state = StepState::Running;
            step.started_at = Some(to_k8s(now));
            let note = format!("{}: {}", step.id, step.description);
            // Recorded before the step's first request goes out (I8).
            self.summarize(&Situation::Working {
                phase,
                reason: reasons::UPGRADING,
                message: note.clone(),
            });
            self.write_with(upgrade).await?;
            self.event(EventType::Normal, "StepStarted", note).await;
        }

        let previous_finished = index
            .checked_sub(1)
            .and_then(|i| upgrade.plan[i].finished_at.as_ref())
            .map(from_k8s);
        let current = upgrade.plan[index].clone();
        let input = StepInput {
            ctx: self.ctx,
            pair: self.pair,
            upgrade_id: &upgrade.id,
            step: &current,
            previous_finished,
            members,
            seen,
            now,
        };
        let result = step::run(&input).await;
        if let Some(backup) = result.backup {
            self.status.backup = Some(backup);
        }
        let step = &mut upgrade.plan[index];
        if let Some(reference) = result.reference {
            step.reference = Some(reference);
        }
        match result.outcome {
            Outcome::Done(message) => {
                step.state = StepState::Succeeded;
                step.finished_at = Some(to_k8s(Utc::now()));
                step.message = Some(message.clone());
                let note = format!("{}: {message}", step.id);
                self.write_with(upgrade).await?;
                self.event(EventType::Normal, "StepSucceeded", note).await;
                Ok(Next::Continue)
            }
            Outcome::Wait {
                reason,
                message,
                after,
            } => {
                step.message = Some(message.clone());
                let situation = match (reason, self.pair.spec.paused) {
                    (reasons::AWAITING_APPROVAL, _) => Situation::Held {
                        phase: Phase::AwaitingApproval,
                        reason,
                        message,
                    },
                    (_, true) => Situation::Held {
                        phase: Phase::Paused,
                        reason: reasons::PAUSED,
                        message: format!("paused; the running step is still observed: {message}"),
                    },
                    _ => Situation::Working {
                        phase,
                        reason,
                        message,
                    },
                };
                Ok(Next::Stop(situation, after))
            }
            Outcome::Failed { reason, message } => {
                step.state = StepState::Failed;
                step.finished_at = Some(to_k8s(Utc::now()));
                step.message = Some(message.clone());
                let note = format!("{}: {message}", step.id);
                self.write_with(upgrade).await?;
                self.event(EventType::Warning, reason, note).await;
                Ok(Next::Stop(
                    Situation::Stalled { reason, message },
                    self.ctx.timings.gated,
                ))
            }
        }
    }

    /// No upgrade runs: everything is where the spec wants it, or an upgrade is planned.
    async fn idle_or_plan(
        &mut self,
        members: &[Connected; 2],
        seen: &[Observation; 2],
    ) -> Result<Next, Error> {
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
                let message = format!("both members run {target} with failover established");
                return Ok(Next::Stop(
                    Situation::UpToDate(message),
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
        let id = upgrade_id(self.pair, &target);
        let steps = plan::pair_plan(&input);
        let count = steps.len();
        self.status.upgrade = Some(UpgradeStatus {
            id: id.clone(),
            from_version: installed.to_string(),
            to_version: target.to_string(),
            started_at: Some(to_k8s(Utc::now())),
            current_step: steps.first().map(|s| s.id.clone()),
            plan: steps,
        });
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

    /// What holds a pending step: the pause, then maintenance windows for disruptive steps.
    fn hold(&self, step: &baton_crds::status::PlanStep, now: DateTime<Utc>) -> Option<Situation> {
        if self.pair.spec.paused {
            return Some(Situation::Held {
                phase: Phase::Paused,
                reason: reasons::PAUSED,
                message: format!("paused before {}", step.id),
            });
        }
        let windows = &self.pair.spec.maintenance_windows;
        if gates::is_disruptive(step.action) && !gates::in_window(windows, now) {
            let errors = gates::window_errors(windows);
            if !errors.is_empty() {
                return Some(Situation::Stalled {
                    reason: reasons::INVALID_SPEC,
                    message: errors.join("; "),
                });
            }
            let opens = gates::next_window_start(windows, now)
                .map_or_else(|| "not within a week".to_owned(), |t| t.to_rfc3339());
            return Some(Situation::Held {
                phase: Phase::WaitingForWindow,
                reason: reasons::OUTSIDE_WINDOW,
                message: format!(
                    "{} waits for the next maintenance window (opens {opens})",
                    step.id
                ),
            });
        }
        None
    }

    fn approved(&self, upgrade_id: &str, gate: &str) -> bool {
        let annotation = self
            .pair
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(gates::APPROVE_ANNOTATION));
        gates::is_approved(
            upgrade_id,
            gate,
            &self.pair.spec.approval.approved,
            annotation.map(String::as_str),
        )
    }

    /// Every step succeeded: record the upgrade as the last one and clear it.
    fn complete(&mut self, upgrade: &UpgradeStatus, now: DateTime<Utc>) {
        let first_disruptive = upgrade
            .plan
            .iter()
            .find(|s| gates::is_disruptive(s.action))
            .and_then(|s| s.started_at.as_ref())
            .map(from_k8s);
        let started = first_disruptive
            .or_else(|| upgrade.started_at.as_ref().map(from_k8s))
            .unwrap_or(now);
        self.status.last_upgrade = Some(LastUpgrade {
            id: upgrade.id.clone(),
            from_version: upgrade.from_version.clone(),
            to_version: upgrade.to_version.clone(),
            started_at: upgrade.started_at.clone(),
            finished_at: Some(to_k8s(now)),
            duration_seconds: (now - started).num_seconds(),
            downtime_seconds: swing_seconds(upgrade),
            sessions_cut: None,
        });
        self.status.upgrade = None;
    }

    fn summarize(&mut self, situation: &Situation) {
        let now = to_k8s(Utc::now());
        summary::apply(
            &mut self.status,
            situation,
            self.pair.spec.paused,
            Ok(()),
            self.pair.metadata.generation,
            &now,
        );
    }

    /// Writes the situation with the status.
    async fn finish(
        &mut self,
        situation: &Situation,
        reachable: Result<(), String>,
    ) -> Result<(), Error> {
        let now = to_k8s(Utc::now());
        summary::apply(
            &mut self.status,
            situation,
            self.pair.spec.paused,
            reachable,
            self.pair.metadata.generation,
            &now,
        );
        self.write().await
    }

    async fn write_with(&mut self, upgrade: &UpgradeStatus) -> Result<(), Error> {
        self.status.upgrade = Some(upgrade.clone());
        self.write().await
    }

    /// Server-side apply of the whole status on `/status`, with one field manager.
    async fn write(&self) -> Result<(), Error> {
        let patch = json!({ "apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePair", "status": self.status });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.api
            .patch_status(&self.pair.name_any(), &params, &Patch::Apply(&patch))
            .await?;
        Ok(())
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Upgrade".to_owned(),
            secondary: None,
        };
        // Events are best effort: losing one must not stop an upgrade.
        if let Err(e) = self
            .recorder
            .publish(&event, &self.pair.object_ref(&()))
            .await
        {
            tracing::warn!(error = %e, "failed to publish an event");
        }
    }
}

/// Serving the site: primary of an established relationship, or holding the site address.
fn serves(seen: &Seen) -> bool {
    seen.is_established_primary() || seen.holds_site_address()
}

/// Whether the round of step `index` already broke failover.
fn after_break(upgrade: &UpgradeStatus, index: usize) -> bool {
    let round = upgrade.plan[index].round;
    upgrade.plan[..index]
        .iter()
        .any(|s| s.round == round && s.action == StepAction::BreakFailover)
}

/// The operator's own view of the swap: how long the traffic swing steps took. The referee's
/// measure, from the appliances, is the one that counts.
fn swing_seconds(upgrade: &UpgradeStatus) -> Option<i64> {
    let swings: Vec<i64> = upgrade
        .plan
        .iter()
        .filter(|s| s.action == StepAction::SwingTraffic)
        .filter_map(|s| {
            Some(
                (from_k8s(s.finished_at.as_ref()?) - from_k8s(s.started_at.as_ref()?))
                    .num_seconds(),
            )
        })
        .collect();
    (!swings.is_empty()).then(|| swings.iter().sum())
}

/// Stable for a resource generation and target, so idempotency keys survive a lost write.
fn upgrade_id(pair: &AppliancePair, target: &Version) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let uid = pair.metadata.uid.as_deref().unwrap_or_default();
    let generation = pair.metadata.generation.unwrap_or_default();
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((
        uid,
        generation,
        target.to_string(),
    ));
    format!("u-{:06x}", hash & 0xff_ffff)
}

fn reachability(seen: &[Observation; 2]) -> Result<(), String> {
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

async fn connect(
    ctx: &Context,
    namespace: &str,
    name: &str,
    pair: &AppliancePair,
) -> Result<[Connected; 2], (&'static str, String)> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let [a, b] = pair.spec.members.as_slice() else {
        return Err((
            reasons::INVALID_SPEC,
            "a pair has exactly two members".to_owned(),
        ));
    };
    let a = ctx
        .members
        .connect(&ctx.connector, &secrets, namespace, name, a)
        .await
        .map_err(|e| (e.reason(), e.to_string()))?;
    let b = ctx
        .members
        .connect(&ctx.connector, &secrets, namespace, name, b)
        .await
        .map_err(|e| (e.reason(), e.to_string()))?;
    Ok([a, b])
}
