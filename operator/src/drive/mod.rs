//! The one controller skeleton both kinds share: observe -> decide -> act -> write status.
//!
//! Each pass observes what the recorded progress needs ([`crate::upgrade::needs`]), asks the
//! pure core for the one next thing ([`Decision`]) and applies it: a plan or a step's state
//! is written *before* any command of the step goes out and again after it (I8); commands go
//! to the executors ([`executors`]); what they report is folded back by the core. A kind is
//! an adapter ([`run::Adapter`]): how to connect and observe it, which decision applies.

pub mod conditions;
pub mod executors;
pub mod last_upgrade;
pub mod observe;
pub mod run;
pub mod status;
pub mod summary;
pub mod write;

pub use last_upgrade::complete;
pub use write::{fresh, write_status};

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::Instrument;

use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, StepState, UpgradeStatus};

use crate::time::to_k8s;
use crate::upgrade::command::{Command, Report};
use crate::upgrade::decide::{
    Common, Decision, Planned, StepContext, is_finished, retry_token, with_retry_hint,
};
use crate::upgrade::fold::fold;
use crate::upgrade::needs::{Needs, needs};
use crate::upgrade::observed::Observed;
use crate::upgrade::plan;
use crate::upgrade::verdict::{Situation, StepUpdate, Verdict};
use status::CommonStatus;

/// What the skeleton drives: a run and its kind's adapter ([`run`]).
#[async_trait]
pub trait Kind: Send {
    /// The kind's status.
    type Status: CommonStatus;
    /// The resource being upgraded.
    type Resource: status::UpgradeResource;
    fn resource(&self) -> &Self::Resource;
    fn status(&mut self) -> &mut Self::Status;
    fn status_ref(&self) -> &Self::Status;
    /// What every decision reads of the resource.
    fn common(&self, now: DateTime<Utc>) -> Common<'_>;
    /// Observes the appliances (and what the current step needs); updates the observed part
    /// of status (members table, versions).
    async fn observe(&mut self) -> Observed;
    /// The core's decision for this kind.
    fn decide(&self, observed: &Observed, now: DateTime<Utc>) -> Decision;
    /// Runs the commands through the executors, in order.
    async fn act(&mut self, commands: &[Command]) -> Vec<Report>;
    /// Records what the kind keeps beside a new plan (Atlas: the batches).
    fn planned(&mut self, _planned: &Planned) {}
    /// A plan finished (lastUpgrade is recorded): clear what the kind kept beside it.
    fn finished(&mut self, _upgrade: &UpgradeStatus) {}
    /// Persists the status (skipped when nothing a reader needs changed, unless `force`);
    /// whether it was written, which proves the read it was decided on is the latest.
    async fn write(&mut self, force: bool) -> Result<bool, kube::Error>;
    /// Whether the resource as read shows our own last status write.
    fn read_is_current(&self) -> bool;
    /// Publishes an Event (best effort).
    async fn event(&self, type_: EventType, reason: &str, note: String);
    /// The kind's name, for spans.
    fn kind(&self) -> &'static str {
        <Self::Resource as status::UpgradeResource>::KIND
    }
    fn paused(&self) -> bool {
        status::UpgradeResource::paused(self.resource())
    }
    fn generation(&self) -> Option<i64> {
        kube::Resource::meta(self.resource()).generation
    }
}

/// How many decisions one reconcile applies before yielding (each one is written).
const MAX_TRANSITIONS: usize = 32;

