//! The appliance traits controllers program against.
//!
//! Two halves, kept apart on purpose: [`VendorApi`] is the API BeyondTrust documents and every
//! appliance serves; [`ManagementApi`] is baton's own extension
//! (`docs/api/management-extension-v1.openapi.yaml`) that a real site provides with an
//! adapter. [`Appliance`] is both, implemented for anything that implements the two halves,
//! and [`Split`] joins any vendor implementation with any extension implementation.
//!
//! The traits use `async_trait` rather than native `async fn` in traits: controllers keep
//! one `Arc<dyn Appliance>` per member, and native async trait methods are not
//! dyn-compatible. The boxing costs one allocation per call, which is nothing next to an
//! HTTPS round trip.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::SecretString;

use super::error::Result;
use super::management::model::{
    Clock, Cluster, ClusterNode, Distribution, EstablishRequest, ExtensionInfo, Failover, Install,
    InstallRequest, Package, Software, SyncStatus,
};
use super::vendor::model::{ApiInfo, ApplianceInfo, ClientCounts, Health, SetFailoverRole};

/// The documented vendor API: Command API v1 and the Backup API.
#[async_trait]
pub trait VendorApi: Send + Sync {
    /// `check_health`.
    async fn health(&self) -> Result<Health>;
    /// `get_appliances`: every node of the cluster when asked on the Atlas primary master.
    async fn appliances(&self) -> Result<Vec<ApplianceInfo>>;
    /// `get_connected_client_list&summary_only=1`.
    async fn client_counts(&self) -> Result<ClientCounts>;
    /// `get_api_info`: API version and the account's permissions.
    async fn api_info(&self) -> Result<ApiInfo>;
    /// `set_failover_role`; needs full command access. Not idempotent: never retried blindly.
    async fn set_failover_role(&self, request: SetFailoverRole) -> Result<()>;
    /// The configuration backup (`.nsb`), password-protected when `password` is given.
    async fn backup(&self, password: Option<&SecretString>) -> Result<Bytes>;
}

/// baton's management extension (`/api/management/v1`).
///
/// Calls that take `wait` are long polls: the server answers when the operation reaches a
/// terminal state or after `wait` (at most 30 s).
#[async_trait]
pub trait ManagementApi: Send + Sync {
    /// `GET /info`: extension version and the appliance it runs for.
    async fn extension_info(&self) -> Result<ExtensionInfo>;
    /// `GET /clock`.
    async fn clock(&self) -> Result<Clock>;
    /// `GET /software`: installed versions and whether an install runs.
    async fn software(&self) -> Result<Software>;
    /// `GET /packages`: available and staged packages with kind and prerequisites.
    async fn packages(&self) -> Result<Vec<Package>>;
    /// `POST /packages/{id}/stage`: download without installing.
    async fn stage_package(&self, package_id: &str) -> Result<Package>;
    /// `GET /offline/download-key`.
    async fn download_key(&self) -> Result<SecretString>;
    /// `POST /offline/packages`: upload a package fetched with the download key.
    async fn upload_package(&self, package: Bytes) -> Result<Package>;
    /// `GET /installs`, newest first.
    async fn installs(&self) -> Result<Vec<Install>>;
    /// `POST /installs`. `idempotency_key` makes a repeated request return the install it
    /// started instead of starting another; the caller chooses it and records it first.
    async fn start_install(
        &self,
        request: &InstallRequest,
        idempotency_key: &str,
    ) -> Result<Install>;
    /// `GET /installs/{id}` (long poll).
    async fn install(&self, install_id: &str, wait: Duration) -> Result<Install>;
    /// `GET /failover`.
    async fn failover(&self) -> Result<Failover>;
    /// `GET /failover/sync` (long poll).
    async fn failover_sync(&self, wait: Duration) -> Result<SyncStatus>;
    /// `POST /failover/sync`: Sync Now, on the primary.
    async fn sync_failover_now(&self) -> Result<SyncStatus>;
    /// `POST /failover/break`.
    async fn break_failover(&self) -> Result<Failover>;
    /// `POST /failover/establish` with this appliance as primary.
    async fn establish_failover(&self, request: &EstablishRequest) -> Result<Failover>;
    /// `PUT /failover/backup-operations`.
    async fn set_backup_operations(&self, enabled: bool) -> Result<Failover>;
    /// `PUT /shared-ips`.
    async fn set_shared_ips(&self, enabled: bool) -> Result<Failover>;
    /// `GET /cluster`.
    async fn cluster(&self) -> Result<Cluster>;
    /// `PUT /cluster/nodes/{id}/accepting`, on the primary master.
    async fn set_accepting_connections(
        &self,
        appliance_id: &str,
        accepting: bool,
    ) -> Result<ClusterNode>;
    /// `GET /cluster/distribute` (long poll).
    async fn distribution(&self, wait: Duration) -> Result<Distribution>;
    /// `POST /cluster/distribute`, on the primary master.
    async fn distribute(&self, package_id: &str) -> Result<Distribution>;
    /// `GET /cluster/sync` (long poll).
    async fn cluster_sync(&self, wait: Duration) -> Result<SyncStatus>;
    /// `POST /cluster/sync`: Sync Now in the cluster, on the primary master.
    async fn sync_cluster_now(&self) -> Result<SyncStatus>;
}

