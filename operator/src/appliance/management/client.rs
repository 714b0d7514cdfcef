//! [`ManagementClient`]: the JSON extension API, over the same session (token, rate limit)
//! as the documented API.
//!
//! By default the extension lives on the appliance's own host and port under
//! `/api/management/v1`; `with_base` points it at an adapter elsewhere.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::Method;
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::instrument;
use url::Url;

use super::model::{
    Clock, Cluster, ClusterNode, Distribution, DownloadKey, ErrorBody, EstablishRequest,
    ExtensionInfo, Failover, Install, InstallList, InstallRequest, Package, PackageList, Software,
    SyncStatus,
};
use crate::appliance::api::ManagementApi;
use crate::appliance::error::{Error, Result};
use crate::appliance::session::Session;
use crate::appliance::transport::{REQUEST_TIMEOUT, Reply};

/// The extension's versioned prefix.
pub const PREFIX: &str = "api/management/v1/";
/// The longest long poll the extension accepts.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
const PERMISSION: &str = "full command access";

/// Client for the management extension of one appliance.
#[derive(Debug, Clone)]
pub struct ManagementClient {
    session: Session,
    base: Url,
}

/// A request body.
enum Body {
    None,
    Json(serde_json::Value),
    Octets(Bytes),
}

impl ManagementClient {
    /// The extension on the appliance's own endpoint.
    pub fn new(session: Session) -> Result<Self> {
        let base = session
            .transport()
            .endpoint()
            .join(PREFIX)
            .map_err(|e| Error::Config {
                detail: format!("extension URL: {e}"),
            })?;
        Ok(Self { session, base })
    }

    /// The extension at `base` (e.g. an adapter's `https://adapter:8443/api/management/v1/`),
    /// still authenticated with the appliance's token. Must be on the same host the
    /// session's TLS trusts.
    pub fn with_base(session: Session, mut base: Url) -> Self {
        // `Url::join` drops the last segment unless the base ends with '/'.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Self { session, base }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Body,
        wait: Option<Duration>,
        idempotency_key: Option<&str>,
    ) -> Result<T> {
        let mut url = self.base.join(path).map_err(|e| Error::Config {
            detail: format!("bad URL for {path}: {e}"),
        })?;
        let mut timeout = REQUEST_TIMEOUT;
        if let Some(wait) = wait {
            let wait = wait.min(MAX_WAIT);
            url.query_pairs_mut()
                .append_pair("wait_s", &wait.as_secs().to_string());
            // The server may hold the request for `wait`; give it room to answer after that.
            timeout = wait + REQUEST_TIMEOUT;
        }
        let mut builder = self
            .session
            .transport()
            .client()
            .request(method, url.clone())
            .timeout(timeout);
        if let Some(key) = idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        builder = match body {
            Body::None => builder,
            Body::Json(value) => builder.json(&value),
            Body::Octets(bytes) => builder
                .header("content-type", "application/octet-stream")
                .body(bytes),
        };
        let request = builder.build().map_err(|e| Error::Config {
            detail: format!("request for {op}: {e}"),
        })?;
        let reply = self.session.send(request).await?;
        decode(op, &url, reply)
    }

    async fn get<T: DeserializeOwned>(&self, op: &'static str, path: &str) -> Result<T> {
        self.call(op, Method::GET, path, Body::None, None, None)
            .await
    }

    async fn poll<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        wait: Duration,
    ) -> Result<T> {
        self.call(op, Method::GET, path, Body::None, Some(wait), None)
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: impl Serialize,
    ) -> Result<T> {
        let value = serde_json::to_value(body).map_err(|e| Error::Config {
            detail: format!("request body for {op}: {e}"),
        })?;
        self.call(op, method, path, Body::Json(value), None, None)
            .await
    }

    async fn post_empty<T: DeserializeOwned>(&self, op: &'static str, path: &str) -> Result<T> {
        self.call(op, Method::POST, path, Body::None, None, None)
            .await
    }
}

