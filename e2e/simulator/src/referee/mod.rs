//! The referee: judges the world's event log (`crate::log`) against the fleet file, and
//! nothing else. It keeps its own picture of the fleet from the facts (`model`), and from
//! it reports invariant violations (`invariants`; I1 with site downtime and its floor in
//! `downtime`), dropped sessions and drains (`clients`), repeated requests, the install /
//! drain / sync / swap logs (`books`), and from them each site's makespan and makespan floor
//! (`makespan`). Like the appliances, it sees requests and state changes, never the
//! operator's own account.
//!
//! It reads the log incrementally: [`Referee::read`] takes the entries it has not read yet,
//! so a report costs what happened since the last one.

mod books;
mod clients;
mod downtime;
mod facts;
mod failover;
mod invariants;
mod makespan;
mod model;
#[cfg(test)]
mod picture;
pub mod report;
mod software;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::error::SimError;
use crate::fleet::{FleetSpec, Topology};
use crate::log::Log;

#[cfg(test)]
pub(crate) use picture::{ApplianceView, Picture};

use books::Books;
use downtime::SiteTrack;
use invariants::Cycle;
use makespan::Mark;
use model::Model;
use report::{Report, SiteReport};

/// The referee of one fleet.
#[derive(Debug)]
pub(crate) struct Referee {
    model: Model,
    books: Books,
    /// Per group: downtime, swap floor, I1 onsets.
    sites: Vec<SiteTrack>,
    /// Per group: the upgrade cycle (I5, I6).
    cycles: Vec<Cycle>,
    /// Log entries read so far.
    read: usize,
}

impl Referee {
    /// A referee for the fleet file `spec`, before anything happened.
    pub(crate) fn new(spec: &FleetSpec) -> Result<Self, SimError> {
        let topology = Topology::of(spec)?;
        let sites = topology
            .groups
            .iter()
            .map(|g| SiteTrack::new(g.kind, g.strategy, g.site.len()))
            .collect();
        let cycles = topology.groups.iter().map(|_| Cycle::new()).collect();
        Ok(Self {
            model: Model::new(spec, topology),
            books: Books::new(spec.time_scale),
            sites,
            cycles,
            read: 0,
        })
    }

    /// Reads the entries of `log` not read yet. A fact naming an appliance or group the
    /// fleet file does not have is skipped: it cannot be judged.
    pub(crate) fn read(&mut self, log: &Log) {
        let (apps, groups) = (self.model.nodes.len(), self.model.sites.len());
        for entry in log.entries().get(self.read..).unwrap_or_default() {
            let (appliances, group) = entry.fact.names();
            let known =
                appliances.iter().flatten().all(|&a| a < apps) && group.is_none_or(|g| g < groups);
            if known {
                self.apply(entry.at, &entry.fact);
            } else {
                tracing::warn!(fact = ?entry.fact, "the referee skips a fact about nothing it knows");
            }
        }
        self.read = log.entries().len();
    }

    /// Each site's records, for its makespan.
    fn site_records(&self) -> Vec<makespan::Records<'_>> {
        let b = &self.books;
        let mut out = vec![makespan::Records::default(); self.model.sites.len()];
        let index: HashMap<&str, usize> = self
            .model
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.shape.name.as_str(), i))
            .collect();
        let site_of = |group: &str| index.get(group).copied();
        for r in &b.installs {
            if let Some(i) = site_of(&r.group) {
                out[i].installs.push(r);
            }
        }
        for d in &b.drains {
            if let Some(i) = site_of(&d.group) {
                out[i].drains.push(d);
            }
        }
        for s in &b.syncs {
            if let Some(i) = site_of(&s.group) {
                out[i].syncs.push(s);
            }
        }
        for s in &b.swaps {
            if let Some(i) = site_of(&s.group) {
                out[i].swaps.push(s);
            }
        }
        // Timeline events that name no group belong to their appliance's site.
        let by_appliance: HashMap<&str, usize> = self
            .model
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.group))
            .collect();
        for e in &b.timeline {
            let t = e.at_sim_s;
            let mark = match e.kind.as_str() {
                "install_started" => Mark::InstallStarted(t),
                "failover_broken" => Mark::FailoverBroken(t),
                "upgrade_completed" => Mark::UpgradeCompleted(t),
                "accepting" if e.detail.starts_with("true") => Mark::Accepting(t),
                _ => continue,
            };
            let site = e.group.as_deref().and_then(site_of).or_else(|| {
                e.appliance
                    .as_deref()
                    .and_then(|a| by_appliance.get(a).copied())
            });
            if let Some(i) = site {
                out[i].marks.push(mark);
            }
        }
        out
    }

    /// What the referee believes the fleet looks like now.
    #[cfg(test)]
    pub(crate) fn picture(&self) -> Picture {
        self.model.picture()
    }

    /// The referee's verdict at simulated time `now`, on what it has read.
    pub(crate) fn report(&self, now: f64) -> Report {
        let records = self.site_records();
        let b = &self.books;
        let sites: Vec<SiteReport> = self
            .model
            .sites
            .iter()
            .zip(&self.sites)
            .zip(&records)
            .map(|((site, track), rec)| {
                let masters: Vec<String> = site
                    .shape
                    .site
                    .iter()
                    .map(|&a| self.model.name(a).to_owned())
                    .collect();
                let m = makespan::measure(
                    &makespan::Site {
                        procedure: track.procedure,
                        masters: &masters,
                    },
                    rec,
                );
                SiteReport {
                    group: site.shape.name.clone(),
                    kind: site.shape.kind.as_str().to_owned(),
                    downtime_s: track.downtime
                        + track.down_since.map_or(0.0, |d| (now - d).max(0.0)),
                    swap_floor_s: track.floor,
                    down_now: track.down_since.is_some(),
                    makespan_s: m.map(|m| m.makespan_s),
                    makespan_floor_s: m.map(|m| m.floor_s),
                }
            })
            .collect();
        Report {
            time_scale: b.scale,
            sim_time_s: now,
            violations: b.violations.clone(),
            downtime_s: sites.iter().map(|s| s.downtime_s).sum(),
            swap_floor_s: sites.iter().map(|s| s.swap_floor_s).sum(),
            dropped_sessions: b.dropped_total,
            dropped_by_appliance: b.dropped_by.clone(),
            sessions_cut_by_override: b.sessions_cut_by_override,
            sessions_started: b.sessions_started,
            sessions_refused: b.sessions_refused,
            duplicate_requests: b.duplicates.len() as u64,
            duplicates: b.duplicates.clone(),
            sites,
            installs: b.installs.clone(),
            drains: b.drains.clone(),
            syncs: b.syncs.clone(),
            swaps: b.swaps.clone(),
            timeline: b.timeline.clone(),
        }
    }
}
