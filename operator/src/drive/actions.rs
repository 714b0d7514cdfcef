//! Steps on one appliance that both kinds run the same way: install a package and follow it,
//! Sync Now and wait, verify the version and health.
//!
//! Installing is requested with an idempotency key the caller derives from the upgrade and
//! step, so asking again after a restart returns the install already started (I8). A failed
//! base install stops everything (R6): no retry, no reboot, until a person approves a retry
//! (the driver names the approval).

use std::time::Duration;

use baton_crds::conditions::reasons;

use super::{Outcome, StepResult};
use crate::appliance::{Appliance, Error, InstallRequest, InstallState, OperationState};

/// What these steps need to know besides the appliance.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The member or node, for messages.
    pub name: &'a str,
    /// The upgrade id, for the Retry approval in messages.
    pub upgrade_id: &'a str,
    /// The long poll on installs and syncs.
    pub long_poll: Duration,
    /// The requeue while waiting on an appliance.
    pub busy: Duration,
}

impl Call<'_> {
    fn wait(&self, reason: &'static str, message: String) -> Outcome {
        Outcome::Wait {
            reason,
            message,
            after: self.busy,
        }
    }
}

/// The idempotency key of an install: `<upgrade id>/<step id>[/<node>]`, and `/a<n>` for the
/// n-th retry, so a retried install is a new one rather than a replay of the failed one.
pub fn install_key(
    upgrade_id: &str,
    step: &baton_crds::status::PlanStep,
    node: Option<&str>,
) -> String {
    let mut key = format!("{upgrade_id}/{}", step.id);
    if let Some(node) = node {
        key.push('/');
        key.push_str(node);
    }
    if step.attempt > 0 {
        key.push_str(&format!("/a{}", step.attempt));
    }
    key
}

/// An install to start or follow.
#[derive(Debug, Clone, Copy)]
pub struct InstallTarget<'a> {
    pub package: &'a str,
    /// Base software: a failure is R6's.
    pub base: bool,
    /// `<upgrade id>/<step id>[/<node>]`.
    pub key: &'a str,
    /// The install id recorded when it was started, if it was.
    pub reference: Option<&'a str>,
    /// Install although clients are connected (synchronous strategy, drain timeout Proceed).
    pub allow_connected_clients: bool,
}

/// Starts the install once, then follows it with a long poll.
pub async fn install(
    appliance: &dyn Appliance,
    call: Call<'_>,
    target: InstallTarget<'_>,
) -> StepResult {
    let (name, package) = (call.name, target.package);
    let Some(install_id) = target.reference else {
        let request = InstallRequest {
            package_id: package.to_owned(),
            allow_connected_clients: target.allow_connected_clients,
        };
        return match appliance.start_install(&request, target.key).await {
            Ok(started) => StepResult {
                outcome: Outcome::Wait {
                    reason: reasons::UPGRADING,
                    message: format!("installing {package} on {name}"),
                    after: Duration::ZERO,
                },
                reference: Some(started.id),
                backup: None,
            },
            Err(Error::Conflict { code, .. }) if code == "already_installed" => {
                Outcome::Done(format!("{package} is installed on {name}")).into()
            }
            Err(e) if e.is_transient() => call.wait(reasons::UNREACHABLE, e.to_string()).into(),
            Err(e) => failed(call, target, &e.to_string()).into(),
        };
    };
    match appliance.install(install_id, call.long_poll).await {
        Ok(i) if i.state == InstallState::Succeeded => {
            Outcome::Done(format!("{package} installed on {name}")).into()
        }
        Ok(i) if i.state == InstallState::Failed => {
            failed(call, target, i.message.as_deref().unwrap_or("no message")).into()
        }
        Ok(i) => Outcome::Wait {
            reason: reasons::UPGRADING,
            message: format!("installing {package} on {name} ({}%)", i.progress_percent),
            after: Duration::ZERO,
        }
        .into(),
        // A base install reboots the appliance: unreachable is expected, never "done".
        Err(e) if e.is_transient() => call
            .wait(
                reasons::UPGRADING,
                format!(
                    "waiting for {name} ({package} installing, the appliance may be rebooting): {e}"
                ),
            )
            .into(),
        Err(e) => call
            .wait(
                reasons::UNREACHABLE,
                format!("failed to read install {install_id} on {name}: {e}"),
            )
            .into(),
    }
}

