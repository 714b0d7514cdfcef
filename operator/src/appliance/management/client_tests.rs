//! The management client's decoding, error mapping and request checks, without a server.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::appliance::transport::Reply;
use reqwest::header::HeaderMap;

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_owned()),
    }
}

fn url() -> Url {
    "https://a.example.com/api/management/v1/installs"
        .parse()
        .unwrap()
}

fn err(status: u16, body: &str) -> Error {
    decode::<serde_json::Value>("op", &url(), reply(status, body)).unwrap_err()
}

#[test]
fn error_mapping() {
    let e = err(
        409,
        r#"{"error":"version_mismatch","message":"peer runs 24.1.0"}"#,
    );
    assert!(
        matches!(&e, Error::Conflict { code, message } if code == "version_mismatch" && message == "peer runs 24.1.0")
    );
    let e = err(
        403,
        r#"{"error":"insufficient_permissions","message":"read only"}"#,
    );
    assert!(matches!(e, Error::MissingPermission { .. }));
    let e = err(404, r#"{"error":"not_found","message":"no such package"}"#);
    assert!(matches!(&e, Error::Appliance { code, .. } if code == "not_found"));
    let e = err(404, "<html>Not Found</html>");
    assert!(matches!(e, Error::ExtensionMissing { .. }));
    let e = err(503, r#"{"error":"unavailable","message":"starting"}"#);
    assert!(e.is_transient());
    let e = err(502, "bad gateway");
    assert!(matches!(
        e,
        Error::BadResponse {
            status: Some(502),
            ..
        }
    ));
    assert!(e.is_transient());
}

#[test]
fn success_ignores_unknown_fields_but_not_a_wrong_shape() {
    let ok = decode::<super::super::model::Clock>(
        "get_clock",
        &url(),
        reply(
            200,
            r#"{"now":"2024-11-24T00:00:00+00:00","ntp_synchronized":true,"tz":"UTC"}"#,
        ),
    );
    assert!(ok.is_ok());
    let bad = decode::<super::super::model::Clock>("get_clock", &url(), reply(200, "{\"now\":1}"));
    assert!(matches!(
        bad,
        Err(Error::BadResponse {
            op: "get_clock",
            ..
        })
    ));
}

#[test]
fn idempotency_keys_are_checked_before_sending() {
    assert!(check_idempotency_key("pair-a/rs-b/product-24.3.2/1").is_ok());
    assert!(check_idempotency_key(&"k".repeat(128)).is_ok());
    for bad in ["", "has space", "line\nbreak"] {
        assert!(check_idempotency_key(bad).is_err(), "{bad:?}");
    }
    assert!(check_idempotency_key(&"k".repeat(129)).is_err());
}

#[test]
fn path_segments_are_encoded() {
    assert_eq!(segment("product-24.3.2"), "product-24.3.2");
    assert_eq!(segment("a/b c"), "a%2Fb%20c");
}
