//! Data syncs: failover Sync Now on the primary, the automatic first sync after establishing,
//! the sync of `data_sync_first`, and cluster Sync Now. A sync takes `sync_s` and fails when
//! injected, when its appliance goes down, or (failover) when the peers cannot talk. A
//! successful sync copies the acting master's cluster configuration to the other master.

use super::group::{OpState, SyncKind};
use super::scheduler::Ev;
use super::{ErrorCode, FailoverRole, GroupKind, OpError, World};
use crate::log::Fact;

impl World {
    /// Sync Now on the primary.
    pub(crate) fn failover_sync_now(&mut self, app: usize, t: f64) -> Result<(), OpError> {
        let g = self.apps[app].group;
        if self.groups[g].peer(app).is_none() {
            return Err(OpError::new(
                ErrorCode::NoRelationship,
                "no failover relationship",
            ));
        }
        if self.apps[app].role != FailoverRole::Primary {
            return Err(OpError::new(
                ErrorCode::NotPrimary,
                "Sync Now runs on the primary",
            ));
        }
        self.require_up(app)?;
        if self.groups[g].failover_sync.state != OpState::Running {
            self.start_sync(g, app, SyncKind::SyncNow, false, t);
            self.settle(t);
        }
        Ok(())
    }

    pub(crate) fn auto_sync(&mut self, g: usize, relation: u64, t: f64) {
        let group = &self.groups[g];
        if !group.established
            || group.relation != relation
            || group.failover_sync.state == OpState::Running
        {
            return;
        }
        if let Some(primary) = group
            .site
            .iter()
            .copied()
            .find(|&m| self.apps[m].role == FailoverRole::Primary)
        {
            self.start_sync(g, primary, SyncKind::Automatic, false, t);
        }
    }

    /// Starts a failover (`cluster == false`) or cluster data sync run by `initiator`.
    pub(crate) fn start_sync(
        &mut self,
        g: usize,
        initiator: usize,
        origin: SyncKind,
        cluster: bool,
        t: f64,
    ) {
        let planned_failure = std::mem::take(&mut self.apps[initiator].faults.fail_sync);
        let duration = self.group_uniform(g, self.timings.sync_s);
        let id = self.next_id();
        self.record(
            t,
            Fact::SyncStarted {
                group: g,
                sync: id,
                appliance: initiator,
                kind: origin,
            },
        );
        let status = super::SyncStatus {
            id,
            state: OpState::Running,
            started_at: Some(t),
            finished_at: None,
            message: None,
            initiator: Some(initiator),
            origin,
            planned_failure,
        };
        if cluster {
            self.groups[g].cluster_sync = status;
        } else {
            self.groups[g].failover_sync = status;
        }
        self.sched.push(
            t + duration,
            Ev::SyncDone {
                group: g,
                cluster,
                id,
            },
        );
    }

    pub(crate) fn sync_done(&mut self, g: usize, cluster: bool, id: u64, t: f64) {
        let status = if cluster {
            &self.groups[g].cluster_sync
        } else {
            &self.groups[g].failover_sync
        };
        if status.id != id || status.state != OpState::Running {
            return;
        }
        let initiator = status.initiator;
        let failure = if status.planned_failure {
            Some("data sync failed (injected)".to_owned())
        } else if initiator.is_some_and(|i| !self.apps[i].up()) {
            Some("the initiating appliance went down".to_owned())
        } else if cluster {
            None
        } else {
            match self.groups[g].site.as_slice() {
                [a, b] if self.groups[g].established && self.contactable(*a, *b) => None,
                [_, _] if self.groups[g].established => Some(
                    "the peer appliance could not be contacted or runs another version".to_owned(),
                ),
                _ => Some("no failover relationship".to_owned()),
            }
        };
        let ok = failure.is_none();
        self.sync_finish(g, cluster, ok, failure, t);
    }

    /// Ends the running sync of `g` and continues a waiting role change.
    pub(crate) fn sync_finish(
        &mut self,
        g: usize,
        cluster: bool,
        ok: bool,
        message: Option<String>,
        t: f64,
    ) {
        let status = if cluster {
            &mut self.groups[g].cluster_sync
        } else {
            &mut self.groups[g].failover_sync
        };
        let id = status.id;
        status.state = if ok {
            OpState::Succeeded
        } else {
            OpState::Failed
        };
        status.finished_at = Some(t);
        status.message.clone_from(&message);
        let origin = status.origin;
        let initiator = status.initiator;
        self.record(
            t,
            Fact::SyncFinished {
                sync: id,
                ok,
                message: message.clone(),
            },
        );
        let touched: Vec<usize> = if cluster {
            initiator.into_iter().collect()
        } else {
            self.groups[g].site.clone()
        };
        for m in touched {
            self.apps[m].last_sync = Some((t, ok));
        }
        if ok && self.groups[g].kind == GroupKind::Cluster {
            self.copy_cluster_config(g);
        }
        if origin == SyncKind::DataSyncFirst && !cluster {
            let waiting = self.groups[g]
                .role_op
                .as_ref()
                .filter(|r| r.syncing)
                .map(|r| r.id);
            if let Some(op) = waiting {
                if ok {
                    self.swap_now(g, t);
                } else {
                    self.groups[g].role_op = None;
                    self.record(t, Fact::SwapAbandoned { group: g });
                    let msg = message.unwrap_or_default();
                    self.finish_op(
                        op,
                        Err(OpError::new(
                            ErrorCode::SyncFailed,
                            format!("role not changed: {msg}"),
                        )),
                    );
                }
            }
        }
    }
}
