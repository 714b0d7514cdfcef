//! The step driver both controllers share: gates, recording, retries, completion.
//!
//! A plan is a list of steps in status. Each reconcile the driver takes the first step not yet
//! done and: stops at a failed step until a person approves `<upgrade id>-r<n>/Retry` (one
//! retry per approval, each approval naming its retry, so none opens a later one; R6); holds a pending step while `spec.paused` is set or,
//! for a disruptive step, outside every maintenance window; records a step as Running before
//! its first request and Succeeded or Failed after it (I8), with an Event each time. What a
//! step *does* is the kind's business ([`Driven::run_step`]).

pub mod actions;
pub mod status;
pub mod summary;
pub mod write;

pub use write::{fresh, write_status};

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::Instrument;

use baton_crds::common::MaintenanceWindow;
use baton_crds::conditions::reasons;
use baton_crds::status::{BackupRecord, LastUpgrade, Phase, PlanStep, StepState, UpgradeStatus};

use crate::context::Timings;
use crate::time::{from_k8s, to_k8s};
use crate::upgrade::gates;
use status::CommonStatus;
use summary::Situation;

/// How a step stands after running it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; the message says what was done.
    Done(String),
    /// Not finished: check again after `after`.
    Wait {
        reason: &'static str,
        message: String,
        after: Duration,
    },
    /// A person must act.
    Failed {
        reason: &'static str,
        message: String,
    },
}

/// A step's result and what it leaves for status.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub outcome: Outcome,
    /// A new reference to record (an install id, a started sync).
    pub reference: Option<String>,
    /// A backup taken.
    pub backup: Option<BackupRecord>,
}

impl From<Outcome> for StepResult {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            reference: None,
            backup: None,
        }
    }
}

/// What the reconcile does next.
#[derive(Debug)]
pub enum Next {
    /// A step finished or a plan was written: go on within this reconcile.
    Continue,
    /// Write this situation and come back after the duration.
    Stop(Situation, Duration),
}

/// A resource the driver can move along its plan.
#[async_trait]
pub trait Driven: Send {
    /// The kind's status.
    type Status: CommonStatus;
    fn status(&mut self) -> &mut Self::Status;
    fn timings(&self) -> &Timings;
    /// The resource being upgraded.
    type Resource: status::UpgradeResource;
    fn resource(&self) -> &Self::Resource;
    /// The kind's name, for spans and messages.
    fn kind(&self) -> &'static str {
        <Self::Resource as status::UpgradeResource>::KIND
    }
    fn paused(&self) -> bool {
        status::UpgradeResource::paused(self.resource())
    }
    fn windows(&self) -> &[MaintenanceWindow] {
        status::UpgradeResource::windows(self.resource())
    }
    /// Whether `<upgrade id>/<gate>` was approved (spec or annotation).
    fn approved(&self, upgrade_id: &str, gate: &str) -> bool {
        status::UpgradeResource::approved(self.resource(), upgrade_id, gate)
    }
    /// The resource's generation, for observedGeneration.
    fn generation(&self) -> Option<i64> {
        kube::Resource::meta(self.resource()).generation
    }
    /// The phase of step `index`.
    fn phase_of(&self, upgrade: &UpgradeStatus, index: usize) -> Phase;
    /// Persists the status (with `upgrade` in it).
    async fn write(&mut self) -> Result<(), kube::Error>;
    /// Publishes an Event (best effort).
    async fn event(&self, type_: EventType, reason: &str, note: String);
    /// Runs the step against the appliances.
    async fn run_step(
        &mut self,
        upgrade_id: &str,
        step: &PlanStep,
        previous_finished: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StepResult;
    /// Observes the appliances and updates the observed part of status.
    async fn observe(&mut self);
    /// Whether every appliance answered the last observation, for MembersReachable.
    fn reachability(&self) -> Result<(), String>;
    /// No upgrade in status: report that everything is where the spec wants it, or plan one
    /// (written before anything acts on it).
    async fn idle_or_plan(&mut self) -> Result<Next, kube::Error>;
    /// A plan finished (lastUpgrade is recorded): clear what the kind kept beside it. Returns
    /// whether status changed.
    fn finished(&mut self, _upgrade: &UpgradeStatus) -> bool {
        false
    }

    /// Sets phase and conditions for a situation (without writing).
    fn summarize(&mut self, situation: &Situation) {
        let (paused, generation) = (self.paused(), self.generation());
        summary::apply(
            self.status(),
            situation,
            paused,
            Ok(()),
            generation,
            &to_k8s(Utc::now()),
        );
    }
}

