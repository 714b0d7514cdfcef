//! The referee: records every state change of the world with its simulated and real time,
//! and judges it — invariant violations (`invariants`), site downtime and its floor
//! (`downtime`), dropped sessions, duplicate requests, the install / drain / sync / swap
//! logs, and from them each site's makespan and makespan floor (`makespan`). It sees only
//! what the appliances see: requests and state, never the operator's own account.

mod downtime;
mod invariants;
mod makespan;
pub mod report;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::fleet::{PackageKind, Strategy};
use crate::world::appliance::InstallState;
use crate::world::group::SyncOrigin;
use crate::world::{Group, GroupKind, OpError};

use makespan::{Mark, Procedure};

use report::{
    DrainOutcome, DrainRecord, Duplicate, Event, InstallOutcome, InstallRecord, Report, SiteReport,
    SwapRecord, SyncRecord, Violation,
};

/// Per-site tracking for downtime and I1.
#[derive(Debug, Clone)]
struct SiteTrack {
    name: String,
    kind: &'static str,
    down_since: Option<f64>,
    downtime: f64,
    floor: f64,
    two_primaries: bool,
    two_holders: bool,
    /// Whose ordering constraints the makespan floor follows.
    procedure: Procedure,
    /// Site members (pair members, masters), by name.
    masters: Vec<String>,
}

/// One upgrade "cycle" of a group, for I5 and I6.
#[derive(Debug, Clone)]
pub(crate) struct Cycle {
    /// When the group's last upgrade completed (or -inf).
    pub(crate) start: f64,
    /// Earliest backup downloaded from the group's primary since `start`.
    pub(crate) first_backup: Option<f64>,
    /// Latest successful sync completed since `start`.
    pub(crate) last_sync: Option<f64>,
    /// Installs started since `start`.
    pub(crate) installs: u32,
    /// Members whose base install failed and that no person has cleared yet.
    pub(crate) blocked: BTreeSet<usize>,
}

#[derive(Debug)]
pub(crate) struct Referee {
    scale: f64,
    pub(crate) violations: Vec<Violation>,
    timeline: Vec<Event>,
    sites: Vec<SiteTrack>,
    pub(crate) cycles: Vec<Cycle>,
    dropped_total: u64,
    dropped_by: BTreeMap<String, u64>,
    pub(crate) sessions_cut_by_override: u64,
    pub(crate) sessions_started: u64,
    pub(crate) sessions_refused: u64,
    duplicates: Vec<Duplicate>,
    installs: Vec<InstallRecord>,
    install_by_key: HashMap<(String, String), usize>,
    install_by_run: HashMap<(usize, usize), usize>,
    drains: Vec<DrainRecord>,
    syncs: Vec<SyncRecord>,
    swaps: Vec<SwapRecord>,
    /// Appliance name -> its site index (timeline events that name no group).
    site_of: HashMap<String, usize>,
}

/// The procedure a group follows, for its makespan floor.
fn procedure(g: &Group) -> Procedure {
    match (g.kind, g.strategy, g.site.len()) {
        (GroupKind::Single, _, _) => Procedure::Standalone,
        (GroupKind::Pair, Strategy::Synchronous, _) => Procedure::PairSynchronous,
        (GroupKind::Pair, Strategy::Asynchronous, _) => Procedure::PairAsynchronous,
        (GroupKind::Cluster, _, 2..) => Procedure::AtlasWithBackupMaster,
        (GroupKind::Cluster, _, _) => Procedure::AtlasWithoutBackupMaster,
    }
}

impl Referee {
    /// `names`: every appliance's name, by index.
    pub(crate) fn new(scale: f64, groups: &[Group], names: &[String]) -> Self {
        let name = |i: &usize| names.get(*i).cloned().unwrap_or_default();
        Self {
            scale,
            violations: Vec::new(),
            timeline: Vec::new(),
            sites: groups
                .iter()
                .map(|g| SiteTrack {
                    name: g.name.clone(),
                    kind: g.kind.as_str(),
                    down_since: None,
                    downtime: 0.0,
                    floor: 0.0,
                    two_primaries: false,
                    two_holders: false,
                    procedure: procedure(g),
                    masters: g.site.iter().map(name).collect(),
                })
                .collect(),
            cycles: groups
                .iter()
                .map(|_| Cycle {
                    start: f64::NEG_INFINITY,
                    first_backup: None,
                    last_sync: None,
                    installs: 0,
                    blocked: BTreeSet::new(),
                })
                .collect(),
            dropped_total: 0,
            dropped_by: BTreeMap::new(),
            sessions_cut_by_override: 0,
            sessions_started: 0,
            sessions_refused: 0,
            duplicates: Vec::new(),
            installs: Vec::new(),
            install_by_key: HashMap::new(),
            install_by_run: HashMap::new(),
            drains: Vec::new(),
            syncs: Vec::new(),
            swaps: Vec::new(),
            site_of: groups
                .iter()
                .enumerate()
                .flat_map(|(gi, g)| g.members.iter().map(move |m| (name(m), gi)))
                .collect(),
        }
    }

