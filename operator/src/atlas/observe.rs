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

#[cfg(test)]
mod tests {
    use baton_crds::atlas::SingleNodeRegions;
    use baton_crds::atlas::{AtlasClusterStatus, BatchStatus};
    use baton_crds::status::UpgradeStatus;

    use crate::appliance::Version;
    use crate::upgrade::atlas_plan::{AtlasPlanInput, atlas_plan};
    use crate::upgrade::batches::{Node, batches};
    use crate::upgrade::hops::{Round, RoundPackage};

    /// What the controller writes for 500 traffic nodes stays far below etcd's object limit
    /// (1.5 MiB) and readable: counts per region, not a row per node.
    #[test]
    fn status_stays_small_at_500_nodes() -> Result<(), serde_json::Error> {
        let names: Vec<(String, String)> = (0..500)
            .map(|i| (format!("traffic-node-{i:03}"), format!("region-{}", i % 5)))
            .collect();
        let nodes: Vec<Node<'_>> = names
            .iter()
            .map(|(n, r)| Node { name: n, region: r })
            .collect();
        let chosen = batches(&nodes, 0.5, SingleNodeRegions::SecondBatch);
        assert_eq!(chosen[0].len(), 250);
        let round = |v: &str| Round {
            product: v.parse().unwrap_or_else(|_| Version::new(vec![0])),
            packages: vec![
                RoundPackage {
                    id: format!("base-for-{v}"),
                    base: true,
                },
                RoundPackage {
                    id: format!("product-{v}"),
                    base: false,
                },
            ],
        };
        let rounds = [round("24.1.0"), round("24.3.2")];
        let plan = atlas_plan(&AtlasPlanInput {
            primary: "master-a",
            backup: Some("master-b"),
            rounds: &rounds,
            gates: &[],
        });
        let status = AtlasClusterStatus {
            regions: (0..5)
                .map(|r| baton_crds::atlas::RegionStatus {
                    name: format!("region-{r}"),
                    total: 100,
                    serving: 50,
                    drained: 50,
                    upgraded: 50,
                })
                .collect(),
            batches: chosen
                .iter()
                .enumerate()
                .map(|(i, n)| BatchStatus {
                    number: i as i32 + 1,
                    state: "Installing".into(),
                    nodes: n.clone(),
                })
                .collect(),
            upgrade: Some(UpgradeStatus {
                id: "u-123456".into(),
                plan,
                ..UpgradeStatus::default()
            }),
            ..AtlasClusterStatus::default()
        };
        let size = serde_json::to_vec(&status)?.len();
        assert!(
            size < 64 * 1024,
            "status of a 500-node cluster is {size} bytes"
        );
        println!("status of a 500-node cluster mid-upgrade: {size} bytes");
        Ok(())
    }
}