/// Maps a reply to `T` or to the error its status and body describe.
fn decode<T: DeserializeOwned>(op: &'static str, url: &Url, reply: Reply) -> Result<T> {
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
fn check_idempotency_key(key: &str) -> Result<()> {
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
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[async_trait]
impl ManagementApi for ManagementClient {
    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_info"))]
    async fn extension_info(&self) -> Result<ExtensionInfo> {
        self.get("get_info", "info").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_clock"))]
    async fn clock(&self) -> Result<Clock> {
        self.get("get_clock", "clock").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_software"))]
    async fn software(&self) -> Result<Software> {
        self.get("get_software", "software").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "list_packages"))]
    async fn packages(&self) -> Result<Vec<Package>> {
        let list: PackageList = self.get("list_packages", "packages").await?;
        Ok(list.packages)
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "stage_package", package_id))]
    async fn stage_package(&self, package_id: &str) -> Result<Package> {
        let path = format!("packages/{}/stage", segment(package_id));
        self.post_empty("stage_package", &path).await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_download_key"))]
    async fn download_key(&self) -> Result<SecretString> {
        let key: DownloadKey = self.get("get_download_key", "offline/download-key").await?;
        Ok(key.download_key)
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "upload_package", bytes = package.len()))]
    async fn upload_package(&self, package: Bytes) -> Result<Package> {
        self.call(
            "upload_package",
            Method::POST,
            "offline/packages",
            Body::Octets(package),
            None,
            None,
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "list_installs"))]
    async fn installs(&self) -> Result<Vec<Install>> {
        let list: InstallList = self.get("list_installs", "installs").await?;
        Ok(list.installs)
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "start_install", package_id = %request.package_id))]
    async fn start_install(
        &self,
        request: &InstallRequest,
        idempotency_key: &str,
    ) -> Result<Install> {
        check_idempotency_key(idempotency_key)?;
        let body = serde_json::to_value(request).map_err(|e| Error::Config {
            detail: format!("install request: {e}"),
        })?;
        self.call(
            "start_install",
            Method::POST,
            "installs",
            Body::Json(body),
            None,
            Some(idempotency_key),
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_install", install_id))]
    async fn install(&self, install_id: &str, wait: Duration) -> Result<Install> {
        self.poll(
            "get_install",
            &format!("installs/{}", segment(install_id)),
            wait,
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_failover"))]
    async fn failover(&self) -> Result<Failover> {
        self.get("get_failover", "failover").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_failover_sync"))]
    async fn failover_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.poll("get_failover_sync", "failover/sync", wait).await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "sync_failover_now"))]
    async fn sync_failover_now(&self) -> Result<SyncStatus> {
        self.post_empty("sync_failover_now", "failover/sync").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "break_failover"))]
    async fn break_failover(&self) -> Result<Failover> {
        self.post_empty("break_failover", "failover/break").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "establish_failover", peer = %request.peer_address))]
    async fn establish_failover(&self, request: &EstablishRequest) -> Result<Failover> {
        self.send(
            "establish_failover",
            Method::POST,
            "failover/establish",
            request,
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "set_backup_operations", enabled))]
    async fn set_backup_operations(&self, enabled: bool) -> Result<Failover> {
        let body = serde_json::json!({ "enabled": enabled });
        self.send(
            "set_backup_operations",
            Method::PUT,
            "failover/backup-operations",
            body,
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "set_shared_ips", enabled))]
    async fn set_shared_ips(&self, enabled: bool) -> Result<Failover> {
        self.send(
            "set_shared_ips",
            Method::PUT,
            "shared-ips",
            serde_json::json!({ "enabled": enabled }),
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_cluster"))]
    async fn cluster(&self) -> Result<Cluster> {
        self.get("get_cluster", "cluster").await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "set_accepting_connections", appliance_id, accepting))]
    async fn set_accepting_connections(
        &self,
        appliance_id: &str,
        accepting: bool,
    ) -> Result<ClusterNode> {
        let path = format!("cluster/nodes/{}/accepting", segment(appliance_id));
        self.send(
            "set_accepting_connections",
            Method::PUT,
            &path,
            serde_json::json!({ "accepting": accepting }),
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_distribution"))]
    async fn distribution(&self, wait: Duration) -> Result<Distribution> {
        self.poll("get_distribution", "cluster/distribute", wait)
            .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "distribute_to_cluster", package_id))]
    async fn distribute(&self, package_id: &str) -> Result<Distribution> {
        let body = serde_json::json!({ "package_id": package_id });
        self.send(
            "distribute_to_cluster",
            Method::POST,
            "cluster/distribute",
            body,
        )
        .await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "get_cluster_sync"))]
    async fn cluster_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.poll("get_cluster_sync", "cluster/sync", wait).await
    }

    #[instrument(skip_all, fields(endpoint = %self.base, op = "sync_cluster_now"))]
    async fn sync_cluster_now(&self) -> Result<SyncStatus> {
        self.post_empty("sync_cluster_now", "cluster/sync").await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
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
        let bad =
            decode::<super::super::model::Clock>("get_clock", &url(), reply(200, "{\"now\":1}"));
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
}
