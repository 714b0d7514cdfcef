//! Staging, installing and verifying a package on one member of a pair. The install itself
//! is [`crate::drive::actions::install`], shared with Atlas clusters.

use baton_crds::common::Strategy;
use baton_crds::conditions::reasons;

use crate::appliance::PackageState;
use crate::drive::actions::{self, InstallTarget};
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

/// Waits for the member's sessions to end, then starts the install once and follows it.
pub async fn install(input: &StepInput<'_>) -> StepResult {
    let (member, seen, _, _) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o.into(),
    };
    // Synchronous upgrades take the site down while the primary installs: its sessions end
    // by design. Otherwise the member's sessions end first (I3).
    let cut_allowed = input.pair.spec.strategy == Strategy::Synchronous;
    if input.step.reference.is_none() && seen.clients > 0 && !cut_allowed {
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
    let key = actions::install_key(input.upgrade_id, input.step, None);
    let target = InstallTarget {
        package: input.step.package.as_deref().unwrap_or_default(),
        base: input.step.base_software,
        key: &key,
        reference: input.step.reference.as_deref(),
        allow_connected_clients: cut_allowed,
    };
    actions::install(&*member.appliance, input.call(&member.name), target).await
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
                "{} failed verification after {}s: it {problem}. Nothing was promoted; fix it, then approve a retry",
                member.name,
                waited.as_secs(),
            ),
        };
    }
    input.wait(
        reasons::UPGRADING,
        format!("verifying {}: it {problem}", member.name),
    )
}
