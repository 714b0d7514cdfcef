//! How a step stands after a decision, and where the resource stands for people.

use std::time::Duration;

use baton_crds::status::{BackupRecord, Phase, StepProgress};

/// A step's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Finished; the message says what was done.
    Done(String),
    /// Not finished: look again after `after`.
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

impl Verdict {
    /// Waits with a reason and message.
    pub fn wait(reason: &'static str, message: impl Into<String>, after: Duration) -> Self {
        Self::Wait {
            reason,
            message: message.into(),
            after,
        }
    }

    /// Fails with a reason and message.
    pub fn failed(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Failed {
            reason,
            message: message.into(),
        }
    }
}

/// A verdict and what it records in the step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepUpdate {
    pub verdict: Verdict,
    /// The step's new progress (`None`: unchanged).
    pub progress: Option<StepProgress>,
    /// A backup taken (boxed: it is rare and large).
    pub backup: Option<Box<BackupRecord>>,
}

impl From<Verdict> for StepUpdate {
    fn from(verdict: Verdict) -> Self {
        Self {
            verdict,
            progress: None,
            backup: None,
        }
    }
}

impl StepUpdate {
    /// The verdict, recording `progress`.
    pub fn with(verdict: Verdict, progress: StepProgress) -> Self {
        Self {
            verdict,
            progress: Some(progress),
            backup: None,
        }
    }
}

/// Where the resource stands this pass (phase and conditions follow from it).
#[derive(Debug, Clone, PartialEq)]
pub enum Situation {
    /// On the target, redundancy restored: done.
    UpToDate(String),
    /// A step runs or waits on an appliance.
    Working {
        phase: Phase,
        reason: &'static str,
        message: String,
    },
    /// A gate holds the next step.
    Held {
        phase: Phase,
        reason: &'static str,
        message: String,
    },
    /// A person must act.
    Stalled {
        reason: &'static str,
        message: String,
    },
}
