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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;

use baton_crds::conditions::types;
use baton_crds::status::{LastUpgrade, Phase, StepAction, StepState, UpgradeStatus};
use baton_crds::{AppliancePair, AtlasCluster};

use crate::time::from_k8s;

/// The phases `baton_resources` always has a series for (0 or more); a phase added later is
/// counted as soon as a resource is in it.
const PHASES: [Phase; 12] = [
    Phase::Pending,
    Phase::UpToDate,
    Phase::Preparing,
    Phase::Upgrading,
    Phase::Promoting,
    Phase::Soaking,
    Phase::Finishing,
    Phase::WaitingForWindow,
    Phase::AwaitingApproval,
    Phase::Paused,
    Phase::Stalled,
    Phase::Degraded,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    kind: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    kind: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    kind: String,
    namespace: String,
    name: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn reconcile_histogram() -> Histogram {
    // 5 ms to about 10 min: a reconcile may include a long poll on an install.
    Histogram::new(exponential_buckets(0.005, 2.0, 18))
}

fn step_histogram() -> Histogram {
    // 1 s to about 9 h: a soak or a drain can take hours.
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

/// What one resource looked like at its last status change.
#[derive(Debug, Default)]
struct Tracked {
    phase: Option<Phase>,
    stalled: bool,
    /// `(upgrade id, step id)` of every finished step already counted (or already finished
    /// when this process first saw the resource, and so not counted here).
    finished: HashSet<(String, String)>,
}

type Key = (String, String, String);

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

    fn tracked(&self) -> MutexGuard<'_, HashMap<Key, Tracked>> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.tracked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes in a resource's status as it is now.
    pub fn observe(&self, kind: &str, namespace: &str, name: &str, view: &StatusView<'_>) {
        let key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
        let mut tracked = self.tracked();
        let first = !tracked.contains_key(&key);
        let entry = tracked.entry(key).or_default();
        entry.phase = Some(view.phase);
        entry.stalled = view.stalled;
        if let Some(upgrade) = view.upgrade {
            for step in &upgrade.plan {
                if step.state != StepState::Succeeded {
                    continue;
                }
                let id = (upgrade.id.clone(), step.id.clone());
                if !entry.finished.insert(id) || first {
                    continue;
                }
                if let (Some(start), Some(end)) = (&step.started_at, &step.finished_at) {
                    let seconds = (from_k8s(end) - from_k8s(start)).as_seconds_f64().max(0.0);
                    self.step_duration
                        .get_or_create(&ActionLabels {
                            kind: kind.to_owned(),
                            action: action_name(step.action),
                        })
                        .observe(seconds);
                    if is_drain(step.action) {
                        self.drain_wait.observe(seconds);
                    }
                }
            }
        }
        let labels = ResourceLabels {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        match view.last_upgrade.and_then(|l| l.downtime_seconds) {
            Some(seconds) => {
                self.downtime.get_or_create(&labels).set(seconds);
            }
            None => {
                self.downtime.remove(&labels);
            }
        }
        self.recount(kind, &tracked);
    }

    /// Forgets a deleted resource.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        let mut tracked = self.tracked();
        tracked.remove(&(kind.to_owned(), namespace.to_owned(), name.to_owned()));
        self.downtime.remove(&ResourceLabels {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
        self.recount(kind, &tracked);
    }

    /// Forgets the resources of `kind` in `namespace` (all when `None`) not in `keep`: a
    /// relisted watch does not report deletions it missed.
    fn retain(&self, kind: &str, namespace: Option<&str>, keep: &HashSet<(String, String)>) {
        let mut tracked = self.tracked();
        let gone: Vec<Key> = tracked
            .keys()
            .filter(|(k, ns, name)| {
                k == kind
                    && namespace.is_none_or(|n| n == ns)
                    && !keep.contains(&(ns.clone(), name.clone()))
            })
            .cloned()
            .collect();
        for key in gone {
            self.downtime.remove(&ResourceLabels {
                kind: key.0.clone(),
                namespace: key.1.clone(),
                name: key.2.clone(),
            });
            tracked.remove(&key);
        }
        self.recount(kind, &tracked);
    }

    fn recount(&self, kind: &str, tracked: &HashMap<Key, Tracked>) {
        let mine = || tracked.iter().filter(|((k, _, _), _)| k == kind);
        // Every known phase (zero included), and any phase a newer status may carry.
        let mut phases: Vec<Phase> = PHASES.to_vec();
        for phase in mine().filter_map(|(_, t)| t.phase) {
            if !phases.contains(&phase) {
                phases.push(phase);
            }
        }
        for phase in phases {
            let count = mine().filter(|(_, t)| t.phase == Some(phase)).count();
            self.resources
                .get_or_create(&PhaseLabels {
                    kind: kind.to_owned(),
                    phase: phase_name(phase),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let stalled = mine().filter(|(_, t)| t.stalled).count();
        self.stalled
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .set(i64::try_from(stalled).unwrap_or(i64::MAX));
    }
}

/// The part of a status the domain metrics read.
#[derive(Debug, Clone, Copy)]
pub struct StatusView<'a> {
    pub phase: Phase,
    pub stalled: bool,
    pub upgrade: Option<&'a UpgradeStatus>,
    pub last_upgrade: Option<&'a LastUpgrade>,
}

/// A kind whose status the domain metrics read.
pub trait Observed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    /// The kind, as in `kind` labels.
    const KIND: &'static str;
    /// The status as the metrics see it.
    fn view(&self) -> StatusView<'_>;
}

fn stalled(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == types::STALLED && c.status == "True")
}

impl Observed for AppliancePair {
    const KIND: &'static str = "AppliancePair";
    fn view(&self) -> StatusView<'_> {
        match &self.status {
            Some(s) => StatusView {
                phase: s.phase,
                stalled: stalled(&s.conditions),
                upgrade: s.upgrade.as_ref(),
                last_upgrade: s.last_upgrade.as_ref(),
            },
            None => StatusView::pending(),
        }
    }
}

impl Observed for AtlasCluster {
    const KIND: &'static str = "AtlasCluster";
    fn view(&self) -> StatusView<'_> {
        match &self.status {
            Some(s) => StatusView {
                phase: s.phase,
                stalled: stalled(&s.conditions),
                upgrade: s.upgrade.as_ref(),
                last_upgrade: s.last_upgrade.as_ref(),
            },
            None => StatusView::pending(),
        }
    }
}

impl StatusView<'_> {
    fn pending() -> Self {
        Self {
            phase: Phase::Pending,
            stalled: false,
            upgrade: None,
            last_upgrade: None,
        }
    }
}

