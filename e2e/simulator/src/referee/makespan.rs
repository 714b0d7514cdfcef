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

use std::collections::BTreeMap;

use super::report::{
    DrainOutcome, DrainRecord, InstallOutcome, InstallRecord, SwapRecord, SyncRecord,
};

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

/// One install: appliance, start, end.
#[derive(Debug, Clone, Copy)]
struct Span<'a> {
    appliance: &'a str,
    start: f64,
    end: f64,
}

/// The records of one round (between two `upgrade_completed` marks).
#[derive(Debug)]
struct Round<'a> {
    /// First disruptive step, simulated seconds.
    start: f64,
    /// Per appliance, its installs in start order.
    installs: BTreeMap<&'a str, Vec<Span<'a>>>,
    drains: Vec<&'a DrainRecord>,
    swaps: Vec<&'a SwapRecord>,
    /// Successful, finished syncs of the site (any round), in start order.
    syncs: Vec<&'a SyncRecord>,
    /// The first successful sync started after the round's last install ended: the one the
    /// floor counts.
    final_sync: Option<&'a SyncRecord>,
}

fn sync_s(s: &SyncRecord) -> f64 {
    s.finished_at_s
        .map_or(0.0, |end| (end - s.started_at_s).max(0.0))
}

impl<'a> Round<'a> {
    fn first_start(&self, app: &str) -> Option<f64> {
        self.installs
            .get(app)
            .and_then(|v| v.first())
            .map(|s| s.start)
    }

    fn last_end(&self, app: &str) -> Option<f64> {
        self.installs
            .get(app)
            .and_then(|v| v.iter().map(|s| s.end).reduce(f64::max))
    }

    /// The appliance's installs back to back.
    fn install_s(&self, app: &str) -> f64 {
        self.installs
            .get(app)
            .map_or(0.0, |v| v.iter().map(|s| (s.end - s.start).max(0.0)).sum())
    }

    /// Appliances that installed in this round, by first install start.
    fn by_first_start(&self) -> Vec<&'a str> {
        let mut apps: Vec<(&'a str, f64)> = self
            .installs
            .iter()
            .filter_map(|(a, v)| v.first().map(|s| (*a, s.start)))
            .collect();
        apps.sort_by(|x, y| x.1.total_cmp(&y.1));
        apps.into_iter().map(|(a, _)| a).collect()
    }

    fn last_install_end(&self) -> f64 {
        self.installs
            .values()
            .flatten()
            .map(|s| s.end)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The first successful sync started in `[from, to]`.
    fn sync_between(&self, from: f64, to: f64) -> Option<&'a SyncRecord> {
        self.syncs
            .iter()
            .copied()
            .find(|s| s.started_at_s >= from && s.started_at_s <= to)
    }

    fn final_sync_s(&self) -> f64 {
        self.final_sync.map_or(0.0, sync_s)
    }
}

/// The critical path of one round being built: milestones map real times to floor times.
#[derive(Debug)]
struct Path<'r, 'a> {
    round: &'r Round<'a>,
    /// (real simulated seconds, floor seconds since the round's start).
    milestones: Vec<(f64, f64)>,
}

impl<'r, 'a> Path<'r, 'a> {
    fn new(round: &'r Round<'a>) -> Self {
        Self {
            round,
            milestones: vec![(round.start, 0.0)],
        }
    }

    fn mark(&mut self, real: Option<f64>, floor: f64) {
        if let Some(real) = real {
            self.milestones.push((real, floor));
        }
    }

