//! Failover page operations: relationship, Sync Now, break / establish, backup operations,
//! shared IPs.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::sync_json;
use crate::api::{AppState, json as json_response, parse_json, require_full, wait_s};
use crate::auth::Caller;
use crate::world::{OpError, OpState, Started, World};

fn failover_json(w: &World, app: usize) -> Value {
    let a = &w.apps[app];
    let g = &w.groups[a.group];
    let established = g.established && g.site.contains(&app);
    let peer = g.peer(app).filter(|_| established);
    let shared_ips: Vec<Value> = g
        .shared_ip
        .iter()
        .filter(|_| g.site.contains(&app))
        .map(|ip| json!({ "ip": ip, "enabled": a.shared_ip_enabled }))
        .collect();
    json!({
        "relationship": if established { "established" } else { "none" },
        "role": a.role.as_str(),
        "peer_address": peer.map(|p| w.apps[p].endpoint.clone()),
        "backup_operations_enabled": a.backup_ops,
        "shared_ips": shared_ips,
        "sync": sync_json(&w.clock, &g.failover_sync),
    })
}

fn respond(s: &AppState, r: Result<(), OpError>) -> Response {
    match r {
        Ok(()) => {
            let body = s.shared.with(|w, _| failover_json(w, s.app));
            json_response(StatusCode::OK, &body)
        }
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn get_failover(State(s): State<AppState>) -> Response {
    respond(&s, Ok(()))
}

pub(crate) async fn get_sync(State(s): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let wait = match wait_s(query.as_deref()) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let body = s
        .shared
        .long_poll(wait, |w, _| {
            let sync = &w.groups[w.apps[s.app].group].failover_sync;
            (sync_json(&w.clock, sync), sync.state != OpState::Running)
        })
        .await;
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn sync_now(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let r = require_full(&caller).and_then(|()| {
        s.shared.with(|w, now| {
            w.failover_sync_now(s.app, now)?;
            Ok(sync_json(
                &w.clock,
                &w.groups[w.apps[s.app].group].failover_sync,
            ))
        })
    });
    match r {
        Ok(body) => json_response(StatusCode::ACCEPTED, &body),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn break_failover(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let r =
        require_full(&caller).and_then(|()| s.shared.with(|w, now| w.break_failover(s.app, now)));
    respond(&s, r)
}

/// The inter-appliance key is accepted and ignored: the simulated partners always share one.
#[derive(Debug, Deserialize)]
struct EstablishBody {
    peer_address: String,
}

pub(crate) async fn establish(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let r = require_full(&caller)
        .and_then(|()| parse_json::<EstablishBody>(&body))
        .and_then(|b| {
            s.shared
                .with(|w, now| w.establish_failover(s.app, &b.peer_address, now))
        });
    respond(&s, r)
}

#[derive(Debug, Deserialize)]
struct EnabledBody {
    enabled: bool,
}

pub(crate) async fn backup_operations(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let r = require_full(&caller)
        .and_then(|()| parse_json::<EnabledBody>(&body))
        .and_then(|b| {
            s.shared
                .with(|w, now| w.set_backup_operations(s.app, b.enabled, now))
        });
    respond(&s, r)
}

/// Enabling waits until the IP is up (`shared_ip_s`), then answers with the new state.
pub(crate) async fn shared_ips(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let started = require_full(&caller)
        .and_then(|()| parse_json::<EnabledBody>(&body))
        .and_then(|b| {
            s.shared
                .with(|w, now| w.set_shared_ip(s.app, b.enabled, now))
        });
    let r = match started {
        Ok(Started::Done(_)) => Ok(()),
        Ok(Started::Pending(op)) => match s.shared.wait_op(op).await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        },
        Err(e) => Err(e),
    };
    respond(&s, r)
}
