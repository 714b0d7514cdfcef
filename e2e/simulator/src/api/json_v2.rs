//! Command API v2 (JSON), base `/api/command/v2`: `GET /info`, `/health`, `/appliance`,
//! `/appliance/client-count`, `POST /failover-role`. Times are RFC 3339 with `+00:00`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::views::{appliance_list, client_counts, client_types, health};
use super::xml_v1::change_role;
use super::{AppState, json as json_response, parse_json};
use crate::auth::Caller;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/health", get(get_health))
        .route("/appliance", get(appliance))
        .route("/appliance/client-count", get(client_count))
        .route("/failover-role", post(failover_role))
}

async fn info(State(s): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let product = s.shared.with(|w, _| w.apps[s.app].product);
    json_response(
        StatusCode::OK,
        &json!({
            "api_versions": ["1.24.0", "2.0.0"],
            "product": product.as_str(),
            "permissions": {
                "perm_command": caller.access.perm_command(),
                "perm_backup": caller.access.perm_backup(),
            },
        }),
    )
}

async fn get_health(State(s): State<AppState>) -> Response {
    let (h, clock) = s.shared.with(|w, _| (health(w, s.app), w.clock));
    let status = if h.success {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let mut body = json!({
        "healthy": h.success,
        "version": h.version,
        "build": h.build,
        "appliance_hostname": h.hostname,
        "appliance_id": h.id,
        "cluster_role": h.cluster_role,
        "failover_role": h.role.as_str(),
        "enabled_shared_ips": h.shared_ips,
        "last_data_sync": h.last_sync.map(|(at, _)| clock.rfc3339_at(at)),
        "last_data_sync_status": h.last_sync.map(|(_, ok)| if ok { "Success" } else { "Failed" }),
    });
    if let (Some(e), Some(obj)) = (&h.error, body.as_object_mut()) {
        obj.insert("error_message".into(), Value::String(e.clone()));
    }
    json_response(status, &body)
}

async fn appliance(State(s): State<AppState>) -> Response {
    let me = s.shared.with(|w, _| {
        appliance_list(w, s.app)
            .into_iter()
            .find(|a| a.id == w.apps[s.app].id)
    });
    match me {
        Some(a) => json_response(
            StatusCode::OK,
            &json!({
                "id": a.id,
                "name": a.name,
                "public_hostname": a.public_hostname,
                "cluster_role": a.cluster_role,
                "failover_role": a.failover_role.as_str(),
                "accepting_connections": a.accepting,
                "timezone_offset": 0,
            }),
        ),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn client_count(State(s): State<AppState>) -> Response {
    let counts = s.shared.with(|w, _| client_counts(w, s.app));
    let appliances: Vec<Value> = counts
        .into_iter()
        .map(|(id, c)| {
            let mut m = Map::new();
            m.insert("appliance_id".into(), Value::String(id));
            for (ty, n) in client_types().iter().zip(c) {
                m.insert((*ty).into(), json!(n));
            }
            m.insert("total".into(), json!(c.iter().sum::<u64>()));
            Value::Object(m)
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "appliances": appliances }))
}

#[derive(Debug, Deserialize)]
struct RoleRequest {
    role: String,
    #[serde(default)]
    data_sync_first: bool,
    #[serde(default)]
    force: bool,
}

async fn failover_role(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: RoleRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match change_role(&s, caller, &req.role, req.data_sync_first, req.force).await {
        Ok(message) => json_response(StatusCode::OK, &json!({ "message": message })),
        Err(e) => e.into_response(),
    }
}
