//! Packages, staging, installs (durations, base reboot, idempotency) and their refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use anyhow::Result;
use baton_sim::{InstallOutcome, SoftwareState};
use common::{CATALOGUE, Sim};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn single(scale: u32, reboot_s: u32) -> String {
    format!(
        r#"
seed: 3
time_scale: {scale}
rate_limit: {{ per_second: 200 }}
{CATALOGUE}
appliances:
  - {{ name: solo, product: rs, version: 23.3.1, base_version: 5.0.0 }}
timings: {{ reboot_s: {reboot_s} }}
"#
    )
}

fn package<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["packages"].as_array()?.iter().find(|p| p["id"] == id)
}

#[tokio::test]
async fn prerequisites_are_enforced_and_staged_packages_leave_available() -> Result<()> {
    let sim = Sim::start(&single(3600, 120)).await?;
    let t = sim.token("solo").await?;

    let (st, list) = sim.get("solo", &t, "/packages").await?;
    assert_eq!(st, StatusCode::OK);
    let base = package(&list, "base-5.1.0").unwrap();
    assert_eq!(
        (base["state"].as_str(), base["installable"].as_bool()),
        (Some("available"), Some(true))
    );
    assert_eq!(base["reboots"], true);
    let product = package(&list, "product-24.1.0").unwrap();
    assert_eq!(product["installable"], false);
    assert_eq!(product["requires"], json!(["base-5.1.0"]));

    let (st, e) = sim
        .post(
            "solo",
            &t,
            "/installs",
            json!({ "package_id": "product-24.1.0" }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_staged"))
    );

    let (st, p) = sim
        .post("solo", &t, "/packages/product-24.1.0/stage", Value::Null)
        .await?;
    assert_eq!((st, p["state"].as_str()), (StatusCode::OK, Some("staged")));
    let (_, list) = sim.get("solo", &t, "/packages").await?;
    assert_eq!(package(&list, "product-24.1.0").unwrap()["state"], "staged");
    assert_eq!(
        list["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["state"] == "available")
            .count(),
        2,
        "a staged package is no longer available (R7)"
    );

    let (st, e) = sim
        .post(
            "solo",
            &t,
            "/installs",
            json!({ "package_id": "product-24.1.0" }),
        )
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("prerequisite_missing"))
    );
    let (st, e) = sim
        .post("solo", &t, "/packages/nope/stage", Value::Null)
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    // The read-only account reads but does not change.
    let ro = sim.token_ro("solo").await?;
    let (st, _) = sim.get("solo", &ro, "/packages").await?;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = sim
        .post("solo", &ro, "/packages/base-5.1.0/stage", Value::Null)
        .await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_permissions"))
    );

    // Offline: download key -> package file -> upload stages it.
    let (_, k) = sim.get("solo", &t, "/offline/download-key").await?;
    let key = k["download_key"].as_str().unwrap();
    let file = sim.fleet.package_file("base-5.1.0", key)?;
    let c = sim.conn("solo")?;
    let r = sim
        .http
        .post(format!("{}/api/management/v1/offline/packages", c.endpoint))
        .bearer_auth(&t)
        .header("content-type", "application/octet-stream")
        .body(file)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bad = sim.fleet.package_file("base-5.1.0", "DK-other")?;
    let r = sim
        .http
        .post(format!("{}/api/management/v1/offline/packages", c.endpoint))
        .bearer_auth(&t)
        .body(bad)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (_, list) = sim.get("solo", &t, "/packages").await?;
    assert_eq!(package(&list, "base-5.1.0").unwrap()["state"], "staged");
    Ok(())
}