/// Everything a controller needs from one appliance.
pub trait Appliance: VendorApi + ManagementApi {}

impl<T: VendorApi + ManagementApi + ?Sized> Appliance for T {}

/// A vendor implementation and an extension implementation joined into one [`Appliance`].
///
/// The production pairing is `Split<VendorClient, ManagementClient>`; a site whose extension
/// adapter lives elsewhere, or is not HTTP at all, swaps the second half.
#[derive(Debug, Clone)]
pub struct Split<V, M> {
    pub vendor: V,
    pub management: M,
}

impl<V, M> Split<V, M> {
    pub fn new(vendor: V, management: M) -> Self {
        Self { vendor, management }
    }
}

#[async_trait]
impl<V: VendorApi, M: Send + Sync> VendorApi for Split<V, M> {
    async fn health(&self) -> Result<Health> {
        self.vendor.health().await
    }
    async fn appliances(&self) -> Result<Vec<ApplianceInfo>> {
        self.vendor.appliances().await
    }
    async fn client_counts(&self) -> Result<ClientCounts> {
        self.vendor.client_counts().await
    }
    async fn api_info(&self) -> Result<ApiInfo> {
        self.vendor.api_info().await
    }
    async fn set_failover_role(&self, request: SetFailoverRole) -> Result<()> {
        self.vendor.set_failover_role(request).await
    }
    async fn backup(&self, password: Option<&SecretString>) -> Result<Bytes> {
        self.vendor.backup(password).await
    }
}

#[async_trait]
impl<V: Send + Sync, M: ManagementApi> ManagementApi for Split<V, M> {
    async fn extension_info(&self) -> Result<ExtensionInfo> {
        self.management.extension_info().await
    }
    async fn clock(&self) -> Result<Clock> {
        self.management.clock().await
    }
    async fn software(&self) -> Result<Software> {
        self.management.software().await
    }
    async fn packages(&self) -> Result<Vec<Package>> {
        self.management.packages().await
    }
    async fn stage_package(&self, package_id: &str) -> Result<Package> {
        self.management.stage_package(package_id).await
    }
    async fn download_key(&self) -> Result<SecretString> {
        self.management.download_key().await
    }
    async fn upload_package(&self, package: Bytes) -> Result<Package> {
        self.management.upload_package(package).await
    }
    async fn installs(&self) -> Result<Vec<Install>> {
        self.management.installs().await
    }
    async fn start_install(
        &self,
        request: &InstallRequest,
        idempotency_key: &str,
    ) -> Result<Install> {
        self.management
            .start_install(request, idempotency_key)
            .await
    }
    async fn install(&self, install_id: &str, wait: Duration) -> Result<Install> {
        self.management.install(install_id, wait).await
    }
    async fn failover(&self) -> Result<Failover> {
        self.management.failover().await
    }
    async fn failover_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.management.failover_sync(wait).await
    }
    async fn sync_failover_now(&self) -> Result<SyncStatus> {
        self.management.sync_failover_now().await
    }
    async fn break_failover(&self) -> Result<Failover> {
        self.management.break_failover().await
    }
    async fn establish_failover(&self, request: &EstablishRequest) -> Result<Failover> {
        self.management.establish_failover(request).await
    }
    async fn set_backup_operations(&self, enabled: bool) -> Result<Failover> {
        self.management.set_backup_operations(enabled).await
    }
    async fn set_shared_ips(&self, enabled: bool) -> Result<Failover> {
        self.management.set_shared_ips(enabled).await
    }
    async fn cluster(&self) -> Result<Cluster> {
        self.management.cluster().await
    }
    async fn set_accepting_connections(
        &self,
        appliance_id: &str,
        accepting: bool,
    ) -> Result<ClusterNode> {
        self.management
            .set_accepting_connections(appliance_id, accepting)
            .await
    }
    async fn distribution(&self, wait: Duration) -> Result<Distribution> {
        self.management.distribution(wait).await
    }
    async fn distribute(&self, package_id: &str) -> Result<Distribution> {
        self.management.distribute(package_id).await
    }
    async fn cluster_sync(&self, wait: Duration) -> Result<SyncStatus> {
        self.management.cluster_sync(wait).await
    }
    async fn sync_cluster_now(&self) -> Result<SyncStatus> {
        self.management.sync_cluster_now().await
    }
}
