//! Atlas cluster operations: membership, "Accepting new client connections", Distribute to
//! cluster, cluster Sync Now.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::sync_json;
use crate::api::{AppState, json as json_response, parse_json, require_full, wait_s};
use crate::auth::Caller;
use crate::world::group::NodeDist;
use crate::world::{GroupKind, NodeKind, OpState, World};

fn node_json(w: &World, viewer: usize, node: usize) -> Value {
    let n = &w.apps[node];
    let g = &w.groups[n.group];
    // A master reports acceptance from its own copy of the configuration.
    let accepting = match (w.apps[viewer].is_master(), g.traffic_index(node)) {
        (true, Some(i)) => w.apps[viewer]
            .cluster_cfg
            .get(i)
            .is_none_or(|c| c.accepting),
        _ => n.accepting,
    };
    json!({
        "appliance_id": n.id,
        "name": n.name,
        "role": w.cluster_role(node),
        "region": n.region(),
        "accepting_connections": accepting,
        "connected_clients": n.sessions.total(),
        "product_version": n.version.to_string(),
    })
}

pub(crate) async fn get_cluster(State(s): State<AppState>) -> Response {
    let body = s.shared.with(|w, _| {
        let a = &w.apps[s.app];
        let g = &w.groups[a.group];
        let nodes: Vec<Value> = match (g.kind, &a.kind) {
            (GroupKind::Cluster, NodeKind::Master) => {
                g.members.iter().map(|&n| node_json(w, s.app, n)).collect()
            }
            (GroupKind::Cluster, _) => vec![node_json(w, s.app, s.app)],
            _ => Vec::new(),
        };
        json!({ "role": w.cluster_role(s.app), "nodes": nodes })
    });
    json_response(StatusCode::OK, &body)
}

#[derive(Debug, Deserialize)]
struct AcceptingBody {
    accepting: bool,
}

pub(crate) async fn accepting(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(appliance_id): Path<String>,
    body: Bytes,
) -> Response {
    let r = require_full(&caller)
        .and_then(|()| parse_json::<AcceptingBody>(&body))
        .and_then(|b| {
            s.shared.with(|w, now| {
                let node = w.set_accepting(s.app, &appliance_id, b.accepting, now)?;
                Ok(node_json(w, s.app, node))
            })
        });
    match r {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

fn distribution_json(w: &World, app: usize) -> Value {
    match &w.groups[w.apps[app].group].distribution {
        None => json!({ "package_id": null, "state": "idle", "nodes": [] }),
        Some(d) => {
            let nodes: Vec<Value> = d
                .nodes
                .iter()
                .map(|(n, st)| {
                    let (state, message) = match st {
                        NodeDist::Pending => ("pending", None),
                        NodeDist::Staged => ("staged", None),
                        NodeDist::Failed(m) => ("failed", Some(m.clone())),
                    };
                    json!({ "appliance_id": w.apps[*n].id, "state": state, "message": message })
                })
                .collect();
            json!({ "package_id": d.package, "state": d.state.as_str(), "nodes": nodes })
        }
    }
}

pub(crate) async fn get_distribution(
    State(s): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let wait = match wait_s(query.as_deref()) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let body = s
        .shared
        .long_poll(wait, |w, _| {
            let running = w.groups[w.apps[s.app].group]
                .distribution
                .as_ref()
                .is_some_and(|d| d.state == OpState::Running);
            (distribution_json(w, s.app), !running)
        })
        .await;
    json_response(StatusCode::OK, &body)
}

#[derive(Debug, Deserialize)]
struct DistributeBody {
    package_id: String,
}

pub(crate) async fn distribute(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let r = require_full(&caller)
        .and_then(|()| parse_json::<DistributeBody>(&body))
        .and_then(|b| {
            s.shared.with(|w, now| {
                w.distribute(s.app, &b.package_id, now)?;
                Ok(distribution_json(w, s.app))
            })
        });
    match r {
        Ok(body) => json_response(StatusCode::ACCEPTED, &body),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn get_sync(State(s): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let wait = match wait_s(query.as_deref()) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let body = s
        .shared
        .long_poll(wait, |w, _| {
            let sync = &w.groups[w.apps[s.app].group].cluster_sync;
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
            w.cluster_sync_now(s.app, now)?;
            Ok(sync_json(
                &w.clock,
                &w.groups[w.apps[s.app].group].cluster_sync,
            ))
        })
    });
    match r {
        Ok(body) => json_response(StatusCode::ACCEPTED, &body),
        Err(e) => e.into_response(),
    }
}
