//! What every reconcile shares: the Kubernetes client, the appliance connector (token cache
//! and rate limiters, process-wide), the cache of connected members, and the timings.

use std::sync::Arc;

use kube::runtime::events::Reporter;

use crate::admin::Health;
use crate::appliance::Connector;
use crate::members::MemberCache;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// Field manager for status writes (server-side apply on `/status`).
pub const FIELD_MANAGER: &str = "baton-operator";

pub use crate::upgrade::Timings;

/// Shared by every reconcile.
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// Builds appliance clients; shares tokens and rate limits per API account.
    pub connector: Connector,
    /// Connected members, reused until their spec or Secrets change.
    pub members: MemberCache,
    /// Timings.
    pub timings: Timings,
    /// Who the Events come from.
    pub reporter: Reporter,
    /// Prometheus metrics (`/metrics`).
    pub metrics: Arc<Metrics>,
    /// Readiness (`/readyz`): controllers register their watches here.
    pub health: Health,
    /// Graceful shutdown: controllers stop on it, running reconciles are abandoned on it.
    pub shutdown: Shutdown,
    /// What this process last wrote to each status (no idle writes, no needless reads).
    pub status: crate::drive::write::StatusLedger,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}