/// How many step transitions one reconcile makes before yielding (each one is written).
const MAX_TRANSITIONS: usize = 32;

/// One reconcile after the live read and connection: observe, then drive the plan (or plan
/// one) until a step waits, writing the situation at the end.
pub async fn reconcile<D: Driven>(d: &mut D) -> Result<Action, kube::Error> {
    for _ in 0..MAX_TRANSITIONS {
        d.observe().await;
        let next = match d.status().upgrade_mut().take() {
            Some(mut upgrade) => {
                let next = drive(d, &mut upgrade).await?;
                if is_finished(&upgrade) {
                    // Recorded as lastUpgrade by `complete`; not put back.
                    if d.finished(&upgrade) {
                        d.write().await?;
                    }
                } else {
                    *d.status().upgrade_mut() = Some(upgrade);
                }
                next
            }
            None => d.idle_or_plan().await?,
        };
        if let Next::Stop(situation, after) = next {
            let reachable = d.reachability();
            finish(d, &situation, reachable).await?;
            return Ok(Action::requeue(after));
        }
    }
    Ok(Action::requeue(Duration::ZERO))
}

/// Writes the situation (phase, conditions) with the status.
pub async fn finish<D: Driven>(
    d: &mut D,
    situation: &Situation,
    reachable: Result<(), String>,
) -> Result<(), kube::Error> {
    let (paused, generation) = (d.paused(), d.generation());
    summary::apply(
        d.status(),
        situation,
        paused,
        reachable,
        generation,
        &to_k8s(Utc::now()),
    );
    d.write().await
}

/// The approval that opens the upgrade's next retry: `<id>-r<n>`, with gate `Retry`.
pub fn retry_token(upgrade: &UpgradeStatus) -> String {
    format!("{}-r{}", upgrade.id, upgrade.retries + 1)
}

/// A failure message with the exact approval that retries the step once.
fn with_retry_hint(message: &str, token: &str) -> String {
    format!(
        "{message} To retry this step once, add {token}/Retry to spec.approval.approved or set the annotation {}={token}/Retry.",
        gates::APPROVE_ANNOTATION
    )
}

/// Whether every step of the plan is done.
pub fn is_finished(upgrade: &UpgradeStatus) -> bool {
    upgrade
        .plan
        .iter()
        .all(|s| matches!(s.state, StepState::Succeeded | StepState::Skipped))
}

/// Moves the plan one transition. `upgrade` is taken out of status by the caller and put
/// back into status before every write.
pub async fn drive<D: Driven>(d: &mut D, upgrade: &mut UpgradeStatus) -> Result<Next, kube::Error> {
    let now = Utc::now();
    let Some(index) = upgrade
        .plan
        .iter()
        .position(|s| !matches!(s.state, StepState::Succeeded | StepState::Skipped))
    else {
        // Done: record it and clear it (`is_finished` tells the caller not to put it back).
        complete(d.status(), upgrade, now);
        d.write().await?;
        d.event(
            EventType::Normal,
            "UpgradeSucceeded",
            format!("upgrade {} to {} finished", upgrade.id, upgrade.to_version),
        )
        .await;
        return Ok(Next::Continue);
    };
    let phase = d.phase_of(upgrade, index);
    // The step shown is the one running or waiting to run, also while a gate holds it.
    upgrade.current_step = Some(upgrade.plan[index].id.clone());

    if upgrade.plan[index].state == StepState::Failed {
        // One approval buys one retry: each names the retry's number.
        let token = retry_token(upgrade);
        if d.approved(&token, "Retry") {
            upgrade.retries += 1;
            let step = &mut upgrade.plan[index];
            step.state = StepState::Pending;
            step.attempt += 1;
            step.reference = None;
            step.finished_at = None;
            step.reason = None;
            step.message = Some(format!("retrying after approval {token}/Retry"));
            let note = format!("retrying step {} (attempt {})", step.id, step.attempt + 1);
            write_with(d, upgrade).await?;
            d.event(EventType::Normal, "RetryApproved", note).await;
            return Ok(Next::Continue);
        }
        let step = &upgrade.plan[index];
        let reason = failure_reason(step);
        let message = with_retry_hint(step.message.as_deref().unwrap_or_default(), &token);
        return Ok(Next::Stop(
            Situation::Stalled { reason, message },
            d.timings().gated,
        ));
    }

    if upgrade.plan[index].state == StepState::Pending {
        if let Some(hold) = hold(d, &upgrade.plan[index], now) {
            return Ok(Next::Stop(hold, d.timings().gated));
        }
        let step = &mut upgrade.plan[index];
        step.state = StepState::Running;
        step.started_at = Some(to_k8s(now));
        let note = format!("{}: {}", step.id, step.description);
        // Recorded before the step's first request goes out (I8).
        d.summarize(&Situation::Working {
            phase,
            reason: reasons::UPGRADING,
            message: note.clone(),
        });
        write_with(d, upgrade).await?;
        d.event(EventType::Normal, "StepStarted", note).await;
    }

    let previous_finished = index
        .checked_sub(1)
        .and_then(|i| upgrade.plan[i].finished_at.as_ref())
        .map(from_k8s);
    let current = upgrade.plan[index].clone();
    // The step may read the whole plan from status (a batch's install looks at its drain and
    // at the next install); status holds a copy, as after every write.
    *d.status().upgrade_mut() = Some(upgrade.clone());
    // The step's span carries the upgrade id and step onto every appliance call under it.
    let span = crate::telemetry::step_span(
        d.kind(),
        &upgrade.id,
        &current.id,
        crate::upgrade::plan::action_slug(current.action),
    );
    let result = d
        .run_step(&upgrade.id, &current, previous_finished, now)
        .instrument(span)
        .await;
    if let Some(backup) = result.backup {
        *d.status().backup_mut() = Some(backup);
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
            write_with(d, upgrade).await?;
            d.event(EventType::Normal, "StepSucceeded", note).await;
            Ok(Next::Continue)
        }
        Outcome::Wait {
            reason,
            message,
            after,
        } => {
            step.message = Some(message.clone());
            let situation = match (reason, d.paused()) {
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
            step.reason = Some(reason.to_owned());
            step.message = Some(message.clone());
            let note = format!("{}: {message}", step.id);
            let message = with_retry_hint(&message, &retry_token(upgrade));
            write_with(d, upgrade).await?;
            d.event(EventType::Warning, reason, note).await;
            Ok(Next::Stop(
                Situation::Stalled { reason, message },
                d.timings().gated,
            ))
        }
    }
}

