//! What the referee writes down while it reads the log: the timeline, the violations, the
//! repeated requests, the session counters, and the install, drain, sync and swap logs that
//! the report lists and the makespan is computed from.

use std::collections::{BTreeMap, HashMap};

use super::report::{
    DrainOutcome, DrainRecord, Duplicate, Event, InstallOutcome, InstallRecord, SwapRecord,
    SyncRecord, Violation,
};
use crate::fleet::PackageKind;

/// The referee's notes.
#[derive(Debug, Default)]
pub(super) struct Books {
    pub(super) scale: f64,
    pub(super) violations: Vec<Violation>,
    pub(super) timeline: Vec<Event>,
    pub(super) duplicates: Vec<Duplicate>,
    pub(super) dropped_total: u64,
    pub(super) dropped_by: BTreeMap<String, u64>,
    pub(super) sessions_cut_by_override: u64,
    pub(super) sessions_started: u64,
    pub(super) sessions_refused: u64,
    pub(super) installs: Vec<InstallRecord>,
    /// (appliance index, package id) -> its install record.
    install_by_key: HashMap<(usize, String), usize>,
    pub(super) drains: Vec<DrainRecord>,
    pub(super) syncs: Vec<SyncRecord>,
    /// Sync id -> (its record, its group).
    sync_by_id: HashMap<u64, (usize, usize)>,
    pub(super) swaps: Vec<SwapRecord>,
}

impl Books {
    pub(super) fn new(scale: f64) -> Self {
        Self {
            scale,
            ..Self::default()
        }
    }

    pub(super) fn event(
        &mut self,
        t: f64,
        appliance: Option<&str>,
        group: Option<&str>,
        kind: &str,
        detail: &str,
    ) {
        self.timeline.push(Event {
            at_sim_s: t,
            at_real_s: t / self.scale,
            appliance: appliance.map(str::to_owned),
            group: group.map(str::to_owned),
            kind: kind.to_owned(),
            detail: detail.to_owned(),
        });
    }

    pub(super) fn violation(
        &mut self,
        invariant: &str,
        group: &str,
        appliance: Option<&str>,
        t: f64,
        message: String,
    ) {
        tracing::warn!(invariant, group, appliance, at_sim_s = t, "{message}");
        self.event(
            t,
            appliance,
            Some(group),
            "violation",
            &format!("{invariant}: {message}"),
        );
        self.violations.push(Violation {
            invariant: invariant.to_owned(),
            group: group.to_owned(),
            appliance: appliance.map(str::to_owned),
            at_sim_s: t,
            message,
        });
    }

    pub(super) fn duplicate(&mut self, appliance: &str, t: f64, what: &str) {
        self.event(t, Some(appliance), None, "duplicate_request", what);
        self.duplicates.push(Duplicate {
            appliance: appliance.to_owned(),
            at_sim_s: t,
            what: what.to_owned(),
        });
    }

    pub(super) fn dropped(&mut self, appliance: &str, n: u64) {
        self.dropped_total += n;
        *self.dropped_by.entry(appliance.to_owned()).or_default() += n;
    }

    // --- the install log: one record per appliance and package ---------------------------

    /// The record of `(app, package)`, created at its first request.
    pub(super) fn install_requested(
        &mut self,
        key: (usize, &str),
        appliance: &str,
        group: &str,
        kind: Option<PackageKind>,
        t: f64,
    ) {
        let (app, package) = key;
        let idx = match self.install_by_key.get(&(app, package.to_owned())) {
            Some(&idx) => idx,
            None => {
                self.installs.push(InstallRecord {
                    appliance: appliance.to_owned(),
                    group: group.to_owned(),
                    package_id: package.to_owned(),
                    kind,
                    requests: 0,
                    refused: 0,
                    last_refusal: None,
                    starts: 0,
                    outcome: InstallOutcome::Refused,
                    first_requested_at_s: t,
                    started_at_s: None,
                    finished_at_s: None,
                    message: None,
                });
                let idx = self.installs.len() - 1;
                self.install_by_key.insert((app, package.to_owned()), idx);
                idx
            }
        };
        if let Some(r) = self.installs.get_mut(idx) {
            r.requests += 1;
        }
    }

    fn install(&mut self, key: (usize, &str)) -> Option<&mut InstallRecord> {
        let idx = *self.install_by_key.get(&(key.0, key.1.to_owned()))?;
        self.installs.get_mut(idx)
    }

    pub(super) fn install_refused(&mut self, key: (usize, &str), code: &str) {
        if let Some(r) = self.install(key) {
            r.refused += 1;
            r.last_refusal = Some(code.to_owned());
        }
    }

    pub(super) fn install_started(&mut self, key: (usize, &str), t: f64) {
        if let Some(r) = self.install(key) {
            r.starts += 1;
            r.outcome = InstallOutcome::Running;
            r.started_at_s = Some(t);
            r.finished_at_s = None;
            r.message = None;
        }
    }

    pub(super) fn install_finished(
        &mut self,
        key: (usize, &str),
        t: f64,
        outcome: InstallOutcome,
        message: Option<&str>,
    ) {
        if let Some(r) = self.install(key) {
            r.outcome = outcome;
            r.finished_at_s = Some(t);
            r.message = message.map(str::to_owned);
        }
    }

    // --- drains ------------------------------------------------------------------------

    /// Opens a drain record (ended at once when there are no clients to wait for).
    pub(super) fn drain_started(
        &mut self,
        appliance: &str,
        group: &str,
        t: f64,
        clients: u64,
    ) -> usize {
        let drained = clients == 0;
        self.drains.push(DrainRecord {
            appliance: appliance.to_owned(),
            group: group.to_owned(),
            started_at_s: t,
            clients_at_start: clients,
            ended_at_s: drained.then_some(t),
            outcome: if drained {
                DrainOutcome::Drained
            } else {
                DrainOutcome::Ongoing
            },
        });
        self.drains.len() - 1
    }

    pub(super) fn drain_ended(&mut self, d: usize, t: f64, outcome: DrainOutcome) {
        if let Some(r) = self.drains.get_mut(d) {
            r.ended_at_s = Some(t);
            r.outcome = outcome;
        }
    }

    // --- syncs and swaps ---------------------------------------------------------------

    pub(super) fn sync_started(&mut self, sync: u64, group: usize, rec: SyncRecord) {
        self.sync_by_id.insert(sync, (self.syncs.len(), group));
        self.syncs.push(rec);
    }

    /// Closes the sync's record; returns it and its group index.
    pub(super) fn sync_finished(
        &mut self,
        sync: u64,
        t: f64,
        ok: bool,
        message: Option<&str>,
    ) -> Option<(&SyncRecord, usize)> {
        let &(rec, group) = self.sync_by_id.get(&sync)?;
        let r = self.syncs.get_mut(rec)?;
        r.finished_at_s = Some(t);
        r.succeeded = Some(ok);
        r.message = message.map(str::to_owned);
        Some((r, group))
    }

    /// Records a move of the site address; returns its duration.
    pub(super) fn swap(
        &mut self,
        group: &str,
        appliance: &str,
        kind: &str,
        started: f64,
        t: f64,
    ) -> f64 {
        let duration = (t - started).max(0.0);
        self.swaps.push(SwapRecord {
            group: group.to_owned(),
            appliance: appliance.to_owned(),
            kind: kind.to_owned(),
            started_at_s: started,
            finished_at_s: t,
            duration_s: duration,
        });
        duration
    }
}
