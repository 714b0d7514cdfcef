//! The admin server wired to a real AppliancePair controller against a stand-in API server:
//! `/readyz` stays 503 until the controller's watch has listed the pairs, then turns 200, and
//! `/metrics` shows the controller-runtime names after the first reconcile.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kube::runtime::events::Reporter;
use serde_json::json;
use tokio::sync::watch;

use baton_operator::admin::{self, Health};
use baton_operator::appliance::Connector;
use baton_operator::context::{Context, Timings};
use baton_operator::members::MemberCache;
use baton_operator::metrics::Metrics;
use baton_operator::shutdown;

#[derive(Clone)]
struct Api {
    /// The list answers once this is true: until then the watch has not synced.
    open: watch::Receiver<bool>,
}

#[derive(serde::Deserialize)]
struct ListQuery {
    watch: Option<String>,
}

fn pair() -> serde_json::Value {
    let member = |n: &str| json!({ "name": n, "endpoint": format!("https://{n}.example.com"), "credentialsSecretRef": { "name": "api" } });
    json!({
        "apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePair",
        "metadata": { "name": "site", "namespace": "ns", "uid": "u1", "resourceVersion": "5", "generation": 1 },
        "spec": { "version": "24.3.2", "members": [member("rs-a"), member("rs-b")] },
    })
}

async fn list(State(api): State<Api>, Query(q): Query<ListQuery>) -> Response {
    if q.watch.as_deref() == Some("true") || q.watch.as_deref() == Some("1") {
        // A watch that never sends anything.
        let pending = futures::stream::pending::<Result<Bytes, Infallible>>();
        return Body::from_stream(pending).into_response();
    }
    let mut open = api.open.clone();
    let _ = open.wait_for(|o| *o).await;
    axum::Json(json!({
        "apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePairList",
        "metadata": { "resourceVersion": "5" },
        "items": [pair()],
    }))
    .into_response()
}

/// The reconcile's live read: the pair was deleted meanwhile, so the reconcile ends at once.
async fn get_pair() -> Response {
    let status = json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found" });
    (StatusCode::NOT_FOUND, axum::Json(status)).into_response()
}

async fn serve(router: axum::Router) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

async fn get_text(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let response = client.get(url).send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// Polls `url` until `check` holds, for at most `deadline`.
async fn until(
    client: &reqwest::Client,
    url: &str,
    deadline: Duration,
    check: impl Fn(u16, &str) -> bool,
) -> Result<String> {
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        let (code, body) = get_text(client, url).await?;
        if check(code, &body) {
            return Ok(body);
        }
        if tokio::time::Instant::now() > give_up {
            bail!("{url} still answers {code}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_ready_only_after_the_watch_synced_and_metrics_follow_reconciles() -> Result<()>
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (open_tx, open) = watch::channel(false);
    let base = "/apis/baton.dev/v1alpha1/namespaces/ns/appliancepairs";
    let fake = axum::Router::new()
        .route(base, get(list))
        .route(&format!("{base}/site"), get(get_pair))
        .with_state(Api { open });
    let api_url = serve(fake).await?;
    let client = kube::Client::try_from(kube::Config::new(api_url.parse()?))?;

    let metrics = Arc::new(Metrics::new());
    let health = Health::default();
    let admin_url = serve(admin::router(health.clone(), metrics.clone())).await?;
    let (trigger, shutdown) = shutdown::manual();
    let ctx = Arc::new(Context {
        client: client.clone(),
        connector: Connector::new(),
        members: MemberCache::default(),
        timings: Timings::default(),
        reporter: Reporter {
            controller: "baton-operator".into(),
            instance: None,
        },
        metrics: metrics.clone(),
        health: health.clone(),
        shutdown,
        status: baton_operator::drive::write::StatusLedger::default(),
    });
    let http = reqwest::Client::new();
    let readyz = format!("{admin_url}/readyz");

    // Before leadership: not ready.
    let (code, body) = get_text(&http, &readyz).await?;
    assert_eq!(code, 503, "{body}");
    health.leader();
    let controller = tokio::spawn(baton_operator::pair::run(
        ctx.clone(),
        kube::Api::namespaced(client, "ns"),
    ));
    // The controller runs but its list has not answered: still not ready, and says why.
    let body = until(&http, &readyz, Duration::from_secs(5), |code, body| {
        code == 503 && body.contains("AppliancePair")
    })
    .await?;
    // (It cannot turn ready by itself: the list answers only once the gate opens.)
    assert!(body.contains("waiting for watches"), "{body}");

    open_tx.send(true)?;
    until(&http, &readyz, Duration::from_secs(10), |code, _| {
        code == 200
    })
    .await?;
    let text = until(&http, &format!("{admin_url}/metrics"), Duration::from_secs(10), |_, body| {
        body.contains("controller_runtime_reconcile_total{controller=\"appliancepair\",result=\"success\"} 1")
    })
    .await?;
    for name in [
        "controller_runtime_reconcile_errors_total{controller=\"appliancepair\"} 0",
        "controller_runtime_reconcile_time_seconds_count{controller=\"appliancepair\"} 1",
        "baton_resources{kind=\"AppliancePair\",phase=\"Pending\"}",
        "baton_stalled_resources{kind=\"AppliancePair\"}",
        "baton_drain_wait_seconds_count",
        "# EOF",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    let (code, _) = get_text(&http, &format!("{admin_url}/healthz")).await?;
    assert_eq!(code, 200);

    // A graceful shutdown ends the controller.
    trigger.set(shutdown::Stage::Graceful);
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .context("the controller did not stop on graceful shutdown")??;
    Ok(())
}
