//! Groups: a failover pair, an Atlas cluster, or a standalone appliance (a group of one).
//! A group is one site; its `site` members are the appliances that can serve the site
//! address (pair members, or the masters of a cluster).

use rand_chacha::ChaCha8Rng;

pub(crate) use crate::fleet::GroupKind;
use crate::fleet::Swing;
pub(crate) use crate::log::SyncKind;

/// State of a long-running operation as the extension API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpState {
    Idle,
    Running,
    Succeeded,
    Failed,
}

impl OpState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// A failover or cluster data sync.
#[derive(Debug, Clone)]
pub(crate) struct SyncStatus {
    pub(crate) id: u64,
    pub(crate) state: OpState,
    pub(crate) started_at: Option<f64>,
    pub(crate) finished_at: Option<f64>,
    pub(crate) message: Option<String>,
    pub(crate) initiator: Option<usize>,
    pub(crate) origin: SyncKind,
    pub(crate) planned_failure: bool,
}

impl SyncStatus {
    pub(crate) fn idle(origin: SyncKind) -> Self {
        Self {
            id: 0,
            state: OpState::Idle,
            started_at: None,
            finished_at: None,
            message: None,
            initiator: None,
            origin,
            planned_failure: false,
        }
    }
}

/// Per-node state of a "Distribute to cluster".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeDist {
    Pending,
    Staged,
    Failed(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    pub(crate) id: u64,
    pub(crate) package: String,
    pub(crate) state: OpState,
    pub(crate) nodes: Vec<(usize, NodeDist)>,
}

/// A role change in flight (`set_failover_role`).
#[derive(Debug, Clone)]
pub(crate) struct RoleOp {
    pub(crate) id: u64,
    /// Demoted when the swap starts (after the sync of `data_sync_first`).
    pub(crate) demote: Option<usize>,
    /// Promoted `swap_s` after the demotion.
    pub(crate) promote: usize,
    /// Waiting for the data sync of `data_sync_first`.
    pub(crate) syncing: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) kind: GroupKind,
    /// Appliances that can serve the site address: pair members or masters.
    pub(crate) site: Vec<usize>,
    /// Traffic nodes (clusters), in configuration order.
    pub(crate) traffic: Vec<usize>,
    /// Every appliance of the group.
    pub(crate) members: Vec<usize>,
    pub(crate) shared_ip: Option<String>,
    pub(crate) swing: Swing,
    pub(crate) established: bool,
    /// Bumped on every establish/break so stale scheduled work is ignored.
    pub(crate) relation: u64,
    /// External swing: where the site address points.
    pub(crate) site_target: Option<usize>,
    pub(crate) failover_sync: SyncStatus,
    pub(crate) cluster_sync: SyncStatus,
    pub(crate) distribution: Option<Distribution>,
    pub(crate) role_op: Option<RoleOp>,
    /// A shared IP coming up: (operation id, appliance).
    pub(crate) ip_op: Option<(u64, usize)>,
    /// Draws for this group's syncs and distributions.
    pub(crate) rng: ChaCha8Rng,
}

impl Group {
    /// The failover partner of `app`, whether or not the relationship is established.
    pub(crate) fn partner(&self, app: usize) -> Option<usize> {
        if self.site.len() == 2 && self.site.contains(&app) {
            self.site.iter().copied().find(|&m| m != app)
        } else {
            None
        }
    }

    /// The peer of `app` in an established relationship.
    pub(crate) fn peer(&self, app: usize) -> Option<usize> {
        if self.established {
            self.partner(app)
        } else {
            None
        }
    }

    pub(crate) fn traffic_index(&self, app: usize) -> Option<usize> {
        self.traffic.iter().position(|&t| t == app)
    }
}
