//! Runs the current plan step against the appliances and says how it stands.
//!
//! Every step first looks at what the appliances already show, so that running it again
//! after a restart (the status said Running, the operator died) repeats nothing: a broken
//! relationship is not broken again, a moved IP is not moved again, and an install is asked
//! for with the same idempotency key, which returns the install it already started (I8).

use std::time::Duration;

use chrono::{DateTime, Utc};

use baton_crds::AppliancePair;
use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepAction};

use crate::appliance::{EstablishRequest, Relationship};
use crate::context::Context;
use crate::drive::actions::{self, SyncKind};
use crate::drive::status::UpgradeResource;
pub use crate::drive::{Outcome, StepResult};
use crate::members::Connected;
use crate::pair::observe::{Observation, Seen};
use crate::swing;

/// Everything a step may look at.
pub struct StepInput<'a> {
    pub ctx: &'a Context,
    pub pair: &'a AppliancePair,
    pub upgrade_id: &'a str,
    pub step: &'a PlanStep,
    /// When the step before this one finished (the soak counts from there).
    pub previous_finished: Option<DateTime<Utc>>,
    pub members: &'a [Connected; 2],
    pub seen: &'a [Observation; 2],
    pub now: DateTime<Utc>,
}

impl std::fmt::Debug for StepInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepInput")
            .field("upgrade_id", &self.upgrade_id)
            .field("step", &self.step.id)
            .finish_non_exhaustive()
    }
}

impl<'a> StepInput<'a> {
    /// The member the step acts on, its peer, and what both showed.
    pub fn sides(&self) -> Result<(&'a Connected, &'a Seen, &'a Connected, &'a Seen), Outcome> {
        let name = self.step.member.as_deref().unwrap_or_default();
        let (this, other) = if self.members[0].name == name {
            (0, 1)
        } else {
            (1, 0)
        };
        if self.members[this].name != name {
            return Err(Outcome::Failed {
                reason: reasons::INVALID_SPEC,
                message: format!(
                    "step {} names member {name}, which the spec no longer has; restore it or delete status.upgrade",
                    self.step.id
                ),
            });
        }
        let seen = |i: usize| match &self.seen[i].seen {
            Ok(s) => Ok(s),
            Err(u) if u.transient => Err(self.wait(
                u.reason,
                format!("waiting for {}: {}", self.seen[i].name, u.message),
            )),
            Err(u) => Err(Outcome::Failed {
                reason: u.reason,
                message: u.message.clone(),
            }),
        };
        Ok((
            &self.members[this],
            seen(this)?,
            &self.members[other],
            seen(other)?,
        ))
    }

    /// Both members regardless of which the step names (preflight looks at both).
    pub fn sides_any(&self) -> Result<(&'a Connected, &'a Seen, &'a Connected, &'a Seen), Outcome> {
        let seen = |i: usize| match &self.seen[i].seen {
            Ok(s) => Ok(s),
            Err(u) if u.transient => Err(self.wait(
                u.reason,
                format!("waiting for {}: {}", self.seen[i].name, u.message),
            )),
            Err(u) => Err(Outcome::Failed {
                reason: u.reason,
                message: u.message.clone(),
            }),
        };
        Ok((&self.members[0], seen(0)?, &self.members[1], seen(1)?))
    }

    /// What the shared one-appliance actions need.
    pub fn call<'b>(&'b self, name: &'b str) -> actions::Call<'b> {
        actions::Call {
            name,
            upgrade_id: self.upgrade_id,
            long_poll: self.ctx.timings.long_poll,
            busy: self.ctx.timings.busy,
        }
    }

    /// Wait with the busy requeue.
    pub fn wait(&self, reason: &'static str, message: String) -> Outcome {
        Outcome::Wait {
            reason,
            message,
            after: self.ctx.timings.busy,
        }
    }

    /// Whether `<upgrade id>/<gate>` was approved.
    pub fn approved(&self, gate: &str) -> bool {
        self.pair.approved(self.upgrade_id, gate)
    }

    fn namespace(&self) -> String {
        self.pair.metadata.namespace.clone().unwrap_or_default()
    }
}

