//! What the commands a step ran reported, folded into the step's verdict and progress. Pure,
//! like `decide`: the executor only reports; what a report means for the runbook is here.
//!
//! Commands run in order and the executor stops at the first failure, so `reports` may be
//! shorter than `commands`: the first failure decides; otherwise the last command's success.

use std::time::Duration;

use baton_crds::conditions::reasons;
use baton_crds::status::{StepAction, StepProgress};

use super::command::{Command, Report, Role};
use super::decide::steps::{install_failed, sync_attempt, sync_word};
use super::decide::{StepContext, batch};
use super::verdict::{StepUpdate, Verdict};

/// The step's update after `commands` ran and reported `reports`. An Atlas batch install
/// counts every target ([`batch::install_verdict`]).
pub fn fold(ctx: &StepContext<'_>, commands: &[Command], reports: &[Report]) -> StepUpdate {
    if let (StepAction::Install, Some(n)) = (ctx.step.action, ctx.step.batch) {
        return batch::install_verdict(ctx, n, commands, reports);
    }
    let busy = ctx.common.timings.busy;
    let mut last = None;
    for (command, report) in commands.iter().zip(reports) {
        match report {
            Report::Failed {
                transient,
                message,
                reason,
            } => {
                return failure(ctx, command, *transient, message, *reason).into();
            }
            Report::Unsupported { message } => {
                return Verdict::failed(reasons::INVALID_SPEC, message.clone()).into();
            }
            Report::InstallFailed { message } => {
                return install_failed(ctx.step, command.member(), message).into();
            }
            _ => last = Some((command, report)),
        }
    }
    let Some((command, report)) = last else {
        return Verdict::wait(reasons::UPGRADING, "nothing ran", busy).into();
    };
    success(ctx, command, report)
}

/// What a command's success means for its step.
fn success(ctx: &StepContext<'_>, command: &Command, report: &Report) -> StepUpdate {
    let busy = ctx.common.timings.busy;
    let now = Duration::ZERO;
    match (command, report) {
        (Command::Backup { member, .. }, Report::BackupStored(record)) => StepUpdate {
            verdict: Verdict::Done(format!(
                "backup of {member} stored at {} ({} bytes, sha256 {})",
                record.location, record.size_bytes, record.sha256
            )),
            progress: Some(StepProgress::BackupStored {
                location: record.location.clone(),
            }),
            backup: Some(record.clone()),
        },
        (Command::SyncNow { member, kind }, _) => {
            let attempt = sync_attempt(ctx.step).unwrap_or(0) + 1;
            let what = sync_word(*kind);
            let message = if attempt > 1 {
                format!("{what} on {member} failed; started it again (attempt {attempt})")
            } else {
                format!("{what} started on {member}")
            };
            StepUpdate::with(
                Verdict::wait(reasons::UPGRADING, message, busy),
                StepProgress::SyncStarted { attempt },
            )
        }
        (Command::BreakFailover { member }, _) => Verdict::wait(
            reasons::UPGRADING,
            format!("breaking failover on {member}"),
            busy,
        )
        .into(),
        (Command::EstablishFailover { primary, .. }, _) => Verdict::wait(
            reasons::UPGRADING,
            format!("establishing failover from {primary}"),
            now,
        )
        .into(),
        (Command::Stage { member, package }, _) => {
            Verdict::Done(format!("{package} downloaded onto {member}")).into()
        }
        (Command::Distribute { master, package }, _) => StepUpdate::with(
            Verdict::wait(
                reasons::UPGRADING,
                format!("distributing {package} from {master}"),
                busy,
            ),
            StepProgress::DistributionStarted {
                package: package.clone(),
            },
        ),
        (
            Command::StartInstall {
                member, package, ..
            },
            Report::Started { id },
        ) => StepUpdate::with(
            Verdict::wait(
                reasons::UPGRADING,
                format!("installing {package} on {member}"),
                now,
            ),
            StepProgress::InstallStarted {
                install_id: id.clone(),
            },
        ),
        (
            Command::StartInstall {
                member, package, ..
            },
            _,
        ) => Verdict::Done(format!("{package} is installed on {member}")).into(),
        (Command::SetAccepting { accepting, .. }, _) => {
            let message = if *accepting {
                "putting nodes back into rotation"
            } else {
                "taking nodes out of rotation"
            };
            Verdict::wait(reasons::UPGRADING, message, now).into()
        }
        (Command::SetFailoverRole { member, role, .. }, _) => {
            let role = match role {
                Role::Primary => "primary",
                Role::Backup => "backup",
            };
            Verdict::wait(reasons::UPGRADING, format!("{member} became {role}"), now).into()
        }
        (Command::SetBackupOperations { member, enabled }, _) => {
            let what = if *enabled { "enabling" } else { "disabling" };
            Verdict::wait(
                reasons::FAILOVER_ESTABLISHED,
                format!("{what} backup operations on {member}"),
                now,
            )
            .into()
        }
        (Command::SwingTraffic { .. }, Report::Swing(verdict)) => verdict.clone().into(),
        (command, report) => Verdict::wait(
            reasons::UPGRADING,
            format!("{command:?} reported {report:?}"),
            busy,
        )
        .into(),
    }
}