#[tokio::test]
async fn base_install_takes_its_time_reboots_unreachable_and_comes_back() -> Result<()> {
    // 600 s install + 300 s reboot at x600: 1 s + 0.5 s real.
    let sim = Sim::start(&single(600, 300)).await?;
    let t = sim.token("solo").await?;
    sim.post("solo", &t, "/packages/base-5.1.0/stage", Value::Null)
        .await?;
    let (st, inst) = sim
        .post(
            "solo",
            &t,
            "/installs",
            json!({ "package_id": "base-5.1.0" }),
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    assert_eq!(inst["state"], "running");
    let id = inst["id"].as_str().unwrap().to_owned();

    // Not serving, health fails, extension reads keep answering.
    let (_, sw) = sim.get("solo", &t, "/software").await?;
    assert_eq!(sw["state"], "installing");
    assert_eq!(sw["current_install_id"], id.as_str());
    let (_, doc) = sim.xml("solo", &t, "action=check_health").await?;
    assert!(doc.contains("<success>0</success>") && doc.contains("<error_message>"));

    // The reboot: the appliance does not answer at all.
    let c = sim.conn("solo")?;
    sim.eventually(
        Duration::from_secs(5),
        "the reboot makes it unreachable",
        || async {
            Ok(sim
                .http
                .get(format!("{}/check_health", c.endpoint))
                .send()
                .await
                .is_err())
        },
    )
    .await?;
    assert_eq!(
        sim.fleet.appliance_state("solo").unwrap().software,
        SoftwareState::Rebooting
    );

    let done = sim.wait_install("solo", &id).await?;
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["progress_percent"], 100);
    let s = sim.fleet.appliance_state("solo").unwrap();
    assert_eq!(
        (s.base_version.as_str(), s.software),
        ("5.1.0", SoftwareState::Idle)
    );

    let report = sim.fleet.report();
    let rec = report.install("solo", "base-5.1.0").unwrap();
    assert_eq!((rec.starts, rec.outcome), (1, InstallOutcome::Succeeded));
    let took = rec.finished_at_s.unwrap() - rec.started_at_s.unwrap();
    assert!(
        (took - 900.0).abs() < 1.0,
        "install 600 s + reboot 300 s, took {took}"
    );
    assert!(report.timeline.iter().any(|e| e.kind == "reboot_started"));
    Ok(())
}

#[tokio::test]
async fn idempotency_key_replays_and_duplicates_are_counted() -> Result<()> {
    let sim = Sim::start(&single(3600, 120)).await?;
    let t = sim.token("solo").await?;
    sim.post("solo", &t, "/packages/base-5.1.0/stage", Value::Null)
        .await?;
    let c = sim.conn("solo")?;
    let post = |key: Option<&'static str>| {
        let mut req = sim
            .http
            .post(format!("{}/api/management/v1/installs", c.endpoint))
            .bearer_auth(&t)
            .json(&json!({ "package_id": "base-5.1.0" }));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move {
            let r = req.send().await?;
            Ok::<_, anyhow::Error>((r.status(), r.json::<Value>().await?))
        }
    };
    let (st, first) = post(Some("upgrade-1/base-5.1.0")).await?;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (st, replay) = post(Some("upgrade-1/base-5.1.0")).await?;
    assert_eq!(st, StatusCode::OK, "a replayed key answers 200");
    assert_eq!(replay["id"], first["id"]);
    let report = sim.fleet.report();
    let rec = report.install("solo", "base-5.1.0").unwrap();
    assert_eq!((rec.requests, rec.starts), (1, 1));
    assert_eq!(report.duplicate_requests, 0);

    // A second start without the key is refused and counted.
    let (st, e) = post(None).await?;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::CONFLICT, Some("install_in_progress"))
    );
    assert_eq!(sim.fleet.report().duplicate_requests, 1);

    let done = sim
        .wait_install("solo", first["id"].as_str().unwrap())
        .await?;
    assert_eq!(done["state"], "succeeded");
    // The same key after completion still replays; a new request is already_installed.
    let (st, replay) = post(Some("upgrade-1/base-5.1.0")).await?;
    assert_eq!(
        (st, &replay["state"]),
        (StatusCode::OK, &json!("succeeded"))
    );
    let t2 = sim.token("solo").await?;
    let (st, _) = sim
        .post(
            "solo",
            &t2,
            "/installs",
            json!({ "package_id": "base-5.1.0" }),
        )
        .await?;
    assert_eq!(st, StatusCode::CONFLICT);
    let report = sim.fleet.report();
    assert_eq!(report.duplicate_requests, 2);
    assert_eq!(report.install("solo", "base-5.1.0").unwrap().starts, 1);
    let (_, list) = sim.ext("solo", &t2, Method::GET, "/installs", None).await?;
    assert_eq!(list["installs"].as_array().map(Vec::len), Some(1));
    Ok(())
}
