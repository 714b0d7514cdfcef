//! Makespan and makespan floor of a site, from the referee's own records (installs, drains,
//! syncs, swaps and a few timeline marks), never from the operator's account.
//!
//! - **makespan**: from the first disruptive step of the upgrade (first drain, break of the
//!   failover relationship, install start or site address move, whichever comes first) to its
//!   last step (last install end, node put back into rotation, sync after the last install,
//!   or site address move, whichever comes last).
//! - **makespan floor**: the critical path through the procedure's ordering constraints
//!   (procedures.md §2-5) with the install, drain, sync and swap durations recorded in that
//!   run: what an orchestrator with zero reaction time would have achieved on the same fleet.
//!   An appliance's packages are sequential; appliances run in parallel wherever the
//!   procedure allows, without any concurrency bound, so it is a lower bound.
//!
//! An upgrade is cut into **rounds** by the referee's `upgrade_completed` marks (one per
//! product hop when the operator re-converges the group between hops); the floor is the sum
//! of the rounds' critical paths, so waits chosen by policy between rounds (the R3 soak) are
//! in the makespan and not in the floor. Batch membership comes from the records: a traffic
//! node is in batch 1 when its first install of the round started before the promotion of the
//! backup master (with one) or before the master's first install (without).
//!
//! A drain starts on its own when a node stops taking new clients, which the procedure causes
//! at a known point (batch 1: the operator at the start; the remaining nodes: the promotion, or
//! the master's install). In the floor a drain starts at the floor time of the last milestone
//! of the critical path that had happened, in the real run, when the drain started; it keeps
//! its recorded duration.

mod procedures;
mod round;

use std::collections::BTreeMap;

use super::report::{DrainRecord, InstallOutcome, InstallRecord, SwapRecord, SyncRecord};
use procedures::{
    atlas_with_backup_master, atlas_without_backup_master, pair_asynchronous, pair_synchronous,
};
use round::{Path, Round, Span};

/// Whose ordering constraints a site's floor follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Procedure {
    /// §1: one appliance, its packages in sequence.
    Standalone,
    /// §3: per round, [break] -> the backup's installs -> swap -> the former primary's
    /// installs (after its drain, if it had clients) -> [establish] -> sync.
    PairAsynchronous,
    /// §2: per round, the primary's installs -> the backup's installs -> sync.
    PairSynchronous,
    /// §4: batch-1 drains -> the backup master's and batch-1 installs -> swap -> accept and
    /// cluster sync -> remaining nodes (drain, installs) -> former primary master -> sync.
    AtlasWithBackupMaster,
    /// §5: batch-1 drains and installs -> master installs -> sync -> remaining nodes (drain,
    /// installs) -> sync.
    AtlasWithoutBackupMaster,
}

/// A zero-duration step from the timeline, in simulated seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mark {
    /// An install started (also a first attempt that failed and was retried).
    InstallStarted(f64),
    /// The failover relationship was broken.
    FailoverBroken(f64),
    /// A traffic node was put back into rotation.
    Accepting(f64),
    /// The referee saw the group's upgrade complete (every member converged).
    UpgradeCompleted(f64),
}

/// What a site is, for its floor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    pub(crate) procedure: Procedure,
    /// Site members: the pair members, or the masters (primary master first).
    pub(crate) masters: &'a [String],
}

/// One site's records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Records<'a> {
    pub(crate) installs: Vec<&'a InstallRecord>,
    pub(crate) drains: Vec<&'a DrainRecord>,
    pub(crate) syncs: Vec<&'a SyncRecord>,
    pub(crate) swaps: Vec<&'a SwapRecord>,
    pub(crate) marks: Vec<Mark>,
}

/// A site's makespan and its floor, simulated seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Makespan {
    pub(crate) makespan_s: f64,
    pub(crate) floor_s: f64,
}

