//! Observes an Atlas cluster for one pass: each master like a pair member, every traffic node
//! through the acting master's cluster view (one request, whatever the number of nodes), then
//! what the current step needs, then the packages to plan from when an upgrade is due.

use std::collections::BTreeMap;

use baton_crds::AtlasCluster;
use baton_crds::AtlasClusterStatus;
use baton_crds::atlas::{AtlasClusterSpec, NodeAttention, RegionStatus};
use baton_crds::conditions::reasons;

use crate::drive::observe::{self, unseen};
use crate::members::Connected;
use crate::upgrade::observed::{MemberView, NodeView, Observed, Unseen};
use crate::upgrade::version::Version;

/// At most this many nodes are listed as needing attention; status stays small at 500 nodes.
pub const MAX_ATTENTION: usize = 50;

/// Observes the masters and the nodes; updates the masters table, primary, regions and
/// versions in `status`. The current step's needs are read by the caller.
pub async fn observe_cluster(
    cluster: &AtlasCluster,
    masters: &[Connected],
    status: &mut AtlasClusterStatus,
) -> Observed {
    let seen = futures::future::join_all(masters.iter().map(observe::member)).await;
    let (members, rows): (Vec<MemberView>, Vec<_>) = seen.into_iter().unzip();
    status.masters = rows;
    // The acting master: the failover primary, else the one holding the site address (no
    // relationship), else the only master.
    let ok = |m: &MemberView, f: fn(&crate::upgrade::observed::Seen) -> bool| {
        m.seen.as_ref().is_ok_and(f)
    };
    let acting = members
        .iter()
        .position(|m| ok(m, |s| s.is_established_primary()))
        .or_else(|| members.iter().position(|m| ok(m, |s| s.holds_site_address)))
        .or_else(|| (members.len() == 1 && members[0].seen.is_ok()).then_some(0));
    let nodes = match acting {
        Some(i) => masters[i]
            .appliance
            .cluster()
            .await
            .map(|c| {
                c.nodes
                    .into_iter()
                    .map(|n| {
                        let view = NodeView {
                            name: n.name.clone(),
                            appliance_id: n.appliance_id,
                            region: n.region,
                            accepting: n.accepting_connections,
                            clients: n.connected_clients,
                            version: n.product_version,
                        };
                        (n.name, view)
                    })
                    .collect()
            })
            .map_err(|e| unseen(&e)),
        None => Err(Unseen::transient(
            reasons::UNREACHABLE,
            "no master acts as primary right now",
        )),
    };
    if let Some(i) = acting {
        status.primary = Some(members[i].name.clone());
    }
    let observed = Observed {
        members,
        acting,
        nodes: Some(nodes),
        ..Observed::default()
    };
    summarize(cluster, &observed, status);
    observed
}

/// Versions, regions and the nodes needing attention, from what was observed.
fn summarize(cluster: &AtlasCluster, observed: &Observed, status: &mut AtlasClusterStatus) {
    let target: Option<Version> = cluster.spec.version.parse().ok();
    let mut versions: Vec<Version> = observed
        .members
        .iter()
        .filter_map(|m| m.seen.as_ref().ok().map(|s| s.version.clone()))
        .collect();
    let mut attention = Vec::new();
    if let Some(Ok(nodes)) = &observed.nodes {
        if let Some(t) = &target {
            status.regions = regions(&cluster.spec, nodes, t);
        }
        for n in &cluster.spec.traffic_nodes {
            match nodes.get(&n.name).and_then(|c| c.version.clone()) {
                Some(v) => versions.push(v),
                None => attention.push(NodeAttention {
                    name: n.name.clone(),
                    reason: reasons::INVALID_SPEC.into(),
                    message: "not in the cluster the primary master reports".into(),
                }),
            }
        }
    }
    status.current_version = versions.iter().min().map(ToString::to_string);
    status.target_version = Some(cluster.spec.version.clone());
    if let Some(upgrade) = &status.upgrade {
        attention.extend(super::reconcile::cut_sessions(&upgrade.plan));
        status.current_batch = super::reconcile::current_batch(upgrade);
        let states: Vec<(i32, String)> = status
            .batches
            .iter()
            .map(|b| (b.number, super::reconcile::batch_state(upgrade, b.number)))
            .collect();
        for (b, (_, state)) in status.batches.iter_mut().zip(states) {
            b.state = state;
        }
    }
    attention.truncate(MAX_ATTENTION);
    status.attention = attention;
}

/// Whether an upgrade is due: masters and nodes answered and one is not on the target.
pub fn needs_plan(cluster: &AtlasCluster, observed: &Observed) -> bool {
    let Ok(target) = cluster.spec.version.parse::<Version>() else {
        return false;
    };
    let Some(Ok(nodes)) = &observed.nodes else {
        return false;
    };
    let masters_off = observed
        .members
        .iter()
        .any(|m| m.seen.as_ref().is_ok_and(|s| s.version != target));
    let nodes_off = cluster
        .spec
        .traffic_nodes
        .iter()
        .any(|n| nodes.get(&n.name).and_then(|v| v.version.as_ref()) != Some(&target));
    observed.acting.is_some() && (masters_off || nodes_off)
}

/// Per-region counts: readable at 500 nodes where a row per node would not be.
pub fn regions(
    spec: &AtlasClusterSpec,
    nodes: &BTreeMap<String, NodeView>,
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
            if seen.accepting {
                r.serving += 1;
            } else {
                r.drained += 1;
            }
            if seen.version.as_ref() == Some(target) {
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