/// The outcome of a failed install, with what to do.
pub fn failed(call: Call<'_>, target: InstallTarget<'_>, message: &str) -> Outcome {
    let (name, package) = (call.name, target.package);
    if target.base {
        Outcome::Failed {
            reason: reasons::BASE_INSTALL_FAILED,
            message: format!(
                "base software install {package} failed on {name}: {message}. Do not restart the appliance; contact BeyondTrust support (R6). Once it is fixed, approve a retry"
            ),
        }
    } else {
        Outcome::Failed {
            reason: reasons::INSTALL_FAILED,
            message: format!(
                "install of {package} failed on {name}: {message}. Once the cause is fixed, approve a retry"
            ),
        }
    }
}

/// Which Sync Now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// Failover data sync, primary to backup.
    Failover,
    /// Atlas cluster configuration sync.
    Cluster,
}

/// Sync Now, then wait for it. Syncs on one appliance run one at a time, so once ours was
/// started the next terminal state is ours. Starting one again after a restart is harmless
/// (a sync copies data and changes nothing else); a failed sync is started again twice.
pub async fn sync(
    appliance: &dyn Appliance,
    call: Call<'_>,
    kind: SyncKind,
    reference: Option<&str>,
) -> StepResult {
    let name = call.name;
    let what = match kind {
        SyncKind::Failover => "data sync",
        SyncKind::Cluster => "cluster sync",
    };
    let start = || async {
        match kind {
            SyncKind::Failover => appliance.sync_failover_now().await,
            SyncKind::Cluster => appliance.sync_cluster_now().await,
        }
    };
    let attempt = reference
        .and_then(|r| r.strip_prefix("sync-attempt-"))
        .and_then(|n| n.parse::<u32>().ok());
    let Some(attempt) = attempt else {
        return match start().await {
            Ok(_) => StepResult {
                outcome: call.wait(reasons::UPGRADING, format!("{what} started on {name}")),
                reference: Some("sync-attempt-1".to_owned()),
                backup: None,
            },
            Err(e) if e.is_transient() => call.wait(reasons::UNREACHABLE, e.to_string()).into(),
            Err(e) => Outcome::Failed {
                reason: reasons::PREFLIGHT_FAILED,
                message: format!("failed to start the {what} on {name}: {e}"),
            }
            .into(),
        };
    };
    let status = match kind {
        SyncKind::Failover => appliance.failover_sync(call.long_poll).await,
        SyncKind::Cluster => appliance.cluster_sync(call.long_poll).await,
    };
    match status {
        Ok(s) if s.state == OperationState::Succeeded => Outcome::Done(format!("{what} from {name} finished")).into(),
        Ok(s) if s.state == OperationState::Failed && attempt < 3 => match start().await {
            Ok(_) => StepResult {
                outcome: call.wait(reasons::UPGRADING, format!("{what} on {name} failed ({}); started it again", s.message.unwrap_or_default())),
                reference: Some(format!("sync-attempt-{}", attempt + 1)),
                backup: None,
            },
            Err(e) => call.wait(reasons::UNREACHABLE, e.to_string()).into(),
        },
        Ok(s) if s.state == OperationState::Failed => Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!("{what} on {name} failed {attempt} times: {}; check the appliance, then approve a retry", s.message.unwrap_or_default()),
        }
        .into(),
        Ok(_) => Outcome::Wait { reason: reasons::UPGRADING, message: format!("waiting for the {what} on {name}"), after: Duration::ZERO }.into(),
        Err(e) => call.wait(reasons::UNREACHABLE, e.to_string()).into(),
    }
}

