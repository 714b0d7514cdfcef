//! The steps of a pair upgrade, in order, as written into status before anything runs.
//!
//! Each round (see [`super::hops`]) is one whole procedure of procedures.md:
//! - **Asynchronous** (section 3): backup and Sync Now on the primary, break failover, install
//!   the backup, verify it, swing traffic to it, install the former primary, verify it,
//!   re-establish failover with the upgraded backup as primary, sync. The roles stay swapped,
//!   so the next round starts from the new primary.
//! - **Synchronous** (section 2): backup, sync, break, install the primary, verify, install the
//!   backup, verify, re-establish with the same primary, sync.
//!
//! A soak follows every round but the last (R3). Gates are steps too, so status shows where
//! an upgrade waits for a person.

use baton_crds::common::{Gate, Strategy};
use baton_crds::status::{PlanStep, StepAction};

use super::hops::Round;

/// What a pair plan is made from.
#[derive(Debug, Clone)]
pub struct PairPlanInput<'a> {
    /// Asynchronous or synchronous.
    pub strategy: Strategy,
    /// The member serving the site when the upgrade starts.
    pub primary: &'a str,
    /// Its failover partner.
    pub backup: &'a str,
    /// The rounds from the hop planner.
    pub rounds: &'a [Round],
    /// The gates the spec asks for.
    pub gates: &'a [Gate],
}

/// The plan for a pair upgrade.
pub fn pair_plan(input: &PairPlanInput<'_>) -> Vec<PlanStep> {
    let mut steps = Vec::new();
    let (mut primary, mut backup) = (input.primary, input.backup);
    let last = input.rounds.len();
    for (i, round) in input.rounds.iter().enumerate() {
        let r = i as i32 + 1;
        let version = round.product.to_string();
        let mut add = |action, member: Option<&str>, package: Option<&str>, what: String| {
            let mut s = step(r, action, member, package, what);
            s.version = Some(version.clone());
            s.base_software = round
                .packages
                .iter()
                .any(|p| p.base && Some(p.id.as_str()) == s.package.as_deref());
            steps.push(s);
        };
        add(
            StepAction::Preflight,
            None,
            None,
            format!("check both members before round {r} (to {})", round.product),
        );
        add(
            StepAction::Backup,
            Some(primary),
            None,
            format!("download a configuration backup from {primary}"),
        );
        add(
            StepAction::SyncFailover,
            Some(primary),
            None,
            format!("Sync Now on {primary} and wait for it"),
        );
        if r == 1 && input.gates.contains(&Gate::BeforeUpgrade) {
            add(
                StepAction::Approval,
                None,
                Some("BeforeUpgrade"),
                "wait for approval to start the upgrade".into(),
            );
        }
        add(
            StepAction::BreakFailover,
            Some(primary),
            None,
            format!("break failover between {primary} and {backup}"),
        );
        let (first, second) = match input.strategy {
            Strategy::Asynchronous => (backup, primary),
            Strategy::Synchronous => (primary, backup),
        };
        for package in round.packages.iter().map(|p| p.id.as_str()) {
            add(
                StepAction::Stage,
                Some(first),
                Some(package),
                format!("download {package} onto {first}"),
            );
            add(
                StepAction::Install,
                Some(first),
                Some(package),
                format!("install {package} on {first}"),
            );
        }
        add(
            StepAction::Verify,
            Some(first),
            None,
            format!("verify {first} runs {} and is healthy", round.product),
        );
        if input.strategy == Strategy::Asynchronous {
            if input.gates.contains(&Gate::BeforePromotion) {
                add(
                    StepAction::Approval,
                    None,
                    Some("BeforePromotion"),
                    format!("wait for approval to make {first} primary"),
                );
            }
            add(
                StepAction::SwingTraffic,
                Some(first),
                None,
                format!("swing the site traffic to {first}"),
            );
        }
        if input.gates.contains(&Gate::BeforeFormerPrimary) {
            add(
                StepAction::Approval,
                None,
                Some("BeforeFormerPrimary"),
                format!("wait for approval to upgrade {second}"),
            );
        }
        for package in round.packages.iter().map(|p| p.id.as_str()) {
            add(
                StepAction::Stage,
                Some(second),
                Some(package),
                format!("download {package} onto {second}"),
            );
            add(
                StepAction::Install,
                Some(second),
                Some(package),
                format!("install {package} on {second}"),
            );
        }
        add(
            StepAction::Verify,
            Some(second),
            None,
            format!("verify {second} runs {} and is healthy", round.product),
        );
        // The member upgraded first serves: it becomes (async) or stays (sync) primary.
        add(
            StepAction::EstablishFailover,
            Some(first),
            None,
            format!("re-establish failover with {first} as primary and {second} as backup"),
        );
        add(
            StepAction::SyncFailover,
            Some(first),
            None,
            format!("Sync Now on {first} and wait for it"),
        );
        if r as usize != last {
            add(
                StepAction::Soak,
                None,
                None,
                format!("soak on {} before the next product hop (R3)", round.product),
            );
        }
        if input.strategy == Strategy::Asynchronous {
            std::mem::swap(&mut primary, &mut backup);
        }
    }
    steps
}

pub(crate) fn step(
    round: i32,
    action: StepAction,
    member: Option<&str>,
    package: Option<&str>,
    description: String,
) -> PlanStep {
    let mut id = format!("{round}/{}", action_slug(action));
    for part in [member, package].into_iter().flatten() {
        id.push('/');
        id.push_str(part);
    }
    PlanStep {
        id,
        description,
        action,
        round,
        member: member.map(str::to_owned),
        package: package.map(str::to_owned),
        ..PlanStep::default()
    }
}

/// The kebab-case word for an action in step ids (`1/install/rs-b/base-5.1.0`).
pub fn action_slug(action: StepAction) -> &'static str {
    match action {
        StepAction::Preflight => "preflight",
        StepAction::Backup => "backup",
        StepAction::SyncFailover => "sync-failover",
        StepAction::Approval => "approval",
        StepAction::BreakFailover => "break-failover",
        StepAction::Stage => "stage",
        StepAction::Install => "install",
        StepAction::Verify => "verify",
        StepAction::SwingTraffic => "swing-traffic",
        StepAction::EstablishFailover => "establish-failover",
        StepAction::Soak => "soak",
        StepAction::Distribute => "distribute",
        StepAction::Drain => "drain",
        StepAction::Accept => "accept",
        StepAction::SyncCluster => "sync-cluster",
        StepAction::EnableBackupOperations => "backup-operations",
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
