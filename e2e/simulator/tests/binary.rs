//! The `baton-sim` binary: connection file, admin endpoint, shutdown, final report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_sim::{ApplianceState, Connection, Report};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncReadExt;

const FLEET: &str = r#"
seed: 9
time_scale: 3600
appliances:
  - { name: rs-a, product: rs, version: 23.3.1, base_version: 5.0.0 }
  - { name: rs-b, product: rs, version: 23.3.1, base_version: 5.0.0 }
pairs:
  - { name: site1, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10 }
"#;

async fn wait_for_file(path: &std::path::Path) -> Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = tokio::fs::read_to_string(path).await {
            return Ok(s);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{} never appeared", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn serves_the_admin_endpoint_and_writes_the_final_report() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let fleet = dir.path().join("fleet.yaml");
    let conn_path = dir.path().join("conn.json");
    let report_path = dir.path().join("report.json");
    std::fs::write(&fleet, FLEET)?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton-sim"))
        .arg("--fleet")
        .arg(&fleet)
        .arg("--connection-out")
        .arg(&conn_path)
        .arg("--report-out")
        .arg(&report_path)
        .arg("--time-scale")
        .arg("1800")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;

    let conn: Connection = serde_json::from_str(&wait_for_file(&conn_path).await?)?;
    assert_eq!(conn.time_scale, 1800.0);
    assert_eq!(conn.appliances.len(), 2);
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(conn.client_config()?)
        .build()?;
    let admin = |path: &str| format!("{}{path}", conn.admin_url);

    let r = http.get(admin("/admin/report")).send().await?;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the admin token is required"
    );

    let states: Vec<ApplianceState> = http
        .get(admin("/admin/appliances"))
        .bearer_auth(&conn.admin_token)
        .send()
        .await?
        .json()
        .await?;
    assert!(states.iter().any(|s| s.name == "rs-a" && s.serving));

    let r = http
        .post(admin("/admin/faults"))
        .bearer_auth(&conn.admin_token)
        .json(&json!({ "type": "fail_health", "appliance": "rs-b", "message": "fan" }))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let b = conn.appliance("rs-b").context("rs-b")?;
    let r = http
        .get(format!("{}/check_health", b.endpoint))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r = http
        .delete(admin("/admin/faults/rs-b"))
        .bearer_auth(&conn.admin_token)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = http
        .get(format!("{}/check_health", b.endpoint))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(admin("/admin/faults"))
        .bearer_auth(&conn.admin_token)
        .json(&json!({ "type": "slow", "appliance": "ghost", "latency_ms": 1 }))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let report: Report = http
        .get(admin("/admin/report"))
        .bearer_auth(&conn.admin_token)
        .send()
        .await?
        .json()
        .await?;
    assert!(report.violations.is_empty());

    let r = http
        .post(admin("/admin/shutdown"))
        .bearer_auth(&conn.admin_token)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await??;
    assert!(status.success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .context("stdout")?
        .read_to_string(&mut out)
        .await?;
    assert!(
        out.trim()
            .starts_with("referee: violations=0 downtime_s=0.0 dropped_sessions=0"),
        "{out}"
    );
    let final_report: Report = serde_json::from_str(&std::fs::read_to_string(&report_path)?)?;
    assert!(
        final_report
            .timeline
            .iter()
            .any(|e| e.kind == "fault_injected")
    );
    Ok(())
}

#[tokio::test]
async fn exits_non_zero_on_a_bad_fleet_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let fleet = dir.path().join("fleet.yaml");
    std::fs::write(
        &fleet,
        "appliances:\n  - { name: a, product: nope, version: 1, base_version: 1 }\n",
    )?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton-sim"))
        .arg("--fleet")
        .arg(&fleet)
        .arg("--connection-out")
        .arg(dir.path().join("conn.json"))
        .output()
        .await?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("baton-sim: failed to parse the fleet file"),
        "{err}"
    );
    assert!(!dir.path().join("conn.json").exists());
    Ok(())
}
