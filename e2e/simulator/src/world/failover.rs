//! Failover roles and the relationship: `set_failover_role` (with `data_sync_first` and
//! `force`), break, establish, backup operations. A role swap demotes first and promotes
//! `swap_s` later (both briefly backup); the promotion is a scheduled event, so a client that
//! hangs up mid-way cannot leave a half swap. Syncs are in `sync`, shared IPs in `swing`.

use crate::fleet::Swing;

use super::group::{OpState, RoleOp, SyncKind};
use super::scheduler::Ev;
use super::{ErrorCode, FailoverRole, OpError, Started, World};
use crate::log::Fact;

impl World {
    /// Refuses changes on an appliance that is installing (it is busy) or rebooting.
    pub(crate) fn require_up(&self, app: usize) -> Result<(), OpError> {
        if self.apps[app].current_install().is_some() {
            Err(OpError::new(
                ErrorCode::InstallInProgress,
                "an update is being installed",
            ))
        } else {
            Ok(())
        }
    }

    /// `set_failover_role`.
    pub(crate) fn set_failover_role(
        &mut self,
        app: usize,
        role: FailoverRole,
        data_sync_first: bool,
        force: bool,
        t: f64,
    ) -> Result<Started, OpError> {
        let g = self.apps[app].group;
        let Some(peer) = self.groups[g].peer(app) else {
            return Err(OpError::new(
                ErrorCode::NoRelationship,
                "No failover relationship is configured",
            ));
        };
        self.require_up(app)?;
        self.record(
            t,
            Fact::RoleRequested {
                appliance: app,
                role,
                data_sync_first,
                force,
            },
        );
        if self.groups[g].role_op.is_some() {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "A failover role change is already in progress",
            ));
        }
        if self.apps[app].role == role {
            return Ok(Started::Done("Failover role changed".into()));
        }
        let op = self.next_id();
        match role {
            FailoverRole::Backup => {
                if self.contactable(app, peer) {
                    self.begin_swap(g, op, Some(app), peer, data_sync_first, t);
                    Ok(Started::Pending(op))
                } else if force {
                    // Become backup although the peer cannot be told.
                    self.demote(app, t);
                    self.settle(t);
                    Ok(Started::Done("Failover role changed".into()))
                } else {
                    Err(OpError::new(
                        ErrorCode::Unavailable,
                        "The peer appliance could not be contacted; use force to become backup anyway",
                    ))
                }
            }
            FailoverRole::Primary => {
                let peer_primary = self.apps[peer].role == FailoverRole::Primary;
                if peer_primary && self.contactable(app, peer) {
                    self.begin_swap(g, op, Some(peer), app, data_sync_first, t);
                } else {
                    // Nobody to demote (or unreachable: then both end up primary, which the
                    // referee reports as I1).
                    self.begin_swap(g, op, None, app, false, t);
                }
                Ok(Started::Pending(op))
            }
            FailoverRole::None => Err(OpError::new(
                ErrorCode::InvalidRequest,
                "role must be primary or backup",
            )),
        }
    }

    fn begin_swap(
        &mut self,
        g: usize,
        op: u64,
        demote: Option<usize>,
        promote: usize,
        data_sync_first: bool,
        t: f64,
    ) {
        self.groups[g].role_op = Some(RoleOp {
            id: op,
            demote,
            promote,
            syncing: data_sync_first,
        });
        self.record(
            t,
            Fact::SwapBegun {
                group: g,
                demote,
                promote,
            },
        );
        match demote {
            Some(primary) if data_sync_first => {
                // Users on the primary are disconnected during the sync.
                self.cut_sessions(primary, t, "data sync before a role change", false);
                self.start_sync(g, primary, SyncKind::DataSyncFirst, false, t);
            }
            _ => self.swap_now(g, t),
        }
        self.settle(t);
    }

    /// The serial swap: demote now, promote `swap_s` later.
    pub(crate) fn swap_now(&mut self, g: usize, t: f64) {
        let Some(op) = self.groups[g].role_op.as_mut() else {
            return;
        };
        op.syncing = false;
        let (id, demote, promote) = (op.id, op.demote, op.promote);
        self.record(t, Fact::SwapStarted { group: g });
        if let Some(d) = demote {
            self.demote(d, t);
        }
        let at = t + self.timings.swap_s;
        self.sched.push(
            at,
            Ev::Promote {
                group: g,
                op: id,
                app: promote,
            },
        );
    }

    /// Becomes backup: loses the site address and its sessions.
    fn demote(&mut self, app: usize, t: f64) {
        let g = self.apps[app].group;
        self.apps[app].role = FailoverRole::Backup;
        if self.groups[g].swing == Swing::SharedIp {
            self.apps[app].shared_ip_enabled = false;
        }
        self.cut_sessions(app, t, "became backup", false);
        self.record(
            t,
            Fact::RoleChanged {
                appliance: app,
                role: FailoverRole::Backup,
            },
        );
    }

    /// Becomes primary and takes the site address.
    fn make_primary(&mut self, app: usize, t: f64) {
        let g = self.apps[app].group;
        self.apps[app].role = FailoverRole::Primary;
        match self.groups[g].swing {
            Swing::SharedIp => {
                for m in self.groups[g].site.clone() {
                    self.apps[m].shared_ip_enabled = m == app;
                }
            }
            Swing::External => self.groups[g].site_target = Some(app),
        }
        self.record(
            t,
            Fact::RoleChanged {
                appliance: app,
                role: FailoverRole::Primary,
            },
        );
    }

    pub(crate) fn promote_done(&mut self, g: usize, op: u64, app: usize, t: f64) {
        if self.groups[g].role_op.as_ref().is_none_or(|r| r.id != op) {
            return;
        }
        self.groups[g].role_op = None;
        self.make_primary(app, t);
        self.finish_op(op, Ok("Failover role changed".into()));
    }

    /// Break the relationship: both standalone, the primary keeps serving.
    pub(crate) fn break_failover(&mut self, app: usize, t: f64) -> Result<(), OpError> {
        let g = self.apps[app].group;
        if !self.groups[g].established || !self.groups[g].site.contains(&app) {
            return Ok(());
        }
        self.require_up(app)?;
        if self.groups[g].role_op.is_some() {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "A failover role change is in progress",
            ));
        }
        let group = &mut self.groups[g];
        group.established = false;
        group.relation += 1;
        if group.failover_sync.state == OpState::Running {
            self.sync_finish(
                g,
                false,
                false,
                Some("failover relationship broken".into()),
                t,
            );
        }
        for m in self.groups[g].site.clone() {
            self.apps[m].role = FailoverRole::None;
        }
        self.record(t, Fact::FailoverBroken { appliance: app });
        self.settle(t);
        Ok(())
    }

    /// Establish failover with `app` primary and the appliance at `peer_address` backup.
    pub(crate) fn establish_failover(
        &mut self,
        app: usize,
        peer_address: &str,
        t: f64,
    ) -> Result<(), OpError> {
        let g = self.apps[app].group;
        let addr = normalize_address(peer_address);
        if self.groups[g]
            .shared_ip
            .as_deref()
            .is_some_and(|ip| addr == ip || addr.starts_with(&format!("{ip}:")))
        {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "use the peer's unique address, not the site address",
            ));
        }
        let peer = self
            .apps
            .iter()
            .position(|a| {
                addr == normalize_address(&a.endpoint)
                    || addr == format!("localhost:{}", a.port)
                    || addr == a.hostname
                    || addr == format!("{}:{}", a.hostname, a.port)
            })
            .ok_or_else(|| {
                OpError::new(
                    ErrorCode::NotFound,
                    format!("no appliance answers at {peer_address}"),
                )
            })?;
        if self.groups[g].partner(app) != Some(peer) {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "{} is not a failover partner of this appliance",
                    self.apps[peer].name
                ),
            ));
        }
        if self.groups[g].established {
            // Also when it already was, with this peer.
            return Ok(());
        }
        self.require_up(app)?;
        if !self.apps[peer].up() {
            return Err(OpError::new(
                ErrorCode::Unavailable,
                "the peer appliance could not be contacted",
            ));
        }
        self.record(
            t,
            Fact::EstablishRequested {
                appliance: app,
                peer,
            },
        );
        let (mine, theirs) = (
            self.apps[app].version.clone(),
            self.apps[peer].version.clone(),
        );
        if mine != theirs {
            return Err(OpError::new(
                ErrorCode::VersionMismatch,
                format!("this appliance runs {mine}, the peer runs {theirs}"),
            ));
        }
        self.groups[g].established = true;
        self.groups[g].relation += 1;
        self.groups[g].failover_sync = super::SyncStatus::idle(SyncKind::SyncNow);
        if self.apps[peer].role != FailoverRole::Backup {
            self.demote(peer, t);
        }
        self.apps[peer].backup_ops = true;
        if self.apps[app].role != FailoverRole::Primary {
            self.make_primary(app, t);
        }
        let relation = self.groups[g].relation;
        self.sched.push(
            t + self.timings.first_sync_after_establish_s,
            Ev::AutoSync { group: g, relation },
        );
        self.record(
            t,
            Fact::FailoverEstablished {
                appliance: app,
                peer,
            },
        );
        self.settle(t);
        Ok(())
    }

    /// "Enable backup operations".
    pub(crate) fn set_backup_operations(
        &mut self,
        app: usize,
        enabled: bool,
        t: f64,
    ) -> Result<(), OpError> {
        self.require_up(app)?;
        if self.apps[app].backup_ops != enabled {
            self.apps[app].backup_ops = enabled;
            self.record(
                t,
                Fact::BackupOperations {
                    appliance: app,
                    enabled,
                },
            );
            self.settle(t);
        }
        Ok(())
    }
}

/// `https://127.0.0.1:8443/` -> `127.0.0.1:8443`.
fn normalize_address(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.trim_end_matches('/').to_ascii_lowercase()
}