/// Downloads the configuration backup from `appliance` and stores it where the spec says (R1).
pub async fn backup(
    appliance: &dyn Appliance,
    call: Call<'_>,
    store: BackupStore<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> StepResult {
    use crate::backup::{self, BackupName};
    use crate::secrets::{self, PASSWORD_KEY};
    let password = match &store.spec.password_secret_ref {
        Some(r) => match secrets::key_secret(store.secrets, r, PASSWORD_KEY).await {
            Ok(p) => Some(p),
            Err(e) => {
                return Outcome::Failed {
                    reason: reasons::SECRET_NOT_FOUND,
                    message: e.to_string(),
                }
                .into();
            }
        },
        None => None,
    };
    let bytes = match appliance.backup(password.as_ref()).await {
        Ok(b) => b,
        Err(e) if e.is_transient() => return call.wait(reasons::UNREACHABLE, e.to_string()).into(),
        Err(e) => {
            return Outcome::Failed {
                reason: reasons::PREFLIGHT_FAILED,
                message: format!("failed to download the backup from {}: {e}", call.name),
            }
            .into();
        }
    };
    let name = BackupName {
        resource: store.resource,
        upgrade_id: call.upgrade_id,
        member: call.name,
        round: store.round,
    };
    match backup::store(store.secrets.api(), &store.spec.destination, name, bytes).await {
        Ok(stored) => StepResult {
            outcome: Outcome::Done(format!(
                "backup of {} stored at {} ({} bytes, sha256 {})",
                call.name, stored.location, stored.size, stored.sha256
            )),
            reference: Some(stored.location.clone()),
            backup: Some(baton_crds::status::BackupRecord {
                upgrade_id: call.upgrade_id.to_owned(),
                member: call.name.to_owned(),
                location: stored.location,
                sha256: stored.sha256,
                size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
                encrypted: password.is_some(),
                taken_at: Some(crate::time::to_k8s(now)),
            }),
        },
        Err(e) => Outcome::Failed {
            reason: reasons::INVALID_SPEC,
            message: e.to_string(),
        }
        .into(),
    }
}

/// Where a backup goes.
#[derive(Debug, Clone, Copy)]
pub struct BackupStore<'a> {
    pub spec: &'a baton_crds::common::BackupSpec,
    pub secrets: &'a crate::secrets::SecretReader,
    /// The resource's name (backups are named after it).
    pub resource: &'a str,
    pub round: i32,
}

/// An approval gate: done once `<upgrade id>/<gate>` is approved, else a message saying how.
pub fn approval(
    approved: bool,
    kind: &str,
    name: &str,
    upgrade_id: &str,
    gate: &str,
    after: Duration,
) -> Outcome {
    if approved {
        return Outcome::Done(format!("{gate} approved"));
    }
    Outcome::Wait {
        reason: reasons::AWAITING_APPROVAL,
        message: format!(
            "waiting for approval {upgrade_id}/{gate}: add it to spec.approval.approved, or run `kubectl annotate {kind} {name} {}={upgrade_id}/{gate}`",
            crate::upgrade::gates::APPROVE_ANNOTATION
        ),
        after,
    }
}

/// The soak after a product hop (R3): done once `soak` has passed since the previous step.
pub fn soak(
    soak: &str,
    version: &str,
    since: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    gated: Duration,
) -> Outcome {
    let Some(length) = crate::upgrade::gates::parse_duration(soak) else {
        return Outcome::Failed {
            reason: reasons::INVALID_SPEC,
            message: format!("spec.soak {soak:?} does not parse"),
        };
    };
    let until = since + length;
    if now >= until {
        return Outcome::Done(format!("soaked {soak} on {version}"));
    }
    let left = (until - now).to_std().unwrap_or_default();
    Outcome::Wait {
        reason: reasons::SOAKING,
        message: format!(
            "soaking on {version} until {} so deployed clients can follow (R3)",
            until.to_rfc3339()
        ),
        after: left.min(gated),
    }
}