    pub(crate) fn event(
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

    pub(crate) fn violation(
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

    pub(crate) fn duplicate(&mut self, appliance: &str, t: f64, what: &str) {
        self.event(t, Some(appliance), None, "duplicate_request", what);
        self.duplicates.push(Duplicate {
            appliance: appliance.to_owned(),
            at_sim_s: t,
            what: what.to_owned(),
        });
    }

    pub(crate) fn dropped(&mut self, appliance: &str, n: u64) {
        self.dropped_total += n;
        *self.dropped_by.entry(appliance.to_owned()).or_default() += n;
    }

    // --- install log -------------------------------------------------------------------

    pub(crate) fn install_requested(
        &mut self,
        appliance: &str,
        group: &str,
        package: &str,
        kind: Option<PackageKind>,
        t: f64,
    ) -> usize {
        let key = (appliance.to_owned(), package.to_owned());
        let idx = *self.install_by_key.entry(key).or_insert_with(|| {
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
            self.installs.len() - 1
        });
        self.installs[idx].requests += 1;
        idx
    }

    pub(crate) fn install_refused(&mut self, rec: usize, e: &OpError) {
        if let Some(r) = self.installs.get_mut(rec) {
            r.refused += 1;
            r.last_refusal = Some(e.code.as_str().to_owned());
        }
    }

    pub(crate) fn install_started(&mut self, rec: usize, t: f64) {
        if let Some(r) = self.installs.get_mut(rec) {
            r.starts += 1;
            r.outcome = InstallOutcome::Running;
            r.started_at_s = Some(t);
            r.finished_at_s = None;
            r.message = None;
        }
    }

    pub(crate) fn install_link(&mut self, rec: usize, app: usize, index: usize) {
        self.install_by_run.insert((app, index), rec);
    }

    pub(crate) fn install_finished(
        &mut self,
        app: usize,
        index: usize,
        t: f64,
        state: InstallState,
        message: Option<&str>,
    ) {
        let Some(r) = self
            .install_by_run
            .get(&(app, index))
            .and_then(|&i| self.installs.get_mut(i))
        else {
            return;
        };
        r.outcome = match state {
            InstallState::Succeeded => InstallOutcome::Succeeded,
            InstallState::Failed => InstallOutcome::Failed,
            InstallState::Running => InstallOutcome::Running,
            InstallState::Rebooting => InstallOutcome::Rebooting,
        };
        r.finished_at_s = Some(t);
        r.message = message.map(str::to_owned);
    }

    // --- I6 blocking ---------------------------------------------------------------------

    pub(crate) fn block_group(&mut self, group: usize, app: usize) {
        if let Some(c) = self.cycles.get_mut(group) {
            c.blocked.insert(app);
        }
    }

    pub(crate) fn unblock_group(&mut self, group: usize, app: usize) {
        if let Some(c) = self.cycles.get_mut(group) {
            c.blocked.remove(&app);
        }
    }

    // --- drains --------------------------------------------------------------------------

    pub(crate) fn drain_started(
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

    fn drain_end(&mut self, d: usize, t: f64, outcome: DrainOutcome) {
        if let Some(r) = self.drains.get_mut(d) {
            r.ended_at_s = Some(t);
            r.outcome = outcome;
        }
    }

    pub(crate) fn drain_drained(&mut self, d: usize, t: f64) {
        self.drain_end(d, t, DrainOutcome::Drained);
    }

    pub(crate) fn drain_cut(&mut self, d: usize, t: f64) {
        self.drain_end(d, t, DrainOutcome::Cut);
    }

    pub(crate) fn drain_resumed(&mut self, d: usize, t: f64) {
        self.drain_end(d, t, DrainOutcome::Resumed);
    }

    // --- syncs and swaps -----------------------------------------------------------------

    pub(crate) fn sync_started(
        &mut self,
        group: &str,
        appliance: &str,
        origin: SyncOrigin,
        t: f64,
    ) -> usize {
        let kind = match origin {
            SyncOrigin::SyncNow => "sync_now",
            SyncOrigin::DataSyncFirst => "data_sync_first",
            SyncOrigin::Automatic => "automatic",
            SyncOrigin::Cluster => "cluster",
        };
        self.event(t, Some(appliance), Some(group), "sync_started", kind);
        self.syncs.push(SyncRecord {
            group: group.to_owned(),
            appliance: appliance.to_owned(),
            kind: kind.to_owned(),
            started_at_s: t,
            finished_at_s: None,
            succeeded: None,
            message: None,
        });
        self.syncs.len() - 1
    }

    pub(crate) fn sync_finished(
        &mut self,
        group: usize,
        rec: usize,
        t: f64,
        ok: bool,
        message: Option<&str>,
    ) {
        let Some(r) = self.syncs.get_mut(rec) else {
            return;
        };
        r.finished_at_s = Some(t);
        r.succeeded = Some(ok);
        r.message = message.map(str::to_owned);
        let (appliance, group_name) = (r.appliance.clone(), r.group.clone());
        let detail = if ok {
            "succeeded".to_owned()
        } else {
            format!("failed: {}", message.unwrap_or_default())
        };
        self.event(
            t,
            Some(&appliance),
            Some(&group_name),
            "sync_finished",
            &detail,
        );
        if ok && let Some(c) = self.cycles.get_mut(group) {
            c.last_sync = Some(t);
        }
    }

    pub(crate) fn backup_downloaded(&mut self, group: usize, t: f64) {
        if let Some(c) = self.cycles.get_mut(group)
            && c.first_backup.is_none()
        {
            c.first_backup = Some(t);
        }
    }

    pub(crate) fn swap(&mut self, group: usize, appliance: &str, kind: &str, started: f64, t: f64) {
        let duration = (t - started).max(0.0);
        let Some(site) = self.sites.get_mut(group) else {
            return;
        };
        site.floor += duration;
        let name = site.name.clone();
        self.swaps.push(SwapRecord {
            group: name,
            appliance: appliance.to_owned(),
            kind: kind.to_owned(),
            started_at_s: started,
            finished_at_s: t,
            duration_s: duration,
        });
    }

    /// Each site's records, for its makespan.
    fn site_records(&self) -> Vec<makespan::Records<'_>> {
        let mut out = vec![makespan::Records::default(); self.sites.len()];
        let index: HashMap<&str, usize> = self
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        for r in &self.installs {
            if let Some(&i) = index.get(r.group.as_str()) {
                out[i].installs.push(r);
            }
        }
        for d in &self.drains {
            if let Some(&i) = index.get(d.group.as_str()) {
                out[i].drains.push(d);
            }
        }
        for s in &self.syncs {
            if let Some(&i) = index.get(s.group.as_str()) {
                out[i].syncs.push(s);
            }
        }
        for s in &self.swaps {
            if let Some(&i) = index.get(s.group.as_str()) {
                out[i].swaps.push(s);
            }
        }
        for e in &self.timeline {
            let t = e.at_sim_s;
            let mark = match e.kind.as_str() {
                "install_started" => Mark::InstallStarted(t),
                "failover_broken" => Mark::FailoverBroken(t),
                "upgrade_completed" => Mark::UpgradeCompleted(t),
                "accepting" if e.detail.starts_with("true") => Mark::Accepting(t),
                _ => continue,
            };
            let site = e
                .group
                .as_deref()
                .and_then(|g| index.get(g).copied())
                .or_else(|| {
                    e.appliance
                        .as_deref()
                        .and_then(|a| self.site_of.get(a).copied())
                });
            if let Some(i) = site {
                out[i].marks.push(mark);
            }
        }
        out
    }

    /// The referee's snapshot at simulated time `now`.
    pub(crate) fn report(&self, now: f64) -> Report {
        let records = self.site_records();
        let sites: Vec<SiteReport> = self
            .sites
            .iter()
            .zip(&records)
            .map(|(s, rec)| {
                let site = makespan::Site {
                    procedure: s.procedure,
                    masters: &s.masters,
                };
                let m = makespan::measure(&site, rec);
                SiteReport {
                    group: s.name.clone(),
                    kind: s.kind.to_owned(),
                    downtime_s: s.downtime + s.down_since.map_or(0.0, |d| (now - d).max(0.0)),
                    swap_floor_s: s.floor,
                    down_now: s.down_since.is_some(),
                    makespan_s: m.map(|m| m.makespan_s),
                    makespan_floor_s: m.map(|m| m.floor_s),
                }
            })
            .collect();
        Report {
            time_scale: self.scale,
            sim_time_s: now,
            violations: self.violations.clone(),
            downtime_s: sites.iter().map(|s| s.downtime_s).sum(),
            swap_floor_s: sites.iter().map(|s| s.swap_floor_s).sum(),
            dropped_sessions: self.dropped_total,
            dropped_by_appliance: self.dropped_by.clone(),
            sessions_cut_by_override: self.sessions_cut_by_override,
            sessions_started: self.sessions_started,
            sessions_refused: self.sessions_refused,
            duplicate_requests: self.duplicates.len() as u64,
            duplicates: self.duplicates.clone(),
            sites,
            installs: self.installs.clone(),
            drains: self.drains.clone(),
            syncs: self.syncs.clone(),
            swaps: self.swaps.clone(),
            timeline: self.timeline.clone(),
        }
    }
}