async fn write_with<D: Driven>(d: &mut D, upgrade: &UpgradeStatus) -> Result<(), kube::Error> {
    *d.status().upgrade_mut() = Some(upgrade.clone());
    d.write().await
}

/// A failed step's reason, as recorded when it failed.
fn failure_reason(step: &PlanStep) -> &'static str {
    let recorded = step.reason.as_deref().and_then(reasons::lookup);
    recorded.unwrap_or(if step.base_software {
        reasons::BASE_INSTALL_FAILED
    } else {
        reasons::INSTALL_FAILED
    })
}

/// What holds a pending step: the pause, then maintenance windows for disruptive steps.
fn hold<D: Driven>(d: &D, step: &PlanStep, now: DateTime<Utc>) -> Option<Situation> {
    if d.paused() {
        return Some(Situation::Held {
            phase: Phase::Paused,
            reason: reasons::PAUSED,
            message: format!("paused before {}", step.id),
        });
    }
    let windows = d.windows();
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

/// Every step succeeded: record the upgrade as the last one and clear it.
pub fn complete(status: &mut impl CommonStatus, upgrade: &UpgradeStatus, now: DateTime<Utc>) {
    let first_disruptive = upgrade
        .plan
        .iter()
        .find(|s| gates::is_disruptive(s.action))
        .and_then(|s| s.started_at.as_ref())
        .map(from_k8s);
    let started = first_disruptive
        .or_else(|| upgrade.started_at.as_ref().map(from_k8s))
        .unwrap_or(now);
    let swings: Vec<i64> = upgrade
        .plan
        .iter()
        .filter(|s| s.action == baton_crds::status::StepAction::SwingTraffic)
        .filter_map(|s| {
            Some(
                (from_k8s(s.finished_at.as_ref()?) - from_k8s(s.started_at.as_ref()?))
                    .num_seconds(),
            )
        })
        .collect();
    *status.last_upgrade_mut() = Some(LastUpgrade {
        id: upgrade.id.clone(),
        from_version: upgrade.from_version.clone(),
        to_version: upgrade.to_version.clone(),
        started_at: upgrade.started_at.clone(),
        finished_at: Some(to_k8s(now)),
        duration_seconds: (now - started).num_seconds(),
        // The operator's own view of the swap; the referee's measure is the one that counts.
        downtime_seconds: (!swings.is_empty()).then(|| swings.iter().sum()),
        sessions_cut: None,
    });
    *status.upgrade_mut() = None;
}
