//! The world's event log: what happened, in order, each fact stamped with the simulated time
//! it happened at. The world only appends to it; the referee reads it, with the fleet file,
//! and nothing else, so whatever it judges was recorded here first.
//!
//! Appliances are named by their position in the fleet file and groups by their position in
//! its topology (`crate::fleet::Topology`: pairs, then clusters, then standalone
//! appliances), which keeps the log small: client sessions alone add two facts each.
//!
//! Facts are what the appliances did or were asked, not what the world concluded: a role
//! change, a session cut, a request taken up. Requests are logged where the appliance acts
//! on them (after it checked it can: an install request once it is known not to be an
//! Idempotency-Key replay, a role change once the appliance has a peer and is not
//! installing), so the referee judges the same requests the appliances answered.

use serde::{Deserialize, Serialize};

use crate::faults::Fault;

/// Failover role as the appliance reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverRole {
    /// No failover relationship.
    None,
    /// Primary of a relationship.
    Primary,
    /// Backup of a relationship.
    Backup,
}

impl FailoverRole {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Primary => "primary",
            Self::Backup => "backup",
        }
    }
}

/// What started a data sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncKind {
    /// Failover Sync Now on the primary.
    SyncNow,
    /// The sync before a role change asked with `data_sync_first`.
    DataSyncFirst,
    /// The first sync after establishing failover.
    Automatic,
    /// Cluster Sync Now on the primary master.
    Cluster,
}

impl SyncKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SyncNow => "sync_now",
            Self::DataSyncFirst => "data_sync_first",
            Self::Automatic => "automatic",
            Self::Cluster => "cluster",
        }
    }
}

/// A step of a shared IP asked for with `PUT /shared-ips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharedIpChange {
    /// Disabled on request (at once).
    Disabled,
    /// Enabling requested; it comes up `shared_ip_s` later.
    Enabling,
    /// Up.
    Enabled,
}

impl SharedIpChange {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Enabling => "enabling",
            Self::Enabled => "enabled",
        }
    }
}

/// One thing that happened. `appliance`, `master`, `node`, `peer`, `owner`, `promote` and
/// `demote` are appliance indexes; `group` is a group index (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fact {
    /// The world finished a change: everything logged since the previous `Settled` happened
    /// at once. Who serves a site and who takes new clients are only meaningful here, as the
    /// world passes through half-done states inside a change (a swap demotes, then promotes).
    Settled,

    /// A package reached the appliance without being installed (`how`: downloaded,
    /// distributed, uploaded).
    Staged {
        appliance: usize,
        package: String,
        how: &'static str,
    },
    /// `POST /installs`, not an Idempotency-Key replay.
    InstallRequested { appliance: usize, package: String },
    /// The appliance refused that request with this error code.
    InstallRefused {
        appliance: usize,
        package: String,
        code: &'static str,
    },
    /// An install began (`install` is its id). With `precheck_failed` the update server
    /// refused the appliance's clock before anything changed: it fails at once and leaves
    /// the appliance as it was.
    InstallStarted {
        appliance: usize,
        package: String,
        install: String,
        duration_s: f64,
        allow_connected_clients: bool,
        precheck_failed: bool,
    },
    /// A base install finished its run and the appliance reboots (it does not answer).
    RebootStarted { appliance: usize, package: String },
    /// The install is done; the appliance runs the package's version.
    InstallSucceeded { appliance: usize, package: String },
    /// The install failed. A failed base install (pre-check aside) leaves the appliance
    /// waiting for a person; a failed product install rolls back.
    InstallFailed {
        appliance: usize,
        package: String,
        message: String,
    },
    /// A master taking an install set every traffic node to not accepting in its own copy
    /// of the cluster configuration.
    MasterInstallFlip { master: usize },

    /// `set_failover_role` taken up by an appliance that has a peer and is not installing.
    RoleRequested {
        appliance: usize,
        role: FailoverRole,
        data_sync_first: bool,
        force: bool,
    },
    /// A role swap is under way in the group (a data sync first, if asked): `demote`
    /// becomes backup, then `promote` primary. Another role change is refused meanwhile.
    SwapBegun {
        group: usize,
        demote: Option<usize>,
        promote: usize,
    },
    /// The swap proper starts: the demotion now, the promotion `swap_s` later.
    SwapStarted { group: usize },
    /// The swap was dropped because its data sync failed.
    SwapAbandoned { group: usize },
    /// The appliance's role changed. Becoming primary takes the site address (the shared IP
    /// moves to it, or the external swing follows it); becoming backup drops its shared IP.
    RoleChanged {
        appliance: usize,
        role: FailoverRole,
    },
    /// The relationship of the appliance's group was broken: both members standalone.
    FailoverBroken { appliance: usize },
    /// An establish request the appliance went on to act on (the address is its partner's,
    /// both are up, no relationship yet): it compares versions next.
    EstablishRequested { appliance: usize, peer: usize },
    /// Failover established with `appliance` primary and `peer` backup.
    FailoverEstablished { appliance: usize, peer: usize },
    /// "Enable backup operations" changed.
    BackupOperations { appliance: usize, enabled: bool },

    /// The appliance's shared IP, as asked with `PUT /shared-ips`.
    SharedIp {
        appliance: usize,
        change: SharedIpChange,
    },
    /// An external swing now points the site at the appliance.
    SiteTargetMoved { appliance: usize },

    /// A data sync started, run by `appliance`; `sync` identifies it.
    SyncStarted {
        group: usize,
        sync: u64,
        appliance: usize,
        kind: SyncKind,
    },
    /// The data sync ended.
    SyncFinished {
        sync: u64,
        ok: bool,
        message: Option<String>,
    },
    /// A configuration backup was downloaded from the appliance.
    BackupDownloaded { appliance: usize },

    /// The acting master turned a traffic node's "accepting new client connections" on or
    /// off (an operator request).
    AcceptingChanged {
        master: usize,
        node: usize,
        accepting: bool,
    },
    /// "Distribute to cluster" started on a master.
    DistributionStarted { appliance: usize, package: String },
    /// The distribution reached every node (`ok`) or failed somewhere.
    DistributionFinished {
        group: usize,
        package: String,
        ok: bool,
    },

    /// A client session connected to the appliance.
    ClientConnected { appliance: usize },
    /// A client of `owner`'s traffic found nobody taking new clients.
    ClientRefused { owner: usize },
    /// A session on the appliance ended on its own.
    SessionEnded { appliance: usize },
    /// Every session of the appliance was cut (`sessions` of them, more than zero). With
    /// `by_override` the install request allowed it.
    SessionsCut {
        appliance: usize,
        sessions: u64,
        why: String,
        by_override: bool,
    },

    /// A fault was injected.
    FaultInjected { appliance: usize, fault: Box<Fault> },
    /// A timed unreachability ended.
    FaultExpired { appliance: usize },
    /// A person cleared the appliance's faults (and released a failed base install).
    FaultsCleared { appliance: usize },
}