/// One reconcile after the live read and connection.
pub async fn reconcile<K: Kind>(k: &mut K) -> Result<Action, kube::Error> {
    // Commands go out only on a read known to be the latest: one showing our own last write,
    // or confirmed by a write that passed its resourceVersion precondition. A stale read of a
    // running step would otherwise resend that step's requests before any write could fail.
    let mut current = k.read_is_current();
    let mut observed = k.observe().await;
    for _ in 0..MAX_TRANSITIONS {
        let now = Utc::now();
        match k.decide(&observed, now) {
            Decision::Hold { situation, after } => {
                // The step shown is the one running or waiting to run, also while a gate holds it.
                if let Some(upgrade) = k.status().upgrade_mut().as_mut() {
                    upgrade.current_step =
                        crate::upgrade::needs::current(upgrade).map(|s| s.id.clone());
                }
                finish(k, &situation, observed.reachability()).await?;
                return Ok(Action::requeue(after));
            }
            Decision::Plan(planned) => {
                record_plan(k, &planned, &mut current).await?;
                observed = k.observe().await;
            }
            // A started step is decided on the same observation unless it needs more (an
            // install to follow, a batch's nodes, accounts, packages).
            Decision::Start { index, phase } => {
                start(k, index, phase, now, &mut current).await?;
                if needs(k.status_ref().upgrade()) != Needs::default() {
                    observed = k.observe().await;
                }
            }
            Decision::Retry { index, token } => {
                retry(k, index, &token, &mut current).await?;
                observed = k.observe().await;
            }
            Decision::Act {
                index,
                phase,
                commands,
            } => {
                if !current {
                    // Fails with 409 on a stale read, before any command goes out.
                    k.write(true).await?;
                    current = true;
                }
                let reports = act(k, index, &commands).await;
                let update = {
                    let common = k.common(now);
                    let upgrade = upgrade_of(k);
                    let step = &upgrade.plan[index];
                    let context = StepContext {
                        common: &common,
                        upgrade: &upgrade,
                        index,
                        step,
                        observed: &observed,
                    };
                    fold(&context, &commands, &reports)
                };
                match apply(k, index, phase, update, &observed, &mut current).await? {
                    Some(after) => return Ok(Action::requeue(after)),
                    None => observed = k.observe().await,
                }
            }
            Decision::Settle {
                index,
                phase,
                update,
            } => match apply(k, index, phase, update, &observed, &mut current).await? {
                Some(after) => return Ok(Action::requeue(after)),
                None => observed = k.observe().await,
            },
            Decision::Complete => {
                complete_upgrade(k, now, &mut current).await?;
                observed = k.observe().await;
            }
        }
    }
    Ok(Action::requeue(Duration::ZERO))
}

/// The upgrade in status (a decision about a step implies there is one).
fn upgrade_of<K: Kind>(k: &K) -> UpgradeStatus {
    k.status_ref().upgrade().cloned().unwrap_or_default()
}

/// Writes the situation (phase, conditions) with the status.
pub async fn finish<K: Kind>(
    k: &mut K,
    situation: &Situation,
    reachable: Result<(), String>,
) -> Result<(), kube::Error> {
    summarize(k, situation, reachable);
    k.write(false).await.map(drop)
}

/// Writes; a write that happened confirms the read it was decided on (`current`).
async fn record<K: Kind>(k: &mut K, current: &mut bool) -> Result<(), kube::Error> {
    *current |= k.write(false).await?;
    Ok(())
}

fn summarize<K: Kind>(k: &mut K, situation: &Situation, reachable: Result<(), String>) {
    let (paused, generation) = (k.paused(), k.generation());
    summary::apply(
        k.status(),
        situation,
        paused,
        reachable,
        generation,
        &to_k8s(Utc::now()),
    );
}

async fn record_plan<K: Kind>(
    k: &mut K,
    planned: &Planned,
    current: &mut bool,
) -> Result<(), kube::Error> {
    let (id, count) = (planned.upgrade.id.clone(), planned.upgrade.plan.len());
    *k.status().upgrade_mut() = Some(planned.upgrade.clone());
    k.planned(planned);
    // The plan is written before anything acts on it.
    let situation = Situation::Working {
        phase: Phase::Preparing,
        reason: reasons::UPGRADING,
        message: format!("planned upgrade {id}: {count} steps"),
    };
    summarize(k, &situation, Ok(()));
    record(k, current).await?;
    k.event(EventType::Normal, "UpgradePlanned", planned.note.clone())
        .await;
    Ok(())
}

/// Records the step Running before its first command goes out (I8).
async fn start<K: Kind>(
    k: &mut K,
    index: usize,
    phase: Phase,
    now: DateTime<Utc>,
    current: &mut bool,
) -> Result<(), kube::Error> {
    let Some(upgrade) = k.status().upgrade_mut().as_mut() else {
        return Ok(());
    };
    let step = &mut upgrade.plan[index];
    step.state = StepState::Running;
    step.started_at = Some(to_k8s(now));
    let note = format!("{}: {}", step.id, step.description);
    upgrade.current_step = Some(upgrade.plan[index].id.clone());
    summarize(
        k,
        &Situation::Working {
            phase,
            reason: reasons::UPGRADING,
            message: note.clone(),
        },
        Ok(()),
    );
    record(k, current).await?;
    k.event(EventType::Normal, "StepStarted", note).await;
    Ok(())
}

