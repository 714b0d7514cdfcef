//! Runs the current Atlas plan step. Like the pair's steps, each looks at what the appliances
//! show first, so a restart repeats nothing: a node already out of rotation is not taken out
//! again, an install is found in the node's install history before one is asked for, and a
//! role already swapped is not swapped again (`set_failover_role` is not idempotent).

use std::time::Duration;

use chrono::{DateTime, Utc};

use baton_crds::AtlasCluster;
use baton_crds::conditions::reasons;
use baton_crds::status::{PlanStep, StepAction};

use super::batch;
use super::observe::ClusterView;
use crate::appliance::{Access, SetFailoverRole, TargetRole};
use crate::context::Context;
use crate::drive::actions::{self, Call, InstallTarget, SyncKind};
use crate::drive::status::UpgradeResource;
use crate::drive::{Outcome, StepResult};
use crate::members::{Connected, MemberCache};

/// Everything an Atlas step may look at.
pub struct AtlasStep<'a> {
    pub ctx: &'a Context,
    pub cluster: &'a AtlasCluster,
    pub upgrade_id: &'a str,
    pub step: &'a PlanStep,
    pub previous_finished: Option<DateTime<Utc>>,
    /// The masters, primary master from spec first.
    pub masters: &'a [Connected],
    pub view: &'a ClusterView,
    /// The nodes of each batch, as chosen when the upgrade was planned.
    pub batches: &'a [Vec<String>],
    /// The whole plan (a batch's install looks at its drain).
    pub plan: &'a [PlanStep],
    pub now: DateTime<Utc>,
}

impl std::fmt::Debug for AtlasStep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlasStep")
            .field("upgrade_id", &self.upgrade_id)
            .field("step", &self.step.id)
            .finish_non_exhaustive()
    }
}

impl<'a> AtlasStep<'a> {
    pub fn call(&self, name: &'a str) -> Call<'a> {
        Call {
            name,
            upgrade_id: self.upgrade_id,
            long_poll: self.ctx.timings.long_poll,
            busy: self.ctx.timings.busy,
        }
    }

    pub fn wait(&self, reason: &'static str, message: String) -> Outcome {
        Outcome::Wait {
            reason,
            message,
            after: self.ctx.timings.busy,
        }
    }

    pub fn namespace(&self) -> String {
        self.cluster.metadata.namespace.clone().unwrap_or_default()
    }

    /// The master the step names, connected.
    pub fn master(&self) -> Result<&'a Connected, Outcome> {
        let name = self.step.member.as_deref().unwrap_or_default();
        self.masters.iter().find(|m| m.name == name).ok_or_else(|| Outcome::Failed {
            reason: reasons::INVALID_SPEC,
            message: format!("step {} names master {name}, which the spec no longer has; restore it or delete status.upgrade", self.step.id),
        })
    }

    /// The acting primary master, connected.
    pub fn acting(&self) -> Result<&'a Connected, Outcome> {
        self.view
            .acting
            .and_then(|i| self.masters.get(i))
            .ok_or_else(|| {
                self.wait(
                    reasons::UNREACHABLE,
                    "waiting for a master to act as primary".into(),
                )
            })
    }

    /// The batch number a batch step names (`batch-2` -> 2).
    pub fn batch_number(&self) -> Option<usize> {
        self.step
            .member
            .as_deref()?
            .strip_prefix("batch-")?
            .parse()
            .ok()
    }

    /// Whether `<upgrade id>/<gate>` was approved.
    pub fn approved(&self, gate: &str) -> bool {
        self.cluster.approved(self.upgrade_id, gate)
    }

    /// The member cache and connector, to reach traffic nodes.
    pub fn members(&self) -> &MemberCache {
        &self.ctx.members
    }
}

