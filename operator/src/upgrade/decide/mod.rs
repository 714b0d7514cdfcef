//! `decide`: from the spec, what was observed, the recorded progress and the time, the one
//! next thing to do. Pure: no IO, no clock, no Kubernetes client.
//!
//! The gates every step passes, in order (the same for both kinds):
//! 1. every step done: the upgrade is complete;
//! 2. a failed step waits for a person's approval of one retry, `<id>-r<n>/Retry` (R6, I6);
//! 3. a pending step waits while `spec.paused` is set, and a disruptive one outside every
//!    maintenance window (I9); otherwise it is recorded Running *before* its first command
//!    (I8);
//! 4. a running step is decided by its kind ([`pair`], [`atlas`], [`batch`]): commands to
//!    run, or a verdict from what was observed.

pub mod atlas;
pub mod batch;
pub mod batch_install;
pub mod idle;
pub mod pair;
pub mod steps;

use std::time::Duration;

use chrono::{DateTime, Utc};

use baton_crds::common::MaintenanceWindow;
use baton_crds::conditions::reasons;
use baton_crds::status::{Phase, PlanStep, StepState, UpgradeStatus};

use super::command::Command;
use super::gates;
use super::observed::Observed;
use super::timings::Timings;
use super::verdict::{Situation, StepUpdate};

/// The approvals given, in `spec.approval.approved` and in the `baton.dev/approve` annotation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Approvals<'a> {
    pub in_spec: &'a [String],
    pub annotation: Option<&'a str>,
}

impl Approvals<'_> {
    /// Whether `<id>/<gate>` was approved.
    pub fn approved(&self, id: &str, gate: &str) -> bool {
        gates::is_approved(id, gate, self.in_spec, self.annotation)
    }
}

/// What `decide` reads of any resource, the same for both kinds.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    /// The kubectl short name (`apair`, `atlas`), for the commands messages suggest.
    pub short_name: &'static str,
    /// The resource's name.
    pub name: &'a str,
    pub paused: bool,
    pub windows: &'a [MaintenanceWindow],
    pub approvals: Approvals<'a>,
    /// `spec.soak`.
    pub soak: &'a str,
    pub timings: &'a Timings,
    pub now: DateTime<Utc>,
}

/// A new upgrade to record before anything acts on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub upgrade: UpgradeStatus,
    /// Atlas: the traffic nodes of each batch.
    pub batches: Vec<Vec<String>>,
    /// For the UpgradePlanned Event.
    pub note: String,
}

/// The one next thing to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to run: show this and look again after `after`.
    Hold {
        situation: Situation,
        after: Duration,
    },
    /// Record a new upgrade and its plan.
    Plan(Box<Planned>),
    /// Record step `index` as Running before its first command goes out (I8).
    Start { index: usize, phase: Phase },
    /// A person approved retry `token` of the failed step `index`.
    Retry { index: usize, token: String },
    /// Run these commands for step `index`, then fold what they report ([`super::fold`]).
    Act {
        index: usize,
        phase: Phase,
        commands: Vec<Command>,
    },
    /// Step `index`'s verdict from what was observed, without a command.
    Settle {
        index: usize,
        phase: Phase,
        update: StepUpdate,
    },
    /// Every step succeeded: record the upgrade as the last one.
    Complete,
}

/// What a running step needs: commands, or a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum StepDecision {
    Act(Vec<Command>),
    Settle(StepUpdate),
}

impl From<super::verdict::Verdict> for StepDecision {
    fn from(v: super::verdict::Verdict) -> Self {
        Self::Settle(v.into())
    }
}

/// Everything a running step is decided from.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    pub common: &'a Common<'a>,
    pub upgrade: &'a UpgradeStatus,
    pub index: usize,
    pub step: &'a PlanStep,
    pub observed: &'a Observed,
}

impl StepContext<'_> {
    /// When the step before this one finished (a soak counts from there).
    pub fn previous_finished(&self) -> Option<DateTime<Utc>> {
        let previous = self.upgrade.plan.get(self.index.checked_sub(1)?)?;
        previous
            .finished_at
            .as_ref()
            .map(crate::upgrade::time::from_k8s)
    }

    /// How long the step has been running.
    pub fn running_for(&self) -> chrono::Duration {
        let started = self
            .step
            .started_at
            .as_ref()
            .map(crate::upgrade::time::from_k8s);
        self.common.now - started.unwrap_or(self.common.now)
    }
}

/// Whether every step of the plan is done.
pub fn is_finished(upgrade: &UpgradeStatus) -> bool {
    upgrade.plan.iter().all(is_done)
}

fn is_done(step: &PlanStep) -> bool {
    matches!(step.state, StepState::Succeeded | StepState::Skipped)
}

/// The approval that opens the upgrade's next retry: `<id>-r<n>`, with gate `Retry`.
pub fn retry_token(upgrade: &UpgradeStatus) -> String {
    format!("{}-r{}", upgrade.id, upgrade.retries + 1)
}

/// A failure message with the exact approval that retries the step once.
pub fn with_retry_hint(message: &str, token: &str) -> String {
    format!(
        "{message} To retry this step once, add {token}/Retry to spec.approval.approved or set the annotation {}={token}/Retry.",
        gates::APPROVE_ANNOTATION
    )
}

/// The gates, then the running step through `run_step`; `phase_of` names each step's phase.
pub fn decide_plan(
    common: &Common<'_>,
    upgrade: &UpgradeStatus,
    observed: &Observed,
    phase_of: impl Fn(&UpgradeStatus, usize) -> Phase,
    run_step: impl Fn(&StepContext<'_>) -> StepDecision,
) -> Decision {
    let Some(index) = upgrade.plan.iter().position(|s| !is_done(s)) else {
        return Decision::Complete;
    };
    let step = &upgrade.plan[index];
    let phase = phase_of(upgrade, index);
    match step.state {
        StepState::Failed => {
            let token = retry_token(upgrade);
            if common.approvals.approved(&token, "Retry") {
                return Decision::Retry { index, token };
            }
            let reason = failure_reason(step);
            let message = with_retry_hint(step.message.as_deref().unwrap_or_default(), &token);
            Decision::Hold {
                situation: Situation::Stalled { reason, message },
                after: common.timings.gated,
            }
        }
        StepState::Pending => match hold(common, step) {
            Some(situation) => Decision::Hold {
                situation,
                after: common.timings.gated,
            },
            None => Decision::Start { index, phase },
        },
        _ => {
            let context = StepContext {
                common,
                upgrade,
                index,
                step,
                observed,
            };
            match run_step(&context) {
                StepDecision::Act(commands) => Decision::Act {
                    index,
                    phase,
                    commands,
                },
                StepDecision::Settle(update) => Decision::Settle {
                    index,
                    phase,
                    update,
                },
            }
        }
    }
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

/// What holds a pending step: the pause, then maintenance windows for disruptive steps (I9).
pub fn hold(common: &Common<'_>, step: &PlanStep) -> Option<Situation> {
    if common.paused {
        return Some(Situation::Held {
            phase: Phase::Paused,
            reason: reasons::PAUSED,
            message: format!("paused before {}", step.id),
        });
    }
    let windows = common.windows;
    if gates::is_disruptive(step.action) && !gates::in_window(windows, common.now) {
        let errors = gates::window_errors(windows);
        if !errors.is_empty() {
            return Some(Situation::Stalled {
                reason: reasons::INVALID_SPEC,
                message: errors.join("; "),
            });
        }
        let opens = gates::next_window_start(windows, common.now)
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
