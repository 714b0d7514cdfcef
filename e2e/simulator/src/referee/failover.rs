//! Reading the failover and site-address facts: role requests (and the repeated ones), role
//! swaps, breaks and establishes, shared IPs and external swings (each move of the site
//! address is a swap record, the downtime floor), data syncs and backups.

use super::Referee;
use super::model::Swap;
use super::report::SyncRecord;
use crate::fleet::GroupKind;
use crate::log::{FailoverRole, SharedIpChange, SyncKind};

impl Referee {
    /// `set_failover_role` taken up by the appliance: asking for the change already under
    /// way, or for the role it has, repeats a non-idempotent step.
    pub(super) fn role_requested(
        &mut self,
        app: usize,
        role: FailoverRole,
        data_sync_first: bool,
        force: bool,
        t: f64,
    ) {
        let m = &self.model;
        let name = m.name(app);
        if let Some(swap) = m.site_of(app).swap {
            let same = match role {
                FailoverRole::Primary => swap.promote == app,
                FailoverRole::Backup => swap.demote == Some(app),
                FailoverRole::None => false,
            };
            if same {
                let what = format!("set_failover_role {} while that change runs", role.as_str());
                self.books.duplicate(name, t, &what);
            }
            return;
        }
        if m.nodes[app].role == role {
            let what = format!("set_failover_role {} changes nothing", role.as_str());
            self.books.duplicate(name, t, &what);
            return;
        }
        let detail = format!(
            "role={} data_sync_first={data_sync_first} force={force}",
            role.as_str()
        );
        let group = &m.site_of(app).shape.name;
        self.books
            .event(t, Some(name), Some(group), "set_failover_role", &detail);
        if role == FailoverRole::Primary {
            self.check_promotion(app, t, "set_failover_role primary");
        }
    }

    pub(super) fn swap_begun(&mut self, g: usize, demote: Option<usize>, promote: usize) {
        self.model.sites[g].swap = Some(Swap {
            demote,
            promote,
            started: None,
        });
    }

    pub(super) fn swap_started(&mut self, g: usize, t: f64) {
        if let Some(swap) = &mut self.model.sites[g].swap {
            swap.started = Some(t);
        }
    }

    /// A role change; the promotion that ends a swap is a move of the site address.
    pub(super) fn role_changed(&mut self, app: usize, role: FailoverRole, t: f64) {
        self.model.set_role(app, role);
        self.note(t, app, "role_changed", role.as_str());
        let g = self.model.nodes[app].group;
        let site = &mut self.model.sites[g];
        if role == FailoverRole::Primary
            && let Some(swap) = site.swap.filter(|s| s.promote == app)
        {
            site.swap = None;
            self.swap(g, app, "role", swap.started.unwrap_or(t), t);
        }
    }

    /// Both site members standalone; the site address stays where it was.
    pub(super) fn failover_broken(&mut self, app: usize, t: f64) {
        let g = self.model.nodes[app].group;
        self.model.sites[g].established = false;
        for m in self.model.sites[g].shape.site.clone() {
            self.model.nodes[m].role = FailoverRole::None;
        }
        self.note_in_group(t, app, "failover_broken", "both appliances standalone");
    }

    pub(super) fn failover_established(&mut self, app: usize, peer: usize, t: f64) {
        let g = self.model.nodes[app].group;
        self.model.sites[g].established = true;
        let detail = format!(
            "{} primary, {} backup",
            self.model.name(app),
            self.model.name(peer)
        );
        self.note_in_group(t, app, "failover_established", &detail);
        self.maybe_complete_cycle(g, t);
    }

    pub(super) fn shared_ip(&mut self, app: usize, change: SharedIpChange, t: f64) {
        let g = self.model.nodes[app].group;
        match change {
            SharedIpChange::Disabled => self.model.nodes[app].shared_ip = false,
            SharedIpChange::Enabling => {
                self.check_promotion(app, t, "enable the shared IP");
                self.model.sites[g].ip_since = Some(t);
            }
            SharedIpChange::Enabled => self.model.nodes[app].shared_ip = true,
        }
        self.note(t, app, "shared_ip", change.as_str());
        if change == SharedIpChange::Enabled {
            let started = self.model.sites[g].ip_since.take().unwrap_or(t);
            self.swap(g, app, "shared_ip", started, t);
        }
    }

    /// An external swing moved: instantaneous as far as the appliances are concerned.
    pub(super) fn site_target_moved(&mut self, app: usize, t: f64) {
        let g = self.model.nodes[app].group;
        self.model.sites[g].target = Some(app);
        self.note_in_group(t, app, "site_target", "external swing points here");
        self.swap(g, app, "external", t, t);
    }

    fn swap(&mut self, g: usize, app: usize, kind: &str, started: f64, t: f64) {
        let group = &self.model.sites[g].shape.name;
        let duration = self
            .books
            .swap(group, self.model.name(app), kind, started, t);
        self.sites[g].floor += duration;
    }

    pub(super) fn sync_started(&mut self, g: usize, sync: u64, app: usize, kind: SyncKind, t: f64) {
        let (name, group) = (self.model.name(app), &self.model.sites[g].shape.name);
        self.books
            .event(t, Some(name), Some(group), "sync_started", kind.as_str());
        let record = SyncRecord {
            group: group.clone(),
            appliance: name.to_owned(),
            kind: kind.as_str().to_owned(),
            started_at_s: t,
            finished_at_s: None,
            succeeded: None,
            message: None,
        };
        self.books.sync_started(sync, g, record);
    }

    /// A sync ended; a successful one counts for I5 and, in a cluster, copies the acting
    /// master's configuration to the other master.
    pub(super) fn sync_finished(&mut self, sync: u64, ok: bool, message: Option<&str>, t: f64) {
        let Some((rec, g)) = self.books.sync_finished(sync, t, ok, message) else {
            return;
        };
        let (appliance, group) = (rec.appliance.clone(), rec.group.clone());
        let detail = if ok {
            "succeeded".to_owned()
        } else {
            format!("failed: {}", message.unwrap_or_default())
        };
        self.books
            .event(t, Some(&appliance), Some(&group), "sync_finished", &detail);
        if ok {
            self.cycles[g].last_sync = Some(t);
            if self.model.sites[g].shape.kind == GroupKind::Cluster {
                self.model.copy_cluster_config(g);
            }
        }
    }
}
