//! The management extension, `/api/management/v1`
//! (docs/api/management-extension-v1.openapi.yaml): what the vendor exposes only in its web
//! UI. Reads work with any account; changes need full command access. Long-running work is
//! read back with long polls (`wait_s`).

mod cluster;
mod failover;
pub(crate) mod packages;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::{AppState, json as json_response};
use crate::clock::SimClock;
use crate::world::SyncStatus;

/// The extension version the simulator implements.
const EXTENSION_VERSION: &str = "1.0.0";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/clock", get(clock))
        .route("/software", get(packages::software))
        .route("/packages", get(packages::list))
        .route("/packages/{package_id}/stage", post(packages::stage))
        .route("/offline/download-key", get(packages::download_key))
        .route("/offline/packages", post(packages::upload))
        .route(
            "/installs",
            get(packages::list_installs).post(packages::start_install),
        )
        .route("/installs/{install_id}", get(packages::get_install))
        .route("/failover", get(failover::get_failover))
        .route(
            "/failover/sync",
            get(failover::get_sync).post(failover::sync_now),
        )
        .route("/failover/break", post(failover::break_failover))
        .route("/failover/establish", post(failover::establish))
        .route(
            "/failover/backup-operations",
            put(failover::backup_operations),
        )
        .route("/shared-ips", put(failover::shared_ips))
        .route("/cluster", get(cluster::get_cluster))
        .route(
            "/cluster/nodes/{appliance_id}/accepting",
            put(cluster::accepting),
        )
        .route(
            "/cluster/distribute",
            get(cluster::get_distribution).post(cluster::distribute),
        )
        .route(
            "/cluster/sync",
            get(cluster::get_sync).post(cluster::sync_now),
        )
}

async fn info(State(s): State<AppState>) -> Response {
    let body = s.shared.with(|w, _| {
        let a = &w.apps[s.app];
        json!({
            "extension_version": EXTENSION_VERSION,
            "appliance_id": a.id,
            "hostname": a.hostname,
            "product": a.product.as_str(),
        })
    });
    json_response(StatusCode::OK, &body)
}

/// Real wall time plus the injected skew: the operator compares it with its own clock.
async fn clock(State(s): State<AppState>) -> Response {
    let skew = s.shared.with(|w, _| w.apps[s.app].faults.skew_s);
    let now = chrono::Utc::now() + chrono::Duration::milliseconds((skew * 1000.0) as i64);
    json_response(
        StatusCode::OK,
        &json!({
            "now": crate::clock::rfc3339(now),
            "ntp_synchronized": skew.abs() < 1.0,
        }),
    )
}

pub(crate) fn opt_time(clock: &SimClock, t: Option<f64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(clock.rfc3339_at(t)))
}

pub(crate) fn sync_json(clock: &SimClock, s: &SyncStatus) -> Value {
    json!({
        "state": s.state.as_str(),
        "started_at": opt_time(clock, s.started_at),
        "finished_at": opt_time(clock, s.finished_at),
        "message": s.message,
    })
}