/// Runs the step.
pub async fn run(s: &AtlasStep<'_>) -> StepResult {
    let action = s.step.action;
    let batch = s.batch_number();
    match (action, batch) {
        (StepAction::Preflight, _) => preflight(s).await.into(),
        (StepAction::Backup, _) => backup(s).await,
        (StepAction::SyncFailover, _) => match s.master() {
            Ok(m) => actions::sync(&*m.appliance, s.call(&m.name), SyncKind::Failover, s.step.reference.as_deref()).await,
            Err(o) => o.into(),
        },
        (StepAction::SyncCluster, _) => match s.master() {
            Ok(m) => actions::sync(&*m.appliance, s.call(&m.name), SyncKind::Cluster, s.step.reference.as_deref()).await,
            Err(o) => o.into(),
        },
        (StepAction::Distribute, _) => distribute(s).await,
        (StepAction::Approval, _) => {
            let gate = s.step.package.as_deref().unwrap_or_default();
            let name = s.cluster.metadata.name.as_deref().unwrap_or_default();
            actions::approval(s.approved(gate), "atlas", name, s.upgrade_id, gate, s.ctx.timings.gated).into()
        }
        (StepAction::Drain, Some(n)) => batch::drain(s, n).await,
        (StepAction::Install, Some(n)) => batch::install(s, n).await,
        (StepAction::Verify, Some(n)) => batch::verify(s, n).await.into(),
        (StepAction::Accept, Some(n)) => batch::accept(s, n).await.into(),
        (StepAction::Install, None) => install_master(s).await,
        (StepAction::Verify, None) => verify_master(s).into(),
        (StepAction::SwingTraffic, _) => promote(s).await.into(),
        (StepAction::EnableBackupOperations, _) => backup_operations(s).await.into(),
        (StepAction::Soak, _) => {
            let version = s.step.version.as_deref().unwrap_or_default();
            actions::soak(&s.cluster.spec.soak, version, s.previous_finished.unwrap_or(s.now), s.now, s.ctx.timings.gated).into()
        }
        (other, _) => Outcome::Failed {
            reason: reasons::INVALID_SPEC,
            message: format!("step {} ({other:?}) is not an Atlas cluster step; delete status.upgrade to plan again", s.step.id),
        }
        .into(),
    }
}

/// Masters and nodes on one version, masters healthy with the permissions and clocks an
/// upgrade needs, failover established between the masters.
async fn preflight(s: &AtlasStep<'_>) -> Outcome {
    let mut versions = Vec::new();
    for (m, o) in s.masters.iter().zip(&s.view.masters) {
        let seen = match &o.seen {
            Ok(seen) => seen,
            Err(u) if u.transient => {
                return s.wait(u.reason, format!("waiting for {}: {}", m.name, u.message));
            }
            Err(u) => {
                return Outcome::Failed {
                    reason: u.reason,
                    message: u.message.clone(),
                };
            }
        };
        if !seen.health.healthy || seen.is_installing() {
            return s.wait(
                reasons::UPGRADING,
                format!("waiting for {} to be healthy", m.name),
            );
        }
        if s.masters.len() == 2
            && seen.failover.relationship != crate::appliance::Relationship::Established
        {
            return Outcome::Failed {
                reason: reasons::PREFLIGHT_FAILED,
                message: format!(
                    "{} is not in an established failover relationship with the other master",
                    m.name
                ),
            };
        }
        if let Err(o) = check_account(s, m).await {
            return o;
        }
        versions.push((m.name.clone(), seen.version().clone()));
    }
    let nodes = match &s.view.nodes {
        Ok(n) => n,
        Err(u) => return s.wait(u.reason, u.message.clone()),
    };
    for n in &s.cluster.spec.traffic_nodes {
        match nodes.get(&n.name).and_then(|c| c.product_version.clone()) {
            Some(v) => versions.push((n.name.clone(), v)),
            None => {
                return Outcome::Failed {
                    reason: reasons::INVALID_SPEC,
                    message: format!(
                        "traffic node {} is not in the cluster the primary master reports",
                        n.name
                    ),
                };
            }
        }
    }
    let first = versions.first().map(|(_, v)| v.clone());
    if let Some((name, v)) = versions.iter().find(|(_, v)| Some(v) != first.as_ref()) {
        return Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!(
                "the cluster runs mixed versions ({name} runs {v}, {} runs {}); bring it to one version first",
                versions[0].0, versions[0].1
            ),
        };
    }
    Outcome::Done(format!(
        "{} masters and {} nodes on one version, healthy, permissions and clocks right",
        s.masters.len(),
        nodes.len().min(s.cluster.spec.traffic_nodes.len())
    ))
}

