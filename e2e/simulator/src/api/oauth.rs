//! `POST /oauth2/token`: client credentials with HTTP Basic, as the vendor documents it.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;

use super::{AppState, form_params, json, json_error, rate_headers, rate_limited};
use crate::auth::TokenError;
use crate::ratelimit::Decision;
use crate::runtime::lock;

pub(crate) async fn token(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((id, secret)) = basic_credentials(&headers) else {
        return json_error(
            401,
            "invalid_client",
            "HTTP Basic client credentials are required",
        );
    };
    let form = form_params(&body);
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return json_error(
                400,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        None => return json_error(400, "invalid_request", "grant_type is required"),
    }
    let now = Instant::now();
    let issued = {
        let mut rng = lock(&s.shared.token_rng);
        let mut auth = lock(&s.shared.auth[s.app]);
        auth.issue(&id, &secret, &mut rng, now)
            .map(|(account, token)| {
                let (limit, decision) = auth.rate(account, now);
                (token, auth.ttl(), limit, decision)
            })
    };
    match issued {
        Err(TokenError::InvalidClient) => {
            json_error(401, "invalid_client", "unknown client or wrong secret")
        }
        Ok((_, _, limit, Decision::Deny { retry_after_s })) => rate_limited(limit, retry_after_s),
        Ok((token, ttl, limit, Decision::Allow { remaining })) => {
            let mut r = json(
                StatusCode::OK,
                &serde_json::json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": ttl.as_secs_f64().ceil() as u64,
                }),
            );
            rate_headers(r.headers_mut(), limit, remaining);
            r
        }
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    // Taken verbatim: common clients (reqwest, curl) do not form-encode the pair.
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}
