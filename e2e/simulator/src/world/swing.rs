//! Moving the site address: shared IPs (disabled at once, enabled after `shared_ip_s`, the
//! request waiting) and, for an external swing, the site target an operator test reports
//! through the admin endpoint.

use super::scheduler::Ev;
use super::{ErrorCode, OpError, Started, World};
use crate::log::{Fact, SharedIpChange};

impl World {
    /// Enable (takes `shared_ip_s`) or disable (at once) the site's shared IP here.
    pub(crate) fn set_shared_ip(
        &mut self,
        app: usize,
        enabled: bool,
        t: f64,
    ) -> Result<Started, OpError> {
        let g = self.apps[app].group;
        if self.groups[g].shared_ip.is_none() || !self.groups[g].site.contains(&app) {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "this appliance has no shared IP",
            ));
        }
        self.require_up(app)?;
        if self.apps[app].shared_ip_enabled == enabled {
            return Ok(Started::Done("unchanged".into()));
        }
        if !enabled {
            if self.groups[g].ip_op.is_some_and(|(_, a)| a == app) {
                self.groups[g].ip_op = None;
            }
            self.apps[app].shared_ip_enabled = false;
            self.record(
                t,
                Fact::SharedIp {
                    appliance: app,
                    change: SharedIpChange::Disabled,
                },
            );
            self.settle(t);
            return Ok(Started::Done("disabled".into()));
        }
        if self.groups[g].ip_op.is_some() {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "a shared IP change is in progress",
            ));
        }
        let op = self.next_id();
        self.groups[g].ip_op = Some((op, app));
        self.sched.push(
            t + self.timings.shared_ip_s,
            Ev::SharedIpUp { group: g, op, app },
        );
        self.record(
            t,
            Fact::SharedIp {
                appliance: app,
                change: SharedIpChange::Enabling,
            },
        );
        // A new revision wakes the world's driver so it sees the scheduled event; without it
        // the enable waited for the next unrelated change (about 5 s real when none came).
        self.settle(t);
        Ok(Started::Pending(op))
    }

    pub(crate) fn shared_ip_up(&mut self, g: usize, op: u64, app: usize, t: f64) {
        if self.groups[g].ip_op.is_none_or(|(o, _)| o != op) {
            return;
        }
        self.groups[g].ip_op = None;
        self.apps[app].shared_ip_enabled = true;
        self.record(
            t,
            Fact::SharedIp {
                appliance: app,
                change: SharedIpChange::Enabled,
            },
        );
        self.finish_op(op, Ok("enabled".into()));
    }

    /// Admin: where an external swing (DNS, NAT, load balancer) points the site.
    pub(crate) fn set_site_target(&mut self, g: usize, app: usize, t: f64) -> Result<(), OpError> {
        if !self.groups[g].site.contains(&app) {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "not a site member of this group",
            ));
        }
        if self.groups[g].site_target != Some(app) {
            self.groups[g].site_target = Some(app);
            self.record(t, Fact::SiteTargetMoved { appliance: app });
            self.settle(t);
        }
        Ok(())
    }
}
