//! The shape a fleet file describes: which appliances form which group (a failover pair, an
//! Atlas cluster, or a standalone appliance as a group of one), which of them can serve the
//! site address, the traffic nodes and their regions.
//!
//! The world is built from it and the referee reads it on its own, so both number things the
//! same way, and the event log relies on it: appliances by their position in the fleet file,
//! groups as the pairs, then the clusters, then the standalone appliances in file order.

use std::collections::BTreeMap;

use super::{FleetSpec, Strategy, Swing, effective_swing};
use crate::error::SimError;

/// What kind of site a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupKind {
    Single,
    Pair,
    Cluster,
}

impl GroupKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Single => "standalone",
            Self::Pair => "pair",
            Self::Cluster => "cluster",
        }
    }
}

/// Where an appliance sits in its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Single,
    PairMember,
    Master,
    Traffic { region: String },
}

/// One group as the fleet file describes it.
#[derive(Debug, Clone)]
pub(crate) struct GroupShape {
    pub(crate) name: String,
    pub(crate) kind: GroupKind,
    /// Appliances that can serve the site address: the pair members, or the masters (the
    /// configured primary first).
    pub(crate) site: Vec<usize>,
    /// Traffic nodes (clusters), in configuration order.
    pub(crate) traffic: Vec<usize>,
    /// Every appliance of the group.
    pub(crate) members: Vec<usize>,
    /// Region -> traffic indexes.
    pub(crate) regions: BTreeMap<String, Vec<usize>>,
    pub(crate) shared_ip: Option<String>,
    pub(crate) strategy: Strategy,
    pub(crate) swing: Swing,
    /// Whether the failover relationship is established at start.
    pub(crate) established: bool,
}

impl GroupShape {
    fn new(name: &str, kind: GroupKind, site: Vec<usize>, shared_ip: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            members: site.clone(),
            site,
            traffic: Vec::new(),
            regions: BTreeMap::new(),
            swing: effective_swing(None, shared_ip.as_deref()),
            shared_ip,
            strategy: Strategy::Asynchronous,
            established: false,
        }
    }

    /// The failover partner of `app`, whether or not the relationship is established.
    pub(crate) fn partner(&self, app: usize) -> Option<usize> {
        if self.site.len() == 2 && self.site.contains(&app) {
            self.site.iter().copied().find(|&m| m != app)
        } else {
            None
        }
    }
}

/// Every group, and each appliance's place.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    pub(crate) groups: Vec<GroupShape>,
    /// Per appliance (fleet-file order): its group and its kind.
    pub(crate) nodes: Vec<(usize, NodeKind)>,
}

impl Topology {
    /// The shape of a fleet file (validated or not: unknown names are errors).
    pub(crate) fn of(spec: &FleetSpec) -> Result<Self, SimError> {
        let idx = |name: &str| {
            spec.appliances
                .iter()
                .position(|a| a.name == name)
                .ok_or_else(|| SimError::UnknownAppliance(name.to_owned()))
        };
        let mut kinds = vec![NodeKind::Single; spec.appliances.len()];
        let mut groups = Vec::new();
        for p in &spec.pairs {
            let (a, b) = (idx(&p.primary)?, idx(&p.backup)?);
            let mut g = GroupShape::new(&p.name, GroupKind::Pair, vec![a, b], p.shared_ip.clone());
            g.strategy = p.strategy;
            g.swing = effective_swing(p.swing, p.shared_ip.as_deref());
            g.established = p.established;
            groups.push(g);
            kinds[a] = NodeKind::PairMember;
            kinds[b] = NodeKind::PairMember;
        }
        for c in &spec.clusters {
            let mut site = vec![idx(&c.primary_master)?];
            if let Some(b) = &c.backup_master {
                site.push(idx(b)?);
            }
            let mut g = GroupShape::new(
                &c.name,
                GroupKind::Cluster,
                site.clone(),
                c.shared_ip.clone(),
            );
            g.strategy = c.strategy;
            g.swing = effective_swing(c.swing, c.shared_ip.as_deref());
            g.established = site.len() == 2;
            for (ti, t) in c.traffic_nodes.iter().enumerate() {
                let n = idx(&t.appliance)?;
                g.traffic.push(n);
                g.members.push(n);
                g.regions.entry(t.region.clone()).or_default().push(ti);
                kinds[n] = NodeKind::Traffic {
                    region: t.region.clone(),
                };
            }
            for &m in &site {
                kinds[m] = NodeKind::Master;
            }
            groups.push(g);
        }
        for (i, a) in spec.appliances.iter().enumerate() {
            if kinds[i] == NodeKind::Single {
                groups.push(GroupShape::new(&a.name, GroupKind::Single, vec![i], None));
            }
        }
        let mut group_of = vec![usize::MAX; spec.appliances.len()];
        for (gi, g) in groups.iter().enumerate() {
            for &m in &g.members {
                group_of[m] = gi;
            }
        }
        Ok(Self {
            groups,
            nodes: group_of.into_iter().zip(kinds).collect(),
        })
    }
}
