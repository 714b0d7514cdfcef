//! How long the core waits before looking again, and the limits it checks against.

use std::time::Duration;

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