async fn check_account(s: &AtlasStep<'_>, m: &Connected) -> Result<(), Outcome> {
    let info = m
        .appliance
        .api_info()
        .await
        .map_err(|e| s.wait(reasons::UNREACHABLE, e.to_string()))?;
    if info.permissions.command != Access::FullAccess || !info.permissions.backup {
        return Err(Outcome::Failed {
            reason: reasons::MISSING_PERMISSION,
            message: format!(
                "the API account on {} needs full command access and the backup permission",
                m.name
            ),
        });
    }
    let clock = m
        .appliance
        .clock()
        .await
        .map_err(|e| s.wait(reasons::UNREACHABLE, e.to_string()))?;
    let skew = (clock.now - s.now).abs().to_std().unwrap_or_default();
    if skew > s.ctx.timings.clock_tolerance || !clock.ntp_synchronized {
        return Err(Outcome::Failed {
            reason: reasons::PREFLIGHT_FAILED,
            message: format!(
                "the clock of {} is off by {}s; updates fail on a wrong clock (R8): fix NTP, then approve a retry",
                m.name,
                skew.as_secs(),
            ),
        });
    }
    Ok(())
}

async fn backup(s: &AtlasStep<'_>) -> StepResult {
    let m = match s.master() {
        Ok(m) => m,
        Err(o) => return o.into(),
    };
    let namespace = s.namespace();
    let secrets = crate::secrets::SecretReader::new(s.ctx.client.clone(), &namespace);
    let resource = s.cluster.metadata.name.as_deref().unwrap_or_default();
    let store = actions::BackupStore {
        spec: &s.cluster.spec.backup,
        secrets: &secrets,
        resource,
        round: s.step.round,
    };
    actions::backup(&*m.appliance, s.call(&m.name), store, s.now).await
}

/// "Distribute to cluster" from the acting master: stages the package everywhere, installs
/// nothing (may run outside a maintenance window).
async fn distribute(s: &AtlasStep<'_>) -> StepResult {
    let m = match s.acting() {
        Ok(m) => m,
        Err(o) => return o.into(),
    };
    let package = s.step.package.as_deref().unwrap_or_default();
    if s.step.reference.is_none() {
        return match m.appliance.distribute(package).await {
            Ok(_) => StepResult {
                outcome: s.wait(
                    reasons::UPGRADING,
                    format!("distributing {package} from {}", m.name),
                ),
                reference: Some("distributing".into()),
                backup: None,
            },
            Err(e) if e.is_transient() => s.wait(reasons::UNREACHABLE, e.to_string()).into(),
            Err(e) => Outcome::Failed {
                reason: reasons::INSTALL_FAILED,
                message: format!("failed to distribute {package}: {e}"),
            }
            .into(),
        };
    }
    match m.appliance.distribution(s.ctx.timings.long_poll).await {
        Ok(d)
            if d.package_id.as_deref() == Some(package)
                && d.state == crate::appliance::OperationState::Succeeded =>
        {
            Outcome::Done(format!("{package} staged on every node")).into()
        }
        Ok(d) if d.state == crate::appliance::OperationState::Failed => {
            let failed: Vec<String> = d
                .nodes
                .iter()
                .filter(|n| n.state == crate::appliance::NodeStageState::Failed)
                .map(|n| {
                    format!(
                        "{}: {}",
                        n.appliance_id,
                        n.message.clone().unwrap_or_default()
                    )
                })
                .collect();
            Outcome::Failed {
                reason: reasons::INSTALL_FAILED,
                message: format!(
                    "distribution of {package} failed on {}; fix it, then approve a retry",
                    failed.join(", "),
                ),
            }
            .into()
        }
        Ok(_) => Outcome::Wait {
            reason: reasons::UPGRADING,
            message: format!("distributing {package}"),
            after: Duration::ZERO,
        }
        .into(),
        Err(e) => s.wait(reasons::UNREACHABLE, e.to_string()).into(),
    }
}

/// Installs a package on a master. The former primary master installs once it serves
/// nobody; a cluster without a backup master stops while its master installs (procedure 5).
async fn install_master(s: &AtlasStep<'_>) -> StepResult {
    let m = match s.master() {
        Ok(m) => m,
        Err(o) => return o.into(),
    };
    let only_master = s.masters.len() == 1;
    if s.step.reference.is_none()
        && !only_master
        && let Some(Ok(seen)) = s.view.master(&m.name).map(|o| &o.seen)
        && seen.clients > 0
    {
        return s
            .wait(
                reasons::UPGRADING,
                format!(
                    "waiting for {} sessions on {} to end before installing",
                    seen.clients, m.name
                ),
            )
            .into();
    }
    let key = actions::install_key(s.upgrade_id, s.step, None);
    let target = InstallTarget {
        package: s.step.package.as_deref().unwrap_or_default(),
        base: s.step.base_software,
        key: &key,
        reference: s.step.reference.as_deref(),
        allow_connected_clients: only_master,
    };
    actions::install(&*m.appliance, s.call(&m.name), target).await
}

