//! The extension's wire rules the client applies to every call: replies decoded or mapped to
//! typed errors, idempotency keys checked, path segments encoded.

use serde::de::DeserializeOwned;
use url::Url;

use super::client::PERMISSION;
use super::model::ErrorBody;
use crate::appliance::error::{Error, Result};
use crate::appliance::transport::Reply;

/// Maps a reply to `T` or to the error its status and body describe.
pub(super) fn decode<T: DeserializeOwned>(op: &'static str, url: &Url, reply: Reply) -> Result<T> {
    if reply.is_success() {
        return serde_json::from_slice(&reply.body).map_err(|e| {
            Error::bad_response(
                op,
                format!("reply does not match the extension schema: {e}"),
            )
        });
    }
    let Ok(ErrorBody {
        error: code,
        message,
    }) = serde_json::from_slice::<ErrorBody>(&reply.body)
    else {
        // No extension error body: a 404 means nothing serves the extension here.
        if reply.status == 404 {
            return Err(Error::ExtensionMissing {
                url: url.as_str().to_owned(),
            });
        }
        return Err(Error::BadResponse {
            op,
            status: Some(reply.status),
            detail: format!("unexpected status {}", reply.status),
        });
    };
    Err(match (reply.status, code.as_str()) {
        (403, _) | (_, "insufficient_permissions") => Error::MissingPermission {
            permission: PERMISSION.into(),
            message,
        },
        (409, _) => Error::Conflict { code, message },
        _ => Error::Appliance { code, message },
    })
}

/// The contract allows keys of 1 to 128 characters; a key the server would reject or
/// truncate could make a retried install start twice.
pub(super) fn check_idempotency_key(key: &str) -> Result<()> {
    let valid = !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(Error::Config {
            detail: format!("Idempotency-Key {key:?} must be 1 to 128 visible ASCII characters"),
        })
    }
}

/// Percent-encodes one path segment (ids come from the appliance, but never trust them to
/// be URL-safe).
pub(super) fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
