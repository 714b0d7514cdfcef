//! The referee judges what the appliances see: each invariant check fires on the mistake it
//! names, and a correct manual walk of the asynchronous pair procedure is judged clean.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use anyhow::{Context, Result};
use baton_sim::{DrainOutcome, FailoverRole};
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

#[tokio::test]
async fn establish_refuses_mismatched_versions_and_the_referee_flags_i7() -> Result<()> {
    let sim = Sim::start(&format!(
        r#"
time_scale: 3600
{CATALOGUE}
appliances:
  - {{ name: rs-c, product: rs, version: 24.1.0, base_version: 5.1.0 }}
  - {{ name: rs-d, product: rs, version: 23.3.1, base_version: 5.1.0 }}
pairs:
  - {{ name: site2, primary: rs-c, backup: rs-d, shared_ip: 10.0.0.20, established: false }}
"#
    ))
    .await?;
    let t = sim.token("rs-c").await?;
    let peer = sim.conn("rs-d")?.endpoint;
    let (st, e) = sim
        .post(
            "rs-c",
            &t,
            "/failover/establish",
            json!({ "peer_address": peer }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("version_mismatch"))
    );
    let report = sim.fleet.report();
    assert_eq!(
        report.violations_of("I7").count(),
        1,
        "{:?}",
        report.violations
    );
    assert_eq!(
        sim.fleet.appliance_state("rs-c").unwrap().failover_role,
        FailoverRole::None
    );

    // The site address is never a peer address.
    let (st, e) = sim
        .post(
            "rs-c",
            &t,
            "/failover/establish",
            json!({ "peer_address": "10.0.0.20" }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    Ok(())
}

#[tokio::test]
async fn installing_the_serving_primary_first_under_asynchronous_is_i4() -> Result<()> {
    let sim = Sim::start(&pair("")).await?;
    let t = sim.token("rs-a").await?;
    backup_and_sync(&sim, "rs-a", &t, false).await?;
    let (st, _) = sim.post("rs-a", &t, "/failover/break", Value::Null).await?;
    assert_eq!(st, StatusCode::OK);
    sim.install("rs-a", &t, "base-5.1.0").await?;
    let report = sim.fleet.report();
    let i4: Vec<_> = report.violations_of("I4").collect();
    assert_eq!(i4.len(), 1, "{:?}", report.violations);
    assert_eq!(i4[0].appliance.as_deref(), Some("rs-a"));
    assert_eq!(
        report.violations.len(),
        1,
        "only I4: {:?}",
        report.violations
    );
    // The primary installing is downtime: nobody else held the site address.
    assert!(report.site("site1").unwrap().downtime_s >= 600.0);
    Ok(())
}

#[tokio::test]
async fn installing_without_backup_and_sync_is_i5_and_promoting_a_failed_install_is_i4()
-> Result<()> {
    let sim = Sim::start(&pair("")).await?;
    let ta = sim.token("rs-a").await?;
    let tb = sim.token("rs-b").await?;
    sim.post("rs-a", &ta, "/failover/break", Value::Null)
        .await?;
    sim.fleet.inject(baton_sim::Fault::FailNextInstall {
        appliance: "rs-b".into(),
        package_kind: None,
        message: None,
    })?;
    let done = sim.install("rs-b", &tb, "base-5.1.0").await?;
    assert_eq!(done["state"], "failed");
    let report = sim.fleet.report();
    assert_eq!(
        report.violations_of("I5").count(),
        1,
        "{:?}",
        report.violations
    );

    // Another member may not install while the failed base install waits for a person.
    sim.post("rs-a", &ta, "/packages/base-5.1.0/stage", Value::Null)
        .await?;
    sim.post(
        "rs-a",
        &ta,
        "/installs",
        json!({ "package_id": "base-5.1.0" }),
    )
    .await?;
    assert_eq!(sim.fleet.report().violations_of("I6").count(), 1);

    // Promoting the failed appliance.
    sim.fleet.clear_faults("rs-b")?;
    sim.put("rs-b", &tb, "/shared-ips", json!({ "enabled": true }))
        .await?;
    let report = sim.fleet.report();
    assert_eq!(
        report.violations_of("I4").count(),
        1,
        "{:?}",
        report.violations
    );
    // ...while rs-a still holds the shared IP: two holders at once.
    assert_eq!(
        report.violations_of("I1").count(),
        1,
        "{:?}",
        report.violations
    );
    Ok(())
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

#[tokio::test]
async fn traffic_nodes_with_clients_i3_override_and_i2() -> Result<()> {
    let sim = Sim::start(&cluster(false)).await?;
    let t = sim.token("m1").await?;
    backup_and_sync(&sim, "m1", &t, true).await?;
    distribute(&sim, "m1", &t, "base-5.1.0").await?;
    sim.eventually(Duration::from_secs(5), "clients on t1 and t2", || async {
        let c1 = sim.fleet.appliance_state("t1").unwrap().connected_clients;
        let c2 = sim.fleet.appliance_state("t2").unwrap().connected_clients;
        Ok(c1 > 0 && c2 > 0)
    })
    .await?;

    // Installing t1 without draining it cuts its sessions: I3 and dropped sessions.
    let t1 = sim.token("t1").await?;
    let (st, _) = sim
        .post(
            "t1",
            &t1,
            "/installs",
            json!({ "package_id": "base-5.1.0" }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let report = sim.fleet.report();
    assert_eq!(
        report.violations_of("I3").count(),
        1,
        "{:?}",
        report.violations
    );
    assert!(report.dropped_sessions > 0);
    assert_eq!(
        report.dropped_by_appliance.get("t1").copied(),
        Some(report.dropped_sessions)
    );

    // With the drain policy's override the cut is recorded, not judged.
    let t2 = sim.token("t2").await?;
    let (st, _) = sim
        .post(
            "t2",
            &t2,
            "/installs",
            json!({ "package_id": "base-5.1.0", "allow_connected_clients": true }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let after = sim.fleet.report();
    assert_eq!(after.violations_of("I3").count(), 1);
    assert!(after.sessions_cut_by_override > 0);
    assert_eq!(after.dropped_sessions, report.dropped_sessions);

    // I2: both us nodes taken out of accepting by operator requests.
    let id3 = sim.id("t3")?;
    let id4 = sim.id("t4")?;
    let (st, node) = sim
        .put(
            "m1",
            &t,
            &format!("/cluster/nodes/{id3}/accepting"),
            json!({ "accepting": false }),
        )
        .await?;
    assert_eq!(
        (st, node["accepting_connections"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(
        sim.fleet.report().violations_of("I2").count(),
        0,
        "one of two is allowed"
    );
    sim.put(
        "m1",
        &t,
        &format!("/cluster/nodes/{id4}/accepting"),
        json!({ "accepting": false }),
    )
    .await?;
    assert_eq!(sim.fleet.report().violations_of("I2").count(), 1);
    // Only the primary master changes the configuration.
    let (st, e) = sim
        .put(
            "t3",
            &sim.token("t3").await?,
            &format!("/cluster/nodes/{id3}/accepting"),
            json!({ "accepting": true }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_master"))
    );
    Ok(())
}

#[tokio::test]
async fn a_master_install_flips_every_node_to_not_accepting_in_its_configuration() -> Result<()> {
    let sim = Sim::start(&cluster(true)).await?;
    let t1m = sim.token("m1").await?;
    let t2m = sim.token("m2").await?;
    backup_and_sync(&sim, "m1", &t1m, true).await?;
    distribute(&sim, "m1", &t1m, "base-5.1.0").await?;
    distribute(&sim, "m1", &t1m, "product-24.1.0").await?;

    // The backup master installs: its own configuration flips, the acting one does not.
    let (st, inst) = sim
        .post(
            "m2",
            &t2m,
            "/installs",
            json!({ "package_id": "base-5.1.0" }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (_, view) = sim.get("m2", &t2m, "/cluster").await?;
    assert_eq!(view["role"], "backup_master");
    let traffic: Vec<&Value> = view["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "traffic")
        .collect();
    assert_eq!(traffic.len(), 4);
    assert!(
        traffic.iter().all(|n| n["accepting_connections"] == false),
        "{view}"
    );
    assert!(
        sim.fleet
            .appliance_state("t1")
            .unwrap()
            .accepting_connections
    );
    let (_, doc) = sim.xml("m1", &t1m, "action=get_appliances").await?;
    assert_eq!(
        doc.matches("<accepting_connections>1</accepting_connections>")
            .count(),
        6
    );
    let done = sim.wait_install("m2", inst["id"].as_str().unwrap()).await?;
    assert_eq!(done["state"], "succeeded");
    let t2m = sim.token("m2").await?;
    let (st, inst) = sim
        .post(
            "m2",
            &t2m,
            "/installs",
            json!({ "package_id": "product-24.1.0" }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = sim.wait_install("m2", inst["id"].as_str().unwrap()).await?;
    assert_eq!(done["state"], "succeeded");

    // The planned failover step: m1 becomes backup by force (the peer runs another
    // version), m2 becomes primary; m2's configuration is now in force.
    let t2m = sim.token("m2").await?;
    let (st, doc) = sim
        .xml("m1", &t1m, "action=set_failover_role&role=backup&force=0")
        .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{doc}");
    let (st, doc) = sim
        .xml("m1", &t1m, "action=set_failover_role&role=backup&force=1")
        .await?;
    assert_eq!(st, StatusCode::OK, "{doc}");
    let (st, doc) = sim
        .xml("m2", &t2m, "action=set_failover_role&role=primary")
        .await?;
    assert_eq!(st, StatusCode::OK, "{doc}");
    assert!(doc.contains("<success"));
    for n in ["t1", "t2", "t3", "t4"] {
        assert!(
            !sim.fleet.appliance_state(n).unwrap().accepting_connections,
            "{n}"
        );
    }
    assert_eq!(
        sim.fleet.appliance_state("m2").unwrap().failover_role,
        FailoverRole::Primary
    );
    let (st, _) = sim
        .put(
            "m2",
            &t2m,
            &format!("/cluster/nodes/{}/accepting", sim.id("t1")?),
            json!({ "accepting": true }),
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert!(
        sim.fleet
            .appliance_state("t1")
            .unwrap()
            .accepting_connections
    );
    let (st, e) = sim
        .put(
            "m1",
            &t1m,
            &format!("/cluster/nodes/{}/accepting", sim.id("t2")?),
            json!({ "accepting": true }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_master"))
    );

    let report = sim.fleet.report();
    assert_eq!(
        report.violations_of("I2").count(),
        0,
        "the automatic flip is not an operator request"
    );
    assert!(report.site("atlas1").unwrap().swap_floor_s >= 5.0);
    Ok(())
}

/// procedures.md §3 by hand: backup + sync, break, upgrade B, swing the shared IP, let A
/// drain, upgrade A, re-establish from B.
#[tokio::test]
async fn a_correct_asynchronous_walk_is_judged_clean() -> Result<()> {
    let sim = Sim::start(&pair(
        ", clients: { arrival_per_min: 6.0, session_min: [2, 10] }",
    ))
    .await?;
    let ta = sim.token("rs-a").await?;
    sim.eventually(Duration::from_secs(5), "site clients on rs-a", || async {
        Ok(connected_clients(&sim, "rs-a", &ta).await? > 0)
    })
    .await?;

    backup_and_sync(&sim, "rs-a", &ta, false).await?;
    let (st, f) = sim
        .post("rs-a", &ta, "/failover/break", Value::Null)
        .await?;
    assert_eq!(
        (st, f["relationship"].as_str()),
        (StatusCode::OK, Some("none"))
    );

    for p in ["base-5.1.0", "product-24.1.0", "product-24.2.0"] {
        let tb = sim.token("rs-b").await?;
        assert_eq!(
            sim.install("rs-b", &tb, p).await?["state"],
            "succeeded",
            "{p} on rs-b"
        );
    }
    let tb = sim.token("rs-b").await?;
    let (_, doc) = sim.xml("rs-b", &tb, "action=check_health").await?;
    assert!(doc.contains("<success>1</success>") && doc.contains("24.2.0 ("));

    // Swing: the shared IP off on A, on on B.
    let (st, f) = sim
        .put("rs-a", &ta, "/shared-ips", json!({ "enabled": false }))
        .await?;
    assert_eq!(
        (st, &f["shared_ips"][0]["enabled"]),
        (StatusCode::OK, &json!(false))
    );
    let (st, f) = sim
        .put("rs-b", &tb, "/shared-ips", json!({ "enabled": true }))
        .await?;
    assert_eq!(
        (st, &f["shared_ips"][0]["enabled"]),
        (StatusCode::OK, &json!(true))
    );

    // Drain: A keeps its sessions until they end; new ones go to B.
    sim.eventually(Duration::from_secs(10), "rs-a drained", || async {
        Ok(connected_clients(&sim, "rs-a", &ta).await? == 0)
    })
    .await?;
    for p in ["base-5.1.0", "product-24.1.0", "product-24.2.0"] {
        let ta = sim.token("rs-a").await?;
        assert_eq!(
            sim.install("rs-a", &ta, p).await?["state"],
            "succeeded",
            "{p} on rs-a"
        );
    }
    let tb = sim.token("rs-b").await?;
    let (st, f) = sim
        .post(
            "rs-b",
            &tb,
            "/failover/establish",
            json!({ "peer_address": sim.conn("rs-a")?.endpoint }),
        )
        .await?;
    assert_eq!((st, f["role"].as_str()), (StatusCode::OK, Some("primary")));
    // The first sync after establishing closes the upgrade (the makespan's last step).
    assert_eq!(
        sim.fleet.report().makespan_s("site1"),
        None,
        "not synced yet"
    );
    sim.eventually(
        Duration::from_secs(10),
        "the sync after establish",
        || async { Ok(sim.fleet.report().makespan_s("site1").is_some()) },
    )
    .await?;

    let report = sim.fleet.report();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.dropped_sessions, 0);
    assert_eq!(report.duplicate_requests, 0);
    assert!(report.sessions_started > 0);
    assert!(
        report
            .drains
            .iter()
            .any(|d| d.appliance == "rs-a" && d.outcome == DrainOutcome::Drained)
    );
    // Downtime is the shared IP coming up on B plus the gap between the two requests.
    let site = report.site("site1").unwrap();
    assert!((site.swap_floor_s - 2.0).abs() < 1e-9, "{site:?}");
    assert!(
        site.downtime_s >= site.swap_floor_s && site.downtime_s < 120.0,
        "{site:?}"
    );
    // The floor: rs-b's installs, the swing beside rs-a's drain, rs-a's installs, the sync.
    let (makespan, floor) = (
        report.makespan_s("site1").unwrap(),
        report.makespan_floor_s("site1").unwrap(),
    );
    assert!(makespan >= floor && floor > 0.0, "{site:?}");
    assert!(
        report
            .timeline
            .iter()
            .any(|e| e.kind == "upgrade_completed")
    );
    assert_eq!(
        report.summary_line().split_whitespace().nth(1),
        Some("violations=0")
    );
    let b = sim.fleet.appliance_state("rs-b").unwrap();
    assert_eq!((b.failover_role, b.serving), (FailoverRole::Primary, true));
    Ok(())
}