/// One approval buys one retry: each names the retry's number.
async fn retry<K: Kind>(
    k: &mut K,
    index: usize,
    token: &str,
    current: &mut bool,
) -> Result<(), kube::Error> {
    let Some(upgrade) = k.status().upgrade_mut().as_mut() else {
        return Ok(());
    };
    upgrade.retries += 1;
    let step = &mut upgrade.plan[index];
    step.state = StepState::Pending;
    step.attempt += 1;
    step.progress = None;
    step.finished_at = None;
    step.reason = None;
    step.message = Some(format!("retrying after approval {token}/Retry"));
    let note = format!("retrying step {} (attempt {})", step.id, step.attempt + 1);
    record(k, current).await?;
    k.event(EventType::Normal, "RetryApproved", note).await;
    Ok(())
}

/// Runs the step's commands under a span carrying the upgrade id and step.
async fn act<K: Kind>(k: &mut K, index: usize, commands: &[Command]) -> Vec<Report> {
    let upgrade = upgrade_of(k);
    let step = &upgrade.plan[index];
    let span = crate::telemetry::step_span(
        k.kind(),
        &upgrade.id,
        &step.id,
        plan::action_slug(step.action),
    );
    k.act(commands).instrument(span).await
}

/// Applies a step's update; `Some(after)` ends the reconcile with that requeue.
async fn apply<K: Kind>(
    k: &mut K,
    index: usize,
    phase: Phase,
    update: StepUpdate,
    observed: &Observed,
    current: &mut bool,
) -> Result<Option<Duration>, kube::Error> {
    let paused = k.paused();
    if let Some(backup) = update.backup {
        *k.status().backup_mut() = Some(*backup);
    }
    let Some(upgrade) = k.status().upgrade_mut().as_mut() else {
        return Ok(Some(Duration::ZERO));
    };
    upgrade.current_step = Some(upgrade.plan[index].id.clone());
    let retry = retry_token(upgrade);
    let step = &mut upgrade.plan[index];
    if let Some(progress) = update.progress {
        step.progress = Some(progress);
    }
    match update.verdict {
        Verdict::Done(message) => {
            step.state = StepState::Succeeded;
            step.finished_at = Some(to_k8s(Utc::now()));
            step.message = Some(message.clone());
            let note = format!("{}: {message}", step.id);
            record(k, current).await?;
            k.event(EventType::Normal, "StepSucceeded", note).await;
            Ok(None)
        }
        Verdict::Wait {
            reason,
            message,
            after,
        } => {
            step.message = Some(message.clone());
            let situation = match (reason, paused) {
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
            finish(k, &situation, observed.reachability()).await?;
            Ok(Some(after))
        }
        Verdict::Failed { reason, message } => {
            step.state = StepState::Failed;
            step.finished_at = Some(to_k8s(Utc::now()));
            step.reason = Some(reason.to_owned());
            step.message = Some(message.clone());
            let note = format!("{}: {message}", step.id);
            let message = with_retry_hint(&message, &retry);
            summarize(
                k,
                &Situation::Stalled { reason, message },
                observed.reachability(),
            );
            record(k, current).await?;
            k.event(EventType::Warning, reason, note).await;
            Ok(Some(k.common(Utc::now()).timings.gated))
        }
    }
}

async fn complete_upgrade<K: Kind>(
    k: &mut K,
    now: DateTime<Utc>,
    current: &mut bool,
) -> Result<(), kube::Error> {
    let upgrade = upgrade_of(k);
    if !is_finished(&upgrade) {
        return Ok(());
    }
    complete(k.status(), &upgrade, now);
    k.finished(&upgrade);
    record(k, current).await?;
    k.event(
        EventType::Normal,
        "UpgradeSucceeded",
        format!("upgrade {} to {} finished", upgrade.id, upgrade.to_version),
    )
    .await;
    Ok(())
}

#[cfg(test)]
#[path = "skeleton_tests.rs"]
mod skeleton_tests;