/// Feeds every status change of `K` in `api`'s scope into the domain metrics until the
/// watch ends (it retries with backoff, so: until the task is dropped).
pub async fn watch_statuses<K: Observed>(
    metrics: Arc<Metrics>,
    api: Api<K>,
    namespace: Option<String>,
) {
    let mut relisted: Option<HashSet<(String, String)>> = None;
    let events = watcher(api, watcher::Config::default().any_semantic()).default_backoff();
    futures::pin_mut!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => relisted = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object)) => {
                let (ns, name) = (object.namespace().unwrap_or_default(), object.name_any());
                metrics.observe(K::KIND, &ns, &name, &object.view());
                if let Some(seen) = relisted.as_mut() {
                    seen.insert((ns, name));
                }
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(seen) = relisted.take() {
                    metrics.retain(K::KIND, namespace.as_deref(), &seen);
                }
            }
            Ok(watcher::Event::Delete(object)) => {
                metrics.forget(
                    K::KIND,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                );
            }
            Err(e) => {
                tracing::debug!(kind = K::KIND, error = %e, "status watch for metrics failed; retrying")
            }
        }
    }
}

/// The phase as it is written in status (`UpToDate`, `Stalled`, ...).
pub fn phase_name(phase: Phase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{phase:?}"))
}

/// The action as it is written in status (`Install`, `SwingTraffic`, ...).
fn action_name(action: StepAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{action:?}"))
}

