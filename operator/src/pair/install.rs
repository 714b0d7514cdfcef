//! Staging, installing and verifying a package on one member.
//!
//! Installing is the one step the appliances do not make idempotent by state alone: it is
//! requested with the idempotency key `<upgrade id>/<step id>`, recorded in status with the
//! step before the request goes out, so a restart asks again with the same key and gets the
//! install it already started. A failed base install stops everything (R6): no retry, no
//! reboot, until a person approves `<upgrade id>/Retry`.

use std::time::Duration;

use baton_crds::common::Strategy;
use baton_crds::conditions::reasons;

use crate::appliance::{Error, InstallRequest, InstallState, PackageState};
use crate::pair::step::{Outcome, StepInput, StepResult};

/// Downloads the package onto the member (R7: right before its install).
pub async fn stage(input: &StepInput<'_>) -> Outcome {
    let (member, _, _, _) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o,
    };
    let package = input.step.package.as_deref().unwrap_or_default();
    let packages = match member.appliance.packages().await {
        Ok(p) => p,
        Err(e) => return input.wait(reasons::UNREACHABLE, e.to_string()),
    };
    match packages.iter().find(|p| p.id == package) {
        Some(p) if p.state == PackageState::Staged => {
            Outcome::Done(format!("{package} is staged on {}", member.name))
        }
        Some(_) => match member.appliance.stage_package(package).await {
            Ok(_) => Outcome::Done(format!("{package} downloaded onto {}", member.name)),
            Err(e) if e.is_transient() => input.wait(reasons::UNREACHABLE, e.to_string()),
            Err(e) => Outcome::Failed {
                reason: reasons::INSTALL_FAILED,
                message: format!("failed to download {package} onto {}: {e}", member.name),
            },
        },
        // Offered packages are those not installed yet: gone from the list means installed.
        None => Outcome::Done(format!(
            "{package} is no longer offered by {}: installed",
            member.name
        )),
    }
}

/// Starts the install (once) and follows it to the end with a long poll.
pub async fn install(input: &StepInput<'_>) -> StepResult {
    let (member, seen, _, _) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o.into(),
    };
    let package = input.step.package.clone().unwrap_or_default();
    let Some(install_id) = input.step.reference.clone() else {
        // Synchronous upgrades take the site down while the primary installs: its sessions
        // end by design. Otherwise wait for the member's sessions to end (I3).
        let cut_allowed = input.pair.spec.strategy == Strategy::Synchronous;
        if seen.clients > 0 && !cut_allowed {
            return input
                .wait(
                    reasons::UPGRADING,
                    format!(
                        "waiting for {} sessions on {} to end before installing",
                        seen.clients, member.name
                    ),
                )
                .into();
        }
        let request = InstallRequest {
            package_id: package.clone(),
            allow_connected_clients: cut_allowed,
        };
        let key = format!("{}/{}", input.upgrade_id, input.step.id);
        return match member.appliance.start_install(&request, &key).await {
            Ok(started) => StepResult {
                outcome: Outcome::Wait {
                    reason: reasons::UPGRADING,
                    message: format!("installing {package} on {}", member.name),
                    after: Duration::ZERO,
                },
                reference: Some(started.id),
                backup: None,
            },
            Err(Error::Conflict { code, .. }) if code == "already_installed" => {
                Outcome::Done(format!("{package} is installed on {}", member.name)).into()
            }
            Err(e) if e.is_transient() => input.wait(reasons::UNREACHABLE, e.to_string()).into(),
            Err(e) => failed(input, &member.name, &package, &e.to_string()).into(),
        };
    };
    match member
        .appliance
        .install(&install_id, input.ctx.timings.long_poll)
        .await
    {
        Ok(i) if i.state == InstallState::Succeeded => {
            Outcome::Done(format!("{package} installed on {}", member.name)).into()
        }
        Ok(i) if i.state == InstallState::Failed => failed(
            input,
            &member.name,
            &package,
            i.message.as_deref().unwrap_or("no message"),
        )
        .into(),
        Ok(i) => Outcome::Wait {
            reason: reasons::UPGRADING,
            message: format!(
                "installing {package} on {} ({}%)",
                member.name, i.progress_percent
            ),
            after: Duration::ZERO,
        }
        .into(),
        // A base install reboots the appliance: unreachable is expected, never "done".
        Err(e) if e.is_transient() => input
            .wait(
                reasons::UPGRADING,
                format!(
                    "waiting for {} ({package} installing, the appliance may be rebooting): {e}",
                    member.name
                ),
            )
            .into(),
        Err(e) => input
            .wait(
                reasons::UNREACHABLE,
                format!(
                    "failed to read install {install_id} on {}: {e}",
                    member.name
                ),
            )
            .into(),
    }
}

fn failed(input: &StepInput<'_>, member: &str, package: &str, message: &str) -> Outcome {
    if input.step.base_software {
        Outcome::Failed {
            reason: reasons::BASE_INSTALL_FAILED,
            message: format!(
                "base software install {package} failed on {member}: {message}. Do not restart the appliance; contact BeyondTrust support (R6). Once it is fixed, approve {}/Retry",
                input.upgrade_id
            ),
        }
    } else {
        Outcome::Failed {
            reason: reasons::INSTALL_FAILED,
            message: format!(
                "install of {package} failed on {member}: {message}. Once the cause is fixed, approve {}/Retry",
                input.upgrade_id
            ),
        }
    }
}

/// The member runs the round's version, is healthy and not installing.
pub fn verify(input: &StepInput<'_>) -> Outcome {
    let (member, seen, _, _) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o,
    };
    let want = input.step.version.as_deref().unwrap_or_default();
    let runs = seen.version().to_string();
    if runs == want && seen.health.healthy && !seen.is_installing() {
        return Outcome::Done(format!("{} runs {runs} and is healthy", member.name));
    }
    let started = input
        .step
        .started_at
        .as_ref()
        .map(crate::time::from_k8s)
        .unwrap_or(input.now);
    let waited = (input.now - started).to_std().unwrap_or_default();
    let problem = if seen.is_installing() {
        "still installing".to_owned()
    } else if runs != want {
        format!("runs {runs}, not {want}")
    } else {
        format!(
            "is unhealthy: {}",
            seen.health.error_message.as_deref().unwrap_or("no message")
        )
    };
    if waited > input.ctx.timings.verify_timeout {
        return Outcome::Failed {
            reason: reasons::VERIFICATION_FAILED,
            message: format!(
                "{} failed verification after {}s: it {problem}. Nothing was promoted; fix it, then approve {}/Retry",
                member.name,
                waited.as_secs(),
                input.upgrade_id
            ),
        };
    }
    input.wait(
        reasons::UPGRADING,
        format!("verifying {}: it {problem}", member.name),
    )
}
