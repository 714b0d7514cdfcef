//! Command API v1 (XML): `GET|POST /api/command?action=…` and the unauthenticated
//! `GET /check_health`, in the shapes of docs/src/reference/vendor-api.md.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::views::{appliance_list, client_counts, client_types, health};
use super::xml::XmlDoc;
use super::{AppState, form_params, require_full};
use crate::auth::Caller;
use crate::world::{FailoverRole, OpError, Started};

/// The v1 API version the simulator reports.
const API_VERSION: &str = "1.24.0";

pub(crate) async fn command_get(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = form_params(query.unwrap_or_default().as_bytes());
    dispatch(&s, caller, params).await
}

pub(crate) async fn command_post(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = form_params(query.unwrap_or_default().as_bytes());
    params.extend(form_params(&body));
    dispatch(&s, caller, params).await
}

/// Unauthenticated health: 200 healthy, 500 otherwise.
pub(crate) async fn public_health(State(s): State<AppState>) -> Response {
    let ok = s.shared.with(|w, _| health(w, s.app).success);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, if ok { "OK" } else { "Unhealthy" }).into_response()
}

async fn dispatch(s: &AppState, caller: Caller, params: HashMap<String, String>) -> Response {
    let action = params.get("action").map(String::as_str).unwrap_or_default();
    let (status, body) = match action {
        "check_health" => (StatusCode::OK, check_health(s)),
        "get_appliances" => (StatusCode::OK, get_appliances(s)),
        "get_connected_client_list" => (StatusCode::OK, get_connected_client_list(s, &params)),
        "get_api_info" => (StatusCode::OK, get_api_info(s, caller)),
        "set_failover_role" => match set_failover_role(s, caller, &params).await {
            Ok(msg) => (StatusCode::OK, XmlDoc::text_root("success", &msg)),
            Err(e) => error(&e),
        },
        "" => (
            StatusCode::BAD_REQUEST,
            XmlDoc::text_root("error", "The action parameter is required"),
        ),
        other => (
            StatusCode::BAD_REQUEST,
            XmlDoc::text_root("error", &format!("Invalid action: {other}")),
        ),
    };
    let malformed = s.shared.with(|w, _| w.apps[s.app].faults.take_malformed());
    let body = if malformed {
        // Cut mid-document: unclosed elements, as from a broken proxy or appliance.
        body.chars().take(body.len() / 2).collect()
    } else {
        body
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn error(e: &OpError) -> (StatusCode, String) {
    (
        StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::CONFLICT),
        XmlDoc::text_root("error", &e.message),
    )
}

fn check_health(s: &AppState) -> String {
    let (h, clock) = s.shared.with(|w, _| (health(w, s.app), w.clock));
    let mut d = XmlDoc::new("health_check");
    d.leaf("appliance", &[("id", &h.id)], &h.hostname)
        .leaf("version", &[], &format!("{} ({})", h.version, h.build))
        .leaf("success", &[], if h.success { "1" } else { "0" });
    if let Some(e) = &h.error {
        d.leaf("error_message", &[], e);
    }
    d.leaf("failover_role", &[], h.role.as_str());
    if !h.shared_ips.is_empty() {
        d.open("enabled_shared_ips", &[]);
        for ip in &h.shared_ips {
            d.leaf("ip", &[], ip);
        }
        d.close();
    }
    if let Some((at, ok)) = h.last_sync {
        let wall = clock.wall_at(at);
        d.leaf(
            "last_data_sync_time",
            &[("ts", &wall.timestamp().to_string())],
            &crate::clock::rfc3339(wall),
        )
        .leaf(
            "last_data_sync_status",
            &[],
            if ok { "Success" } else { "Failed" },
        );
    }
    d.finish()
}

fn get_appliances(s: &AppState) -> String {
    let list = s.shared.with(|w, _| appliance_list(w, s.app));
    let mut d = XmlDoc::new("appliances");
    for a in list {
        d.open("appliance", &[("id", &a.id)])
            .leaf("name", &[], &a.name)
            .leaf("public_hostname", &[], &a.public_hostname)
            .leaf("cluster_role", &[], a.cluster_role)
            .leaf("failover_role", &[], a.failover_role.as_str())
            .leaf(
                "accepting_connections",
                &[],
                if a.accepting { "1" } else { "0" },
            )
            .leaf("timezone_offset", &[], "0")
            .close();
    }
    d.finish()
}

fn get_connected_client_list(s: &AppState, params: &HashMap<String, String>) -> String {
    let counts = s.shared.with(|w, _| client_counts(w, s.app));
    let only = params.get("type").map(String::as_str);
    let mut d = XmlDoc::new("connected_client_list");
    d.open("connected_client_summary", &[]);
    for (id, c) in counts {
        d.open("appliance_summary", &[("id", &id)]);
        for (ty, n) in client_types().iter().zip(c) {
            if only.is_none_or(|o| o == *ty) {
                d.leaf("count", &[("type", ty)], &n.to_string());
            }
        }
        d.close();
    }
    d.finish()
}

fn get_api_info(s: &AppState, caller: Caller) -> String {
    let now = s.shared.with(|w, now| w.clock.wall_at(now));
    let mut d = XmlDoc::new("api_information");
    d.leaf("api_version", &[], API_VERSION)
        .leaf("timestamp", &[], &now.timestamp().to_string())
        .open("permissions", &[])
        .leaf(
            "permission",
            &[("name", "perm_command")],
            caller.access.perm_command(),
        )
        .leaf(
            "permission",
            &[("name", "perm_backup")],
            if caller.access.perm_backup() {
                "1"
            } else {
                "0"
            },
        )
        .close();
    d.finish()
}

/// Shared by v1 and v2: validates, starts the change and waits for the swap to complete.
pub(crate) async fn change_role(
    s: &AppState,
    caller: Caller,
    role: &str,
    data_sync_first: bool,
    force: bool,
) -> Result<String, OpError> {
    require_full(&caller)?;
    let role = match role {
        "primary" => FailoverRole::Primary,
        "backup" => FailoverRole::Backup,
        other => {
            return Err(OpError::new(
                crate::world::ErrorCode::InvalidRequest,
                format!("Invalid role: {other:?} (primary or backup)"),
            ));
        }
    };
    let started = s
        .shared
        .with(|w, now| w.set_failover_role(s.app, role, data_sync_first, force, now))?;
    match started {
        Started::Done(msg) => Ok(msg),
        Started::Pending(op) => match s.shared.wait_op(op).await {
            Some(r) => r,
            None => Ok("Failover role change in progress".to_owned()),
        },
    }
}

async fn set_failover_role(
    s: &AppState,
    caller: Caller,
    params: &HashMap<String, String>,
) -> Result<String, OpError> {
    let flag = |k: &str| params.get(k).is_some_and(|v| v == "1" || v == "true");
    let role = params.get("role").map(String::as_str).unwrap_or_default();
    change_role(s, caller, role, flag("data_sync_first"), flag("force")).await
}
