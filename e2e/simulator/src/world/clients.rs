//! Connected clients. Each appliance entry with `clients` generates Poisson arrivals at a
//! constant rate; an arrival connects to whoever takes new clients at that moment (thinning
//! a constant-rate process is exactly a Poisson process on the accepting periods, so no
//! rescheduling is needed when acceptance changes). Sessions end on their own after a
//! uniform length, or are cut (counted as dropped) when their node installs, reboots or
//! loses its serving role. A node that stops taking new clients drains: its sessions end
//! on their own (the referee, reading the log, measures how long that took).

use rand::Rng;

use super::appliance::{CLIENT_TYPE_WEIGHTS, NodeKind};
use super::scheduler::Ev;
use super::{World, uniform};
use crate::log::Fact;

impl World {
    /// Whether new clients reach `app` now.
    pub(crate) fn takes_new_clients(&self, app: usize) -> bool {
        let a = &self.apps[app];
        match a.kind {
            NodeKind::Traffic { .. } => {
                // Session initiation goes through the serving master.
                a.up() && a.accepting && self.serving_member(a.group).is_some()
            }
            NodeKind::Single => a.up(),
            NodeKind::PairMember | NodeKind::Master => self.serving_member(a.group) == Some(app),
        }
    }

    pub(crate) fn schedule_next_arrival(&mut self, owner: usize, t: f64) {
        let Some(spec) = &self.apps[owner].clients else {
            return;
        };
        let rate_per_s = spec.arrival_per_min / 60.0;
        if rate_per_s <= 0.0 {
            return;
        }
        let u: f64 = self.apps[owner].client_rng.random();
        let gap = -(1.0 - u).ln() / rate_per_s;
        self.sched.push(t + gap, Ev::ClientArrival { owner });
    }

    pub(crate) fn client_arrival(&mut self, owner: usize, t: f64) {
        self.schedule_next_arrival(owner, t);
        let target = match self.apps[owner].kind {
            NodeKind::Traffic { .. } | NodeKind::Single => {
                self.takes_new_clients(owner).then_some(owner)
            }
            NodeKind::PairMember | NodeKind::Master => self.serving_member(self.apps[owner].group),
        };
        let Some(target) = target else {
            self.record(t, Fact::ClientRefused { owner });
            return;
        };
        let Some(spec) = self.apps[owner].clients.clone() else {
            return;
        };
        let len_s = 60.0 * uniform(&mut self.apps[owner].client_rng, spec.session_min);
        let pick: f64 = self.apps[owner].client_rng.random();
        let mut acc = 0.0;
        let ty = CLIENT_TYPE_WEIGHTS
            .iter()
            .position(|w| {
                acc += w;
                pick < acc
            })
            .unwrap_or(CLIENT_TYPE_WEIGHTS.len() - 1);
        let session = self.next_id();
        self.apps[target].sessions.add(session, ty);
        self.record(t, Fact::ClientConnected { appliance: target });
        self.sched.push(
            t + len_s,
            Ev::SessionEnd {
                app: target,
                session,
            },
        );
    }

    pub(crate) fn session_end(&mut self, app: usize, session: u64, t: f64) {
        if !self.apps[app].sessions.remove(session) {
            return;
        }
        self.record(t, Fact::SessionEnded { appliance: app });
    }

    /// Cuts every session of `app`. `override_drain`: the install request allowed it, so
    /// the cut is recorded as sessions cut by override, not dropped.
    pub(crate) fn cut_sessions(&mut self, app: usize, t: f64, why: &str, override_drain: bool) {
        let n = self.apps[app].sessions.clear();
        if n == 0 {
            return;
        }
        self.record(
            t,
            Fact::SessionsCut {
                appliance: app,
                sessions: n,
                why: why.to_owned(),
                by_override: override_drain,
            },
        );
    }
}
