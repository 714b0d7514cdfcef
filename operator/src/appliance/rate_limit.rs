//! [`RateLimited`]: keeps one API account under the documented rate limit.
//!
//! The vendor allows 20 requests/s and 15,000/hour per API account. Every client for the
//! same account shares one [`RateLimiter`] (from [`RateLimits`], built once per process), a
//! pair of token buckets. When the appliance still answers `429`, the wrapper pauses the
//! whole account for the `Retry-After` it asked for (bounded) and tries again; that is safe
//! even for non-idempotent calls because a `429` means the request was not acted on.
//! A pause longer than the bound is not slept through: the error goes to the controller,
//! which requeues, instead of holding a reconcile for minutes.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::SecretString;
use tracing::warn;

use super::api::{ManagementApi, VendorApi};
use super::error::{Error, Result};
pub use super::limiter::{Backoff, RateLimit, RateLimiter, RateLimits};
use super::management::model::{
    Clock, Cluster, ClusterNode, Distribution, EstablishRequest, ExtensionInfo, Failover, Install,
    InstallRequest, Package, Software, SyncStatus,
};
use super::vendor::model::{ApiInfo, ApplianceInfo, ClientCounts, Health, SetFailoverRole};

/// Wraps an appliance implementation so it respects the account's rate limit.
#[derive(Debug, Clone)]
pub struct RateLimited<T> {
    inner: T,
    limiter: RateLimiter,
    backoff: Backoff,
}

impl<T> RateLimited<T> {
    pub fn new(inner: T, limiter: RateLimiter, backoff: Backoff) -> Self {
        Self {
            inner,
            limiter,
            backoff,
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    async fn call<R, F, Fut>(&self, op: &'static str, f: F) -> Result<R>
    where
        F: Fn() -> Fut + Send + Sync,
        Fut: Future<Output = Result<R>> + Send,
        R: Send,
    {
        let mut retries = 0;
        loop {
            self.limiter.acquire().await?;
            match f().await {
                Err(Error::RateLimited { retry_after })
                    if retries < self.backoff.max_retries
                        && retry_after <= self.backoff.max_wait =>
                {
                    let floor = self.backoff.min_wait.saturating_mul(1 << retries.min(16));
                    let wait = retry_after.max(floor).min(self.backoff.max_wait);
                    warn!(
                        op,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited by the appliance; backing off"
                    );
                    self.limiter.pause(wait);
                    retries += 1;
                }
                other => return other,
            }
        }
    }
}

#[async_trait]
impl<T: VendorApi> VendorApi for RateLimited<T> {
    async fn health(&self) -> Result<Health> {
        self.call("check_health", || self.inner.health()).await
    }
    async fn appliances(&self) -> Result<Vec<ApplianceInfo>> {
        self.call("get_appliances", || self.inner.appliances())
            .await
    }
    async fn client_counts(&self) -> Result<ClientCounts> {
        self.call("get_connected_client_list", || self.inner.client_counts())
            .await
    }
    async fn api_info(&self) -> Result<ApiInfo> {
        self.call("get_api_info", || self.inner.api_info()).await
    }
    async fn set_failover_role(&self, request: SetFailoverRole) -> Result<()> {
        self.call("set_failover_role", || {
            self.inner.set_failover_role(request)
        })
        .await
    }
    async fn backup(&self, password: Option<&SecretString>) -> Result<Bytes> {
        self.call("backup", || self.inner.backup(password)).await
    }
}

#[async_trait]
impl<T: ManagementApi> ManagementApi for RateLimited<T> {
    async fn extension_info(&self) -> Result<ExtensionInfo> {
        self.call("get_info", || self.inner.extension_info()).await
    }
    async fn clock(&self) -> Result<Clock> {
        self.call("get_clock", || self.inner.clock()).await
    }
    async fn software(&self) -> Result<Software> {
        self.call("get_software", || self.inner.software()).await
    }
    async fn packages(&self) -> Result<Vec<Package>> {
        self.call("list_packages", || self.inner.packages()).await
    }
    async fn stage_package(&self, package_id: &str) -> Result<Package> {
        self.call("stage_package", || self.inner.stage_package(package_id))
            .await
    }
    async fn download_key(&self) -> Result<SecretString> {
        self.call("get_download_key", || self.inner.download_key())
            .await
    }
    async fn upload_package(&self, package: Bytes) -> Result<Package> {
        // Bytes clones share the buffer, so a resend after 429 costs no copy.
        self.call("upload_package", || {
            self.inner.upload_package(package.clone())
        })
        .await
    }
    async fn installs(&self) -> Result<Vec<Install>> {
        self.call("list_installs", || self.inner.installs()).await
    }
    async fn start_install(
        &self,
        request: &InstallRequest,
        idempotency_key: &str,
    ) -> Result<Install> {
        self.call("start_install", || {
            self.inner.start_install(request, idempotency_key)
        })
        .await
    }
    async fn install(&self, install_id: &str, wait: Duration) -> Result<Install> {
        self.call("get_install", || self.inner.install(install_id, wait))
            .await
    }
    async fn failover(&self) -> Result<Failover> {
        self.call("get_failover", || self.inner.failover()).await
    }
    async fn failover_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.call("get_failover_sync", || self.inner.failover_sync(wait))
            .await
    }
    async fn sync_failover_now(&self) -> Result<SyncStatus> {
        self.call("sync_failover_now", || self.inner.sync_failover_now())
            .await
    }
    async fn break_failover(&self) -> Result<Failover> {
        self.call("break_failover", || self.inner.break_failover())
            .await
    }
    async fn establish_failover(&self, request: &EstablishRequest) -> Result<Failover> {
        self.call("establish_failover", || {
            self.inner.establish_failover(request)
        })
        .await
    }
    async fn set_backup_operations(&self, enabled: bool) -> Result<Failover> {
        self.call("set_backup_operations", || {
            self.inner.set_backup_operations(enabled)
        })
        .await
    }
    async fn set_shared_ips(&self, enabled: bool) -> Result<Failover> {
        self.call("set_shared_ips", || self.inner.set_shared_ips(enabled))
            .await
    }
    async fn cluster(&self) -> Result<Cluster> {
        self.call("get_cluster", || self.inner.cluster()).await
    }
    async fn set_accepting_connections(
        &self,
        appliance_id: &str,
        accepting: bool,
    ) -> Result<ClusterNode> {
        self.call("set_accepting_connections", || {
            self.inner
                .set_accepting_connections(appliance_id, accepting)
        })
        .await
    }
    async fn distribution(&self, wait: Duration) -> Result<Distribution> {
        self.call("get_distribution", || self.inner.distribution(wait))
            .await
    }
    async fn distribute(&self, package_id: &str) -> Result<Distribution> {
        self.call("distribute_to_cluster", || {
            self.inner.distribute(package_id)
        })
        .await
    }
    async fn cluster_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.call("get_cluster_sync", || self.inner.cluster_sync(wait))
            .await
    }
    async fn sync_cluster_now(&self) -> Result<SyncStatus> {
        self.call("sync_cluster_now", || self.inner.sync_cluster_now())
            .await
    }
}

#[cfg(test)]
#[path = "rate_limit_tests.rs"]
mod tests;
