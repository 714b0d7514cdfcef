//! [`Retrying`]: bounded retries with backoff for transient failures of reads.
//!
//! Only reads are retried. A write whose reply was lost (connection reset, timeout) may have
//! happened; repeating `start_install`, `set_failover_role` or `establish_failover` blindly
//! could install twice or swap roles back. Writes pass straight through and the controller
//! decides from observed state (and the install's `Idempotency-Key`) what to do next.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::SecretString;
use tracing::debug;

use super::api::{ManagementApi, VendorApi};
use super::error::Result;
use super::management::model::{
    Clock, Cluster, ClusterNode, Distribution, EstablishRequest, ExtensionInfo, Failover, Install,
    InstallRequest, Package, Software, SyncStatus,
};
use super::vendor::model::{ApiInfo, ApplianceInfo, ClientCounts, Health, SetFailoverRole};

/// How many times and how patiently to retry a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub attempts: u32,
    /// Delay before the first retry, doubled each time.
    pub base_delay: Duration,
    /// Upper bound on one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, retry: u32, asked: Option<Duration>) -> Duration {
        let backoff = self.base_delay.saturating_mul(1 << retry.min(16));
        asked.unwrap_or(backoff).max(backoff).min(self.max_delay)
    }
}

/// Wraps an appliance implementation so transient read failures are retried.
#[derive(Debug, Clone)]
pub struct Retrying<T> {
    inner: T,
    policy: RetryPolicy,
}

impl<T> Retrying<T> {
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    async fn read<R, F, Fut>(&self, op: &'static str, f: F) -> Result<R>
    where
        F: Fn() -> Fut + Send + Sync,
        Fut: Future<Output = Result<R>> + Send,
        R: Send,
    {
        let mut retry = 0;
        loop {
            match f().await {
                // A rate limit longer than one delay is the controller's to wait out
                // (by requeueing), not a reason to hold the reconcile here.
                Err(e)
                    if e.is_transient()
                        && retry + 1 < self.policy.attempts
                        && e.retry_after().is_none_or(|d| d <= self.policy.max_delay) =>
                {
                    let delay = self.policy.delay(retry, e.retry_after());
                    debug!(
                        op,
                        category = e.category(),
                        delay_ms = delay.as_millis() as u64,
                        "retrying a read"
                    );
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }
}

#[async_trait]
impl<T: VendorApi> VendorApi for Retrying<T> {
    async fn health(&self) -> Result<Health> {
        self.read("check_health", || self.inner.health()).await
    }
    async fn appliances(&self) -> Result<Vec<ApplianceInfo>> {
        self.read("get_appliances", || self.inner.appliances())
            .await
    }
    async fn client_counts(&self) -> Result<ClientCounts> {
        self.read("get_connected_client_list", || self.inner.client_counts())
            .await
    }
    async fn api_info(&self) -> Result<ApiInfo> {
        self.read("get_api_info", || self.inner.api_info()).await
    }
    async fn set_failover_role(&self, request: SetFailoverRole) -> Result<()> {
        self.inner.set_failover_role(request).await
    }
    async fn backup(&self, password: Option<&SecretString>) -> Result<Bytes> {
        // Downloading a backup changes nothing on the appliance.
        self.read("backup", || self.inner.backup(password)).await
    }
}

#[async_trait]
impl<T: ManagementApi> ManagementApi for Retrying<T> {
    async fn extension_info(&self) -> Result<ExtensionInfo> {
        self.read("get_info", || self.inner.extension_info()).await
    }
    async fn clock(&self) -> Result<Clock> {
        self.read("get_clock", || self.inner.clock()).await
    }
    async fn software(&self) -> Result<Software> {
        self.read("get_software", || self.inner.software()).await
    }
    async fn packages(&self) -> Result<Vec<Package>> {
        self.read("list_packages", || self.inner.packages()).await
    }
    async fn stage_package(&self, package_id: &str) -> Result<Package> {
        self.inner.stage_package(package_id).await
    }
    async fn download_key(&self) -> Result<SecretString> {
        self.read("get_download_key", || self.inner.download_key())
            .await
    }
    async fn upload_package(&self, package: Bytes) -> Result<Package> {
        self.inner.upload_package(package).await
    }
    async fn installs(&self) -> Result<Vec<Install>> {
        self.read("list_installs", || self.inner.installs()).await
    }
    async fn start_install(
        &self,
        request: &InstallRequest,
        idempotency_key: &str,
    ) -> Result<Install> {
        self.inner.start_install(request, idempotency_key).await
    }
    async fn install(&self, install_id: &str, wait: Duration) -> Result<Install> {
        self.read("get_install", || self.inner.install(install_id, wait))
            .await
    }
    async fn failover(&self) -> Result<Failover> {
        self.read("get_failover", || self.inner.failover()).await
    }
    async fn failover_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.read("get_failover_sync", || self.inner.failover_sync(wait))
            .await
    }
    async fn sync_failover_now(&self) -> Result<SyncStatus> {
        self.inner.sync_failover_now().await
    }
    async fn break_failover(&self) -> Result<Failover> {
        self.inner.break_failover().await
    }
    async fn establish_failover(&self, request: &EstablishRequest) -> Result<Failover> {
        self.inner.establish_failover(request).await
    }
    async fn set_backup_operations(&self, enabled: bool) -> Result<Failover> {
        self.inner.set_backup_operations(enabled).await
    }
    async fn set_shared_ips(&self, enabled: bool) -> Result<Failover> {
        self.inner.set_shared_ips(enabled).await
    }
    async fn cluster(&self) -> Result<Cluster> {
        self.read("get_cluster", || self.inner.cluster()).await
    }
    async fn set_accepting_connections(
        &self,
        appliance_id: &str,
        accepting: bool,
    ) -> Result<ClusterNode> {
        self.inner
            .set_accepting_connections(appliance_id, accepting)
            .await
    }
    async fn distribution(&self, wait: Duration) -> Result<Distribution> {
        self.read("get_distribution", || self.inner.distribution(wait))
            .await
    }
    async fn distribute(&self, package_id: &str) -> Result<Distribution> {
        self.inner.distribute(package_id).await
    }
    async fn cluster_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.read("get_cluster_sync", || self.inner.cluster_sync(wait))
            .await
    }
    async fn sync_cluster_now(&self) -> Result<SyncStatus> {
        self.inner.sync_cluster_now().await
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
