//! The admin endpoint (HTTPS, same CA, bearer `admin_token`): the referee's report, fault
//! injection, appliance state, external swings, offline package files, shutdown.
//!
//! - `GET /admin/report`
//! - `POST /admin/faults` (a JSON [`crate::Fault`]), `DELETE /admin/faults/{appliance}`
//! - `GET /admin/appliances`, `GET /admin/appliances/{name}`
//! - `PUT /admin/groups/{group}/site-target` `{"appliance": "rs-b"}`
//! - `GET /admin/packages/{package_id}/file?download_key=…`
//! - `POST /admin/shutdown`

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;

use crate::api::{bytes_response, json, json_error};
use crate::runtime::Shared;
use crate::{Fault, SimError, ops};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/admin/report", get(report))
        .route("/admin/faults", post(inject))
        .route("/admin/faults/{appliance}", delete(clear))
        .route("/admin/appliances", get(appliances))
        .route("/admin/appliances/{name}", get(appliance))
        .route("/admin/groups/{group}/site-target", put(site_target))
        .route("/admin/packages/{package_id}/file", get(package_file))
        .route("/admin/shutdown", post(shutdown))
        .route_layer(middleware::from_fn_with_state(shared.clone(), admin_auth))
        .with_state(shared)
}

async fn admin_auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == s.admin_token);
    if ok {
        next.run(req).await
    } else {
        json_error(401, "access_denied", "admin token required")
    }
}

fn sim_error(e: &SimError) -> Response {
    let status = match e {
        SimError::UnknownAppliance(_) | SimError::UnknownGroup(_) | SimError::UnknownPackage(_) => {
            404
        }
        _ => 400,
    };
    let code = if status == 404 {
        "not_found"
    } else {
        "invalid_request"
    };
    json_error(status, code, &e.to_string())
}

async fn report(State(s): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, &ops::report(&s))
}

async fn inject(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return json_error(400, "invalid_request", &format!("invalid fault: {e}")),
    };
    match ops::inject(&s, &fault) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn clear(State(s): State<Arc<Shared>>, Path(appliance): Path<String>) -> Response {
    match ops::clear_faults(&s, &appliance) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sim_error(&e),
    }
}

async fn appliances(State(s): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, &ops::appliances(&s))
}

async fn appliance(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match ops::appliance_state(&s, &name) {
        Some(a) => json(StatusCode::OK, &a),
        None => sim_error(&SimError::UnknownAppliance(name)),
    }
}

#[derive(Debug, Deserialize)]
struct SiteTarget {
    appliance: String,
}

async fn site_target(
    State(s): State<Arc<Shared>>,
    Path(group): Path<String>,
    body: Bytes,
) -> Response {
    let target: SiteTarget = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return json_error(400, "invalid_request", &format!("invalid body: {e}")),
    };
    match ops::set_site_target(&s, &group, &target.appliance) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sim_error(&e),
    }
}

#[derive(Debug, Deserialize)]
struct KeyQuery {
    download_key: String,
}

async fn package_file(
    State(s): State<Arc<Shared>>,
    Path(package_id): Path<String>,
    Query(q): Query<KeyQuery>,
) -> Response {
    match ops::package_file(&s, &package_id, &q.download_key) {
        Ok(bytes) => bytes_response("application/octet-stream", bytes),
        Err(e) => sim_error(&e),
    }
}

async fn shutdown(State(s): State<Arc<Shared>>) -> Response {
    s.shutdown_requested.send_replace(true);
    StatusCode::ACCEPTED.into_response()
}
