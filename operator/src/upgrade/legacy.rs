//! Status written by the previous release kept a step's progress as free text (`reference`:
//! an install id, `sync-attempt-2`, `distributing`, `proceed:<n>:<nodes>`, `cut:<n>`, a
//! backup location) and named Atlas batches as members (`batch-2`). Such a status is read once
//! and carried over into the typed fields; the next write drops the old text. An upgrade in
//! flight goes on where it stood.

use baton_crds::status::{PlanStep, StepAction, StepProgress, UpgradeStatus};

/// Carries every step of `upgrade` over; returns whether anything changed.
pub fn carry_over(upgrade: &mut UpgradeStatus) -> bool {
    let mut changed = false;
    for step in &mut upgrade.plan {
        changed |= carry_over_step(step);
    }
    changed
}

fn carry_over_step(step: &mut PlanStep) -> bool {
    let mut changed = false;
    if let Some(n) = step
        .member
        .as_deref()
        .and_then(|m| m.strip_prefix("batch-"))
        .and_then(|n| n.parse::<i32>().ok())
    {
        step.batch = Some(n);
        step.member = None;
        changed = true;
    }
    if let Some(text) = step.reference.take() {
        changed = true;
        if step.progress.is_none() {
            step.progress = progress_of(step, &text);
        }
    }
    changed
}

fn progress_of(step: &PlanStep, text: &str) -> Option<StepProgress> {
    if let Some(n) = text.strip_prefix("sync-attempt-") {
        return Some(StepProgress::SyncStarted {
            attempt: n.parse().ok()?,
        });
    }
    if let Some(n) = text.strip_prefix("cut:") {
        return Some(StepProgress::SessionsCut {
            sessions: n.parse().ok()?,
        });
    }
    if let Some(rest) = text.strip_prefix("proceed:") {
        let (sessions, nodes) = rest.split_once(':')?;
        return Some(StepProgress::DrainTimedOut {
            sessions: sessions.parse().ok()?,
            nodes: nodes.to_owned(),
        });
    }
    match step.action {
        StepAction::Distribute => Some(StepProgress::DistributionStarted {
            package: step.package.clone().unwrap_or_default(),
        }),
        StepAction::Backup => Some(StepProgress::BackupStored {
            location: text.to_owned(),
        }),
        StepAction::Install => Some(StepProgress::InstallStarted {
            install_id: text.to_owned(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_crds::status::StepState;

    fn step(action: StepAction, member: &str, reference: &str) -> PlanStep {
        PlanStep {
            id: "1/x".into(),
            action,
            member: Some(member.into()),
            package: Some("product-24.3.2".into()),
            state: StepState::Running,
            reference: Some(reference.into()),
            ..PlanStep::default()
        }
    }

    #[test]
    fn a_status_of_the_previous_release_is_carried_over_once() {
        let mut upgrade = UpgradeStatus {
            plan: vec![
                step(StepAction::Install, "rs-b", "inst-42"),
                step(StepAction::SyncFailover, "rs-a", "sync-attempt-2"),
                step(StepAction::Drain, "batch-1", "proceed:7:tn-1 (4), tn-2 (3)"),
                step(StepAction::Install, "batch-2", "cut:5"),
                step(StepAction::Distribute, "master-a", "distributing"),
            ],
            ..UpgradeStatus::default()
        };
        assert!(carry_over(&mut upgrade));
        let p: Vec<_> = upgrade.plan.iter().map(|s| s.progress.clone()).collect();
        assert_eq!(
            p[0],
            Some(StepProgress::InstallStarted {
                install_id: "inst-42".into()
            })
        );
        assert_eq!(p[1], Some(StepProgress::SyncStarted { attempt: 2 }));
        assert_eq!(
            p[2],
            Some(StepProgress::DrainTimedOut {
                sessions: 7,
                nodes: "tn-1 (4), tn-2 (3)".into()
            })
        );
        assert_eq!(p[3], Some(StepProgress::SessionsCut { sessions: 5 }));
        assert_eq!(
            p[4],
            Some(StepProgress::DistributionStarted {
                package: "product-24.3.2".into()
            })
        );
        assert_eq!(
            (upgrade.plan[2].batch, upgrade.plan[2].member.as_deref()),
            (Some(1), None)
        );
        assert!(upgrade.plan.iter().all(|s| s.reference.is_none()));
        assert!(!carry_over(&mut upgrade), "a second read changes nothing");
    }
}