    /// Floor time of the latest milestone reached, in the real run, at `real`.
    fn anchor(&self, real: f64) -> f64 {
        self.milestones
            .iter()
            .filter(|(r, _)| *r <= real)
            .max_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)))
            .map_or(0.0, |m| m.1)
    }

    /// When the drain that preceded `app`'s installs ends, in floor time.
    fn drain_end(&self, app: &str) -> Option<f64> {
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
    fn chain(&self, app: &str, ready: f64) -> f64 {
        if !self.round.installs.contains_key(app) {
            return ready;
        }
        let start = self.drain_end(app).map_or(ready, |d| d.max(ready));
        start + self.round.install_s(app)
    }

    /// Every chain of `apps` from `ready`, in parallel: when the last one ends.
    fn parallel(&self, apps: &[&str], ready: f64) -> f64 {
        apps.iter()
            .map(|a| self.chain(a, ready))
            .fold(ready, f64::max)
    }

    /// The site address moves to `app` that started at or after `from`: the first start,
    /// the last end and the summed duration.
    fn swaps_to(&self, app: &str, from: f64) -> (Option<f64>, Option<f64>, f64) {
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

fn latest(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    values.into_iter().flatten().reduce(f64::max)
}

fn pair_asynchronous(round: &Round<'_>) -> f64 {
    let mut path = Path::new(round);
    let order = round.by_first_start();
    let (Some(&x), y) = (order.first(), order.get(1).copied()) else {
        return 0.0;
    };
    let x_end = path.chain(x, 0.0);
    path.mark(round.last_end(x), x_end);
    let (swap_start, swap_end, swap) =
        path.swaps_to(x, round.first_start(x).unwrap_or(f64::NEG_INFINITY));
    path.mark(swap_start, x_end);
    let swapped = x_end + swap;
    path.mark(swap_end, swapped);
    let y_end = y.map_or(swapped, |y| path.chain(y, swapped));
    y_end + round.final_sync_s()
}

fn pair_synchronous(round: &Round<'_>) -> f64 {
    let mut path = Path::new(round);
    let order = round.by_first_start();
    let (Some(&a), b) = (order.first(), order.get(1).copied()) else {
        return 0.0;
    };
    let a_end = path.chain(a, 0.0);
    path.mark(round.last_end(a), a_end);
    let b_end = b.map_or(a_end, |b| path.chain(b, a_end));
    b_end + round.final_sync_s()
}

fn atlas_with_backup_master(round: &Round<'_>, masters: &[String]) -> f64 {
    let mut path = Path::new(round);
    let is_master = |a: &str| masters.iter().any(|m| m == a);
    let order = round.by_first_start();
    // The backup master is the one promoted; without a promotion, the master that installed
    // first.
    let promotion = round
        .swaps
        .iter()
        .filter(|s| is_master(&s.appliance))
        .min_by(|x, y| x.started_at_s.total_cmp(&y.started_at_s));
    let Some(b) = promotion
        .map(|s| s.appliance.as_str())
        .or_else(|| order.iter().copied().find(|a| is_master(a)))
    else {
        return 0.0;
    };
    let a = masters.iter().map(String::as_str).find(|m| *m != b);
    let boundary = promotion.map_or_else(
        || {
            a.and_then(|a| round.first_start(a))
                .unwrap_or(f64::INFINITY)
        },
        |s| s.started_at_s,
    );
    let (batch1, batch2): (Vec<&str>, Vec<&str>) = order
        .iter()
        .copied()
        .filter(|n| !is_master(n))
        .partition(|n| round.first_start(n).is_some_and(|s| s < boundary));

    // The backup master needs nothing from the drains; each batch-1 node needs its own.
    let ready = path.chain(b, 0.0).max(path.parallel(&batch1, 0.0));
    let side_done =
        latest(std::iter::once(round.last_end(b)).chain(batch1.iter().map(|n| round.last_end(n))));
    path.mark(side_done, ready);
    let (swap_start, swap_end, swap) = path.swaps_to(b, boundary);
    path.mark(swap_start, ready);
    let swapped = ready + swap;
    path.mark(swap_end, swapped);

    // Batch 1 back into rotation and a cluster sync, before the remaining nodes.
    let rest_start = batch2
        .iter()
        .copied()
        .chain(a)
        .filter_map(|n| round.first_start(n))
        .reduce(f64::min)
        .unwrap_or(f64::INFINITY);
    let after_swap = swap_end.or(side_done).unwrap_or(round.start);
    let mid = round
        .sync_between(after_swap, rest_start)
        .filter(|s| !round.final_sync.is_some_and(|f| std::ptr::eq(*s, f)));
    let synced = swapped + mid.map_or(0.0, sync_s);
    path.mark(mid.and_then(|s| s.finished_at_s), synced);

    let rest = path.parallel(&batch2, synced);
    let a_end = a.map_or(rest, |a| path.chain(a, rest));
    a_end + round.final_sync_s()
}

fn atlas_without_backup_master(round: &Round<'_>, masters: &[String]) -> f64 {
    let mut path = Path::new(round);
    let Some(m) = masters.first().map(String::as_str) else {
        return 0.0;
    };
    let boundary = round.first_start(m).unwrap_or(f64::INFINITY);
    let (batch1, batch2): (Vec<&str>, Vec<&str>) = round
        .by_first_start()
        .into_iter()
        .filter(|n| *n != m)
        .partition(|n| round.first_start(n).is_some_and(|s| s < boundary));

    let b1_end = path.parallel(&batch1, 0.0);
    path.mark(latest(batch1.iter().map(|n| round.last_end(n))), b1_end);
    // The master's install stops every node: the remaining nodes start draining here.
    path.mark(round.first_start(m), b1_end);
    let m_end = path.chain(m, b1_end);
    path.mark(round.last_end(m), m_end);
    if batch2.is_empty() {
        return m_end + round.final_sync_s();
    }
    let rest_start = batch2
        .iter()
        .filter_map(|n| round.first_start(n))
        .reduce(f64::min)
        .unwrap_or(f64::INFINITY);
    let mid = round
        .sync_between(round.last_end(m).unwrap_or(round.start), rest_start)
        .filter(|s| !round.final_sync.is_some_and(|f| std::ptr::eq(*s, f)));
    let synced = m_end + mid.map_or(0.0, sync_s);
    path.mark(mid.and_then(|s| s.finished_at_s), synced);
    path.parallel(&batch2, synced) + round.final_sync_s()
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
mod tests {
    use super::*;

    fn install(appliance: &str, package: &str, start: f64, end: f64) -> InstallRecord {
        InstallRecord {
            appliance: appliance.to_owned(),
            group: "site".to_owned(),
            package_id: package.to_owned(),
            kind: None,
            requests: 1,
            refused: 0,
            last_refusal: None,
            starts: 1,
            outcome: InstallOutcome::Succeeded,
            first_requested_at_s: start,
            started_at_s: Some(start),
            finished_at_s: Some(end),
            message: None,
        }
    }

    fn running(appliance: &str, package: &str, start: f64) -> InstallRecord {
        InstallRecord {
            outcome: InstallOutcome::Running,
            finished_at_s: None,
            ..install(appliance, package, start, start)
        }
    }

    fn drain(appliance: &str, start: f64, end: f64) -> DrainRecord {
        DrainRecord {
            appliance: appliance.to_owned(),
            group: "site".to_owned(),
            started_at_s: start,
            clients_at_start: 3,
            ended_at_s: Some(end),
            outcome: DrainOutcome::Drained,
        }
    }

    fn sync(start: f64, end: f64) -> SyncRecord {
        SyncRecord {
            group: "site".to_owned(),
            appliance: "primary".to_owned(),
            kind: "sync_now".to_owned(),
            started_at_s: start,
            finished_at_s: Some(end),
            succeeded: Some(true),
            message: None,
        }
    }

    fn swap(appliance: &str, start: f64, end: f64) -> SwapRecord {
        SwapRecord {
            group: "site".to_owned(),
            appliance: appliance.to_owned(),
            kind: "role".to_owned(),
            started_at_s: start,
            finished_at_s: end,
            duration_s: end - start,
        }
    }

    /// One row of a table: hand-made records and what the referee must make of them.
    #[derive(Default)]
    struct Case {
        name: &'static str,
        installs: Vec<InstallRecord>,
        drains: Vec<DrainRecord>,
        syncs: Vec<SyncRecord>,
        swaps: Vec<SwapRecord>,
        marks: Vec<Mark>,
        /// (makespan, floor), or None for an incomplete run.
        expect: Option<(f64, f64)>,
    }

    fn run_table(procedure: Procedure, masters: &[&str], cases: Vec<Case>) {
        let masters: Vec<String> = masters.iter().map(|m| (*m).to_owned()).collect();
        let site = Site {
            procedure,
            masters: &masters,
        };
        for case in &cases {
            let rec = Records {
                installs: case.installs.iter().collect(),
                drains: case.drains.iter().collect(),
                syncs: case.syncs.iter().collect(),
                swaps: case.swaps.iter().collect(),
                marks: case.marks.clone(),
            };
            let got = measure(&site, &rec).map(|m| (m.makespan_s, m.floor_s));
            match (got, case.expect) {
                (Some((m, f)), Some((em, ef))) => {
                    assert!(
                        (m - em).abs() < 1e-9 && (f - ef).abs() < 1e-9,
                        "{}: got makespan {m} floor {f}, want {em} {ef}",
                        case.name
                    );
                    assert!(m >= f, "{}: makespan {m} below its floor {f}", case.name);
                }
                (got, want) => assert_eq!(got, want, "{}", case.name),
            }
        }
    }

    /// A pair round as the operator ran it, with reaction time between the steps: break at
    /// 100, rs-b 2100 s of installs, the swing (2 s), rs-a draining 110 s from when it lost
    /// the address, rs-a 2100 s of installs, establish, a 60 s sync.
    fn asynchronous_round(offset: f64) -> Case {
        let t = |x: f64| x + offset;
        Case {
            installs: vec![
                install("rs-b", &format!("base@{offset}"), t(110.0), t(1010.0)),
                install("rs-b", &format!("product@{offset}"), t(1050.0), t(2250.0)),
                install("rs-a", &format!("base@{offset}"), t(2450.0), t(3350.0)),
                install("rs-a", &format!("product@{offset}"), t(3400.0), t(4600.0)),
            ],
            drains: vec![drain("rs-a", t(2290.0), t(2400.0))],
            syncs: vec![sync(t(4700.0), t(4760.0))],
            swaps: vec![SwapRecord {
                kind: "shared_ip".into(),
                ..swap("rs-b", t(2300.0), t(2302.0))
            }],
            marks: vec![
                Mark::FailoverBroken(t(100.0)),
                Mark::UpgradeCompleted(t(4650.0)),
            ],
            ..Case::default()
        }
    }

    #[test]
    fn floor_of_an_asynchronous_pair_is_the_chain_backup_swap_former_primary() {
        // rs-b: 2100; swap: 2 (rs-a's drain, started when it lost the address at 2290,
        // anchored at the end of rs-b's installs: 2100 + 110 = 2210 > 2102); rs-a: 2100;
        // sync: 60.
        let one = asynchronous_round(0.0);
        let mut two = asynchronous_round(0.0);
        let second = asynchronous_round(10_000.0);
        two.installs.extend(second.installs);
        two.drains.extend(second.drains);
        two.syncs.extend(second.syncs);
        two.swaps.extend(second.swaps);
        two.marks.extend(second.marks);
        let mut unsynced = asynchronous_round(0.0);
        unsynced.syncs.clear();
        let mut under_way = asynchronous_round(0.0);
        under_way.installs.push(running("rs-a", "next", 4800.0));
        let mut not_converged = asynchronous_round(0.0);
        not_converged.marks.pop();
        run_table(
            Procedure::PairAsynchronous,
            &["rs-a", "rs-b"],
            vec![
                Case {
                    name: "one round with the operator's gaps",
                    expect: Some((4760.0 - 100.0, 2210.0 + 2100.0 + 60.0)),
                    ..one
                },
                Case {
                    name: "a perfect orchestrator reaches the floor",
                    installs: vec![
                        install("rs-b", "base", 0.0, 900.0),
                        install("rs-a", "base", 902.0, 1802.0),
                    ],
                    syncs: vec![sync(1802.0, 1862.0)],
                    swaps: vec![swap("rs-b", 900.0, 902.0)],
                    marks: vec![Mark::FailoverBroken(0.0), Mark::UpgradeCompleted(1802.0)],
                    expect: Some((1862.0, 1862.0)),
                    ..Case::default()
                },
                Case {
                    name: "two rounds: the floors add up, the soak between them does not",
                    expect: Some((14_760.0 - 100.0, 2.0 * 4370.0)),
                    ..two
                },
                Case {
                    name: "the orchestrator's Sync Now after the automatic sync ends the makespan",
                    syncs: vec![sync(4700.0, 4760.0), sync(4800.0, 4830.0)],
                    expect: Some((4830.0 - 100.0, 4370.0)),
                    ..asynchronous_round(0.0)
                },
                Case {
                    name: "a retried install starts the makespan at its first attempt",
                    marks: vec![
                        Mark::InstallStarted(50.0),
                        Mark::FailoverBroken(100.0),
                        Mark::UpgradeCompleted(4650.0),
                    ],
                    expect: Some((4760.0 - 50.0, 4370.0)),
                    ..asynchronous_round(0.0)
                },
                Case {
                    name: "no sync after the last install: incomplete",
                    ..unsynced
                },
                Case {
                    name: "an install under way: incomplete",
                    ..under_way
                },
                Case {
                    name: "no completed upgrade: incomplete",
                    ..not_converged
                },
                Case {
                    name: "nothing installed",
                    syncs: vec![sync(0.0, 60.0)],
                    ..Case::default()
                },
            ],
        );
    }

    #[test]
    fn floor_of_a_synchronous_pair_is_primary_then_backup_then_sync() {
        run_table(
            Procedure::PairSynchronous,
            &["rs-a", "rs-b"],
            vec![
                Case {
                    name: "primary, backup, sync, with gaps",
                    installs: vec![
                        install("rs-a", "base", 20.0, 920.0),
                        install("rs-a", "product", 950.0, 1950.0),
                        install("rs-b", "base", 2000.0, 2600.0),
                        install("rs-b", "product", 2650.0, 3650.0),
                    ],
                    syncs: vec![sync(0.0, 10.0), sync(3700.0, 3790.0)],
                    marks: vec![Mark::FailoverBroken(15.0), Mark::UpgradeCompleted(3680.0)],
                    expect: Some((3790.0 - 15.0, 1900.0 + 1600.0 + 90.0)),
                    ..Case::default()
                },
                Case {
                    name: "a failed install: incomplete",
                    installs: vec![
                        install("rs-a", "base", 20.0, 920.0),
                        InstallRecord {
                            outcome: InstallOutcome::Failed,
                            ..install("rs-b", "base", 1000.0, 1200.0)
                        },
                    ],
                    syncs: vec![sync(1300.0, 1400.0)],
                    marks: vec![Mark::UpgradeCompleted(920.0)],
                    ..Case::default()
                },
            ],
        );
    }

    #[test]
    fn floor_of_an_atlas_cluster_with_a_backup_master_is_batch_one_beside_it_swap_rest_former_primary()
     {
        // m1 primary master, m2 backup master; t1, t2 batch 1 (drained from 10), t3, t4 the
        // rest (draining from m1's demotion at 1395).
        let records = || Case {
            installs: vec![
                install("m2", "base", 320.0, 1220.0),
                install("t1", "base", 320.0, 1120.0),
                install("t2", "base", 320.0, 1320.0),
                install("t3", "base", 1610.0, 2510.0),
                install("t4", "base", 1610.0, 2410.0),
                install("m1", "base", 2530.0, 3430.0),
            ],
            drains: vec![
                drain("t1", 10.0, 100.0),
                drain("t2", 10.0, 300.0),
                drain("t3", 1395.0, 1600.0),
                drain("t4", 1395.0, 1500.0),
            ],
            syncs: vec![sync(0.0, 5.0), sync(1420.0, 1480.0), sync(3440.0, 3500.0)],
            swaps: vec![swap("m2", 1400.0, 1405.0)],
            marks: vec![
                Mark::Accepting(1410.0),
                Mark::Accepting(2520.0),
                Mark::UpgradeCompleted(3430.0),
            ],
            ..Case::default()
        };
        // Batch 1 ready at max(m2 900, t1 90 + 800, t2 290 + 1000) = 1290; swap 5; cluster
        // sync 60 (1355); t3 drains from 1290 to 1495 then 900 (2395), t4 1395 + 800; m1
        // 900 (3295); final sync 60.
        let floor = 3355.0;
        let mut late_accept = records();
        late_accept.marks.push(Mark::Accepting(3600.0));
        let mut no_clients = records();
        for d in &mut no_clients.drains {
            d.ended_at_s = Some(d.started_at_s);
        }
        let mut slow_master = records();
        slow_master.installs[0] = install("m2", "base", 320.0, 1820.0);
        slow_master.swaps = vec![swap("m2", 1900.0, 1905.0)];
        slow_master.drains[2] = drain("t3", 1895.0, 2000.0);
        slow_master.drains[3] = drain("t4", 1895.0, 1900.0);
        slow_master.syncs[1] = sync(1920.0, 1980.0);
        slow_master.installs[3] = install("t3", "base", 2010.0, 2910.0);
        slow_master.installs[4] = install("t4", "base", 2010.0, 2810.0);
        slow_master.installs[5] = install("m1", "base", 2930.0, 3830.0);
        slow_master.syncs[2] = sync(3840.0, 3900.0);
        slow_master.marks = vec![Mark::UpgradeCompleted(3830.0)];
        run_table(
            Procedure::AtlasWithBackupMaster,
            &["m1", "m2"],
            vec![
                Case {
                    name: "batches, swap, rest, former primary",
                    expect: Some((3500.0 - 10.0, floor)),
                    ..records()
                },
                Case {
                    name: "an accept after the closing sync is the last step",
                    expect: Some((3600.0 - 10.0, floor)),
                    ..late_accept
                },
                Case {
                    name: "nodes without clients drain at once",
                    // Ready at max(900, 800, 1000) = 1000, swap 5, sync 60, t3 900, m1 900,
                    // sync 60.
                    expect: Some((3500.0 - 10.0, 1000.0 + 5.0 + 60.0 + 900.0 + 900.0 + 60.0)),
                    ..no_clients
                },
                Case {
                    name: "the backup master is the critical path of the first half",
                    // m2 1500; swap 5 and sync 60 run beside t3's drain, which started at
                    // m1's demotion (after m2's installs): 1500 + 105, then t3 900; m1 900;
                    // sync 60.
                    expect: Some((3900.0 - 10.0, 1500.0 + 105.0 + 900.0 + 900.0 + 60.0)),
                    ..slow_master
                },
            ],
        );
    }

    #[test]
    fn floor_of_an_atlas_cluster_without_a_backup_master_is_batch_one_master_sync_rest_sync() {
        let records = || Case {
            installs: vec![
                install("t1", "base", 60.0, 960.0),
                install("m1", "base", 1000.0, 1900.0),
                install("t2", "base", 1990.0, 2890.0),
            ],
            // t1 drained by the operator; t2 from the master's install.
            drains: vec![drain("t1", 0.0, 50.0), drain("t2", 1000.0, 1200.0)],
            syncs: vec![sync(1920.0, 1980.0), sync(2910.0, 2970.0)],
            marks: vec![
                Mark::Accepting(1910.0),
                Mark::UpgradeCompleted(2890.0),
                Mark::Accepting(2900.0),
            ],
            ..Case::default()
        };
        let mut long_drain = records();
        long_drain.drains[1] = drain("t2", 1000.0, 2500.0);
        long_drain.installs[2] = install("t2", "base", 2510.0, 3410.0);
        long_drain.marks = vec![Mark::UpgradeCompleted(3410.0)];
        long_drain.syncs[1] = sync(3420.0, 3480.0);
        run_table(
            Procedure::AtlasWithoutBackupMaster,
            &["m1"],
            vec![
                Case {
                    name: "batch 1, master, sync, rest, sync",
                    // t1 50 + 900; m1 900 (1850); sync 60 (1910); t2 (drained by 1150) 900;
                    // sync 60.
                    expect: Some((2970.0, 950.0 + 900.0 + 60.0 + 900.0 + 60.0)),
                    ..records()
                },
                Case {
                    name: "a drain longer than the master's install delays the rest",
                    // t2 drains from 950 (the master's start in the floor) for 1500: 2450.
                    expect: Some((3480.0, 2450.0 + 900.0 + 60.0)),
                    ..long_drain
                },
            ],
        );
    }

    #[test]
    fn floor_of_a_standalone_appliance_is_its_installs_back_to_back() {
        run_table(
            Procedure::Standalone,
            &["solo"],
            vec![Case {
                name: "two packages with a gap",
                installs: vec![
                    install("solo", "base", 0.0, 900.0),
                    install("solo", "product", 1000.0, 2200.0),
                ],
                marks: vec![
                    Mark::UpgradeCompleted(900.0),
                    Mark::UpgradeCompleted(2200.0),
                ],
                expect: Some((2200.0, 2100.0)),
                ..Case::default()
            }],
        );
    }
}
