//! What every reconcile shares: the Kubernetes client, the appliance connector (token cache
//! and rate limiters, process-wide), the cache of connected members, and the timings.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::Reporter;

use crate::admin::Health;
use crate::appliance::Connector;
use crate::members::MemberCache;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// Field manager for status writes (server-side apply on `/status`).
pub const FIELD_MANAGER: &str = "baton-operator";

/// How often things happen. Tests shorten them; production keeps the defaults.
#[derive(Debug, Clone)]
pub struct Timings {
    /// Requeue of a resource with nothing to do: appliances send no events, so this is how a
    /// change made outside Kubernetes (an install by hand) is noticed.
    pub idle: Duration,
    /// Requeue while a step waits on an appliance (sync, reboot, drain).
    pub busy: Duration,
    /// Requeue while a gate holds (approval, window, soak), bounded by the gate's own time.
    pub gated: Duration,
    /// The long poll on installs and syncs (the extension answers at completion).
    pub long_poll: Duration,
    /// The largest appliance clock error preflight accepts (R8).
    pub clock_tolerance: Duration,
    /// How long an upgraded appliance may take to verify before the upgrade stops.
    pub verify_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(300),
            busy: Duration::from_secs(5),
            gated: Duration::from_secs(60),
            long_poll: Duration::from_secs(20),
            clock_tolerance: Duration::from_secs(120),
            verify_timeout: Duration::from_secs(1800),
        }
    }
}

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
