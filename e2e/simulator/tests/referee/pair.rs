//! Pairs: the establish, install and promotion mistakes each invariant names, and a correct
//! manual walk of the asynchronous procedure judged clean.

use std::time::Duration;

use baton_sim::{DrainOutcome, FailoverRole};

use super::*;

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
