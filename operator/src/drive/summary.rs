//! Phase and conditions from where a resource stands: the part of status people and GitOps
//! tools read. kstatus: `Ready` only when done, `Reconciling` while work runs, `Stalled` only
//! when a person must act.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use baton_crds::conditions::{reasons, types};
use baton_crds::status::{Phase, StepAction, StepState, UpgradeStatus};

use super::status::CommonStatus;
use crate::drive::conditions::set;

pub use crate::upgrade::verdict::Situation;

/// Writes phase and conditions for `situation`.
pub fn apply(
    status: &mut impl CommonStatus,
    situation: &Situation,
    paused: bool,
    reachable: Result<(), String>,
    generation: Option<i64>,
    now: &Time,
) {
    let exposed = failover_exposed(status.upgrade_mut().as_ref());
    let (phase, ready, reconciling, stalled) = match situation {
        Situation::UpToDate(m) => (
            Phase::UpToDate,
            (true, reasons::UP_TO_DATE, m.clone()),
            (false, reasons::UP_TO_DATE, String::new()),
            (false, reasons::UP_TO_DATE, String::new()),
        ),
        Situation::Working {
            phase,
            reason,
            message,
        }
        | Situation::Held {
            phase,
            reason,
            message,
        } => (
            *phase,
            (false, *reason, message.clone()),
            (true, *reason, message.clone()),
            (false, *reason, String::new()),
        ),
        Situation::Stalled { reason, message } => (
            Phase::Stalled,
            (false, *reason, message.clone()),
            (false, *reason, String::new()),
            (true, *reason, message.clone()),
        ),
    };
    *status.phase_mut() = phase;
    *status.observed_generation_mut() = generation;
    let held = |r: &str| matches!(situation, Situation::Held { reason, .. } if *reason == r);
    let held_message = match situation {
        Situation::Held { message, .. } => message.clone(),
        _ => String::new(),
    };
    let approval = held(reasons::AWAITING_APPROVAL);
    let window = held(reasons::OUTSIDE_WINDOW);
    let (reachable, unreachable_message) = match reachable {
        Ok(()) => (true, String::new()),
        Err(m) => (false, m),
    };
    let c = status.conditions_mut();
    set(c, types::READY, ready.0, ready.1, ready.2, generation, now);
    set(
        c,
        types::RECONCILING,
        reconciling.0,
        reconciling.1,
        reconciling.2,
        generation,
        now,
    );
    set(
        c,
        types::STALLED,
        stalled.0,
        stalled.1,
        stalled.2,
        generation,
        now,
    );
    set(
        c,
        types::PAUSED,
        paused,
        reasons::PAUSED,
        if paused {
            "spec.paused is true: no new step starts"
        } else {
            ""
        },
        generation,
        now,
    );
    set(
        c,
        types::AWAITING_APPROVAL,
        approval,
        reasons::AWAITING_APPROVAL,
        if approval {
            held_message.clone()
        } else {
            String::new()
        },
        generation,
        now,
    );
    set(
        c,
        types::AWAITING_WINDOW,
        window,
        reasons::OUTSIDE_WINDOW,
        if window { held_message } else { String::new() },
        generation,
        now,
    );
    let (reason, message) = if exposed {
        (
            reasons::FAILOVER_BROKEN,
            "failover is broken for the upgrade: the site has no standby until it is re-established",
        )
    } else {
        (reasons::FAILOVER_ESTABLISHED, "")
    };
    set(
        c,
        types::FAILOVER_EXPOSED,
        exposed,
        reason,
        message,
        generation,
        now,
    );
    let reason = if reachable {
        reasons::REACHABLE
    } else {
        reasons::UNREACHABLE
    };
    set(
        c,
        types::MEMBERS_REACHABLE,
        reachable,
        reason,
        unreachable_message,
        generation,
        now,
    );
}

/// Failover was broken by this upgrade's round and not yet re-established.
fn failover_exposed(upgrade: Option<&UpgradeStatus>) -> bool {
    let Some(upgrade) = upgrade else { return false };
    let mut exposed = false;
    for step in &upgrade.plan {
        match (step.action, step.state) {
            (StepAction::BreakFailover, StepState::Succeeded | StepState::Running) => {
                exposed = true
            }
            (StepAction::EstablishFailover, StepState::Succeeded) => exposed = false,
            _ => {}
        }
    }
    exposed
}
