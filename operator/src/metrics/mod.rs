//! Prometheus metrics, served by the admin server on `/metrics` (OpenMetrics text).
//!
//! Two groups:
//! - the controller-runtime names dashboards for Go operators already chart:
//!   `controller_runtime_reconcile_total{controller,result}`,
//!   `controller_runtime_reconcile_errors_total{controller}`,
//!   `controller_runtime_reconcile_time_seconds{controller}` and
//!   `leader_election_master_status{name}`, recorded around every reconcile
//!   ([`crate::runtime`]) and by the elector ([`crate::leader`]);
//! - domain metrics computed from the resources' status as the leader sees it change
//!   ([`watch_statuses`]): resources by phase, stalled resources, step durations, the last
//!   upgrade's downtime and drain waits.
//!
//! Domain metrics come from a watch rather than from inside the reconcile: a reconcile makes
//! several step transitions and the last one clears `status.upgrade`, so only the stream of
//! status writes shows every step that finished.

mod domain;
mod labels;
mod names;
#[cfg(test)]
mod tests;
mod watch;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use domain::{Key, Tracked};
use labels::{
    ActionLabels, ControllerLabels, HistogramFamily, KindLabels, NameLabels, PhaseLabels,
    ResourceLabels, ResultLabels, reconcile_histogram, step_histogram,
};
use names::PHASES;
pub use names::phase_name;
pub use watch::{Observed, StatusView, watch_statuses};

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    errors: Family<ControllerLabels, Counter>,
    reconcile_time: HistogramFamily<ControllerLabels>,
    leader: Family<NameLabels, Gauge>,
    resources: Family<PhaseLabels, Gauge>,
    stalled: Family<KindLabels, Gauge>,
    step_duration: HistogramFamily<ActionLabels>,
    downtime: Family<ResourceLabels, Gauge>,
    drain_wait: Histogram,
    tracked: Mutex<HashMap<Key, Tracked>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabels, Counter>::default();
        // Counters get `_total` appended by the encoder.
        registry.register(
            "controller_runtime_reconcile",
            "Reconciles per controller and result (success, requeue, requeue_after, error)",
            reconciles.clone(),
        );
        let errors = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile_errors",
            "Reconciles that returned an error",
            errors.clone(),
        );
        let reconcile_time: HistogramFamily<ControllerLabels> =
            Family::new_with_constructor(reconcile_histogram);
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "How long reconciles take",
            reconcile_time.clone(),
        );
        let leader = Family::<NameLabels, Gauge>::default();
        registry.register(
            "leader_election_master_status",
            "1 while this process holds the lease named by `name`, else 0",
            leader.clone(),
        );
        let resources = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "baton_resources",
            "Resources per kind and status.phase",
            resources.clone(),
        );
        let stalled = Family::<KindLabels, Gauge>::default();
        registry.register(
            "baton_stalled_resources",
            "Resources whose Stalled condition is True: a person must act",
            stalled.clone(),
        );
        let step_duration: HistogramFamily<ActionLabels> =
            Family::new_with_constructor(step_histogram);
        registry.register(
            "baton_step_duration_seconds",
            "How long upgrade steps took, from Running to Succeeded, per action",
            step_duration.clone(),
        );
        let downtime = Family::<ResourceLabels, Gauge>::default();
        registry.register(
            "baton_last_upgrade_downtime_seconds",
            "Seconds without a serving primary in the resource's last upgrade, as the operator saw it",
            downtime.clone(),
        );
        let drain_wait = step_histogram();
        registry.register(
            "baton_drain_wait_seconds",
            "How long drain steps waited for a node's connected clients to reach zero",
            drain_wait.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            reconcile_time,
            leader,
            resources,
            stalled,
            step_duration,
            downtime,
            drain_wait,
            tracked: Mutex::new(HashMap::new()),
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Creates the series of a controller at zero, so dashboards see it before it errs.
    pub fn register_controller(&self, controller: &str, kind: &str) {
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        let _ = self.errors.get_or_create(&labels);
        let _ = self.reconcile_time.get_or_create(&labels);
        let _ = self.stalled.get_or_create(&KindLabels {
            kind: kind.to_owned(),
        });
        for phase in PHASES {
            let _ = self.resources.get_or_create(&PhaseLabels {
                kind: kind.to_owned(),
                phase: phase_name(phase),
            });
        }
    }

    /// Records one reconcile.
    pub fn reconciled(&self, controller: &str, result: &str, took: Duration) {
        self.reconciles
            .get_or_create(&ResultLabels {
                controller: controller.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        if result == "error" {
            self.errors.get_or_create(&labels).inc();
        }
        self.reconcile_time
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Sets `leader_election_master_status{name}`.
    pub fn set_leader(&self, lease: &str, leader: bool) {
        self.leader
            .get_or_create(&NameLabels {
                name: lease.to_owned(),
            })
            .set(i64::from(leader));
    }
}