/// What a command's failure means for its step: transient ones wait; the others stop with a
/// message saying what failed.
fn failure(
    ctx: &StepContext<'_>,
    command: &Command,
    transient: bool,
    message: &str,
    reason: Option<&'static str>,
) -> Verdict {
    let busy = ctx.common.timings.busy;
    if let Some(reason) = reason {
        return Verdict::failed(reason, message.to_owned());
    }
    let (what, failed_reason) = match command {
        Command::Backup { member, .. } => (
            format!("failed to download the backup from {member}"),
            reasons::PREFLIGHT_FAILED,
        ),
        Command::SyncNow { member, kind } => {
            // A failed sync is started again; a refusal to restart it waits (it may be busy).
            if sync_attempt(ctx.step).is_some() {
                return Verdict::wait(reasons::UNREACHABLE, message.to_owned(), busy);
            }
            (
                format!("failed to start the {} on {member}", sync_word(*kind)),
                reasons::PREFLIGHT_FAILED,
            )
        }
        Command::BreakFailover { member } => (
            format!("failed to break failover on {member}"),
            reasons::PREFLIGHT_FAILED,
        ),
        Command::EstablishFailover { primary, .. } => (
            format!("failed to establish failover from {primary}"),
            reasons::PREFLIGHT_FAILED,
        ),
        Command::Stage { member, package } => (
            format!("failed to download {package} onto {member}"),
            reasons::INSTALL_FAILED,
        ),
        Command::Distribute { package, .. } => (
            format!("failed to distribute {package}"),
            reasons::INSTALL_FAILED,
        ),
        Command::StartInstall { member, .. } => {
            if transient {
                return Verdict::wait(reasons::UNREACHABLE, message.to_owned(), busy);
            }
            return install_failed(ctx.step, member, message);
        }
        // These wait whatever the error: the next pass observes and asks again if needed.
        Command::SetAccepting {
            node, accepting, ..
        } => {
            let what = if *accepting { "put" } else { "take" };
            let direction = if *accepting { "back into" } else { "out of" };
            return Verdict::wait(
                reasons::UNREACHABLE,
                format!("failed to {what} {node} {direction} rotation: {message}"),
                busy,
            );
        }
        Command::SetFailoverRole { member, role, .. } => {
            let role = if *role == Role::Primary {
                "primary"
            } else {
                "backup"
            };
            return Verdict::wait(
                reasons::UNREACHABLE,
                format!("failed to make {member} {role}: {message}"),
                busy,
            );
        }
        Command::SetBackupOperations { member, enabled } => {
            let what = if *enabled { "enable" } else { "disable" };
            return Verdict::wait(
                reasons::UNREACHABLE,
                format!("failed to {what} backup operations on {member}: {message}"),
                busy,
            );
        }
        Command::SwingTraffic { .. } | Command::AwaitInstalls { .. } => {
            return Verdict::wait(reasons::UNREACHABLE, message.to_owned(), busy);
        }
    };
    if transient {
        Verdict::wait(reasons::UNREACHABLE, message.to_owned(), busy)
    } else {
        Verdict::failed(failed_reason, format!("{what}: {message}"))
    }
}
