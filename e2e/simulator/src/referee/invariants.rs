//! The invariant checks that judge a request or a transition (I2-I7; I1 is in `downtime`),
//! and the upgrade "cycle" that I5 and I6 are relative to. Each check says exactly what it
//! looks at, all of it in the referee's own picture; the README repeats it for people
//! reading a report.

use std::collections::BTreeSet;

use super::Referee;
use crate::fleet::{GroupKind, Strategy};

/// One upgrade "cycle" of a group, for I5 and I6.
#[derive(Debug, Clone)]
pub(super) struct Cycle {
    /// When the group's last upgrade completed (or -inf).
    pub(super) start: f64,
    /// Earliest backup downloaded from the group's primary since `start`.
    pub(super) first_backup: Option<f64>,
    /// Latest successful sync completed since `start`.
    pub(super) last_sync: Option<f64>,
    /// Installs started since `start`.
    pub(super) installs: u32,
    /// Members whose base install failed and that no person has cleared yet.
    pub(super) blocked: BTreeSet<usize>,
}

impl Cycle {
    pub(super) fn new() -> Self {
        Self {
            start: f64::NEG_INFINITY,
            first_backup: None,
            last_sync: None,
            installs: 0,
            blocked: BTreeSet::new(),
        }
    }
}

impl Referee {
    /// I6: any install requested in a group where a base install failed and no person has
    /// cleared it yet (including a retry on the blocked appliance, which it refuses).
    pub(super) fn check_blocked_group(&mut self, app: usize, package: &str, t: f64) {
        let g = self.model.nodes[app].group;
        let blocked: Vec<&str> = self.cycles[g]
            .blocked
            .iter()
            .map(|&b| self.model.name(b))
            .collect();
        if blocked.is_empty() {
            return;
        }
        let name = self.model.name(app);
        let message = format!(
            "install of {package} requested on {name} after a failed base install on {} that no person has cleared",
            blocked.join(", ")
        );
        let group = &self.model.sites[g].shape.name;
        self.books.violation("I6", group, Some(name), t, message);
    }

    /// I3, I4 (first half) and I5, when an install starts (before it takes the appliance
    /// out of service).
    pub(super) fn check_install_start(&mut self, app: usize, allow_clients: bool, t: f64) {
        let m = &self.model;
        let g = m.nodes[app].group;
        let site = &m.sites[g].shape;
        let name = m.name(app);
        let mut found: Vec<(&str, String)> = Vec::new();

        // I3: connected clients on the node being installed, unless the request allowed it
        // (then the cut is counted as sessions_cut_by_override).
        let clients = m.nodes[app].sessions;
        if clients > 0 && !allow_clients {
            found.push((
                "I3",
                format!("install started on {name} with {clients} connected clients"),
            ));
        }

        // I4: under the asynchronous strategy, never install on the appliance serving the
        // site while its failover partner is up and healthy and could serve instead.
        if site.strategy == Strategy::Asynchronous
            && m.is_serving(app)
            && let Some(partner) = site.partner(app)
            && m.healthy(partner)
        {
            found.push((
                "I4",
                format!(
                    "install started on {name} while it serves the site and {} could serve",
                    m.name(partner)
                ),
            ));
        }

        // I5: a backup from the group's primary and a successful sync completed after it,
        // both since the group's last completed upgrade.
        let cycle = &self.cycles[g];
        let needs_sync = site.site.len() == 2 || site.kind == GroupKind::Cluster;
        let backup_ok = cycle.first_backup.is_some_and(|b| b >= cycle.start);
        let sync_ok = !needs_sync
            || matches!((cycle.first_backup, cycle.last_sync), (Some(b), Some(s)) if s >= b);
        if !backup_ok {
            found.push((
                "I5",
                format!("install started on {name} without a configuration backup of the group's primary since the last upgrade"),
            ));
        } else if !sync_ok {
            found.push((
                "I5",
                format!(
                    "install started on {name} without a successful sync completed after the backup"
                ),
            ));
        }
        for (inv, msg) in found {
            self.books.violation(inv, &site.name, Some(name), t, msg);
        }
        self.cycles[g].installs += 1;
    }

