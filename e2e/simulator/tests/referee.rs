//! The referee judges what the appliances see: each invariant check fires on the mistake it
//! names, and a correct manual walk of the asynchronous pair procedure is judged clean.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

// The tests, by kind of site; their files live in `referee/`.
#[path = "referee/cluster.rs"]
mod cluster;
#[path = "referee/pair.rs"]
mod pair;

use anyhow::{Context, Result};
use common::{CATALOGUE, Sim, xml_text};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn pair(clients: &str) -> String {
    format!(
        r#"
seed: 11
time_scale: 3600
rate_limit: {{ per_second: 500 }}
{CATALOGUE}
appliances:
  - {{ name: rs-a, product: rs, version: 23.3.1, base_version: 5.0.0{clients} }}
  - {{ name: rs-b, product: rs, version: 23.3.1, base_version: 5.0.0 }}
pairs:
  - {{ name: site1, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10, strategy: asynchronous, swing: sharedIp }}
timings: {{ reboot_s: 120, sync_s: [30, 60], swap_s: 5, shared_ip_s: 2 }}
"#
    )
}

/// Backup from the primary, Sync Now and wait for it: the preparation I5 asks for.
async fn backup_and_sync(sim: &Sim, primary: &str, token: &str, cluster: bool) -> Result<()> {
    let c = sim.conn(primary)?;
    let r = sim
        .http
        .get(format!("{}/api/backup", c.endpoint))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let path = if cluster {
        "/cluster/sync"
    } else {
        "/failover/sync"
    };
    let (st, _) = sim.post(primary, token, path, Value::Null).await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (_, sync) = sim
        .get(primary, token, &format!("{path}?wait_s=10"))
        .await?;
    assert_eq!(sync["state"], "succeeded", "{sync}");
    Ok(())
}

async fn connected_clients(sim: &Sim, name: &str, token: &str) -> Result<u64> {
    let (_, doc) = sim
        .xml(
            name,
            token,
            "action=get_connected_client_list&summary_only=1",
        )
        .await?;
    let mut total = 0;
    let mut rest = doc.as_str();
    while let Some(i) = rest.find("<count type=") {
        rest = &rest[i..];
        let text = xml_text(rest, "count").context("count")?;
        total += text.parse::<u64>()?;
        rest = &rest[1..];
    }
    Ok(total)
}

fn cluster(backup_master: bool) -> String {
    let bm = if backup_master {
        "backup_master: m2, "
    } else {
        ""
    };
    format!(
        r#"
seed: 21
time_scale: 3600
rate_limit: {{ per_second: 500 }}
{CATALOGUE}
appliances:
  - {{ name: m1, product: pra, version: 23.3.1, base_version: 5.0.0 }}
  - {{ name: m2, product: pra, version: 23.3.1, base_version: 5.0.0 }}
  - {{ name: t1, product: pra, version: 23.3.1, base_version: 5.0.0, clients: {{ arrival_per_min: 30.0, session_min: [30, 60] }} }}
  - {{ name: t2, product: pra, version: 23.3.1, base_version: 5.0.0, clients: {{ arrival_per_min: 30.0, session_min: [30, 60] }} }}
  - {{ name: t3, product: pra, version: 23.3.1, base_version: 5.0.0 }}
  - {{ name: t4, product: pra, version: 23.3.1, base_version: 5.0.0 }}
clusters:
  - {{ name: atlas1, primary_master: m1, {bm}shared_ip: 10.0.1.10, traffic_nodes: [{{ appliance: t1, region: eu }}, {{ appliance: t2, region: eu }}, {{ appliance: t3, region: us }}, {{ appliance: t4, region: us }}] }}
timings: {{ distribute_s: [10, 20] }}
"#
    )
}

async fn distribute(sim: &Sim, master: &str, token: &str, package: &str) -> Result<()> {
    let (st, _) = sim
        .post(
            master,
            token,
            "/cluster/distribute",
            json!({ "package_id": package }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (_, d) = sim
        .get(master, token, "/cluster/distribute?wait_s=10")
        .await?;
    assert_eq!(d["state"], "succeeded", "{d}");
    Ok(())
}