/// The makespan and its floor, or `None` while the upgrade is incomplete: no install, an
/// install not (yet) succeeded, an install after the group's last completed upgrade, or no
/// successful sync after the last install (pairs and clusters).
pub(crate) fn measure(site: &Site<'_>, rec: &Records<'_>) -> Option<Makespan> {
    let mut spans = Vec::new();
    for r in rec.installs.iter().filter(|r| r.starts > 0) {
        if r.outcome != InstallOutcome::Succeeded {
            return None;
        }
        spans.push(Span {
            appliance: &r.appliance,
            start: r.started_at_s?,
            end: r.finished_at_s?,
        });
    }
    if spans.is_empty() {
        return None;
    }
    let mut completions: Vec<f64> = rec
        .marks
        .iter()
        .filter_map(|m| match m {
            Mark::UpgradeCompleted(t) => Some(*t),
            _ => None,
        })
        .collect();
    completions.sort_by(f64::total_cmp);
    let mut syncs: Vec<&SyncRecord> = rec
        .syncs
        .iter()
        .copied()
        .filter(|s| s.succeeded == Some(true) && s.finished_at_s.is_some())
        .collect();
    syncs.sort_by(|x, y| x.started_at_s.total_cmp(&y.started_at_s));

    let mut rounds = Vec::new();
    let mut from = f64::NEG_INFINITY;
    for &to in &completions {
        let within = |t: f64| t > from && t <= to;
        let mut installs: BTreeMap<&str, Vec<Span<'_>>> = BTreeMap::new();
        for s in spans.iter().filter(|s| within(s.start)) {
            installs.entry(s.appliance).or_default().push(*s);
        }
        if !installs.is_empty() {
            for v in installs.values_mut() {
                v.sort_by(|x, y| x.start.total_cmp(&y.start));
            }
            let drains: Vec<&DrainRecord> = rec
                .drains
                .iter()
                .copied()
                .filter(|d| within(d.started_at_s))
                .collect();
            let swaps: Vec<&SwapRecord> = rec
                .swaps
                .iter()
                .copied()
                .filter(|s| within(s.started_at_s))
                .collect();
            let start = installs
                .values()
                .flatten()
                .map(|s| s.start)
                .chain(drains.iter().map(|d| d.started_at_s))
                .chain(swaps.iter().map(|s| s.started_at_s))
                .chain(rec.marks.iter().filter_map(|m| match m {
                    Mark::InstallStarted(t) | Mark::FailoverBroken(t) if within(*t) => Some(*t),
                    _ => None,
                }))
                .fold(f64::INFINITY, f64::min);
            let mut round = Round {
                start,
                installs,
                drains,
                swaps,
                syncs: syncs.clone(),
                final_sync: None,
            };
            let last = round.last_install_end();
            round.final_sync = round.sync_between(last, f64::INFINITY);
            rounds.push(round);
        }
        from = to;
    }
    // An install after the last completed upgrade: a round still under way.
    if spans.iter().any(|s| s.start > from) {
        return None;
    }
    let first = rounds.first()?;
    let last = rounds.last()?;
    let needs_sync = site.procedure != Procedure::Standalone;
    if needs_sync && last.final_sync.is_none() {
        return None;
    }
    let start = first.start;
    let ends = rounds
        .iter()
        .flat_map(|r| {
            r.installs
                .values()
                .flatten()
                .map(|s| s.end)
                .chain(r.swaps.iter().map(|s| s.finished_at_s))
        })
        .chain(
            // Every sync after the last install: the automatic one after establishing and the
            // orchestrator's own Sync Now, whichever ends last.
            last.syncs
                .iter()
                .filter(|s| s.started_at_s >= last.last_install_end())
                .filter_map(|s| s.finished_at_s),
        )
        .chain(rec.marks.iter().filter_map(|m| match m {
            Mark::Accepting(t) if *t >= start => Some(*t),
            _ => None,
        }));
    let end = ends.fold(start, f64::max);
    let floor = rounds
        .iter()
        .map(|r| match site.procedure {
            Procedure::Standalone => Path::new(r).parallel(&r.by_first_start(), 0.0),
            Procedure::PairAsynchronous => pair_asynchronous(r),
            Procedure::PairSynchronous => pair_synchronous(r),
            Procedure::AtlasWithBackupMaster => atlas_with_backup_master(r, site.masters),
            Procedure::AtlasWithoutBackupMaster => atlas_without_backup_master(r, site.masters),
        })
        .sum();
    Some(Makespan {
        makespan_s: end - start,
        floor_s: floor,
    })
}

#[cfg(test)]
mod tests;
