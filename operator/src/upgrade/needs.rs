//! What a pass must observe beyond the members themselves, from the recorded progress: the
//! controllers read exactly this, so the core's inputs and the requests sent stay in step.

use baton_crds::status::{PlanStep, StepAction, StepProgress, StepState, UpgradeStatus};

use super::command::SyncKind;
use super::decide::batch::next_install;

/// A long operation to poll (with the long poll: the answer comes when it ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationQuery {
    /// An install by id on a member.
    Install { member: String, id: String },
    /// The last sync of a member.
    Sync { member: String, kind: SyncKind },
    /// The distribution from the acting master.
    Distribution,
}

/// What a batch step reads of each target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetQuery {
    /// Where each target's install of `package` stands (and of `next`, working ahead). On a
    /// retry the failed attempt's install counts as not started.
    Install {
        package: String,
        retry: bool,
        next: Option<(String, bool)>,
    },
    /// Whether each target runs `version`, healthy and idle.
    Verify { version: String },
}

/// A batch step's targets to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchNeed {
    pub batch: i32,
    /// The round (the batch-1 master is the round's backup master).
    pub round: i32,
    pub query: TargetQuery,
}

/// What to observe this pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Needs {
    /// Each member's API account and clock (preflight).
    pub accounts: bool,
    /// The packages a member offers (staging).
    pub packages_of: Option<String>,
    pub operation: Option<OperationQuery>,
    /// Atlas batch steps: what to read of the batch's targets.
    pub targets: Option<BatchNeed>,
}

/// The step the next decision is about: the first not done.
pub fn current(upgrade: &UpgradeStatus) -> Option<&PlanStep> {
    upgrade
        .plan
        .iter()
        .find(|s| !matches!(s.state, StepState::Succeeded | StepState::Skipped))
}

/// What the current step needs observed (nothing unless it runs).
pub fn needs(upgrade: Option<&UpgradeStatus>) -> Needs {
    let Some(upgrade) = upgrade else {
        return Needs::default();
    };
    let Some(step) = current(upgrade) else {
        return Needs::default();
    };
    // Only a running step reads beyond the members: a pending one waits on its gates alone,
    // and a held batch must not read hundreds of nodes at every requeue.
    if step.state != StepState::Running {
        return Needs::default();
    }
    let member = step.member.clone().unwrap_or_default();
    let mut needs = Needs::default();
    match (step.action, step.batch, &step.progress) {
        (StepAction::Preflight, _, _) => needs.accounts = true,
        (StepAction::Stage, _, _) => needs.packages_of = Some(member),
        (StepAction::Install, None, Some(StepProgress::InstallStarted { install_id })) => {
            needs.operation = Some(OperationQuery::Install {
                member,
                id: install_id.clone(),
            });
        }
        (StepAction::SyncFailover, _, Some(StepProgress::SyncStarted { .. })) => {
            needs.operation = Some(OperationQuery::Sync {
                member,
                kind: SyncKind::Failover,
            });
        }
        (StepAction::SyncCluster, _, Some(StepProgress::SyncStarted { .. })) => {
            needs.operation = Some(OperationQuery::Sync {
                member,
                kind: SyncKind::Cluster,
            });
        }
        (StepAction::Distribute, _, Some(StepProgress::DistributionStarted { .. })) => {
            needs.operation = Some(OperationQuery::Distribution);
        }
        (StepAction::Install, Some(n), _) => {
            let next = next_install(&upgrade.plan, step)
                .map(|s| (s.package.clone().unwrap_or_default(), s.attempt > 0));
            needs.targets = Some(BatchNeed {
                batch: n,
                round: step.round,
                query: TargetQuery::Install {
                    package: step.package.clone().unwrap_or_default(),
                    retry: step.attempt > 0,
                    next,
                },
            });
        }
        (StepAction::Verify, Some(n), _) => {
            let version = step.version.clone().unwrap_or_default();
            needs.targets = Some(BatchNeed {
                batch: n,
                round: step.round,
                query: TargetQuery::Verify { version },
            });
        }
        _ => {}
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_install(state: StepState) -> UpgradeStatus {
        let step = PlanStep {
            id: "1/install/batch-1/product-24.3.2".into(),
            action: StepAction::Install,
            batch: Some(1),
            package: Some("product-24.3.2".into()),
            state,
            ..PlanStep::default()
        };
        UpgradeStatus {
            plan: vec![step],
            ..UpgradeStatus::default()
        }
    }

    #[test]
    fn a_held_batch_reads_none_of_its_nodes_a_running_one_reads_them() {
        assert_eq!(
            needs(Some(&batch_install(StepState::Pending))),
            Needs::default()
        );
        let running = needs(Some(&batch_install(StepState::Running)));
        assert!(
            matches!(
                running.targets,
                Some(BatchNeed {
                    batch: 1,
                    round: 0,
                    ..
                })
            ),
            "{running:?}"
        );
    }
}
