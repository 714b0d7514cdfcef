//! Observation both kinds share: one member (health from the vendor API; software and
//! failover state from the extension; connected clients), its account and clock, the
//! packages it offers, and the current step's long operation. Appliance answers become the
//! core's plain facts ([`crate::upgrade::observed`]); one member failing to answer never
//! hides what another said.

use std::time::Duration;

use baton_crds::conditions::reasons;
use baton_crds::status::{Health as HealthState, MemberStatus, Role};

use crate::appliance::{
    self, Access, FailoverRole, InstallState, OperationState as ApplianceOperationState,
    PackageKind, PackageState, Relationship, SoftwareState,
};
use crate::members::Connected;
use crate::upgrade::command::SyncKind;
use crate::upgrade::needs::{Needs, OperationQuery};
use crate::upgrade::observed::{
    Account, FailoverRole as Role2, InstallProgress, MemberView, Observed, Offer, Operation,
    OperationState, Seen, Unseen,
};

/// Maps a client error to what status says about it.
pub fn unseen(e: &appliance::Error) -> Unseen {
    use appliance::Error as E;
    let reason = match e {
        E::Unreachable { .. } | E::RateLimited { .. } => reasons::UNREACHABLE,
        E::UntrustedCertificate { .. } | E::Tls { .. } | E::InvalidCa { .. } => {
            reasons::UNTRUSTED_CERTIFICATE
        }
        E::Unauthorized { .. } => reasons::UNAUTHORIZED,
        E::MissingPermission { .. } => reasons::MISSING_PERMISSION,
        _ => reasons::UNREACHABLE,
    };
    Unseen {
        reason,
        message: e.to_string(),
        transient: e.is_transient(),
    }
}

/// Observes one member: the core's view of it and its row in the members table.
pub async fn member(member: &Connected) -> (MemberView, MemberStatus) {
    let a = &member.appliance;
    let answer = async {
        let health = a.health().await?;
        let software = a.software().await?;
        let failover = a.failover().await?;
        let counts = a.client_counts().await?;
        let clients = counts.total_for(&health.appliance_id);
        Ok::<_, appliance::Error>((health, software, failover, clients))
    }
    .await;
    let name = member.name.clone();
    match answer {
        Ok((health, software, failover, clients)) => {
            let installing = matches!(
                software.state,
                SoftwareState::Installing | SoftwareState::Rebooting
            );
            let seen = Seen {
                version: software.product_version.clone(),
                base_version: software.base_version.clone(),
                healthy: health.healthy,
                health_message: health.error_message.clone(),
                installing,
                role: match health.failover_role {
                    FailoverRole::Primary => Role2::Primary,
                    FailoverRole::Backup => Role2::Backup,
                    FailoverRole::None => Role2::None,
                },
                established: failover.relationship == Relationship::Established,
                holds_site_address: failover.shared_ips.iter().any(|ip| ip.enabled),
                backup_operations: failover.backup_operations_enabled,
                clients,
            };
            let row = MemberStatus {
                name: name.clone(),
                role: match seen.role {
                    Role2::Primary => Role::Primary,
                    Role2::Backup => Role::Backup,
                    Role2::None => Role::Standalone,
                },
                version: Some(seen.version.to_string()),
                base_version: Some(seen.base_version.to_string()),
                health: if installing {
                    HealthState::Installing
                } else if health.healthy {
                    HealthState::Healthy
                } else {
                    HealthState::Unhealthy
                },
                shared_ips: failover
                    .shared_ips
                    .iter()
                    .filter(|ip| ip.enabled)
                    .map(|ip| ip.ip.clone())
                    .collect(),
                accepting_connections: None,
                connected_clients: Some(u32::try_from(clients).unwrap_or(u32::MAX)),
                last_sync_time: health.last_sync.as_ref().map(|r| crate::time::to_k8s(r.at)),
                last_sync_status: health.last_sync.as_ref().and_then(|r| r.status.clone()),
                message: health.error_message.clone(),
            };
            (
                MemberView {
                    name,
                    seen: Ok(seen),
                },
                row,
            )
        }
        Err(e) => {
            let u = unseen(&e);
            let row = MemberStatus {
                name: name.clone(),
                health: HealthState::Unreachable,
                message: Some(u.message.clone()),
                ..MemberStatus::default()
            };
            (MemberView { name, seen: Err(u) }, row)
        }
    }
}

/// The member's API account and clock (preflight, R8).
pub async fn account(member: &Connected) -> Result<Account, Unseen> {
    let info = member.appliance.api_info().await.map_err(|e| unseen(&e))?;
    let clock = member.appliance.clock().await.map_err(|e| unseen(&e))?;
    Ok(Account {
        full_command: info.permissions.command == Access::FullAccess,
        backup: info.permissions.backup,
        clock: clock.now,
        ntp_synchronized: clock.ntp_synchronized,
    })
}

