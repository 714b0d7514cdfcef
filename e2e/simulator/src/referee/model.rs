//! The referee's own picture of the fleet: built from the fleet file, kept up to date from
//! the event log alone. Each appliance's software, role, site address, sessions and (masters)
//! cluster configuration; each group's relationship and the role swap in flight. The
//! invariants and measures are judged against this picture, never against the world's
//! state: what the referee judges is what the log says (the world's random-walk tests check
//! that the picture and the world agree).
//!
//! The terms are the README's: *up* is not installing, rebooting or failed; *holds the site
//! address* is the enabled shared IP (swing `sharedIp`), the external swing's target, or a
//! standalone appliance itself; *serving* is a site member that is not backup, holds the
//! site address and is up.

use crate::fleet::{
    FleetSpec, GroupKind, GroupShape, NodeKind, PackageKind, PackageSpec, Product, Swing, Topology,
};
use crate::log::FailoverRole;
use crate::version::Version;

/// What an appliance's software is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Activity {
    Idle,
    Installing,
    Rebooting,
    /// A base install failed: waiting for a person.
    Failed,
}

impl Activity {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Installing => "installing",
            Self::Rebooting => "rebooting",
            Self::Failed => "failed",
        }
    }
}

/// The appliance's most recent install.
#[derive(Debug, Clone)]
pub(super) struct LastInstall {
    pub(super) package: String,
    /// A failure blocks the appliance (and I6 its group): a base package that got past the
    /// update server's pre-check.
    pub(super) blocks_on_failure: bool,
    pub(super) succeeded: bool,
}

/// One traffic node's entry in a master's copy of the cluster configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NodeCfg {
    pub(super) accepting: bool,
    /// Taken out by an operator request (I2 counts these), not by a master install's flip.
    pub(super) by_operator: bool,
}

/// One appliance as the referee sees it.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) product: Product,
    pub(super) group: usize,
    pub(super) kind: NodeKind,
    pub(super) version: Version,
    pub(super) base_version: Version,
    pub(super) activity: Activity,
    pub(super) last_install: Option<LastInstall>,
    pub(super) role: FailoverRole,
    pub(super) shared_ip: bool,
    /// An injected health-check failure, until cleared.
    pub(super) health_fault: bool,
    pub(super) sessions: u64,
    /// Masters: their copy of the cluster configuration, by traffic index.
    pub(super) cluster_cfg: Vec<NodeCfg>,
    /// Traffic nodes: "accepting" as the acting master's configuration said at the last
    /// settle (the nodes keep what they had while no master acts, mid-swap).
    pub(super) accepting: bool,
    /// Whether it took new clients at the last settle.
    pub(super) takes_clients: bool,
    /// Its open drain record.
    pub(super) drain: Option<usize>,
}

/// A role swap in flight in a group.
#[derive(Debug, Clone, Copy)]
pub(super) struct Swap {
    pub(super) demote: Option<usize>,
    pub(super) promote: usize,
    /// When the swap proper started (after the data sync, if one was asked).
    pub(super) started: Option<f64>,
}

/// One group (site) as the referee sees it.
#[derive(Debug, Clone)]
pub(super) struct Site {
    pub(super) shape: GroupShape,
    pub(super) established: bool,
    /// External swing: the appliance the site address points at.
    pub(super) target: Option<usize>,
    pub(super) swap: Option<Swap>,
    /// A shared IP coming up since this time.
    pub(super) ip_since: Option<f64>,
}

/// The whole picture.
#[derive(Debug, Clone)]
pub(super) struct Model {
    pub(super) nodes: Vec<Node>,
    pub(super) sites: Vec<Site>,
    catalogue: Vec<PackageSpec>,
}

