//! Backup API: `GET /api/backup`, or `POST` with `{"password": "…"}` for a password-protected
//! backup. Returns an opaque `.nsb` file (`application/octet-stream`). The referee records a
//! download from a group's primary (R1, invariant I5).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{AppState, bytes_response, parse_json};
use crate::auth::Caller;
use crate::world::{ErrorCode, OpError};

#[derive(Debug, Default, Deserialize)]
struct BackupRequest {
    #[serde(default)]
    password: Option<String>,
}

pub(crate) async fn get_backup(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    backup(&s, caller, None)
}

pub(crate) async fn post_backup(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: BackupRequest = if body.iter().all(u8::is_ascii_whitespace) {
        BackupRequest::default()
    } else {
        match parse_json(&body) {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        }
    };
    backup(&s, caller, req.password)
}

fn backup(s: &AppState, caller: Caller, password: Option<String>) -> Response {
    if !caller.access.perm_backup() {
        return OpError::new(
            ErrorCode::InsufficientPermissions,
            "this API account may not download backups",
        )
        .into_response();
    }
    let (name, content) = s.shared.with(|w, now| {
        w.record_backup(s.app, now);
        let a = &w.apps[s.app];
        let content = serde_json::json!({
            "appliance": a.name,
            "appliance_id": a.id,
            "product": a.product.as_str(),
            "version": a.version.to_string(),
            "base_version": a.base_version.to_string(),
            "taken_at": w.clock.rfc3339_at(now),
        });
        (a.name.clone(), content.to_string())
    });
    let mut file = b"BATON-SIM-NSB/1\n".to_vec();
    match password.filter(|p| !p.is_empty()) {
        None => file.extend_from_slice(content.as_bytes()),
        Some(p) => {
            // Opaque without the password: XOR with a keystream derived from it.
            file.extend_from_slice(b"encrypted\n");
            let mut key = Sha256::digest(p.as_bytes()).to_vec();
            for (i, b) in content.bytes().enumerate() {
                if i % 32 == 0 && i > 0 {
                    key = Sha256::digest(&key).to_vec();
                }
                file.push(b ^ key[i % 32]);
            }
        }
    }
    let mut r = bytes_response("application/octet-stream", file);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.nsb\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
