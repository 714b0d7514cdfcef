//! Preflight before anything disruptive: both members reachable and healthy, on the same
//! version, the API account allowed to command and back up, clocks right (R8), failover
//! established. What a person must fix stops the upgrade; what may pass by itself waits.

use futures::future::join;

use baton_crds::conditions::reasons;

use crate::appliance::{Access, Appliance, Relationship};
use crate::pair::step::{Outcome, StepInput};

/// Runs the checks.
pub async fn run(input: &StepInput<'_>) -> Outcome {
    let (a, a_seen, b, b_seen) = match input.sides_any() {
        Ok(s) => s,
        Err(o) => return o,
    };
    let fail = |message: String| Outcome::Failed {
        reason: reasons::PREFLIGHT_FAILED,
        message,
    };
    if a_seen.version() != b_seen.version() {
        return fail(format!(
            "the members run different versions ({} runs {}, {} runs {}); bring them to the same version first",
            a.name,
            a_seen.version(),
            b.name,
            b_seen.version()
        ));
    }
    for (name, seen) in [(&a.name, a_seen), (&b.name, b_seen)] {
        if !seen.health.healthy || seen.is_installing() {
            return input.wait(
                reasons::UPGRADING,
                format!(
                    "waiting for {name} to be healthy: {}",
                    seen.health.error_message.as_deref().unwrap_or("installing")
                ),
            );
        }
        if seen.failover.relationship != Relationship::Established {
            return fail(format!(
                "{name} is not in an established failover relationship; baton upgrades pairs with failover established"
            ));
        }
    }
    let (ra, rb) = join(
        check_account(&*a.appliance, &a.name, input),
        check_account(&*b.appliance, &b.name, input),
    )
    .await;
    for result in [ra, rb] {
        if let Err(outcome) = result {
            return outcome;
        }
    }
    Outcome::Done(format!(
        "both members on {}, healthy, in failover, clocks and permissions right",
        a_seen.version()
    ))
}

pub async fn check_account(
    appliance: &dyn Appliance,
    name: &str,
    input: &StepInput<'_>,
) -> Result<(), Outcome> {
    let info = appliance
        .api_info()
        .await
        .map_err(|e| input.wait(reasons::UNREACHABLE, e.to_string()))?;
    if info.permissions.command != Access::FullAccess {
        return Err(Outcome::Failed {
            reason: reasons::MISSING_PERMISSION,
            message: format!(
                "the API account on {name} lacks full command access (it has {:?}); grant it in /login > Management > API Configuration",
                info.permissions.command
            ),
        });
    }
    if !info.permissions.backup {
        return Err(Outcome::Failed {
            reason: reasons::MISSING_PERMISSION,
            message: format!(
                "the API account on {name} may not download backups; grant the backup permission"
            ),
        });
    }
    let clock = appliance
        .clock()
        .await
        .map_err(|e| input.wait(reasons::UNREACHABLE, e.to_string()))?;
    let skew = (clock.now - input.now).abs().to_std().unwrap_or_default();
    if skew > input.ctx.timings.clock_tolerance || !clock.ntp_synchronized {
        return Err(Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!(
                "the clock of {name} is off by {}s (NTP synchronized: {}); updates fail on a wrong clock (R8): fix NTP, then approve a retry",
                skew.as_secs(),
                clock.ntp_synchronized,
            ),
        });
    }
    Ok(())
}
