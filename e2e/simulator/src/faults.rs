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
