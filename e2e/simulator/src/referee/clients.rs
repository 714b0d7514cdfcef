//! Client sessions and drains, counted from the log: sessions connect, end on their own, or
//! are cut (dropped, unless an install request allowed it). A node that stops taking new
//! clients while up drains: the referee opens a drain record and closes it when the last
//! session ends, when the node takes clients again, or when the rest is cut. Who takes new
//! clients is looked at when the world settles, like the sites.

use super::Referee;
use super::report::DrainOutcome;
use crate::fleet::{GroupKind, NodeKind};

impl Referee {
    /// What the world settled into: the acting masters' configurations in force, then who
    /// takes new clients (drains), then the sites (downtime, I1).
    pub(super) fn settled(&mut self, t: f64) {
        for g in 0..self.model.sites.len() {
            if self.model.sites[g].shape.kind == GroupKind::Cluster {
                self.model.refresh_cluster(g);
            }
        }
        for a in 0..self.model.nodes.len() {
            let takes = self.model.takes_new_clients(a);
            if takes != self.model.nodes[a].takes_clients {
                self.model.nodes[a].takes_clients = takes;
                self.track_drain(a, takes, t);
            }
        }
        self.observe_sites(t);
    }

    pub(super) fn client_connected(&mut self, app: usize) {
        self.books.sessions_started += 1;
        self.model.nodes[app].sessions += 1;
    }

    pub(super) fn session_ended(&mut self, app: usize, t: f64) {
        let node = &mut self.model.nodes[app];
        node.sessions = node.sessions.saturating_sub(1);
        if node.sessions == 0
            && let Some(d) = node.drain.take()
        {
            self.books.drain_ended(d, t, DrainOutcome::Drained);
        }
    }

    pub(super) fn sessions_cut(
        &mut self,
        app: usize,
        n: u64,
        why: &str,
        by_override: bool,
        t: f64,
    ) {
        let node = &mut self.model.nodes[app];
        node.sessions = 0;
        if let Some(d) = node.drain.take() {
            self.books.drain_ended(d, t, DrainOutcome::Cut);
        }
        if n == 0 {
            return;
        }
        let name = &self.model.nodes[app].name;
        if by_override {
            self.books.sessions_cut_by_override += n;
        } else {
            self.books.dropped(name, n);
        }
        let verdict = if by_override {
            "cut by override"
        } else {
            "dropped"
        };
        let detail = format!("{n} sessions {verdict}: {why}");
        self.books
            .event(t, Some(name), None, "sessions_cut", &detail);
    }

    /// Opens or closes a drain record when `app` stops or resumes taking new clients.
    fn track_drain(&mut self, app: usize, takes: bool, t: f64) {
        if takes {
            if let Some(d) = self.model.nodes[app].drain.take() {
                self.books.drain_ended(d, t, DrainOutcome::Resumed);
            }
            return;
        }
        let node = &self.model.nodes[app];
        // Only a node that is up drains (an install cuts instead); pair members and masters
        // only matter when they had clients, traffic nodes always (makespan floors).
        let is_traffic = matches!(node.kind, NodeKind::Traffic { .. });
        let clients = node.sessions;
        let group = &self.model.sites[node.group].shape;
        if !self.model.up(app) || (!is_traffic && clients == 0) || group.kind == GroupKind::Single {
            return;
        }
        let rec = self
            .books
            .drain_started(&node.name, &group.name, t, clients);
        if clients > 0 {
            self.model.nodes[app].drain = Some(rec);
        }
    }
}