/// The packages the member offers.
pub async fn packages(member: &Connected) -> Result<Vec<Offer>, Unseen> {
    let list = member.appliance.packages().await.map_err(|e| unseen(&e))?;
    Ok(list
        .into_iter()
        .map(|p| Offer {
            base: p.kind == PackageKind::Base,
            staged: p.state == PackageState::Staged,
            id: p.id,
            version: p.version,
            requires: p.requires,
            installable: p.installable,
        })
        .collect())
}

fn state_of(s: ApplianceOperationState) -> OperationState {
    match s {
        ApplianceOperationState::Succeeded => OperationState::Succeeded,
        ApplianceOperationState::Failed => OperationState::Failed,
        _ => OperationState::Running,
    }
}

/// An install by id, with the long poll (the extension answers when it ends).
pub async fn install(member: &Connected, id: &str, wait: Duration) -> Result<Operation, Unseen> {
    let i = member
        .appliance
        .install(id, wait)
        .await
        .map_err(|e| unseen(&e))?;
    Ok(Operation {
        state: match i.state {
            InstallState::Succeeded => OperationState::Succeeded,
            InstallState::Failed => OperationState::Failed,
            _ => OperationState::Running,
        },
        percent: Some(i.progress_percent),
        message: i.message,
        package: Some(i.package_id),
    })
}

/// The member's last sync, with the long poll.
pub async fn sync(member: &Connected, kind: SyncKind, wait: Duration) -> Result<Operation, Unseen> {
    let s = match kind {
        SyncKind::Failover => member.appliance.failover_sync(wait).await,
        SyncKind::Cluster => member.appliance.cluster_sync(wait).await,
    }
    .map_err(|e| unseen(&e))?;
    Ok(Operation {
        state: state_of(s.state),
        percent: None,
        message: s.message,
        package: None,
    })
}

/// The distribution from a master, with the long poll; a failure names the failed nodes.
pub async fn distribution(master: &Connected, wait: Duration) -> Result<Operation, Unseen> {
    let d = master
        .appliance
        .distribution(wait)
        .await
        .map_err(|e| unseen(&e))?;
    let failed: Vec<String> = d
        .nodes
        .iter()
        .filter(|n| n.state == appliance::NodeStageState::Failed)
        .map(|n| {
            format!(
                "{}: {}",
                n.appliance_id,
                n.message.clone().unwrap_or_default()
            )
        })
        .collect();
    Ok(Operation {
        state: state_of(d.state),
        percent: None,
        message: (!failed.is_empty()).then(|| failed.join(", ")),
        package: d.package_id,
    })
}

/// Where `package` stands in an appliance's install history. On a retry the latest failure
/// is the failed attempt's: the target counts as not started, and asking again with the
/// retry's key starts a new install (or, after a restart, replays this attempt's own).
pub fn install_progress(
    installs: &[appliance::Install],
    package: &str,
    retry: bool,
) -> InstallProgress {
    match installs.iter().find(|i| i.package_id == package) {
        Some(i) if i.state == InstallState::Succeeded => InstallProgress::Done,
        Some(i) if retry && i.state == InstallState::Failed => InstallProgress::NotStarted,
        Some(i) if i.state == InstallState::Failed => {
            InstallProgress::Failed(i.message.clone().unwrap_or_else(|| "no message".into()))
        }
        Some(i) => InstallProgress::Running(Some(i.id.clone())),
        None => InstallProgress::NotStarted,
    }
}

/// Reads what the current step needs beyond the members ([`Needs`]) into `observed`:
/// accounts, packages, the long operation. `members` are the pair's members or the masters.
pub async fn extras(
    needs: &Needs,
    members: &[Connected],
    observed: &mut Observed,
    long_poll: Duration,
) {
    let by_name = |name: &str| members.iter().find(|m| m.name == name);
    if needs.accounts {
        let accounts = futures::future::join_all(members.iter().map(account)).await;
        observed.accounts = members
            .iter()
            .map(|m| m.name.clone())
            .zip(accounts)
            .collect();
    }
    if let Some(name) = &needs.packages_of {
        observed.packages = match by_name(name) {
            Some(m) => Some(packages(m).await),
            None => Some(Err(Unseen::transient(
                reasons::UNREACHABLE,
                format!("{name} is not connected"),
            ))),
        };
    }
    let missing = |name: &str| {
        Err(Unseen::transient(
            reasons::UNREACHABLE,
            format!("{name} is not connected"),
        ))
    };
    observed.operation = match &needs.operation {
        None => None,
        Some(OperationQuery::Install { member, id }) => Some(match by_name(member) {
            Some(m) => install(m, id, long_poll).await,
            None => missing(member),
        }),
        Some(OperationQuery::Sync { member, kind }) => Some(match by_name(member) {
            Some(m) => sync(m, *kind, long_poll).await,
            None => missing(member),
        }),
        Some(OperationQuery::Distribution) => {
            Some(match observed.acting.and_then(|i| members.get(i)) {
                Some(m) => distribution(m, long_poll).await,
                None => missing("the acting master"),
            })
        }
    };
}
