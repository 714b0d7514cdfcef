//! The documented vendor API performs what it offers: configuration backups (stored where
//! the spec says) and failover roles (Become Primary / Become Backup).

use async_trait::async_trait;

use baton_crds::conditions::reasons;
use baton_crds::status::BackupRecord;

use super::{Executor, Target, error_report};
use crate::appliance::{SetFailoverRole, TargetRole};
use crate::backup::{self, BackupName};
use crate::secrets::{self, PASSWORD_KEY, SecretReader};
use crate::upgrade::command::{Command, Report, Role};

/// The vendor API executor.
#[derive(Debug, Clone, Copy)]
pub struct VendorApi;

#[async_trait]
impl Executor for VendorApi {
    fn name(&self) -> &'static str {
        "vendor-api"
    }

    fn performs(&self, command: &Command) -> bool {
        matches!(
            command,
            Command::Backup { .. } | Command::SetFailoverRole { .. }
        )
    }

    async fn run(&self, command: &Command, on: &Target<'_>) -> Report {
        match command {
            Command::Backup { member, round } => take_backup(on, member, *round).await,
            Command::SetFailoverRole {
                member,
                role,
                force,
            } => {
                let m = match on.member(member) {
                    Ok(m) => m,
                    Err(r) => return r,
                };
                let request = SetFailoverRole {
                    role: match role {
                        Role::Primary => TargetRole::Primary,
                        Role::Backup => TargetRole::Backup,
                    },
                    data_sync_first: false,
                    force: *force,
                };
                match m.appliance.set_failover_role(request).await {
                    Ok(()) => Report::Done,
                    Err(e) => error_report(&e),
                }
            }
            other => Report::Unsupported {
                message: format!("the vendor API does not perform {other:?}"),
            },
        }
    }
}

/// Downloads the configuration backup and stores it where the spec says (R1).
async fn take_backup(on: &Target<'_>, member: &str, round: i32) -> Report {
    let m = match on.member(member) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let site = on.site;
    let secrets = SecretReader::new(on.ctx.client.clone(), &site.namespace);
    let password = match &site.backup.password_secret_ref {
        Some(r) => match secrets::key_secret(&secrets, r, PASSWORD_KEY).await {
            Ok(p) => Some(p),
            Err(e) => {
                return Report::Failed {
                    transient: false,
                    message: e.to_string(),
                    reason: Some(reasons::SECRET_NOT_FOUND),
                };
            }
        },
        None => None,
    };
    let bytes = match m.appliance.backup(password.as_ref()).await {
        Ok(b) => b,
        Err(e) => return error_report(&e),
    };
    let name = BackupName {
        resource: &site.name,
        upgrade_id: &site.upgrade_id,
        member,
        round,
    };
    match backup::store(secrets.api(), &site.backup.destination, name, bytes).await {
        Ok(stored) => Report::BackupStored(Box::new(BackupRecord {
            upgrade_id: site.upgrade_id.clone(),
            member: member.to_owned(),
            location: stored.location,
            sha256: stored.sha256,
            size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
            encrypted: password.is_some(),
            taken_at: Some(crate::time::to_k8s(chrono::Utc::now())),
        })),
        Err(e) => Report::Failed {
            transient: false,
            message: e.to_string(),
            reason: Some(reasons::INVALID_SPEC),
        },
    }
}
