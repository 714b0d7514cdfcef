//! set_failover_role: data_sync_first, an injected sync failure, the serial swap, duplicates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use anyhow::Result;
use baton_sim::{FailoverRole, Fault};
use common::{CATALOGUE, Sim};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PAIR: &str = r#"
seed: 13
time_scale: 3600
rate_limit: { per_second: 500 }
appliances:
  - { name: rs-a, product: rs, version: 23.3.1, base_version: 5.0.0 }
  - { name: rs-b, product: rs, version: 23.3.1, base_version: 5.0.0 }
pairs:
  - { name: site1, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10 }
timings: { sync_s: [60, 60], swap_s: 5 }
"#;

async fn v2_role(sim: &Sim, name: &str, body: Value) -> Result<(StatusCode, Value)> {
    let c = sim.conn(name)?;
    let r = sim
        .http
        .post(format!("{}/api/command/v2/failover-role", c.endpoint))
        .bearer_auth(sim.token(name).await?)
        .json(&body)
        .send()
        .await?;
    Ok((r.status(), r.json().await?))
}

#[tokio::test]
async fn data_sync_first_swaps_serially_after_the_sync_and_not_when_it_fails() -> Result<()> {
    let sim = Sim::start(&format!("{PAIR}{CATALOGUE}")).await?;
    sim.fleet.inject(Fault::FailNextSync {
        appliance: "rs-a".into(),
    })?;
    let (st, e) = v2_role(
        &sim,
        "rs-a",
        json!({ "role": "backup", "data_sync_first": true }),
    )
    .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("sync_failed"))
    );
    assert_eq!(
        sim.fleet.appliance_state("rs-a").unwrap().failover_role,
        FailoverRole::Primary
    );

    let (st, v) = v2_role(
        &sim,
        "rs-a",
        json!({ "role": "backup", "data_sync_first": true }),
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let a = sim.fleet.appliance_state("rs-a").unwrap();
    let b = sim.fleet.appliance_state("rs-b").unwrap();
    assert_eq!(
        (a.failover_role, a.shared_ip_enabled),
        (FailoverRole::Backup, false)
    );
    assert_eq!(
        (b.failover_role, b.shared_ip_enabled, b.serving),
        (FailoverRole::Primary, true, true)
    );

    let report = sim.fleet.report();
    let syncs: Vec<_> = report
        .syncs
        .iter()
        .filter(|s| s.kind == "data_sync_first")
        .collect();
    assert_eq!(
        syncs.iter().map(|s| s.succeeded).collect::<Vec<_>>(),
        [Some(false), Some(true)]
    );
    // Serial: demoted after the 60 s sync, promoted 5 s later; down for exactly the swap.
    let swap = report.swaps.last().unwrap();
    assert_eq!(
        (swap.appliance.as_str(), swap.kind.as_str()),
        ("rs-b", "role")
    );
    assert!((swap.duration_s - 5.0).abs() < 1e-9);
    assert!((swap.started_at_s - syncs[1].finished_at_s.unwrap()).abs() < 1e-9);
    let site = report.site("site1").unwrap();
    assert!((site.downtime_s - 5.0).abs() < 1e-6, "{site:?}");
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    // Asking again for a role it has changes nothing and is counted.
    let t = sim.token("rs-b").await?;
    let (st, doc) = sim
        .xml("rs-b", &t, "action=set_failover_role&role=primary")
        .await?;
    assert_eq!(st, StatusCode::OK, "{doc}");
    assert_eq!(sim.fleet.report().duplicate_requests, 1);
    Ok(())
}
