//! Observes an Atlas cluster: each master like a pair member, and every traffic node through
//! the acting primary master's cluster view (one request, whatever the number of nodes).

use std::collections::BTreeMap;

use baton_crds::atlas::{AtlasClusterSpec, RegionStatus};

use crate::appliance::{ClusterNode, Version};
use crate::members::Connected;
use crate::pair::observe::{self, Observation, Seen, Unseen};

/// What one reconcile saw of the cluster.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// The primary master from spec first, then the backup master if any.
    pub masters: Vec<Observation>,
    /// Index into `masters` of the acting primary master, if one acts.
    pub acting: Option<usize>,
    /// Traffic nodes by name, as the acting master reports them.
    pub nodes: Result<BTreeMap<String, ClusterNode>, Unseen>,
}

impl ClusterView {
    /// The acting master's observation.
    pub fn acting_seen(&self) -> Option<&Seen> {
        self.masters.get(self.acting?)?.seen.as_ref().ok()
    }

    /// A master's observation by name.
    pub fn master(&self, name: &str) -> Option<&Observation> {
        self.masters.iter().find(|o| o.name == name)
    }
}

/// Observes masters and nodes.
pub async fn observe_cluster(masters: &[Connected]) -> ClusterView {
    let seen = futures::future::join_all(masters.iter().map(observe::observe)).await;
    // The acting master: the failover primary, else the only master or the one holding the
    // site address (no relationship).
    let acting = seen
        .iter()
        .position(|o| o.seen.as_ref().is_ok_and(Seen::is_established_primary))
        .or_else(|| {
            seen.iter()
                .position(|o| o.seen.as_ref().is_ok_and(Seen::holds_site_address))
        })
        .or_else(|| (seen.len() == 1 && seen[0].seen.is_ok()).then_some(0));
    let nodes = match acting {
        Some(i) => masters[i]
            .appliance
            .cluster()
            .await
            .map(|c| c.nodes.into_iter().map(|n| (n.name.clone(), n)).collect())
            .map_err(|e| observe::unseen(&e)),
        None => Err(Unseen {
            reason: baton_crds::conditions::reasons::UNREACHABLE,
            message: "no master acts as primary right now".into(),
            transient: true,
        }),
    };
    ClusterView {
        masters: seen,
        acting,
        nodes,
    }
}

/// Per-region counts: readable at 500 nodes where a row per node would not be.
pub fn regions(
    spec: &AtlasClusterSpec,
    nodes: &BTreeMap<String, ClusterNode>,
    target: &Version,
) -> Vec<RegionStatus> {
    let mut regions: BTreeMap<String, RegionStatus> = BTreeMap::new();
    for n in &spec.traffic_nodes {
        let region = n.region.clone().unwrap_or_default();
        let r = regions
            .entry(region.clone())
            .or_insert_with(|| RegionStatus {
                name: region,
                ..RegionStatus::default()
            });
        r.total += 1;
        if let Some(seen) = nodes.get(&n.name) {
            if seen.accepting_connections {
                r.serving += 1;
            } else {
                r.drained += 1;
            }
            if seen.product_version.as_ref() == Some(target) {
                r.upgraded += 1;
            }
        }
    }
    regions.into_values().collect()
}