/// Drain steps (Atlas traffic nodes leaving rotation until their clients are gone), by the
/// action's name so the metric follows the vocabulary without a list to keep in step.
fn is_drain(action: StepAction) -> bool {
    action_name(action).starts_with("Drain")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::to_k8s;
    use baton_crds::status::PlanStep;

    fn step(id: &str, action: StepAction, state: StepState, secs: Option<i64>) -> PlanStep {
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        PlanStep {
            id: id.into(),
            action,
            state,
            started_at: Some(to_k8s(start)),
            finished_at: secs.map(|s| to_k8s(start + chrono::Duration::seconds(s))),
            ..PlanStep::default()
        }
    }

    fn upgrade(steps: Vec<PlanStep>) -> UpgradeStatus {
        UpgradeStatus {
            id: "u-1".into(),
            plan: steps,
            ..UpgradeStatus::default()
        }
    }

    fn view<'a>(phase: Phase, upgrade: Option<&'a UpgradeStatus>) -> StatusView<'a> {
        StatusView {
            phase,
            stalled: phase == Phase::Stalled,
            upgrade,
            last_upgrade: None,
        }
    }

    #[test]
    fn the_exposition_has_the_names_dashboards_know() {
        let m = Metrics::new();
        m.register_controller("appliancepair", "AppliancePair");
        m.reconciled("appliancepair", "requeue_after", Duration::from_millis(20));
        m.reconciled("appliancepair", "error", Duration::from_millis(20));
        m.set_leader("baton-operator", true);
        let text = m.encode();
        for name in [
            "controller_runtime_reconcile_total{controller=\"appliancepair\",result=\"requeue_after\"} 1",
            "controller_runtime_reconcile_errors_total{controller=\"appliancepair\"} 1",
            "controller_runtime_reconcile_time_seconds_count{controller=\"appliancepair\"} 2",
            "leader_election_master_status{name=\"baton-operator\"} 1",
            "baton_resources{kind=\"AppliancePair\",phase=\"UpToDate\"} 0",
            "baton_stalled_resources{kind=\"AppliancePair\"} 0",
            "baton_drain_wait_seconds_count 0",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }

    #[test]
    fn steps_are_counted_once_and_only_when_seen_finishing() {
        let m = Metrics::new();
        // Already finished when first seen (before this process started): not counted.
        let before = upgrade(vec![step(
            "s1",
            StepAction::Backup,
            StepState::Succeeded,
            Some(4),
        )]);
        m.observe(
            "AppliancePair",
            "ns",
            "site",
            &view(Phase::Preparing, Some(&before)),
        );
        let running = upgrade(vec![
            step("s1", StepAction::Backup, StepState::Succeeded, Some(4)),
            step("s2", StepAction::Install, StepState::Running, None),
        ]);
        m.observe(
            "AppliancePair",
            "ns",
            "site",
            &view(Phase::Upgrading, Some(&running)),
        );
        let done = upgrade(vec![
            step("s1", StepAction::Backup, StepState::Succeeded, Some(4)),
            step("s2", StepAction::Install, StepState::Succeeded, Some(90)),
        ]);
        // Seen twice: counted once.
        m.observe(
            "AppliancePair",
            "ns",
            "site",
            &view(Phase::Upgrading, Some(&done)),
        );
        m.observe(
            "AppliancePair",
            "ns",
            "site",
            &view(Phase::Upgrading, Some(&done)),
        );
        let text = m.encode();
        assert!(
            text.contains(
                "baton_step_duration_seconds_count{kind=\"AppliancePair\",action=\"Install\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "baton_step_duration_seconds_sum{kind=\"AppliancePair\",action=\"Install\"} 90.0"
            ),
            "{text}"
        );
        assert!(!text.contains("action=\"Backup\""), "{text}");
        assert!(
            text.contains("baton_resources{kind=\"AppliancePair\",phase=\"Upgrading\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn phases_stalled_and_downtime_follow_the_resources() {
        let m = Metrics::new();
        m.observe("AppliancePair", "a", "one", &view(Phase::Stalled, None));
        m.observe("AppliancePair", "b", "two", &view(Phase::Stalled, None));
        let last = LastUpgrade {
            downtime_seconds: Some(7),
            ..LastUpgrade::default()
        };
        let mut up = view(Phase::UpToDate, None);
        up.last_upgrade = Some(&last);
        m.observe("AppliancePair", "a", "three", &up);
        let text = m.encode();
        assert!(
            text.contains("baton_resources{kind=\"AppliancePair\",phase=\"Stalled\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("baton_stalled_resources{kind=\"AppliancePair\"} 2"),
            "{text}"
        );
        assert!(text.contains("baton_last_upgrade_downtime_seconds{kind=\"AppliancePair\",namespace=\"a\",name=\"three\"} 7"), "{text}");

        m.forget("AppliancePair", "a", "one");
        // A relist of namespace b that no longer has `two`.
        m.retain("AppliancePair", Some("b"), &HashSet::new());
        m.forget("AppliancePair", "a", "three");
        let text = m.encode();
        assert!(
            text.contains("baton_stalled_resources{kind=\"AppliancePair\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("baton_resources{kind=\"AppliancePair\",phase=\"Stalled\"} 0"),
            "{text}"
        );
        assert!(
            !text.contains("baton_last_upgrade_downtime_seconds{"),
            "{text}"
        );
    }
}
