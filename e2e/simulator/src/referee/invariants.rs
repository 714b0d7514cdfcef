//! The invariant checks that judge a request or a transition (I2-I7; I1 is in `downtime`),
//! and the upgrade "cycle" that I5 and I6 are relative to. Each check says exactly what it
//! looks at; the README repeats it for people reading a report.

use crate::fleet::Strategy;
use crate::world::{GroupKind, World};

impl World {
    /// I6: any install requested in a group where a base install failed and no person has
    /// cleared it yet (including a retry on the blocked appliance, which it refuses).
    pub(crate) fn check_blocked_group(&mut self, app: usize, package: &str, t: f64) {
        let g = self.apps[app].group;
        let blocked: Vec<String> = self.referee.cycles[g]
            .blocked
            .iter()
            .map(|&b| self.apps[b].name.clone())
            .collect();
        if blocked.is_empty() {
            return;
        }
        let name = self.apps[app].name.clone();
        let group = self.groups[g].name.clone();
        self.referee.violation(
            "I6",
            &group,
            Some(&name),
            t,
            format!(
                "install of {package} requested on {name} after a failed base install on {} that no person has cleared",
                blocked.join(", ")
            ),
        );
    }

    /// I3, I4 (first half) and I5, when an install starts.
    pub(crate) fn check_install_start(&mut self, app: usize, allow_clients: bool, t: f64) {
        let g = self.apps[app].group;
        let name = self.apps[app].name.clone();
        let group = self.groups[g].name.clone();
        let mut found: Vec<(&str, String)> = Vec::new();

        // I3: connected clients on the node being installed, unless the request allowed it
        // (then the cut is recorded as sessions_cut_by_override by the caller).
        let clients = self.apps[app].sessions.total();
        if clients > 0 && !allow_clients {
            found.push((
                "I3",
                format!("install started on {name} with {clients} connected clients"),
            ));
        }

        // I4: under the asynchronous strategy, never install on the appliance serving the
        // site while its failover partner is up and healthy and could serve instead.
        if self.groups[g].strategy == Strategy::Asynchronous
            && self.is_serving(app)
            && let Some(partner) = self.groups[g].partner(app)
            && self.apps[partner].healthy()
        {
            found.push((
                "I4",
                format!(
                    "install started on {name} while it serves the site and {} could serve",
                    self.apps[partner].name
                ),
            ));
        }

        // I5: a backup from the group's primary and a successful sync completed after it,
        // both since the group's last completed upgrade.
        let cycle = &self.referee.cycles[g];
        let needs_sync =
            self.groups[g].site.len() == 2 || self.groups[g].kind == GroupKind::Cluster;
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
        self.referee.cycles[g].installs += 1;
        for (inv, msg) in found {
            self.referee.violation(inv, &group, Some(&name), t, msg);
        }
    }

    /// I4 (second half): promoting (role primary, shared IP on, establishing as primary) an
    /// appliance that is not up and healthy, or whose last install did not succeed.
    pub(crate) fn check_promotion(&mut self, app: usize, t: f64, how: &str) {
        let a = &self.apps[app];
        let reason = if !a.up() {
            Some(format!("it is {}", a.software_state().as_str()))
        } else if a.faults.health.is_some() {
            Some("its health check fails".to_owned())
        } else if a.last_install_unfinished_or_failed() {
            Some("its last install did not succeed".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            let name = a.name.clone();
            let group = self.groups[a.group].name.clone();
            self.referee.violation(
                "I4",
                &group,
                Some(&name),
                t,
                format!("{how} on {name} although {reason}"),
            );
        }
    }

    /// I2: an operator request that leaves more than floor(n/2) of a region's traffic nodes
    /// taken out of "accepting" by operator requests in the acting master's configuration.
    /// Nodes flipped by a master install do not count.
    pub(crate) fn check_accepting_off(&mut self, master: usize, node_idx: usize, t: f64) {
        let g = self.apps[master].group;
        let node = self.groups[g].traffic[node_idx];
        let Some(region) = self.apps[node].region().map(str::to_owned) else {
            return;
        };
        let Some(indexes) = self.groups[g].regions.get(&region) else {
            return;
        };
        let cfg = &self.apps[master].cluster_cfg;
        let out = indexes
            .iter()
            .filter(|&&i| cfg.get(i).is_some_and(|c| !c.accepting && c.by_operator))
            .count();
        let allowed = indexes.len() / 2;
        if out > allowed {
            let name = self.apps[node].name.clone();
            let group = self.groups[g].name.clone();
            self.referee.violation(
                "I2",
                &group,
                Some(&name),
                t,
                format!(
                    "{out} of {} traffic nodes in region {region} taken out of accepting (at most {allowed})",
                    indexes.len()
                ),
            );
        }
    }

    /// An upgrade completes when every member of the group is up on identical product and
    /// base versions after at least one install, with failover re-established where the
    /// group has two site members. I5 then wants a fresh backup and sync for the next one.
    pub(crate) fn maybe_complete_cycle(&mut self, g: usize, t: f64) {
        let group = &self.groups[g];
        if self.referee.cycles[g].installs == 0 {
            return;
        }
        if group.site.len() == 2 && !group.established {
            return;
        }
        let Some(&first) = group.members.first() else {
            return;
        };
        let (v, b) = (&self.apps[first].version, &self.apps[first].base_version);
        let converged = group.members.iter().all(|&m| {
            self.apps[m].up() && self.apps[m].version == *v && self.apps[m].base_version == *b
        });
        if !converged {
            return;
        }
        let detail = format!("every member on {v} / base {b}");
        let name = group.name.clone();
        let cycle = &mut self.referee.cycles[g];
        cycle.start = t;
        cycle.first_backup = None;
        cycle.last_sync = None;
        cycle.installs = 0;
        self.referee
            .event(t, None, Some(&name), "upgrade_completed", &detail);
    }

    /// A configuration backup was downloaded from `app` (R1). It counts for I5 when `app`
    /// is its group's primary.
    pub(crate) fn record_backup(&mut self, app: usize, t: f64) {
        let g = self.apps[app].group;
        let name = self.apps[app].name.clone();
        let from_primary = self.group_primary(g) == Some(app);
        self.referee.event(
            t,
            Some(&name),
            None,
            "backup_downloaded",
            if from_primary {
                "from the group's primary"
            } else {
                "not from the group's primary"
            },
        );
        if from_primary {
            self.referee.backup_downloaded(g, t);
        }
    }
}
