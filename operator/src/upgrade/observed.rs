//! What the appliances showed this pass, as the decision core reads it: plain facts, no
//! client types. The controllers fill it from the vendor API (and the management extension
//! where it is deployed); tests write it by hand.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::version::Version;

/// Why something could not be observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    /// A condition reason (`baton_crds::conditions::reasons`).
    pub reason: &'static str,
    /// What failed and what to do.
    pub message: String,
    /// Whether waiting can help (unreachable, rate limited) or a person must act.
    pub transient: bool,
}

impl Unseen {
    /// Something that may pass by itself.
    pub fn transient(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            transient: true,
        }
    }
}

/// A member's failover role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverRole {
    Primary,
    Backup,
    #[default]
    None,
}

/// One appliance that answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seen {
    pub version: Version,
    pub base_version: Version,
    pub healthy: bool,
    /// The appliance's word when unhealthy.
    pub health_message: Option<String>,
    /// Installing or rebooting for an install.
    pub installing: bool,
    pub role: FailoverRole,
    /// In an established failover relationship.
    pub established: bool,
    /// Holds an enabled shared IP (the site address).
    pub holds_site_address: bool,
    /// Backup operations enabled (a master that is the backup).
    pub backup_operations: bool,
    /// Connected clients on this appliance.
    pub clients: u64,
}

impl Seen {
    /// Primary of an established relationship.
    pub fn is_established_primary(&self) -> bool {
        self.established && self.role == FailoverRole::Primary
    }

    /// Serving the site: established primary, or holding the site address.
    pub fn serves(&self) -> bool {
        self.is_established_primary() || self.holds_site_address
    }
}

/// A pair member or an Atlas master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    pub seen: Result<Seen, Unseen>,
}

/// What the API account may do, and the appliance's clock (preflight, R8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Full access to the command API.
    pub full_command: bool,
    /// May download configuration backups.
    pub backup: bool,
    /// The appliance's clock when asked.
    pub clock: DateTime<Utc>,
    pub ntp_synchronized: bool,
}

/// A package the appliance offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    /// Base software (reboots) or a product package.
    pub base: bool,
    pub version: Version,
    /// Package ids that must be installed first.
    pub requires: Vec<String>,
    /// Every prerequisite is installed.
    pub installable: bool,
    /// Downloaded onto the appliance already.
    pub staged: bool,
}

/// Where a long operation (install, sync, distribution) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    Running,
    Succeeded,
    Failed,
}

/// The current step's operation as polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub state: OperationState,
    pub percent: Option<u8>,
    pub message: Option<String>,
    /// The package it concerns (distribution).
    pub package: Option<String>,
}

/// A traffic node as the acting master reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub appliance_id: String,
    pub region: Option<String>,
    pub accepting: bool,
    pub clients: u64,
    pub version: Option<Version>,
}

/// Where one target's install of one package stands, from its install history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallProgress {
    Done,
    /// With the install's id when the appliance answered.
    Running(Option<String>),
    NotStarted,
    Failed(String),
}

/// A target of a batch step (a traffic node, or the backup master with batch 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetView {
    pub name: String,
    pub clients: u64,
    /// The step's package (install steps).
    pub install: InstallProgress,
    /// The next install step's package, when the batch works ahead.
    pub next: Option<InstallProgress>,
    /// What keeps it from passing verification (verify steps); `None`: it passes.
    pub problem: Option<String>,
}

/// Everything observed this pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// Pair members, or Atlas masters (primary master from spec first).
    pub members: Vec<MemberView>,
    /// Atlas: index into `members` of the master acting as primary.
    pub acting: Option<usize>,
    /// Atlas: traffic nodes by name, from the acting master.
    pub nodes: Option<Result<BTreeMap<String, NodeView>, Unseen>>,
    /// Preflight: each member's account and clock.
    pub accounts: Vec<(String, Result<Account, Unseen>)>,
    /// Planning and staging: the packages offered.
    pub packages: Option<Result<Vec<Offer>, Unseen>>,
    /// The current step's install, sync or distribution.
    pub operation: Option<Result<Operation, Unseen>>,
    /// Atlas batch install and verify: each target.
    pub targets: Option<Result<Vec<TargetView>, Unseen>>,
}

impl Observed {
    /// A member by name.
    pub fn member(&self, name: &str) -> Option<&MemberView> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Problems reaching members and the cluster view, for MembersReachable.
    pub fn reachability(&self) -> Result<(), String> {
        let mut problems: Vec<String> = self
            .members
            .iter()
            .filter_map(|m| {
                m.seen
                    .as_ref()
                    .err()
                    .map(|u| format!("{}: {}", m.name, u.message))
            })
            .collect();
        if let Some(Err(u)) = &self.nodes {
            problems.push(format!("cluster view: {}", u.message));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}
