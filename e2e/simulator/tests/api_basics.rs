//! The documented API over real HTTPS: OAuth, rate limit, XML v1 shapes, permissions, v2,
//! backup.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{Sim, parse_xml, xml_text};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NS: &str = "http://www.bomgar.com/namespaces/API/command";

fn fleet(ttl: f64, per_second: u32) -> String {
    format!(
        r#"
seed: 1
time_scale: 600
oauth: {{ token_ttl_s: {ttl} }}
rate_limit: {{ per_second: {per_second} }}
appliances:
  - {{ name: rs-a, product: rs, version: 23.3.1, base_version: 5.0.0 }}
  - {{ name: rs-b, product: rs, version: 23.3.1, base_version: 5.0.0 }}
pairs:
  - {{ name: site1, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10 }}
"#
    )
}

#[tokio::test]
async fn oauth_issues_tokens_expires_them_and_keeps_thirty() -> Result<()> {
    let sim = Sim::start(&fleet(2.0, 100)).await?;
    let c = sim.conn("rs-a")?;

    // Bad credentials: invalid_client.
    let r = sim.token_response("rs-a", &c.client_id, "wrong").await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await?;
    assert_eq!(v["error"], "invalid_client");

    // The documented token shape.
    let r = sim
        .token_response("rs-a", &c.client_id, &c.client_secret)
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await?;
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 2);
    let first = v["access_token"].as_str().unwrap().to_owned();

    // No token, a bad token: access_denied.
    let (st, body) = sim.xml("rs-a", "nope", "action=check_health").await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&body)?["error"],
        "access_denied"
    );

    // 30 more tokens push the first one out; the newest still works.
    let mut last = String::new();
    for _ in 0..30 {
        last = sim.token("rs-a").await?;
    }
    let (st, _) = sim.xml("rs-a", &first, "action=check_health").await?;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "the 31st token drops the oldest"
    );
    let (st, _) = sim.xml("rs-a", &last, "action=check_health").await?;
    assert_eq!(st, StatusCode::OK);

    // Tokens expire after token_ttl_s real seconds.
    sim.eventually(Duration::from_secs(5), "token expiry", || async {
        let (st, _) = sim.xml("rs-a", &last, "action=check_health").await?;
        Ok(st == StatusCode::UNAUTHORIZED)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn rate_limit_answers_429_with_headers() -> Result<()> {
    let sim = Sim::start(&fleet(3600.0, 20)).await?;
    let token = sim.token("rs-a").await?;
    let c = sim.conn("rs-a")?;
    let mut saw_429 = false;
    for _ in 0..40 {
        let r = sim
            .http
            .get(format!("{}/api/command?action=check_health", c.endpoint))
            .bearer_auth(&token)
            .send()
            .await?;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
            saw_429 = true;
            break;
        }
        assert_eq!(r.headers()["x-ratelimit-limit"], "20");
        assert!(r.headers().contains_key("x-ratelimit-remaining"));
    }
    assert!(saw_429, "more than 20 requests in a burst must be limited");
    // The other account of the same appliance has its own bucket.
    let ro = sim.token_ro("rs-a").await?;
    let (st, _) = sim.xml("rs-a", &ro, "action=check_health").await?;
    assert_eq!(st, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn xml_responses_have_the_documented_shapes() -> Result<()> {
    let sim = Sim::start(&fleet(3600.0, 20)).await?;
    let token = sim.token("rs-a").await?;

    let (st, doc) = sim.xml("rs-a", &token, "action=check_health").await?;
    assert_eq!(st, StatusCode::OK);
    let (root, ns, names) = parse_xml(&doc)?;
    assert_eq!(root, "health_check");
    assert_eq!(ns.as_deref(), Some(NS));
    for n in [
        "appliance",
        "version",
        "success",
        "failover_role",
        "enabled_shared_ips",
        "ip",
    ] {
        assert!(names.iter().any(|x| x == n), "missing <{n}> in {doc}");
    }
    assert_eq!(xml_text(&doc, "success").as_deref(), Some("1"));
    assert_eq!(xml_text(&doc, "failover_role").as_deref(), Some("primary"));
    assert_eq!(xml_text(&doc, "ip").as_deref(), Some("10.0.0.10"));
    assert!(
        xml_text(&doc, "version")
            .unwrap()
            .starts_with("23.3.1 (build-")
    );
    assert!(!names.iter().any(|x| x == "error_message"));

    let (_, doc) = sim.xml("rs-a", &token, "action=get_appliances").await?;
    let (root, ns, names) = parse_xml(&doc)?;
    assert_eq!((root.as_str(), ns.as_deref()), ("appliances", Some(NS)));
    for n in [
        "name",
        "public_hostname",
        "cluster_role",
        "failover_role",
        "accepting_connections",
        "timezone_offset",
    ] {
        assert!(names.iter().any(|x| x == n), "missing <{n}>");
    }
    assert_eq!(xml_text(&doc, "cluster_role").as_deref(), Some("single"));

    let (_, doc) = sim
        .xml(
            "rs-a",
            &token,
            "action=get_connected_client_list&summary_only=1",
        )
        .await?;
    let (root, ns, names) = parse_xml(&doc)?;
    assert_eq!(
        (root.as_str(), ns.as_deref()),
        ("connected_client_list", Some(NS))
    );
    assert_eq!(names.iter().filter(|n| *n == "count").count(), 5);
    assert!(doc.contains("<count type=\"support_customer\">0</count>"));

    let (_, doc) = sim.xml("rs-a", &token, "action=get_api_info").await?;
    let (root, _, _) = parse_xml(&doc)?;
    assert_eq!(root, "api_information");
    assert!(doc.contains("<permission name=\"perm_command\">full_access</permission>"));

    let (st, doc) = sim.xml("rs-a", &token, "action=nonsense").await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(parse_xml(&doc)?.0, "error");

    // The backup reports its role and no shared IP.
    let (_, doc) = sim
        .xml("rs-b", &sim.token("rs-b").await?, "action=check_health")
        .await?;
    assert_eq!(xml_text(&doc, "failover_role").as_deref(), Some("backup"));
    assert!(!doc.contains("enabled_shared_ips"));
    Ok(())
}

#[tokio::test]
async fn read_only_account_cannot_change_roles_and_v2_and_backup_answer() -> Result<()> {
    let sim = Sim::start(&fleet(3600.0, 20)).await?;
    let ro = sim.token_ro("rs-a").await?;
    let (st, doc) = sim
        .xml("rs-a", &ro, "action=set_failover_role&role=backup")
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(parse_xml(&doc)?.0, "error");
    let (_, doc) = sim.xml("rs-a", &ro, "action=get_api_info").await?;
    assert!(doc.contains("<permission name=\"perm_command\">read_only</permission>"));

    // v2 JSON.
    let c = sim.conn("rs-a")?;
    let token = sim.token("rs-a").await?;
    let get = |path: &'static str| {
        let req = sim
            .http
            .get(format!("{}/api/command/v2{path}", c.endpoint))
            .bearer_auth(&token);
        async move {
            let r = req.send().await?;
            Ok::<_, anyhow::Error>((r.status(), r.json::<Value>().await?))
        }
    };
    let (st, v) = get("/health").await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["failover_role"], "primary");
    assert_eq!(v["enabled_shared_ips"], json!(["10.0.0.10"]));
    let (_, v) = get("/info").await?;
    assert_eq!(v["product"], "rs");
    let (_, v) = get("/appliance").await?;
    assert_eq!(v["name"], "rs-a");
    let (_, v) = get("/appliance/client-count").await?;
    assert_eq!(v["appliances"][0]["total"], 0);

    // Backups: opaque bytes; the read-only account may not.
    let r = sim
        .http
        .get(format!("{}/api/backup", c.endpoint))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(!r.bytes().await?.is_empty());
    let r = sim
        .http
        .post(format!("{}/api/backup", c.endpoint))
        .bearer_auth(&token)
        .json(&json!({ "password": "s3cret" }))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await?.starts_with(b"BATON-SIM-NSB/1\nencrypted"));
    let r = sim
        .http
        .get(format!("{}/api/backup", c.endpoint))
        .bearer_auth(&ro)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Unauthenticated health.
    let r = sim
        .http
        .get(format!("{}/check_health", c.endpoint))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    Ok(())
}
