//! Fault injection: what tests and chaos runs can break on an appliance, through the library
//! ([`crate::Fleet::inject`]) or the admin endpoint (`POST /admin/faults`, same JSON).
//! Clearing an appliance's faults ([`crate::Fleet::clear_faults`]) is also how "a person"
//! releases an appliance blocked by a failed base install (R6).

use serde::{Deserialize, Serialize};

use crate::fleet::PackageKind;

/// One fault, tagged by `type` in JSON, e.g.
/// `{"type":"fail_next_install","appliance":"rs-a","package_kind":"base","message":"disk full"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The next install started on the appliance (of this kind, if given) fails half-way with
    /// this message. A failed base install blocks the appliance until its faults are cleared.
    FailNextInstall {
        /// Appliance name.
        appliance: String,
        /// Only an install of this kind fails.
        #[serde(default)]
        package_kind: Option<PackageKind>,
        /// The appliance's message.
        #[serde(default)]
        message: Option<String>,
    },
    /// The appliance's API stops answering (connections reset) for `for_s` simulated seconds,
    /// or until cleared. Clients of the site and the failover peer still reach it: this is a
    /// management-network partition, not an outage.
    Unreachable {
        /// Appliance name.
        appliance: String,
        /// Simulated seconds; until cleared when absent.
        #[serde(default)]
        for_s: Option<f64>,
    },
    /// Every response of the appliance is delayed by this many real milliseconds.
    Slow {
        /// Appliance name.
        appliance: String,
        /// Added latency, real milliseconds.
        latency_ms: u64,
    },
    /// Health checks fail (`<success>0</success>` with this message, `/check_health` 500)
    /// until cleared. The site keeps serving.
    FailHealth {
        /// Appliance name.
        appliance: String,
        /// The `<error_message>`.
        #[serde(default)]
        message: Option<String>,
    },
    /// The next data sync run by this appliance (failover or cluster Sync Now, or the sync of
    /// `data_sync_first`) fails.
    FailNextSync {
        /// Appliance name.
        appliance: String,
    },
    /// The appliance clock is off by this many real seconds (`/clock`). Beyond 300 s, installs
    /// fail their pre-check (R8).
    ClockSkew {
        /// Appliance name.
        appliance: String,
        /// Real seconds, may be negative.
        skew_s: f64,
    },
    /// The next command API (XML v1) response is truncated, malformed XML.
    MalformedXml {
        /// Appliance name.
        appliance: String,
    },
    /// The next `requests` requests get `429` with `Retry-After: 1`.
    RateLimited {
        /// Appliance name.
        appliance: String,
        /// How many requests.
        requests: u32,
    },
    /// The next `requests` requests get a transient server error.
    ServerErrors {
        /// Appliance name.
        appliance: String,
        /// How many requests.
        requests: u32,
        /// The status (default 503).
        #[serde(default)]
        status: Option<u16>,
    },
}

impl Fault {
    /// The appliance the fault targets.
    pub fn appliance(&self) -> &str {
        match self {
            Self::FailNextInstall { appliance, .. }
            | Self::Unreachable { appliance, .. }
            | Self::Slow { appliance, .. }
            | Self::FailHealth { appliance, .. }
            | Self::FailNextSync { appliance }
            | Self::ClockSkew { appliance, .. }
            | Self::MalformedXml { appliance }
            | Self::RateLimited { appliance, .. }
            | Self::ServerErrors { appliance, .. } => appliance,
        }
    }
}

/// Active faults of one appliance.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultState {
    pub(crate) fail_install: Option<(Option<PackageKind>, String)>,
    /// Until this simulated time (infinity: until cleared).
    pub(crate) unreachable_until: Option<f64>,
    pub(crate) latency_ms: u64,
    pub(crate) health: Option<String>,
    pub(crate) fail_sync: bool,
    pub(crate) skew_s: f64,
    pub(crate) malformed_xml: bool,
    pub(crate) forced_429: u32,
    pub(crate) forced_5xx: u32,
    pub(crate) status_5xx: u16,
}

/// What the request layer must do before routing a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Pass,
    TooMany,
    ServerError(u16),
}

impl FaultState {
    pub(crate) fn unreachable_at(&self, now: f64) -> bool {
        self.unreachable_until.is_some_and(|u| now < u)
    }

    /// Consume one forced 429 / 5xx, if any (429 first: it is what a client retries on).
    pub(crate) fn gate(&mut self) -> Gate {
        if self.forced_429 > 0 {
            self.forced_429 -= 1;
            Gate::TooMany
        } else if self.forced_5xx > 0 {
            self.forced_5xx -= 1;
            Gate::ServerError(self.status_5xx)
        } else {
            Gate::Pass
        }
    }

    /// Takes the pending install failure if it applies to this kind.
    pub(crate) fn take_install_failure(&mut self, kind: PackageKind) -> Option<String> {
        match &self.fail_install {
            Some((only, _)) if only.is_none_or(|k| k == kind) => {
                self.fail_install.take().map(|(_, m)| m)
            }
            _ => None,
        }
    }

    /// The first `.take()` wins: a malformed response is served once.
    pub(crate) fn take_malformed(&mut self) -> bool {
        std::mem::take(&mut self.malformed_xml)
    }
}

impl crate::world::World {
    /// Applies a fault at simulated time `t`.
    pub(crate) fn inject(&mut self, fault: &Fault, t: f64) -> Result<(), crate::SimError> {
        let name = fault.appliance().to_owned();
        let app = self
            .app(&name)
            .ok_or_else(|| crate::SimError::UnknownAppliance(name.clone()))?;
        let bad = |m: &str| Err(crate::SimError::Invalid(m.to_owned()));
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
