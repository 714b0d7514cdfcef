//! The appliance client: how baton talks to BeyondTrust B Series appliances.
//!
//! Two halves, kept apart so a site can provide the second with an adapter:
//! - [`VendorApi`]: the documented API (OAuth, Command API v1 XML, Backup API), spoken as
//!   `docs/src/reference/vendor-api.md` describes it, by [`VendorClient`];
//! - [`ManagementApi`]: baton's management extension under `/api/management/v1`
//!   (`docs/api/management-extension-v1.openapi.yaml`), by [`ManagementClient`].
//!
//! Both share one [`Session`] per member: HTTPS over rustls/ring trusting only the member's
//! CA ([`HttpsTransport`]) and a bearer token from a process-wide [`TokenCache`], with one
//! retry on `401`. Rate limiting ([`RateLimited`], over a per-account [`RateLimiter`]) and
//! retries of reads ([`Retrying`]) are wrappers implementing the same traits. [`Connector`]
//! assembles the production stack. Controllers depend on [`Appliance`] only; the simulator
//! (`e2e/simulator`) is the test double for everything above the wire.

pub mod api;
pub mod connect;
pub mod error;
mod limiter;
pub mod management;
pub mod rate_limit;
pub mod retry;
pub mod session;
pub mod token;
pub mod transport;
pub mod vendor;
/// The versions appliances report, owned by the decision core.
pub use crate::upgrade::version;

#[cfg(test)]
mod fake;

pub use crate::upgrade::version::{ProductVersion, Version};
pub use api::{Appliance, ManagementApi, Split, VendorApi};
pub use connect::{Connector, Member, ProductionAppliance};
pub use error::{Error, Result};
pub use management::ManagementClient;
pub use management::model::{
    Clock, Cluster, ClusterMembership, ClusterNode, Distribution, DistributionNode,
    EstablishRequest, ExtensionInfo, Failover, Install, InstallRequest, InstallState, NodeRole,
    NodeStageState, OperationState, Package, PackageKind, PackageState, Product, Relationship,
    SharedIp, Software, SoftwareState, SyncStatus,
};
pub use rate_limit::{Backoff, RateLimit, RateLimited, RateLimiter, RateLimits};
pub use retry::{RetryPolicy, Retrying};
pub use session::Session;
pub use token::{Credentials, TokenCache, TokenSource};
pub use transport::HttpsTransport;
pub use vendor::VendorClient;
pub use vendor::model::{
    Access, ApiInfo, ApplianceInfo, ClientCount, ClientCounts, ClusterRole, FailoverRole, Health,
    Permissions, SetFailoverRole, SyncRecord, TargetRole,
};
