//! How phases and step actions are spelled in labels: as they are written in status.

use baton_crds::status::{Phase, StepAction};

/// The phases `baton_resources` always has a series for (0 or more); a phase added later is
/// counted as soon as a resource is in it.
pub(super) const PHASES: [Phase; 12] = [
    Phase::Pending,
    Phase::UpToDate,
    Phase::Preparing,
    Phase::Upgrading,
    Phase::Promoting,
    Phase::Soaking,
    Phase::Finishing,
    Phase::WaitingForWindow,
    Phase::AwaitingApproval,
    Phase::Paused,
    Phase::Stalled,
    Phase::Degraded,
];

/// The phase as it is written in status (`UpToDate`, `Stalled`, ...).
pub fn phase_name(phase: Phase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{phase:?}"))
}

/// The action as it is written in status (`Install`, `SwingTraffic`, ...).
pub(super) fn action_name(action: StepAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{action:?}"))
}

/// Drain steps (Atlas traffic nodes leaving rotation until their clients are gone), by the
/// action's name so the metric follows the vocabulary without a list to keep in step.
pub(super) fn is_drain(action: StepAction) -> bool {
    action_name(action).starts_with("Drain")
}
