//! Injecting a fault into the world: the appliance's fault state changes and the log
//! records it (the referee reads faults from the log, like everything else).

use crate::faults::Fault;

impl super::World {
    /// Applies a fault at simulated time `t`.
    pub(crate) fn inject(&mut self, fault: &Fault, t: f64) -> Result<(), crate::error::SimError> {
        let name = fault.appliance().to_owned();
        let app = self
            .app(&name)
            .ok_or_else(|| crate::error::SimError::UnknownAppliance(name.clone()))?;
        let bad = |m: &str| Err(crate::error::SimError::Invalid(m.to_owned()));
        let f = &mut self.apps[app].faults;
        match fault {
            Fault::FailNextInstall {
                package_kind,
                message,
                ..
            } => {
                let msg = message
                    .clone()
                    .unwrap_or_else(|| "the update failed (injected)".to_owned());
                f.fail_install = Some((*package_kind, msg));
            }
            Fault::Unreachable { for_s, .. } => {
                if for_s.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
                    return bad("for_s must be > 0");
                }
                let until = for_s.map_or(f64::INFINITY, |s| t + s);
                f.unreachable_until = Some(until);
                if until.is_finite() {
                    self.sched.push(
                        until,
                        crate::world::scheduler::Ev::FaultExpire { app, until },
                    );
                }
            }
            Fault::Slow { latency_ms, .. } => f.latency_ms = *latency_ms,
            Fault::FailHealth { message, .. } => {
                f.health = Some(
                    message
                        .clone()
                        .unwrap_or_else(|| "health check failed (injected)".to_owned()),
                );
            }
            Fault::FailNextSync { .. } => f.fail_sync = true,
            Fault::ClockSkew { skew_s, .. } => {
                if !skew_s.is_finite() {
                    return bad("skew_s must be finite");
                }
                f.skew_s = *skew_s;
            }
            Fault::MalformedXml { .. } => f.malformed_xml = true,
            Fault::RateLimited { requests, .. } => f.forced_429 = *requests,
            Fault::ServerErrors {
                requests, status, ..
            } => {
                let status = status.unwrap_or(503);
                if !(500..=599).contains(&status) {
                    return bad("status must be 5xx");
                }
                f.forced_5xx = *requests;
                f.status_5xx = status;
            }
        }
        self.record(
            t,
            crate::log::Fact::FaultInjected {
                appliance: app,
                fault: Box::new(fault.clone()),
            },
        );
        self.settle(t);
        Ok(())
    }
}
