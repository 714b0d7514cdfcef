//! The HTTP surface of one appliance: OAuth, the documented command API (XML v1, JSON v2),
//! the backup API, and the management extension under `/api/management/v1`. Layers, outer
//! to inner: injected faults (latency, forced 429 / 5xx), then for `/api/*` the bearer token
//! and the per-account rate limit, which also sets the `X-RateLimit-*` headers.

mod backup;
pub(crate) mod extension;
mod json_v2;
mod oauth;
mod views;
mod xml;
mod xml_v1;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::auth::{Access, Caller};
use crate::faults::Gate;
use crate::ratelimit::Decision;
use crate::runtime::{Shared, lock};
use crate::world::{ErrorCode, OpError};

/// Router state: the fleet and which appliance this listener is.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) app: usize,
}

/// The router of one appliance.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/command",
            get(xml_v1::command_get).post(xml_v1::command_post),
        )
        .nest("/api/command/v2", json_v2::routes())
        .route(
            "/api/backup",
            get(backup::get_backup).post(backup::post_backup),
        )
        .nest("/api/management/v1", extension::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), bearer));
    Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/check_health", get(xml_v1::public_health))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), fault_gate))
        .with_state(state)
}

async fn not_found() -> Response {
    OpError::new(ErrorCode::NotFound, "no such path").into_response()
}

impl IntoResponse for OpError {
    fn into_response(self) -> Response {
        json_error(self.code.status(), self.code.as_str(), &self.message)
    }
}

pub(crate) fn json_error(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

/// Injected latency and forced 429 / 5xx, before anything else runs.
async fn fault_gate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (latency, gate) = s.shared.with(|w, _| {
        let f = &mut w.apps[s.app].faults;
        (f.latency_ms, f.gate())
    });
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match gate {
        Gate::Pass => next.run(req).await,
        Gate::TooMany => {
            let mut r = OpError::new(ErrorCode::RateLimited, "too many requests (injected)")
                .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Gate::ServerError(status) => {
            let code = if status == 503 {
                ErrorCode::Unavailable
            } else {
                ErrorCode::ServerError
            };
            json_error(status, code.as_str(), "transient server error (injected)")
        }
    }
}

/// Bearer token and rate limit for `/api/*`.
async fn bearer(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let now = Instant::now();
    let decision = {
        let mut auth = lock(&s.shared.auth[s.app]);
        auth.authenticate(&token, now)
            .map(|caller| (caller, auth.rate_caller(caller, now)))
    };
    let Some((caller, (limit, decision))) = decision else {
        return OpError::new(
            ErrorCode::AccessDenied,
            "the access token is missing, invalid or expired",
        )
        .into_response();
    };
    match decision {
        Decision::Deny { retry_after_s } => rate_limited(limit, retry_after_s),
        Decision::Allow { remaining } => {
            req.extensions_mut().insert(caller);
            let mut resp = next.run(req).await;
            rate_headers(resp.headers_mut(), limit, remaining);
            resp
        }
    }
}

pub(crate) fn rate_limited(limit: u32, retry_after_s: u64) -> Response {
    let mut r = OpError::new(ErrorCode::RateLimited, "API rate limit exceeded").into_response();
    rate_headers(r.headers_mut(), limit, 0);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    r
}

pub(crate) fn rate_headers(h: &mut HeaderMap, limit: u32, remaining: u32) {
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
}

/// Changes need a full-access account.
pub(crate) fn require_full(caller: &Caller) -> Result<(), OpError> {
    if caller.access == Access::Full {
        Ok(())
    } else {
        Err(OpError::new(
            ErrorCode::InsufficientPermissions,
            "this API account has read-only command access",
        ))
    }
}

/// Parses `a=b&c=d`.
pub(crate) fn form_params(raw: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

/// A JSON body, with a JSON error instead of axum's plain-text rejection.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, OpError> {
    serde_json::from_slice(body)
        .map_err(|e| OpError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {e}")))
}

/// `wait_s` of a long poll: 0 to 30 real seconds.
pub(crate) fn wait_s(query: Option<&str>) -> Result<Duration, OpError> {
    let params = form_params(query.unwrap_or_default().as_bytes());
    match params.get("wait_s") {
        None => Ok(Duration::ZERO),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= 30)
            .map(Duration::from_secs)
            .ok_or_else(|| OpError::new(ErrorCode::InvalidRequest, "wait_s must be 0 to 30")),
    }
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

pub(crate) fn bytes_response(content_type: &'static str, body: Vec<u8>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub(crate) use extension::packages::package_file_bytes as extension_package_file;
