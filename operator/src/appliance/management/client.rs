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
    Clock, Cluster, ClusterNode, Distribution, DownloadKey, EstablishRequest, ExtensionInfo,
    Failover, Install, InstallList, InstallRequest, Package, PackageList, Software, SyncStatus,
};
use super::wire::{check_idempotency_key, decode, segment};
use crate::appliance::api::ManagementApi;
use crate::appliance::error::{Error, Result};
use crate::appliance::session::Session;
use crate::appliance::transport::REQUEST_TIMEOUT;

/// The extension's versioned prefix.
pub const PREFIX: &str = "api/management/v1/";
/// The longest long poll the extension accepts.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
pub(super) const PERMISSION: &str = "full command access";

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
#[path = "client_tests.rs"]
mod tests;
