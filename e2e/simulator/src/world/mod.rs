//! The simulated world: every appliance and group, the event queue, and the event log it
//! writes what happens to (`crate::log`, which the referee reads). All state lives here
//! behind one lock (see `crate::runtime`); every method takes the simulated time `t` it
//! happens at. Mutations end with [`World::settle`], which recomputes derived state (cluster
//! acceptance, reachability) and logs that the change is complete.

pub(crate) mod appliance;
mod build;
mod clients;
mod cluster;
mod error;
mod failover;
pub(crate) mod group;
mod inject;
pub(crate) mod install;
pub(crate) mod scheduler;
mod state;
mod swing;
mod sync;
#[cfg(test)]
mod walks;

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::clock::SimClock;
use crate::fleet::{PackageSpec, Swing, Timings};
use crate::log::{Fact, Log};

pub(crate) use appliance::{Appliance, FailoverRole, NodeKind};
pub(crate) use error::{ErrorCode, OpError};
pub(crate) use group::{Group, GroupKind, OpState, SyncStatus};
use scheduler::{Ev, Scheduler};
pub use state::ApplianceState;

/// A request that either finished at once or waits for a scheduled operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Started {
    Done(String),
    Pending(u64),
}

/// The whole simulated world.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) clock: SimClock,
    pub(crate) timings: Timings,
    pub(crate) catalogue: Vec<PackageSpec>,
    pub(crate) apps: Vec<Appliance>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) groups: Vec<Group>,
    pub(crate) sched: Scheduler,
    /// What happened, in order: the referee's only source.
    pub(crate) log: Log,
    next_id: u64,
    /// Results of finished role swaps / shared IP moves, for the requests waiting on them.
    pub(crate) finished_ops: HashMap<u64, Result<String, OpError>>,
    /// Bumped by every significant change; long polls wake on it.
    pub(crate) revision: u64,
}

/// Where each appliance listens.
#[derive(Debug, Clone)]
pub(crate) struct Listening {
    pub(crate) port: u16,
}

impl World {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn app(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn group_by_name(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    pub(crate) fn package(&self, id: &str) -> Option<&PackageSpec> {
        self.catalogue.iter().find(|p| p.id == id)
    }

    /// Uniform draw in `[lo, hi]` from a group's generator.
    pub(crate) fn group_uniform(&mut self, group: usize, range: [f64; 2]) -> f64 {
        uniform(&mut self.groups[group].rng, range)
    }

    /// Processes every event due at or before `now`, in order; significant ones bump
    /// `revision` through `settle`.
    pub(crate) fn advance(&mut self, now: f64) {
        while let Some((at, ev)) = self.sched.pop_due(now) {
            self.handle(at, ev);
        }
    }

    fn handle(&mut self, t: f64, ev: Ev) {
        let churn = ev.is_client_churn();
        match ev {
            Ev::InstallStep { app, install } => self.install_step(app, install, t),
            Ev::SyncDone { group, cluster, id } => self.sync_done(group, cluster, id, t),
            Ev::Promote { group, op, app } => self.promote_done(group, op, app, t),
            Ev::SharedIpUp { group, op, app } => self.shared_ip_up(group, op, app, t),
            Ev::DistributeNode { group, id, node } => self.distribute_node(group, id, node, t),
            Ev::AutoSync { group, relation } => self.auto_sync(group, relation, t),
            Ev::ClientArrival { owner } => self.client_arrival(owner, t),
            Ev::SessionEnd { app, session } => self.session_end(app, session, t),
            Ev::FaultExpire { app, until } => {
                if self.apps[app].faults.unreachable_until == Some(until) {
                    self.apps[app].faults.unreachable_until = None;
                    self.record(t, Fact::FaultExpired { appliance: app });
                }
            }
        }
        if !churn {
            self.settle(t);
        }
    }

    /// Recomputes derived state after a change and logs that the change is complete: the
    /// world is consistent again, so whoever reads the log may look at it now.
    pub(crate) fn settle(&mut self, t: f64) {
        self.revision += 1;
        for g in 0..self.groups.len() {
            if self.groups[g].kind == GroupKind::Cluster {
                self.refresh_cluster(g);
            }
        }
        for a in 0..self.apps.len() {
            let reachable = self.apps[a].reachable(t);
            self.apps[a].reach.send_if_modified(|r| {
                let changed = *r != reachable;
                *r = reachable;
                changed
            });
        }
        self.record(t, Fact::Settled);
    }

    /// A configuration backup was downloaded from `app`: nothing changes on the appliance,
    /// but the referee wants it before an install (I5).
    pub(crate) fn record_backup(&mut self, app: usize, t: f64) {
        self.record(t, Fact::BackupDownloaded { appliance: app });
    }

    /// Appends a fact to the event log.
    pub(crate) fn record(&mut self, t: f64, fact: Fact) {
        self.log.push(t, fact);
    }

    /// Whether `app` holds its site's address.
    pub(crate) fn holds_site(&self, app: usize) -> bool {
        let g = &self.groups[self.apps[app].group];
        match (g.kind, g.swing) {
            (GroupKind::Single, _) => true,
            (_, Swing::SharedIp) => self.apps[app].shared_ip_enabled,
            (_, Swing::External) => g.site_target == Some(app),
        }
    }

    /// Serving the site: not a backup, holds the site address, and up.
    pub(crate) fn is_serving(&self, app: usize) -> bool {
        let a = &self.apps[app];
        let g = &self.groups[a.group];
        g.site.contains(&app) && a.role != FailoverRole::Backup && self.holds_site(app) && a.up()
    }

    /// The appliance that gets the site's new clients.
    pub(crate) fn serving_member(&self, group: usize) -> Option<usize> {
        self.groups[group]
            .site
            .iter()
            .copied()
            .find(|&m| self.is_serving(m))
    }

    /// Whether two partners can talk: both up and on the same product version.
    pub(crate) fn contactable(&self, a: usize, b: usize) -> bool {
        self.apps[a].up() && self.apps[b].up() && self.apps[a].version == self.apps[b].version
    }

    pub(crate) fn finish_op(&mut self, op: u64, result: Result<String, OpError>) {
        self.finished_ops.insert(op, result);
    }
}

/// Uniform draw in `[lo, hi]`.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, [lo, hi]: [f64; 2]) -> f64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}