impl Model {
    /// The fleet as the fleet file starts it: established groups with their configured
    /// primary, which also holds the site address.
    pub(super) fn new(spec: &FleetSpec, topology: Topology) -> Self {
        let mut nodes: Vec<Node> = spec
            .appliances
            .iter()
            .zip(topology.nodes)
            .map(|(a, (group, kind))| Node {
                name: a.name.clone(),
                product: a.product,
                group,
                kind,
                version: a.version.clone(),
                base_version: a.base_version.clone(),
                activity: Activity::Idle,
                last_install: None,
                role: FailoverRole::None,
                shared_ip: false,
                health_fault: false,
                sessions: 0,
                cluster_cfg: Vec::new(),
                accepting: true,
                takes_clients: false,
                drain: None,
            })
            .collect();
        let mut sites = Vec::with_capacity(topology.groups.len());
        for shape in topology.groups {
            let first = shape.site.first().copied();
            if let Some(first) = first {
                if shape.established {
                    nodes[first].role = FailoverRole::Primary;
                    for &other in &shape.site[1..] {
                        nodes[other].role = FailoverRole::Backup;
                    }
                }
                if shape.swing == Swing::SharedIp && shape.shared_ip.is_some() {
                    nodes[first].shared_ip = true;
                }
            }
            if shape.kind == GroupKind::Cluster {
                let cfg = NodeCfg {
                    accepting: true,
                    by_operator: false,
                };
                for &m in &shape.site {
                    nodes[m].cluster_cfg = vec![cfg; shape.traffic.len()];
                }
            }
            sites.push(Site {
                established: shape.established,
                target: first,
                swap: None,
                ip_since: None,
                shape,
            });
        }
        Self {
            nodes,
            sites,
            catalogue: spec.catalogue.clone(),
        }
    }

    pub(super) fn name(&self, app: usize) -> &str {
        &self.nodes[app].name
    }

    pub(super) fn site_of(&self, app: usize) -> &Site {
        &self.sites[self.nodes[app].group]
    }

    /// The package as offered to `app` (`None`: unknown, or for the other product).
    pub(super) fn package_for(&self, app: usize, id: &str) -> Option<&PackageSpec> {
        let product = self.nodes[app].product;
        self.catalogue
            .iter()
            .find(|p| p.id == id && p.product.is_none_or(|p| p == product))
    }

    pub(super) fn package(&self, id: &str) -> Option<&PackageSpec> {
        self.catalogue.iter().find(|p| p.id == id)
    }

    pub(super) fn up(&self, app: usize) -> bool {
        self.nodes[app].activity == Activity::Idle
    }

    pub(super) fn healthy(&self, app: usize) -> bool {
        self.up(app) && !self.nodes[app].health_fault
    }

    /// The package of the install running (or rebooting) on `app`.
    pub(super) fn running_install(&self, app: usize) -> Option<&str> {
        let n = &self.nodes[app];
        match n.activity {
            Activity::Installing | Activity::Rebooting => {
                n.last_install.as_ref().map(|l| l.package.as_str())
            }
            Activity::Idle | Activity::Failed => None,
        }
    }

    pub(super) fn last_install_unfinished_or_failed(&self, app: usize) -> bool {
        self.nodes[app]
            .last_install
            .as_ref()
            .is_some_and(|l| !l.succeeded)
    }

    pub(super) fn holds_site(&self, app: usize) -> bool {
        let site = self.site_of(app);
        match (site.shape.kind, site.shape.swing) {
            (GroupKind::Single, _) => true,
            (_, Swing::SharedIp) => self.nodes[app].shared_ip,
            (_, Swing::External) => site.target == Some(app),
        }
    }

    pub(super) fn is_serving(&self, app: usize) -> bool {
        self.site_of(app).shape.site.contains(&app)
            && self.nodes[app].role != FailoverRole::Backup
            && self.holds_site(app)
            && self.up(app)
    }

    pub(super) fn serving_member(&self, g: usize) -> Option<usize> {
        self.sites[g]
            .shape
            .site
            .iter()
            .copied()
            .find(|&m| self.is_serving(m))
    }