    /// I4 (second half): promoting (role primary, shared IP on, establishing as primary) an
    /// appliance that is not up and healthy, or whose last install did not succeed.
    pub(super) fn check_promotion(&mut self, app: usize, t: f64, how: &str) {
        let m = &self.model;
        let n = &m.nodes[app];
        let reason = if !m.up(app) {
            Some(format!("it is {}", n.activity.as_str()))
        } else if n.health_fault {
            Some("its health check fails".to_owned())
        } else if m.last_install_unfinished_or_failed(app) {
            Some("its last install did not succeed".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            let group = &m.sites[n.group].shape.name;
            let message = format!("{how} on {} although {reason}", n.name);
            self.books.violation("I4", group, Some(&n.name), t, message);
        }
    }

    /// I7, then (an appliance that was not serving) I4 for the promotion: an establish
    /// request the appliances act on.
    pub(super) fn check_establish(&mut self, app: usize, peer: usize, t: f64) {
        let m = &self.model;
        let (mine, theirs) = (&m.nodes[app].version, &m.nodes[peer].version);
        if mine != theirs {
            let name = m.name(app);
            let message = format!(
                "establish failover requested between {name} ({mine}) and {} ({theirs})",
                m.name(peer)
            );
            let group = &m.site_of(app).shape.name;
            self.books.violation("I7", group, Some(name), t, message);
        } else if !m.is_serving(app) {
            self.check_promotion(app, t, "establish failover as primary");
        }
    }

    /// I2: an operator request that leaves more than floor(n/2) of a region's traffic nodes
    /// taken out of "accepting" by operator requests in the acting master's configuration.
    /// Nodes flipped by a master install do not count.
    pub(super) fn check_accepting_off(&mut self, master: usize, node: usize, t: f64) {
        let m = &self.model;
        let site = &m.site_of(master).shape;
        let crate::fleet::NodeKind::Traffic { region } = &m.nodes[node].kind else {
            return;
        };
        let Some(indexes) = site.regions.get(region) else {
            return;
        };
        let cfg = &m.nodes[master].cluster_cfg;
        let out = indexes
            .iter()
            .filter(|&&i| cfg.get(i).is_some_and(|c| !c.accepting && c.by_operator))
            .count();
        let allowed = indexes.len() / 2;
        if out > allowed {
            let message = format!(
                "{out} of {} traffic nodes in region {region} taken out of accepting (at most {allowed})",
                indexes.len()
            );
            self.books
                .violation("I2", &site.name, Some(m.name(node)), t, message);
        }
    }

    /// An upgrade completes when every member of the group is up on identical product and
    /// base versions after at least one install, with failover re-established where the
    /// group has two site members. I5 then wants a fresh backup and sync for the next one.
    pub(super) fn maybe_complete_cycle(&mut self, g: usize, t: f64) {
        let m = &self.model;
        let site = &m.sites[g];
        if self.cycles[g].installs == 0 || (site.shape.site.len() == 2 && !site.established) {
            return;
        }
        let Some(&first) = site.shape.members.first() else {
            return;
        };
        let (v, b) = (&m.nodes[first].version, &m.nodes[first].base_version);
        let converged = site
            .shape
            .members
            .iter()
            .all(|&n| m.up(n) && m.nodes[n].version == *v && m.nodes[n].base_version == *b);
        if !converged {
            return;
        }
        let detail = format!("every member on {v} / base {b}");
        self.books.event(
            t,
            None,
            Some(&site.shape.name),
            "upgrade_completed",
            &detail,
        );
        let cycle = &mut self.cycles[g];
        cycle.start = t;
        cycle.first_backup = None;
        cycle.last_sync = None;
        cycle.installs = 0;
    }

    /// A configuration backup was downloaded from `app` (R1). It counts for I5 when `app`
    /// is its group's primary.
    pub(super) fn backup_downloaded(&mut self, app: usize, t: f64) {
        let g = self.model.nodes[app].group;
        let from_primary = self.model.group_primary(g) == Some(app);
        let detail = if from_primary {
            "from the group's primary"
        } else {
            "not from the group's primary"
        };
        self.books.event(
            t,
            Some(self.model.name(app)),
            None,
            "backup_downloaded",
            detail,
        );
        let cycle = &mut self.cycles[g];
        if from_primary && cycle.first_backup.is_none() {
            cycle.first_backup = Some(t);
        }
    }
}