/// Runs the step.
pub async fn run(input: &StepInput<'_>) -> StepResult {
    let step = input.step;
    match step.action {
        StepAction::Preflight => super::preflight::run(input).await.into(),
        StepAction::Backup => take_backup(input).await,
        StepAction::SyncFailover => sync(input).await,
        StepAction::Approval => approval(input).into(),
        StepAction::BreakFailover => break_failover(input).await.into(),
        StepAction::Stage => super::install::stage(input).await.into(),
        StepAction::Install => super::install::install(input).await,
        StepAction::Verify => super::install::verify(input).into(),
        StepAction::SwingTraffic => swing_traffic(input).await.into(),
        StepAction::EstablishFailover => establish(input).await.into(),
        StepAction::Soak => soak(input).into(),
        StepAction::Distribute | StepAction::Drain | StepAction::Accept | StepAction::SyncCluster | StepAction::EnableBackupOperations => Outcome::Failed {
            reason: reasons::INVALID_SPEC,
            message: format!("step {} is an Atlas cluster step, not a pair step; delete status.upgrade to plan again", step.id),
        }
        .into(),
    }
}

async fn take_backup(input: &StepInput<'_>) -> StepResult {
    let (member, _, _, _) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o.into(),
    };
    let namespace = input.namespace();
    let secrets = crate::secrets::SecretReader::new(input.ctx.client.clone(), &namespace);
    let resource = input.pair.metadata.name.as_deref().unwrap_or_default();
    let store = actions::BackupStore {
        spec: &input.pair.spec.backup,
        secrets: &secrets,
        resource,
        round: input.step.round,
    };
    actions::backup(
        &*member.appliance,
        input.call(&member.name),
        store,
        input.now,
    )
    .await
}

/// Sync Now on the member, and wait (shared with Atlas: [`actions::sync`]).
async fn sync(input: &StepInput<'_>) -> StepResult {
    let (member, _, _, _) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o.into(),
    };
    actions::sync(
        &*member.appliance,
        input.call(&member.name),
        SyncKind::Failover,
        input.step.reference.as_deref(),
    )
    .await
}

fn approval(input: &StepInput<'_>) -> Outcome {
    let gate = input.step.package.as_deref().unwrap_or_default();
    let name = input.pair.metadata.name.as_deref().unwrap_or_default();
    actions::approval(
        input.approved(gate),
        "apair",
        name,
        input.upgrade_id,
        gate,
        input.ctx.timings.gated,
    )
}

async fn break_failover(input: &StepInput<'_>) -> Outcome {
    let (member, seen, _, peer) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o,
    };
    if seen.failover.relationship == Relationship::None
        && peer.failover.relationship == Relationship::None
    {
        return Outcome::Done("failover relationship is broken".to_owned());
    }
    match member.appliance.break_failover().await {
        Ok(_) => input.wait(
            reasons::UPGRADING,
            format!("breaking failover on {}", member.name),
        ),
        Err(e) if e.is_transient() => input.wait(reasons::UNREACHABLE, e.to_string()),
        Err(e) => Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!("failed to break failover on {}: {e}", member.name),
        },
    }
}

async fn swing_traffic(input: &StepInput<'_>) -> Outcome {
    let (to, to_seen, from, from_seen) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o,
    };
    swing::swing_resource(
        input.ctx,
        input.pair,
        "apair",
        &input.pair.spec.traffic_swing,
        input.upgrade_id,
        input.step.round,
        (from, from_seen),
        (to, to_seen),
    )
    .await
}

/// Re-establishes failover with the step's member as primary. Refuses members on different
/// versions (I7) before asking, although the appliance would refuse too.
async fn establish(input: &StepInput<'_>) -> Outcome {
    let (primary, seen, backup, peer) = match input.sides() {
        Ok(s) => s,
        Err(o) => return o,
    };
    if seen.is_established_primary() && peer.failover.relationship == Relationship::Established {
        return Outcome::Done(format!(
            "failover established: {} primary, {} backup",
            primary.name, backup.name
        ));
    }
    if seen.version() != peer.version() {
        return Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!(
                "refusing to establish failover between different versions ({} runs {}, {} runs {}) (I7)",
                primary.name,
                seen.version(),
                backup.name,
                peer.version()
            ),
        };
    }
    let request = EstablishRequest {
        peer_address: backup.endpoint.as_str().trim_end_matches('/').to_owned(),
        inter_appliance_key: None,
    };
    match primary.appliance.establish_failover(&request).await {
        Ok(_) => Outcome::Wait {
            reason: reasons::UPGRADING,
            message: format!("establishing failover from {}", primary.name),
            after: Duration::ZERO,
        },
        Err(e) if e.is_transient() => input.wait(reasons::UNREACHABLE, e.to_string()),
        Err(e) => Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!("failed to establish failover from {}: {e}", primary.name),
        },
    }
}

fn soak(input: &StepInput<'_>) -> Outcome {
    let version = input.step.version.as_deref().unwrap_or_default();
    actions::soak(
        &input.pair.spec.soak,
        version,
        input.previous_finished.unwrap_or(input.now),
        input.now,
        input.ctx.timings.gated,
    )
}