    /// The group's primary for backups (R1): the failover primary, else the standalone
    /// member holding the site address.
    pub(super) fn group_primary(&self, g: usize) -> Option<usize> {
        let site = &self.sites[g].shape.site;
        site.iter()
            .copied()
            .find(|&m| self.nodes[m].role == FailoverRole::Primary)
            .or_else(|| {
                site.iter().copied().find(|&m| {
                    self.nodes[m].role == FailoverRole::None
                        && (site.len() == 1 || self.holds_site(m))
                })
            })
    }

    /// The master whose configuration is in force: the failover primary; the only master;
    /// with the relationship broken, the one holding the site address (else the configured
    /// primary master); none while both are backup mid-swap.
    pub(super) fn acting_master(&self, g: usize) -> Option<usize> {
        let s = &self.sites[g];
        if s.shape.kind != GroupKind::Cluster {
            return None;
        }
        let site = &s.shape.site;
        if let Some(p) = site
            .iter()
            .copied()
            .find(|&m| self.nodes[m].role == FailoverRole::Primary)
        {
            return Some(p);
        }
        if site.len() == 1 || !s.established {
            return site
                .iter()
                .copied()
                .find(|&m| self.holds_site(m))
                .or(site.first().copied());
        }
        None
    }

    /// Whether new clients reach `app`: a traffic node that is up and accepting while its
    /// site is served; a standalone appliance that is up; the serving site member.
    pub(super) fn takes_new_clients(&self, app: usize) -> bool {
        let n = &self.nodes[app];
        match n.kind {
            NodeKind::Traffic { .. } => {
                self.up(app) && n.accepting && self.serving_member(n.group).is_some()
            }
            NodeKind::Single => self.up(app),
            NodeKind::PairMember | NodeKind::Master => self.serving_member(n.group) == Some(app),
        }
    }

    /// A role change and what the appliance does with the site address: a new primary takes
    /// it (its shared IP on, the others off; or the external swing follows it), a new backup
    /// drops its shared IP.
    pub(super) fn set_role(&mut self, app: usize, role: FailoverRole) {
        self.nodes[app].role = role;
        let g = self.nodes[app].group;
        let swing = self.sites[g].shape.swing;
        match (role, swing) {
            (FailoverRole::Backup, Swing::SharedIp) => self.nodes[app].shared_ip = false,
            (FailoverRole::Primary, Swing::SharedIp) => {
                for m in self.sites[g].shape.site.clone() {
                    self.nodes[m].shared_ip = m == app;
                }
            }
            (FailoverRole::Primary, Swing::External) => self.sites[g].target = Some(app),
            _ => {}
        }
    }

    /// An install succeeded: the appliance runs the package's version.
    pub(super) fn installed(&mut self, app: usize, package: &str) {
        if let Some(p) = self.package(package).cloned() {
            let n = &mut self.nodes[app];
            match p.kind {
                PackageKind::Base => n.base_version = p.version,
                PackageKind::Product => n.version = p.version,
            }
        }
    }

    /// Applies the acting master's configuration to the traffic nodes.
    pub(super) fn refresh_cluster(&mut self, g: usize) {
        let Some(m) = self.acting_master(g) else {
            return;
        };
        for (i, node) in self.sites[g].shape.traffic.clone().into_iter().enumerate() {
            let accepting = self.nodes[m].cluster_cfg.get(i).is_none_or(|c| c.accepting);
            self.nodes[node].accepting = accepting;
        }
    }

    /// A successful sync copies the acting master's configuration to the other master.
    pub(super) fn copy_cluster_config(&mut self, g: usize) {
        let Some(m) = self.acting_master(g) else {
            return;
        };
        let cfg = self.nodes[m].cluster_cfg.clone();
        for other in self.sites[g].shape.site.clone() {
            if other != m {
                self.nodes[other].cluster_cfg.clone_from(&cfg);
            }
        }
    }
}
