//! Fault injection through the library API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use anyhow::Result;
use baton_sim::{Fault, PackageKind, SoftwareState};
use common::{CATALOGUE, Sim, parse_xml};
use reqwest::StatusCode;
use serde_json::json;

fn single() -> String {
    format!(
        r#"
seed: 5
time_scale: 3600
rate_limit: {{ per_second: 200 }}
{CATALOGUE}
appliances:
  - {{ name: solo, product: rs, version: 23.3.1, base_version: 5.0.0 }}
"#
    )
}

#[tokio::test]
async fn a_failed_base_install_blocks_until_a_person_clears_it() -> Result<()> {
    let sim = Sim::start(&single()).await?;
    let t = sim.token("solo").await?;
    sim.fleet.inject(Fault::FailNextInstall {
        appliance: "solo".into(),
        package_kind: Some(PackageKind::Base),
        message: Some("disk full".into()),
    })?;
    let done = sim.install("solo", &t, "base-5.1.0").await?;
    assert_eq!(done["state"], "failed");
    assert_eq!(done["message"], "disk full");
    let (_, sw) = sim.get("solo", &t, "/software").await?;
    assert_eq!(
        (sw["state"].as_str(), sw["base_version"].as_str()),
        (Some("failed"), Some("5.0.0"))
    );
    let (_, doc) = sim.xml("solo", &t, "action=check_health").await?;
    assert!(doc.contains("<success>0</success>") && doc.contains("disk full"));

    // Retrying is refused, and the referee calls the attempt an I6 violation.
    let (st, e) = sim
        .post(
            "solo",
            &t,
            "/installs",
            json!({ "package_id": "base-5.1.0" }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("install_blocked"))
    );
    assert_eq!(sim.fleet.report().violations_of("I6").count(), 1);

    // A person clears it; the install then goes through.
    sim.fleet.clear_faults("solo")?;
    assert_eq!(
        sim.fleet.appliance_state("solo").unwrap().software,
        SoftwareState::Idle
    );
    let (st, inst) = sim
        .post(
            "solo",
            &t,
            "/installs",
            json!({ "package_id": "base-5.1.0" }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = sim
        .wait_install("solo", inst["id"].as_str().unwrap())
        .await?;
    assert_eq!(done["state"], "succeeded");
    assert_eq!(sim.fleet.report().violations_of("I6").count(), 1);
    Ok(())
}

#[tokio::test]
async fn transport_faults_shape_responses() -> Result<()> {
    let sim = Sim::start(&single()).await?;
    let t = sim.token("solo").await?;
    let c = sim.conn("solo")?;

    sim.fleet.inject(Fault::MalformedXml {
        appliance: "solo".into(),
    })?;
    let (_, doc) = sim.xml("solo", &t, "action=check_health").await?;
    assert!(parse_xml(&doc).is_err(), "malformed: {doc}");
    let (_, doc) = sim.xml("solo", &t, "action=check_health").await?;
    assert!(
        parse_xml(&doc).is_ok(),
        "only the next response is malformed"
    );

    sim.fleet.inject(Fault::RateLimited {
        appliance: "solo".into(),
        requests: 2,
    })?;
    for _ in 0..2 {
        let (st, _) = sim.xml("solo", &t, "action=check_health").await?;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    }
    sim.fleet.inject(Fault::ServerErrors {
        appliance: "solo".into(),
        requests: 1,
        status: None,
    })?;
    let (st, _) = sim.get("solo", &t, "/software").await?;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let (st, _) = sim.get("solo", &t, "/software").await?;
    assert_eq!(st, StatusCode::OK);

    sim.fleet.inject(Fault::Slow {
        appliance: "solo".into(),
        latency_ms: 300,
    })?;
    let started = Instant::now();
    sim.get("solo", &t, "/info").await?;
    assert!(started.elapsed() >= Duration::from_millis(300));

    sim.fleet.inject(Fault::FailHealth {
        appliance: "solo".into(),
        message: Some("disk degraded".into()),
    })?;
    let r = sim
        .http
        .get(format!("{}/check_health", c.endpoint))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let (_, doc) = sim.xml("solo", &t, "action=check_health").await?;
    assert!(doc.contains("<error_message>disk degraded</error_message>"));

    sim.fleet.inject(Fault::ClockSkew {
        appliance: "solo".into(),
        skew_s: 3600.0,
    })?;
    let (_, clock) = sim.get("solo", &t, "/clock").await?;
    assert_eq!(clock["ntp_synchronized"], false);
    let now: chrono::DateTime<chrono::Utc> = clock["now"].as_str().unwrap().parse()?;
    let off = (now - chrono::Utc::now()).num_seconds();
    assert!((3590..=3610).contains(&off), "skewed by {off}");
    // A wrong clock makes installs fail their pre-check (R8), without blocking.
    let done = sim.install("solo", &t, "base-5.1.0").await?;
    assert_eq!(done["state"], "failed");
    assert!(done["message"].as_str().unwrap().contains("clock"));
    assert_eq!(
        sim.fleet.appliance_state("solo").unwrap().software,
        SoftwareState::Idle
    );

    sim.fleet.inject(Fault::Unreachable {
        appliance: "solo".into(),
        for_s: None,
    })?;
    assert!(
        sim.http
            .get(format!("{}/check_health", c.endpoint))
            .send()
            .await
            .is_err()
    );
    assert!(!sim.fleet.appliance_state("solo").unwrap().reachable);
    sim.fleet.clear_faults("solo")?;
    let (st, _) = sim.get("solo", &t, "/info").await?;
    assert_eq!(st, StatusCode::OK);
    let r = sim
        .http
        .get(format!("{}/check_health", c.endpoint))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);

    // Timed unreachability ends on its own (3600 simulated s = 1 real s).
    sim.fleet.inject(Fault::Unreachable {
        appliance: "solo".into(),
        for_s: Some(3600.0),
    })?;
    assert!(
        sim.http
            .get(format!("{}/check_health", c.endpoint))
            .send()
            .await
            .is_err()
    );
    sim.eventually(Duration::from_secs(5), "reachable again", || async {
        Ok(sim
            .http
            .get(format!("{}/check_health", c.endpoint))
            .send()
            .await
            .is_ok())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn faults_are_accepted_as_tagged_json() -> Result<()> {
    let f: Fault = serde_json::from_value(json!({
        "type": "fail_next_install", "appliance": "rs-a", "package_kind": "base", "message": "x"
    }))?;
    assert_eq!(f.appliance(), "rs-a");
    let f: Fault =
        serde_json::from_value(json!({ "type": "unreachable", "appliance": "rs-a", "for_s": 60 }))?;
    assert!(matches!(f, Fault::Unreachable { for_s: Some(_), .. }));
    assert!(serde_json::from_value::<Fault>(json!({ "type": "nope", "appliance": "a" })).is_err());
    let sim = Sim::start(&single()).await?;
    assert!(
        sim.fleet
            .inject(Fault::MalformedXml {
                appliance: "ghost".into()
            })
            .is_err()
    );
    Ok(())
}
