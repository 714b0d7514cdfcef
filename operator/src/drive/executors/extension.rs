//! The management extension performs what the vendor exposes only in its web UI: installs,
//! staging, distribution, Sync Now, breaking and establishing failover, backup operations,
//! accepting connections, the shared IP; and the Kubernetes side of a swing.

use std::time::Duration;

use async_trait::async_trait;

use super::{Executor, Target, error_report};
use crate::appliance::{Error, EstablishRequest, InstallRequest, InstallState};
use crate::swing;
use crate::upgrade::command::{Command, Report, SyncKind};

/// The management extension executor.
#[derive(Debug, Clone, Copy)]
pub struct Extension;

#[async_trait]
impl Executor for Extension {
    fn name(&self) -> &'static str {
        "management-extension"
    }

    fn performs(&self, command: &Command) -> bool {
        !matches!(
            command,
            Command::Backup { .. } | Command::SetFailoverRole { .. }
        )
    }

    async fn run(&self, command: &Command, on: &Target<'_>) -> Report {
        if let Command::AwaitInstalls { installs } = command {
            return await_installs(on, installs).await;
        }
        if let Command::SwingTraffic { .. } = command {
            return swing_traffic(on, command).await;
        }
        let m = match on.member(command.member()) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let a = &m.appliance;
        let done = |r: Result<(), Error>| r.map_or_else(|e| error_report(&e), |()| Report::Done);
        match command {
            Command::SyncNow {
                kind: SyncKind::Failover,
                ..
            } => done(a.sync_failover_now().await.map(drop)),
            Command::SyncNow {
                kind: SyncKind::Cluster,
                ..
            } => done(a.sync_cluster_now().await.map(drop)),
            Command::BreakFailover { .. } => done(a.break_failover().await.map(drop)),
            Command::EstablishFailover { backup, .. } => {
                let peer = match on.member(backup) {
                    Ok(p) => p,
                    Err(r) => return r,
                };
                let request = EstablishRequest {
                    peer_address: peer.endpoint.as_str().trim_end_matches('/').to_owned(),
                    inter_appliance_key: None,
                };
                done(a.establish_failover(&request).await.map(drop))
            }
            Command::Stage { package, .. } => done(a.stage_package(package).await.map(drop)),
            Command::Distribute { package, .. } => done(a.distribute(package).await.map(drop)),
            Command::StartInstall {
                package,
                key,
                allow_connected_clients,
                ..
            } => {
                let request = InstallRequest {
                    package_id: package.clone(),
                    allow_connected_clients: *allow_connected_clients,
                };
                match a.start_install(&request, key).await {
                    Ok(i) if i.state == InstallState::Failed => Report::InstallFailed {
                        message: i.message.unwrap_or_else(|| "no message".into()),
                    },
                    Ok(i) => Report::Started { id: i.id },
                    Err(Error::Conflict { code, .. }) if code == "already_installed" => {
                        Report::AlreadyInstalled
                    }
                    Err(e) => error_report(&e),
                }
            }
            Command::SetAccepting {
                appliance_id,
                accepting,
                ..
            } => done(
                a.set_accepting_connections(appliance_id, *accepting)
                    .await
                    .map(drop),
            ),
            Command::SetBackupOperations { enabled, .. } => {
                done(a.set_backup_operations(*enabled).await.map(drop))
            }
            other => Report::Unsupported {
                message: format!("the management extension does not perform {other:?}"),
            },
        }
    }
}

/// Long-polls the installs followed until the first one ends (or the poll passes): the next
/// pass then starts at once instead of a requeue later, which on a batch of many nodes is most
/// of what separates the makespan from its floor. Not ended when nothing answered (a node
/// rebooting after its base install).
async fn await_installs(on: &Target<'_>, installs: &[(String, String)]) -> Report {
    let wait: Duration = on.ctx.timings.long_poll;
    let polls: Vec<_> = installs
        .iter()
        .filter_map(|(member, id)| Some((on.fleet.get(member)?, id)))
        .map(|(m, id)| m.appliance.install(id, wait))
        .collect();
    if polls.is_empty() {
        return Report::Awaited { ended: false };
    }
    let (first, _, _) = futures::future::select_all(polls).await;
    Report::Awaited {
        ended: first.is_ok(),
    }
}

/// The swing the spec names, from one member to the other.
async fn swing_traffic(on: &Target<'_>, command: &Command) -> Report {
    let Command::SwingTraffic {
        from,
        to,
        round,
        from_holds_address,
        to_holds_address,
        confirmed,
    } = command
    else {
        return Report::permanent("not a swing");
    };
    let (from, to) = match (on.member(from), on.member(to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let site = on.site;
    let label = format!("{} {}", site.short_name, site.name);
    let confirmation = swing::confirmation_id(&site.upgrade_id, *round);
    let verdict = swing::swing(swing::SwingInput {
        client: &on.ctx.client,
        namespace: &site.namespace,
        spec: &site.swing,
        from: (from, *from_holds_address),
        to: (to, *to_holds_address),
        confirmed: *confirmed,
        resource: &label,
        upgrade_id: &confirmation,
        busy: on.ctx.timings.busy,
        gated: on.ctx.timings.gated,
    })
    .await;
    Report::Swing(verdict)
}
