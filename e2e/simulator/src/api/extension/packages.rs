//! Software, packages, staging (download and offline upload) and installs.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::opt_time;
use crate::api::{AppState, json as json_response, parse_json, require_full, wait_s};
use crate::auth::Caller;
use crate::world::install::{InstallRequest, PackageView};
use crate::world::{ErrorCode, OpError, World};

/// The package file format of the offline path ("Update Software").
pub(crate) const PACKAGE_FILE_FORMAT: &str = "baton-sim-package/1";

/// An offline package file: what the vendor's site hands out for a download key.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PackageFile {
    pub(crate) format: String,
    pub(crate) package_id: String,
    pub(crate) download_key: String,
}

fn package_json(p: &PackageView) -> Value {
    json!({
        "id": p.spec.id,
        "name": p.spec.name,
        "kind": p.spec.kind.as_str(),
        "version": p.spec.version.to_string(),
        "requires": p.spec.requires,
        "state": if p.staged { "staged" } else { "available" },
        "installable": p.installable,
        "reboots": p.spec.kind == crate::fleet::PackageKind::Base,
    })
}

pub(crate) fn install_json(w: &World, app: usize, index: usize, now: f64) -> Value {
    let Some(i) = w.apps[app].installs.get(index) else {
        return Value::Null;
    };
    json!({
        "id": i.id,
        "package_id": i.package,
        "state": i.state.as_str(),
        "progress_percent": i.progress(now),
        "message": i.message,
        "started_at": w.clock.rfc3339_at(i.started_at),
        "finished_at": opt_time(&w.clock, i.finished_at),
    })
}

pub(crate) async fn software(State(s): State<AppState>) -> Response {
    let body = s.shared.with(|w, _| {
        let a = &w.apps[s.app];
        json!({
            "product_version": a.version.to_string(),
            "build": a.build(),
            "base_version": a.base_version.to_string(),
            "state": a.software_state().as_str(),
            "current_install_id": a.current_install().map(|i| a.installs[i].id.clone()),
        })
    });
    json_response(StatusCode::OK, &body)
}

pub(crate) async fn list(State(s): State<AppState>) -> Response {
    let packages = s.shared.with(|w, _| w.packages(s.app));
    let list: Vec<Value> = packages.iter().map(package_json).collect();
    json_response(StatusCode::OK, &json!({ "packages": list }))
}

pub(crate) async fn stage(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(package_id): Path<String>,
) -> Response {
    let r = require_full(&caller).and_then(|()| {
        s.shared
            .with(|w, now| w.stage(s.app, &package_id, "downloaded", now))
    });
    match r {
        Ok(p) => json_response(StatusCode::OK, &package_json(&p)),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn download_key(State(s): State<AppState>) -> Response {
    let key = s.shared.with(|w, _| w.apps[s.app].download_key.clone());
    json_response(StatusCode::OK, &json!({ "download_key": key }))
}

pub(crate) async fn upload(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let r = require_full(&caller).and_then(|()| {
        let file: PackageFile = serde_json::from_slice(&body)
            .ok()
            .filter(|f: &PackageFile| f.format == PACKAGE_FILE_FORMAT)
            .ok_or_else(|| OpError::new(ErrorCode::InvalidRequest, "not an update package file"))?;
        s.shared.with(|w, now| {
            if file.download_key != w.apps[s.app].download_key {
                return Err(OpError::new(
                    ErrorCode::InvalidRequest,
                    "the package was fetched with another appliance's download key",
                ));
            }
            w.stage(s.app, &file.package_id, "uploaded", now)
        })
    });
    match r {
        Ok(p) => json_response(StatusCode::CREATED, &package_json(&p)),
        Err(e) if e.code == ErrorCode::NotFound => {
            OpError::new(ErrorCode::InvalidRequest, e.message).into_response()
        }
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn list_installs(State(s): State<AppState>) -> Response {
    let list = s.shared.with(|w, now| {
        (0..w.apps[s.app].installs.len())
            .rev()
            .map(|i| install_json(w, s.app, i, now))
            .collect::<Vec<_>>()
    });
    json_response(StatusCode::OK, &json!({ "installs": list }))
}

#[derive(Debug, Deserialize)]
struct InstallBody {
    package_id: String,
    #[serde(default)]
    allow_connected_clients: bool,
}

pub(crate) async fn start_install(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let r = require_full(&caller)
        .and_then(|()| {
            if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 128) {
                return Err(OpError::new(
                    ErrorCode::InvalidRequest,
                    "Idempotency-Key must be 1 to 128 characters",
                ));
            }
            parse_json::<InstallBody>(&body)
        })
        .and_then(|b| {
            let req = InstallRequest {
                package_id: b.package_id,
                allow_connected_clients: b.allow_connected_clients,
                idempotency_key: key,
            };
            s.shared.with(|w, now| {
                w.start_install(s.app, &req, now)
                    .map(|(i, replay)| (install_json(w, s.app, i, now), replay))
            })
        });
    match r {
        Ok((body, true)) => json_response(StatusCode::OK, &body),
        Ok((body, false)) => json_response(StatusCode::ACCEPTED, &body),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn get_install(
    State(s): State<AppState>,
    Path(install_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let wait = match wait_s(query.as_deref()) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let r = s
        .shared
        .long_poll(wait, |w, now| {
            let found = w.apps[s.app]
                .installs
                .iter()
                .position(|i| i.id == install_id);
            match found {
                Some(i) => {
                    let done = w.apps[s.app].installs[i].state.is_terminal();
                    (Some(install_json(w, s.app, i, now)), done)
                }
                None => (None, true),
            }
        })
        .await;
    match r {
        Some(body) => json_response(StatusCode::OK, &body),
        None => {
            OpError::new(ErrorCode::NotFound, format!("no install {install_id}")).into_response()
        }
    }
}

/// The bytes of an offline package file for `package_id`, fetched with `download_key`.
pub(crate) fn package_file_bytes(package_id: &str, download_key: &str) -> Vec<u8> {
    serde_json::to_vec(&PackageFile {
        format: PACKAGE_FILE_FORMAT.to_owned(),
        package_id: package_id.to_owned(),
        download_key: download_key.to_owned(),
    })
    .unwrap_or_default()
}
