//! Site downtime and I1. A site is up while at least one of its site members (pair members,
//! or the masters of a cluster) is serving: failover role primary or none (not backup),
//! holding the site address (enabled shared IP; for an external swing, the appliance the
//! swing points at), and up (not installing, rebooting or failed). Downtime is the simulated
//! time the site is not up. I1 is reported when two site members are primary at once, or
//! two have the shared IP enabled at once (reported once per onset).

use crate::fleet::Swing;
use crate::world::{FailoverRole, World};

use super::Referee;

/// What the referee sees of one site at one moment.
#[derive(Debug, Clone, Copy)]
struct SiteView {
    serving: bool,
    primaries: usize,
    holders: usize,
}

impl World {
    /// Lets the referee look at every site after a change.
    pub(crate) fn observe_sites(&mut self, t: f64) {
        for g in 0..self.groups.len() {
            let group = &self.groups[g];
            let site = &group.site;
            let primaries = site
                .iter()
                .filter(|&&m| self.apps[m].role == FailoverRole::Primary)
                .count();
            let holders = if group.swing == Swing::SharedIp {
                site.iter()
                    .filter(|&&m| self.apps[m].shared_ip_enabled)
                    .count()
            } else {
                0
            };
            let view = SiteView {
                serving: self.serving_member(g).is_some(),
                primaries,
                holders,
            };
            // Names only matter for a violation message; skip the allocation otherwise.
            let names: Vec<String> = if primaries >= 2 || holders >= 2 {
                site.iter().map(|&m| self.apps[m].name.clone()).collect()
            } else {
                Vec::new()
            };
            self.referee.observe_site(g, t, view, &names);
        }
    }
}

impl Referee {
    fn observe_site(&mut self, g: usize, t: f64, view: SiteView, members: &[String]) {
        let Some(site) = self.sites.get_mut(g) else {
            return;
        };
        let name = site.name.clone();
        let mut events: Vec<(&str, String)> = Vec::new();
        match (site.down_since, view.serving) {
            (None, false) => {
                site.down_since = Some(t);
                events.push(("site_down", "nobody serves the site".to_owned()));
            }
            (Some(since), true) => {
                site.downtime += (t - since).max(0.0);
                site.down_since = None;
                events.push(("site_up", format!("down for {:.1} s", t - since)));
            }
            _ => {}
        }
        let two_primaries = view.primaries >= 2;
        let two_holders = view.holders >= 2;
        let new_primaries = two_primaries && !site.two_primaries;
        let new_holders = two_holders && !site.two_holders;
        site.two_primaries = two_primaries;
        site.two_holders = two_holders;
        for (kind, detail) in events {
            self.event(t, None, Some(&name), kind, &detail);
        }
        let list = members.join(", ");
        if new_primaries {
            self.violation(
                "I1",
                &name,
                None,
                t,
                format!("two primaries at once among {list}"),
            );
        }
        if new_holders {
            self.violation(
                "I1",
                &name,
                None,
                t,
                format!("the shared IP is enabled on two appliances at once among {list}"),
            );
        }
    }
}
