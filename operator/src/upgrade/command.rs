//! The effects the decision core asks for, as data, and what performing them reported.
//!
//! A command is the same command whoever performs it (the vendor API, the management
//! extension, or a person verified afterwards): the rules are proven once, on the commands.

use baton_crds::status::BackupRecord;

use super::verdict::Verdict;

/// Which Sync Now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// Failover data sync, primary to backup.
    Failover,
    /// Atlas cluster configuration sync.
    Cluster,
}

/// The role `SetFailoverRole` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    Backup,
}

/// One effect on the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Download the configuration backup from a member and store it (R1).
    Backup { member: String, round: i32 },
    /// Sync Now on a member (failover data, or the cluster configuration).
    SyncNow { member: String, kind: SyncKind },
    /// Break the failover relationship.
    BreakFailover { member: String },
    /// Re-establish failover with `primary` as primary and `backup` as backup.
    EstablishFailover { primary: String, backup: String },
    /// Download a package onto a member without installing it (R7: right before its install).
    Stage { member: String, package: String },
    /// "Distribute to cluster" from a master: stage a package on every node.
    Distribute { master: String, package: String },
    /// Install a package, once: `key` makes asking again return the same install (I8).
    StartInstall {
        member: String,
        package: String,
        key: String,
        /// Install although clients are connected (recorded as sessions cut).
        allow_connected_clients: bool,
        /// Clients connected when it was decided, counted as cut if it starts.
        clients: u64,
    },
    /// Take a traffic node out of rotation (`accepting: false`) or put it back, through the
    /// acting master's cluster configuration.
    SetAccepting {
        via: String,
        node: String,
        appliance_id: String,
        accepting: bool,
    },
    /// Become Primary / Become Backup (`force`: even if the peer cannot be contacted).
    SetFailoverRole {
        member: String,
        role: Role,
        force: bool,
    },
    /// Enable or disable backup operations on a master.
    SetBackupOperations { member: String, enabled: bool },
    /// Move the site traffic from one member to another (shared IP, Service, manual).
    SwingTraffic {
        from: String,
        to: String,
        round: i32,
        /// Who holds the site address now (shared IP).
        from_holds_address: bool,
        to_holds_address: bool,
        /// A person confirmed a manual swing (`<confirmation id>/TrafficSwing`).
        confirmed: bool,
    },
    /// Wait until the first of these installs (member, install id) ends, or the long poll
    /// passes: the next pass starts the moment a node is free instead of a requeue later.
    AwaitInstalls { installs: Vec<(String, String)> },
}

impl Command {
    /// The member the command is sent to.
    pub fn member(&self) -> &str {
        match self {
            Self::Backup { member, .. }
            | Self::SyncNow { member, .. }
            | Self::BreakFailover { member }
            | Self::Stage { member, .. }
            | Self::StartInstall { member, .. }
            | Self::SetFailoverRole { member, .. }
            | Self::SetBackupOperations { member, .. } => member,
            Self::EstablishFailover { primary, .. } => primary,
            Self::Distribute { master, .. } => master,
            Self::SetAccepting { via, .. } => via,
            Self::SwingTraffic { to, .. } => to,
            Self::AwaitInstalls { installs } => installs.first().map_or("", |(m, _)| m),
        }
    }
}

/// What performing a command reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// Accepted or done.
    Done,
    /// An install or operation started, with the appliance's id.
    Started { id: String },
    /// The install was refused because the package is installed already.
    AlreadyInstalled,
    /// The appliance started the install and reports it failed at once.
    InstallFailed { message: String },
    /// The backup was stored.
    BackupStored(Box<BackupRecord>),
    /// The swing's own verdict (it checks what it moved).
    Swing(Verdict),
    /// `AwaitInstalls`: whether one of them ended before the poll did.
    Awaited { ended: bool },
    /// It failed. `transient`: waiting can help; otherwise a person must act.
    Failed {
        transient: bool,
        message: String,
        /// A condition reason when the failure has a specific one (a missing Secret).
        reason: Option<&'static str>,
    },
    /// No executor performs this command here.
    Unsupported { message: String },
}

impl Report {
    /// A failure that may pass by itself.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Failed {
            transient: true,
            message: message.into(),
            reason: None,
        }
    }

    /// A failure a person must look at.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Failed {
            transient: false,
            message: message.into(),
            reason: None,
        }
    }
}