fn verify_master(s: &AtlasStep<'_>) -> Outcome {
    let m = match s.master() {
        Ok(m) => m,
        Err(o) => return o,
    };
    let want = s.step.version.as_deref().unwrap_or_default();
    match s.view.master(&m.name).map(|o| &o.seen) {
        Some(Ok(seen))
            if seen.version().to_string() == want
                && seen.health.healthy
                && !seen.is_installing() =>
        {
            Outcome::Done(format!("{} runs {want} and is healthy", m.name))
        }
        Some(Ok(seen)) => batch::verify_deadline(
            s,
            format!(
                "{} runs {} (installing: {})",
                m.name,
                seen.version(),
                seen.is_installing()
            ),
        ),
        _ => s.wait(reasons::UNREACHABLE, format!("waiting for {}", m.name)),
    }
}

/// Makes the upgraded backup master primary (procedure 4, steps 6 to 8): the old primary
/// becomes backup even if the peer cannot be contacted, then the backup becomes primary
/// (serially: never two primaries, I1), backup operations off on the new primary, and the
/// site address moved.
async fn promote(s: &AtlasStep<'_>) -> Outcome {
    let new = match s.master() {
        Ok(m) => m,
        Err(o) => return o,
    };
    let Some(old) = s.masters.iter().find(|m| m.name != new.name) else {
        return Outcome::Failed {
            reason: reasons::INVALID_SPEC,
            message: "promotion needs a backup master".into(),
        };
    };
    let seen = |name: &str| s.view.master(name).and_then(|o| o.seen.as_ref().ok());
    let (Some(old_seen), Some(new_seen)) = (seen(&old.name), seen(&new.name)) else {
        return s.wait(
            reasons::UNREACHABLE,
            "waiting for both masters to answer".into(),
        );
    };
    use crate::appliance::FailoverRole;
    if old_seen.health.failover_role == FailoverRole::Primary {
        return match old
            .appliance
            .set_failover_role(SetFailoverRole {
                role: TargetRole::Backup,
                data_sync_first: false,
                force: true,
            })
            .await
        {
            Ok(()) => Outcome::Wait {
                reason: reasons::UPGRADING,
                message: format!("{} became backup", old.name),
                after: Duration::ZERO,
            },
            Err(e) => s.wait(
                reasons::UNREACHABLE,
                format!("failed to make {} backup: {e}", old.name),
            ),
        };
    }
    if new_seen.health.failover_role != FailoverRole::Primary {
        return match new
            .appliance
            .set_failover_role(SetFailoverRole {
                role: TargetRole::Primary,
                data_sync_first: false,
                force: false,
            })
            .await
        {
            Ok(()) => Outcome::Wait {
                reason: reasons::UPGRADING,
                message: format!("{} became primary", new.name),
                after: Duration::ZERO,
            },
            Err(e) => s.wait(
                reasons::UNREACHABLE,
                format!("failed to make {} primary: {e}", new.name),
            ),
        };
    }
    if new_seen.failover.backup_operations_enabled
        && let Err(e) = new.appliance.set_backup_operations(false).await
    {
        return s.wait(
            reasons::UNREACHABLE,
            format!("failed to disable backup operations on {}: {e}", new.name),
        );
    }
    crate::swing::swing_resource(
        s.ctx,
        s.cluster,
        "atlas",
        &s.cluster.spec.traffic_swing,
        s.upgrade_id,
        s.step.round,
        (old, old_seen),
        (new, new_seen),
    )
    .await
}

/// Backup operations on the former primary, now the backup master (procedure 4, step 13).
async fn backup_operations(s: &AtlasStep<'_>) -> Outcome {
    let m = match s.master() {
        Ok(m) => m,
        Err(o) => return o,
    };
    match s.view.master(&m.name).map(|o| &o.seen) {
        Some(Ok(seen)) if seen.failover.backup_operations_enabled => {
            Outcome::Done(format!("backup operations enabled on {}", m.name))
        }
        Some(Ok(_)) => match m.appliance.set_backup_operations(true).await {
            Ok(_) => Outcome::Wait {
                reason: reasons::FAILOVER_ESTABLISHED,
                message: format!("enabling backup operations on {}", m.name),
                after: Duration::ZERO,
            },
            Err(e) => s.wait(reasons::UNREACHABLE, e.to_string()),
        },
        _ => s.wait(reasons::UNREACHABLE, format!("waiting for {}", m.name)),
    }
}
