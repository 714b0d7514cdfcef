//! One round of an upgrade (the records between two `upgrade_completed` marks) and the
//! critical path being built through it: milestones map the real run's times to floor
//! times, so a drain can start, in the floor, where its real start fell on the path.

use std::collections::BTreeMap;

use super::super::report::{DrainOutcome, DrainRecord, SwapRecord, SyncRecord};

/// One install: appliance, start, end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span<'a> {
    pub(super) appliance: &'a str,
    pub(super) start: f64,
    pub(super) end: f64,
}

/// The records of one round (between two `upgrade_completed` marks).
#[derive(Debug)]
pub(super) struct Round<'a> {
    /// First disruptive step, simulated seconds.
    pub(super) start: f64,
    /// Per appliance, its installs in start order.
    pub(super) installs: BTreeMap<&'a str, Vec<Span<'a>>>,
    pub(super) drains: Vec<&'a DrainRecord>,
    pub(super) swaps: Vec<&'a SwapRecord>,
    /// Successful, finished syncs of the site (any round), in start order.
    pub(super) syncs: Vec<&'a SyncRecord>,
    /// The first successful sync started after the round's last install ended: the one the
    /// floor counts.
    pub(super) final_sync: Option<&'a SyncRecord>,
}

pub(super) fn sync_s(s: &SyncRecord) -> f64 {
    s.finished_at_s
        .map_or(0.0, |end| (end - s.started_at_s).max(0.0))
}

impl<'a> Round<'a> {
    pub(super) fn first_start(&self, app: &str) -> Option<f64> {
        self.installs
            .get(app)
            .and_then(|v| v.first())
            .map(|s| s.start)
    }

    pub(super) fn last_end(&self, app: &str) -> Option<f64> {
        self.installs
            .get(app)
            .and_then(|v| v.iter().map(|s| s.end).reduce(f64::max))
    }

    /// The appliance's installs back to back.
    pub(super) fn install_s(&self, app: &str) -> f64 {
        self.installs
            .get(app)
            .map_or(0.0, |v| v.iter().map(|s| (s.end - s.start).max(0.0)).sum())
    }

    /// Appliances that installed in this round, by first install start.
    pub(super) fn by_first_start(&self) -> Vec<&'a str> {
        let mut apps: Vec<(&'a str, f64)> = self
            .installs
            .iter()
            .filter_map(|(a, v)| v.first().map(|s| (*a, s.start)))
            .collect();
        apps.sort_by(|x, y| x.1.total_cmp(&y.1));
        apps.into_iter().map(|(a, _)| a).collect()
    }

    pub(super) fn last_install_end(&self) -> f64 {
        self.installs
            .values()
            .flatten()
            .map(|s| s.end)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The first successful sync started in `[from, to]`.
    pub(super) fn sync_between(&self, from: f64, to: f64) -> Option<&'a SyncRecord> {
        self.syncs
            .iter()
            .copied()
            .find(|s| s.started_at_s >= from && s.started_at_s <= to)
    }

    pub(super) fn final_sync_s(&self) -> f64 {
        self.final_sync.map_or(0.0, sync_s)
    }
}

/// The critical path of one round being built: milestones map real times to floor times.
#[derive(Debug)]
pub(super) struct Path<'r, 'a> {
    pub(super) round: &'r Round<'a>,
    /// (real simulated seconds, floor seconds since the round's start).
    pub(super) milestones: Vec<(f64, f64)>,
}

impl<'r, 'a> Path<'r, 'a> {
    pub(super) fn new(round: &'r Round<'a>) -> Self {
        Self {
            round,
            milestones: vec![(round.start, 0.0)],
        }
    }

    pub(super) fn mark(&mut self, real: Option<f64>, floor: f64) {
        if let Some(real) = real {
            self.milestones.push((real, floor));
        }
    }

    /// Floor time of the latest milestone reached, in the real run, at `real`.
    pub(super) fn anchor(&self, real: f64) -> f64 {
        self.milestones
            .iter()
            .filter(|(r, _)| *r <= real)
            .max_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)))
            .map_or(0.0, |m| m.1)
    }

    /// When the drain that preceded `app`'s installs ends, in floor time.
    pub(super) fn drain_end(&self, app: &str) -> Option<f64> {
        let first = self.round.first_start(app)?;
        let d = self
            .round
            .drains
            .iter()
            .filter(|d| {
                d.appliance == app
                    && d.started_at_s <= first
                    && matches!(d.outcome, DrainOutcome::Drained | DrainOutcome::Cut)
            })
            .max_by(|x, y| x.started_at_s.total_cmp(&y.started_at_s))?;
        let end = d.ended_at_s?;
        Some(self.anchor(d.started_at_s) + (end - d.started_at_s).max(0.0))
    }

    /// When `app`'s installs end, started as soon as `ready` and its own drain allow.
    pub(super) fn chain(&self, app: &str, ready: f64) -> f64 {
        if !self.round.installs.contains_key(app) {
            return ready;
        }
        let start = self.drain_end(app).map_or(ready, |d| d.max(ready));
        start + self.round.install_s(app)
    }

    /// Every chain of `apps` from `ready`, in parallel: when the last one ends.
    pub(super) fn parallel(&self, apps: &[&str], ready: f64) -> f64 {
        apps.iter()
            .map(|a| self.chain(a, ready))
            .fold(ready, f64::max)
    }

    /// The site address moves to `app` that started at or after `from`: the first start,
    /// the last end and the summed duration.
    pub(super) fn swaps_to(&self, app: &str, from: f64) -> (Option<f64>, Option<f64>, f64) {
        let swaps: Vec<&SwapRecord> = self
            .round
            .swaps
            .iter()
            .copied()
            .filter(|s| s.appliance == app && s.started_at_s >= from)
            .collect();
        (
            swaps.iter().map(|s| s.started_at_s).reduce(f64::min),
            swaps.iter().map(|s| s.finished_at_s).reduce(f64::max),
            swaps.iter().map(|s| s.duration_s.max(0.0)).sum(),
        )
    }
}

pub(super) fn latest(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    values.into_iter().flatten().reduce(f64::max)
}
