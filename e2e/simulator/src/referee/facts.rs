//! Reading one fact of the log: each kind goes to the handler that updates the referee's
//! picture, judges what the fact reveals, and writes it down. Cluster configuration facts
//! (a master's flip, an operator taking a node out of rotation) are handled here.

use super::Referee;
use super::model::NodeCfg;
use super::software::Start;
use crate::log::Fact;

impl Referee {
    pub(super) fn apply(&mut self, t: f64, fact: &Fact) {
        match fact {
            Fact::Settled => self.settled(t),
            Fact::Staged {
                appliance,
                package,
                how,
            } => self.note(t, *appliance, "staged", &format!("{package} ({how})")),
            Fact::InstallRequested { appliance, package } => {
                self.install_requested(*appliance, package, t);
            }
            Fact::InstallRefused {
                appliance,
                package,
                code,
            } => self.install_refused(*appliance, package, code, t),
            Fact::InstallStarted {
                appliance,
                package,
                install,
                duration_s,
                allow_connected_clients,
                precheck_failed,
            } => {
                let start = Start {
                    package,
                    install,
                    duration_s: *duration_s,
                    allow_connected_clients: *allow_connected_clients,
                    precheck_failed: *precheck_failed,
                };
                self.install_started(*appliance, start, t);
            }
            Fact::RebootStarted { appliance, package } => {
                self.reboot_started(*appliance, package, t);
            }
            Fact::InstallSucceeded { appliance, package } => {
                self.install_succeeded(*appliance, package, t);
            }
            Fact::InstallFailed {
                appliance,
                package,
                message,
            } => self.install_failed(*appliance, package, message, t),
            Fact::MasterInstallFlip { master } => self.master_install_flip(*master, t),
            Fact::RoleRequested {
                appliance,
                role,
                data_sync_first,
                force,
            } => self.role_requested(*appliance, *role, *data_sync_first, *force, t),
            Fact::SwapBegun {
                group,
                demote,
                promote,
            } => self.swap_begun(*group, *demote, *promote),
            Fact::SwapStarted { group } => self.swap_started(*group, t),
            Fact::SwapAbandoned { group } => self.model.sites[*group].swap = None,
            Fact::RoleChanged { appliance, role } => self.role_changed(*appliance, *role, t),
            Fact::FailoverBroken { appliance } => self.failover_broken(*appliance, t),
            Fact::EstablishRequested { appliance, peer } => {
                self.check_establish(*appliance, *peer, t);
            }
            Fact::FailoverEstablished { appliance, peer } => {
                self.failover_established(*appliance, *peer, t);
            }
            Fact::BackupOperations { appliance, enabled } => {
                let detail = if *enabled { "enabled" } else { "disabled" };
                self.note(t, *appliance, "backup_operations", detail);
            }
            Fact::SharedIp { appliance, change } => self.shared_ip(*appliance, *change, t),
            Fact::SiteTargetMoved { appliance } => self.site_target_moved(*appliance, t),
            Fact::SyncStarted {
                group,
                sync,
                appliance,
                kind,
            } => self.sync_started(*group, *sync, *appliance, *kind, t),
            Fact::SyncFinished { sync, ok, message } => {
                self.sync_finished(*sync, *ok, message.as_deref(), t);
            }
            Fact::BackupDownloaded { appliance } => self.backup_downloaded(*appliance, t),
            Fact::AcceptingChanged {
                master,
                node,
                accepting,
            } => self.accepting_changed(*master, *node, *accepting, t),
            Fact::DistributionStarted { appliance, package } => {
                self.note_in_group(t, *appliance, "distribution_started", package);
            }
            Fact::DistributionFinished { group, package, ok } => {
                let detail = format!("{package}: {}", if *ok { "succeeded" } else { "failed" });
                let group = &self.model.sites[*group].shape.name;
                self.books
                    .event(t, None, Some(group), "distribution_finished", &detail);
            }
            Fact::ClientConnected { appliance } => self.client_connected(*appliance),
            Fact::ClientRefused { .. } => self.books.sessions_refused += 1,
            Fact::SessionEnded { appliance } => self.session_ended(*appliance, t),
            Fact::SessionsCut {
                appliance,
                sessions,
                why,
                by_override,
            } => self.sessions_cut(*appliance, *sessions, why, *by_override, t),
            Fact::FaultInjected { appliance, fault } => {
                self.fault_injected(*appliance, fault, t);
            }
            Fact::FaultExpired { appliance } => {
                self.note(t, *appliance, "fault_expired", "reachable again");
            }
            Fact::FaultsCleared { appliance } => self.faults_cleared(*appliance, t),
        }
    }

    /// A timeline entry about one appliance.
    pub(super) fn note(&mut self, t: f64, app: usize, kind: &str, detail: &str) {
        self.books
            .event(t, Some(self.model.name(app)), None, kind, detail);
    }

    /// A timeline entry about one appliance that also names its group.
    pub(super) fn note_in_group(&mut self, t: f64, app: usize, kind: &str, detail: &str) {
        let group = &self.model.site_of(app).shape.name;
        self.books
            .event(t, Some(self.model.name(app)), Some(group), kind, detail);
    }

    /// A master taking an install sets every node to not accepting in its own copy of the
    /// configuration (in force when that master is, or becomes, the acting one).
    fn master_install_flip(&mut self, master: usize, t: f64) {
        for cfg in &mut self.model.nodes[master].cluster_cfg {
            if cfg.accepting {
                *cfg = NodeCfg {
                    accepting: false,
                    by_operator: false,
                };
            }
        }
        self.note(
            t,
            master,
            "master_install_flip",
            "every traffic node set to not accepting in this master's configuration",
        );
    }

    /// An operator request on the acting master: the node in or out of rotation (I2).
    fn accepting_changed(&mut self, master: usize, node: usize, accepting: bool, t: f64) {
        let traffic = &self.model.site_of(master).shape.traffic;
        if let Some(i) = traffic.iter().position(|&n| n == node)
            && let Some(cfg) = self.model.nodes[master].cluster_cfg.get_mut(i)
        {
            *cfg = NodeCfg {
                accepting,
                by_operator: !accepting,
            };
        }
        let detail = format!("{accepting} (set on {})", self.model.name(master));
        self.note(t, node, "accepting", &detail);
        if !accepting {
            self.check_accepting_off(master, node, t);
        }
    }
}