impl Fact {
    /// The appliances and the group the fact names, to check a log against its manifest.
    pub(crate) fn names(&self) -> ([Option<usize>; 2], Option<usize>) {
        match self {
            Self::Settled => ([None, None], None),
            Self::SwapBegun {
                group,
                demote,
                promote,
            } => ([Some(*promote), *demote], Some(*group)),
            Self::SwapStarted { group }
            | Self::SwapAbandoned { group }
            | Self::DistributionFinished { group, .. } => ([None, None], Some(*group)),
            Self::SyncStarted {
                group, appliance, ..
            } => ([Some(*appliance), None], Some(*group)),
            Self::SyncFinished { .. } => ([None, None], None),
            Self::EstablishRequested { appliance, peer }
            | Self::FailoverEstablished { appliance, peer } => {
                ([Some(*appliance), Some(*peer)], None)
            }
            Self::AcceptingChanged { master, node, .. } => ([Some(*master), Some(*node)], None),
            Self::MasterInstallFlip { master: a }
            | Self::ClientRefused { owner: a }
            | Self::Staged { appliance: a, .. }
            | Self::InstallRequested { appliance: a, .. }
            | Self::InstallRefused { appliance: a, .. }
            | Self::InstallStarted { appliance: a, .. }
            | Self::RebootStarted { appliance: a, .. }
            | Self::InstallSucceeded { appliance: a, .. }
            | Self::InstallFailed { appliance: a, .. }
            | Self::RoleRequested { appliance: a, .. }
            | Self::RoleChanged { appliance: a, .. }
            | Self::FailoverBroken { appliance: a }
            | Self::BackupOperations { appliance: a, .. }
            | Self::SharedIp { appliance: a, .. }
            | Self::SiteTargetMoved { appliance: a }
            | Self::BackupDownloaded { appliance: a }
            | Self::DistributionStarted { appliance: a, .. }
            | Self::ClientConnected { appliance: a }
            | Self::SessionEnded { appliance: a }
            | Self::SessionsCut { appliance: a, .. }
            | Self::FaultInjected { appliance: a, .. }
            | Self::FaultExpired { appliance: a }
            | Self::FaultsCleared { appliance: a } => ([Some(*a), None], None),
        }
    }
}

/// One fact and when it happened, simulated seconds since start.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) at: f64,
    pub(crate) fact: Fact,
}

/// The append-only log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    entries: Vec<Entry>,
}

impl Log {
    pub(crate) fn push(&mut self, at: f64, fact: Fact) {
        self.entries.push(Entry { at, fact });
    }

    /// Every entry, oldest first.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }
}
