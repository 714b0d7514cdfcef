//! The domain metrics' bookkeeping: what each resource looked like at its last status change,
//! so that a finished step is counted once and the per-phase and stalled gauges are recounted
//! from every resource the leader knows of.

use std::collections::{HashMap, HashSet};
use std::sync::MutexGuard;

use baton_crds::status::{Phase, StepState};

use super::labels::{ActionLabels, KindLabels, PhaseLabels, ResourceLabels};
use super::names::{PHASES, action_name, is_drain, phase_name};
use super::{Metrics, StatusView};
use crate::time::from_k8s;

/// What one resource looked like at its last status change.
#[derive(Debug, Default)]
pub(super) struct Tracked {
    phase: Option<Phase>,
    stalled: bool,
    /// `(upgrade id, step id)` of every finished step already counted (or already finished
    /// when this process first saw the resource, and so not counted here).
    finished: HashSet<(String, String)>,
}

/// `(kind, namespace, name)` of a tracked resource.
pub(super) type Key = (String, String, String);

impl Metrics {
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
    pub(super) fn retain(
        &self,
        kind: &str,
        namespace: Option<&str>,
        keep: &HashSet<(String, String)>,
    ) {
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
