//! Site downtime and I1. A site is up while at least one of its site members (pair members,
//! or the masters of a cluster) is serving: failover role primary or none (not backup),
//! holding the site address (enabled shared IP; for an external swing, the appliance the
//! swing points at), and up (not installing, rebooting or failed). Downtime is the simulated
//! time the site is not up. I1 is reported when two site members are primary at once, or
//! two have the shared IP enabled at once (reported once per onset).
//!
//! Sites are looked at only when the world settles (`Fact::Settled`): inside one change the
//! world passes through half-done states that nobody outside could see.

use super::Referee;
use super::makespan::Procedure;
use crate::fleet::{GroupKind, Strategy, Swing};
use crate::log::FailoverRole;

/// Per-site tracking for downtime, its floor and I1.
#[derive(Debug, Clone)]
pub(super) struct SiteTrack {
    pub(super) down_since: Option<f64>,
    pub(super) downtime: f64,
    /// Appliance-side duration of the site address moves so far.
    pub(super) floor: f64,
    two_primaries: bool,
    two_holders: bool,
    /// Whose ordering constraints the makespan floor follows.
    pub(super) procedure: Procedure,
}

impl SiteTrack {
    pub(super) fn new(kind: GroupKind, strategy: Strategy, site_members: usize) -> Self {
        let procedure = match (kind, strategy, site_members) {
            (GroupKind::Single, _, _) => Procedure::Standalone,
            (GroupKind::Pair, Strategy::Synchronous, _) => Procedure::PairSynchronous,
            (GroupKind::Pair, Strategy::Asynchronous, _) => Procedure::PairAsynchronous,
            (GroupKind::Cluster, _, 2..) => Procedure::AtlasWithBackupMaster,
            (GroupKind::Cluster, _, _) => Procedure::AtlasWithoutBackupMaster,
        };
        Self {
            down_since: None,
            downtime: 0.0,
            floor: 0.0,
            two_primaries: false,
            two_holders: false,
            procedure,
        }
    }
}

impl Referee {
    /// Looks at every site after the world settled.
    pub(super) fn observe_sites(&mut self, t: f64) {
        for g in 0..self.sites.len() {
            self.observe_site(g, t);
        }
    }

    fn observe_site(&mut self, g: usize, t: f64) {
        let m = &self.model;
        let shape = &m.sites[g].shape;
        let primaries = shape
            .site
            .iter()
            .filter(|&&a| m.nodes[a].role == FailoverRole::Primary)
            .count();
        let holders = if shape.swing == Swing::SharedIp {
            shape.site.iter().filter(|&&a| m.nodes[a].shared_ip).count()
        } else {
            0
        };
        let serving = m.serving_member(g).is_some();
        let track = &mut self.sites[g];
        match (track.down_since, serving) {
            (None, false) => {
                track.down_since = Some(t);
                self.books.event(
                    t,
                    None,
                    Some(&shape.name),
                    "site_down",
                    "nobody serves the site",
                );
            }
            (Some(since), true) => {
                track.downtime += (t - since).max(0.0);
                track.down_since = None;
                let detail = format!("down for {:.1} s", t - since);
                self.books
                    .event(t, None, Some(&shape.name), "site_up", &detail);
            }
            _ => {}
        }
        let two_primaries = primaries >= 2;
        let two_holders = holders >= 2;
        let new_primaries = two_primaries && !track.two_primaries;
        let new_holders = two_holders && !track.two_holders;
        track.two_primaries = two_primaries;
        track.two_holders = two_holders;
        if !(new_primaries || new_holders) {
            return;
        }
        let list = shape
            .site
            .iter()
            .map(|&a| m.name(a))
            .collect::<Vec<_>>()
            .join(", ");
        if new_primaries {
            let message = format!("two primaries at once among {list}");
            self.books.violation("I1", &shape.name, None, t, message);
        }
        if new_holders {
            let message =
                format!("the shared IP is enabled on two appliances at once among {list}");
            self.books.violation("I1", &shape.name, None, t, message);
        }
    }
}
