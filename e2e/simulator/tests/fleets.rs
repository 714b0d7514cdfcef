//! The example fleets parse, and the demo needs the hops it is meant to show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use anyhow::Result;
use baton_sim::FleetSpec;
use common::Sim;
use serde_json::Value;

#[tokio::test]
async fn the_demo_fleet_offers_the_prerequisite_and_the_intermediate_hop() -> Result<()> {
    let yaml = include_str!("../fleets/demo.yaml");
    let spec = FleetSpec::from_yaml(yaml)?;
    assert_eq!(spec.pairs.len(), 1);
    let cluster = &spec.clusters[0];
    let mut regions = std::collections::BTreeMap::<&str, usize>::new();
    for n in &cluster.traffic_nodes {
        *regions.entry(n.region.as_str()).or_default() += 1;
    }
    let mut sizes: Vec<usize> = regions.values().copied().collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 2, 3]);

    let sim = Sim::start(yaml).await?;
    for (app, expected) in [
        (
            "rs-a",
            [
                "base-5.1.0",
                "base-5.2.0",
                "product-24.1.0",
                "product-24.3.2",
            ],
        ),
        (
            "pra-m1",
            ["base-5.1.0", "base-5.2.0", "pra-24.1.0", "pra-24.3.2"],
        ),
    ] {
        let t = sim.token(app).await?;
        let (_, list) = sim.get(app, &t, "/packages").await?;
        let mut ids: Vec<&str> = list["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["id"].as_str())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, expected, "{app}");
        let installable: Vec<&Value> = list["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["installable"] == true)
            .collect();
        assert_eq!(installable.len(), 1, "only base-5.1.0 at first on {app}");
    }
    Ok(())
}
