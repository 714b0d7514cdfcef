//! Atlas clusters: installs on nodes with clients (I3 and its override), nodes taken out of
//! rotation (I2), and the automatic flip of a master install, which is not an operator request.

use std::time::Duration;

use baton_sim::FailoverRole;

use super::*;

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
