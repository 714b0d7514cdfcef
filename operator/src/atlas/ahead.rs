//! Working ahead in a batch: a node that has installed the step's package starts the round's
//! next package at once, under the next install step's idempotency key, instead of waiting
//! for the slowest node of the batch. Each appliance still installs its packages in order
//! (R2), only sooner: without it the batch takes the sum over packages of the slowest node,
//! with it the slowest node's sum, which is what the referee's floor assumes.
//!
//! The next step, when it runs, finds those installs done or running (progress is read from
//! the appliances' install history, by package) and follows them; a restart in between
//! replays nothing, as the history is read before anything is started.

use baton_crds::status::{PlanStep, StepAction};

use crate::appliance::InstallState;

/// The install step right after `step` for the same batch, in the same round.
pub fn next_install<'p>(plan: &'p [PlanStep], step: &PlanStep) -> Option<&'p PlanStep> {
    let at = plan.iter().position(|s| s.id == step.id)?;
    plan.get(at + 1).filter(|next| {
        next.action == StepAction::Install && next.member == step.member && next.round == step.round
    })
}

/// Where a target's install of one package stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// With the install's id when the appliance answered.
    Running(Option<String>),
    NotStarted,
    Failed(String),
}

/// Where `package` stands in an appliance's install history. On a retry (`retry`), the
/// latest failure is the failed attempt's: the target counts as not started, and asking
/// again with the retry's key starts a new install (or, after a restart, replays this
/// attempt's own, whose state is checked then).
pub fn progress_in(installs: &[crate::appliance::Install], package: &str, retry: bool) -> Progress {
    match installs.iter().find(|i| i.package_id == package) {
        Some(i) if i.state == InstallState::Succeeded => Progress::Done,
        Some(i) if retry && i.state == InstallState::Failed => Progress::NotStarted,
        Some(i) if i.state == InstallState::Failed => {
            Progress::Failed(i.message.clone().unwrap_or_else(|| "no message".into()))
        }
        Some(i) => Progress::Running(Some(i.id.clone())),
        None => Progress::NotStarted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upgrade::atlas_plan::batch_member;
    use crate::upgrade::plan::step;

    fn install(round: i32, member: &str, package: &str) -> PlanStep {
        step(
            round,
            StepAction::Install,
            Some(member),
            Some(package),
            String::new(),
        )
    }

    #[test]
    fn the_next_install_is_the_same_batch_in_the_same_round_right_after() {
        let b1 = batch_member(1);
        let plan = vec![
            install(1, &b1, "base-5.2.0"),
            install(1, &b1, "product-24.3.2"),
            step(1, StepAction::Verify, Some(&b1), None, String::new()),
            install(2, &b1, "product-25.1.0"),
        ];
        assert_eq!(
            next_install(&plan, &plan[0]).map(|s| s.id.as_str()),
            Some(plan[1].id.as_str())
        );
        assert_eq!(next_install(&plan, &plan[1]), None, "a verify comes first");
        assert_eq!(next_install(&plan, &plan[3]), None, "the last step");
        let other = vec![
            install(1, &b1, "base-5.2.0"),
            install(1, "master-a", "product-24.3.2"),
        ];
        assert_eq!(next_install(&other, &other[0]), None, "another member");
    }
}
