//! The referee's picture of the fleet in neutral terms, for tests that hold it against the
//! world's own state (the world's random-walk tests): if the two differ, the event log
//! missed a change the referee judges by.

use crate::log::FailoverRole;

/// What the referee believes the fleet looks like.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Picture {
    /// Per appliance: software state, role, shared IP, product / base version, sessions,
    /// accepting, failing health check, and (masters) the cluster configuration as
    /// (accepting, by operator) per traffic node.
    pub(crate) appliances: Vec<ApplianceView>,
    /// Per group: relationship established, external swing target.
    pub(crate) groups: Vec<(bool, Option<usize>)>,
}

/// One appliance in a [`Picture`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApplianceView {
    pub(crate) software: &'static str,
    pub(crate) role: FailoverRole,
    pub(crate) shared_ip: bool,
    pub(crate) versions: (String, String),
    pub(crate) sessions: u64,
    pub(crate) accepting: bool,
    pub(crate) health_fault: bool,
    pub(crate) cluster_cfg: Vec<(bool, bool)>,
}

impl super::model::Model {
    pub(crate) fn picture(&self) -> Picture {
        Picture {
            appliances: self
                .nodes
                .iter()
                .map(|n| ApplianceView {
                    software: n.activity.as_str(),
                    role: n.role,
                    shared_ip: n.shared_ip,
                    versions: (n.version.to_string(), n.base_version.to_string()),
                    sessions: n.sessions,
                    accepting: n.accepting,
                    health_fault: n.health_fault,
                    cluster_cfg: n
                        .cluster_cfg
                        .iter()
                        .map(|c| (c.accepting, c.by_operator))
                        .collect(),
                })
                .collect(),
            groups: self
                .sites
                .iter()
                .map(|s| (s.established, s.target))
                .collect(),
        }
    }
}
