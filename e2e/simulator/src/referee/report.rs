//! What the referee reports: a serializable snapshot (`Fleet::report`, `GET /admin/report`,
//! `--report-out`) and its one-line summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fleet::PackageKind;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// `I1` … `I7`.
    pub invariant: String,
    /// The pair, cluster, or standalone appliance.
    pub group: String,
    /// The appliance concerned, when one is.
    pub appliance: Option<String>,
    /// Simulated seconds since start.
    pub at_sim_s: f64,
    /// What happened, for a person.
    pub message: String,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Simulated seconds since start.
    pub at_sim_s: f64,
    /// Real seconds since start.
    pub at_real_s: f64,
    /// Appliance concerned.
    pub appliance: Option<String>,
    /// Group concerned.
    pub group: Option<String>,
    /// snake_case kind (`install_started`, `role_changed`, `site_down`, `violation`, …).
    pub kind: String,
    /// Details, for a person.
    pub detail: String,
}

/// How an install (appliance, package) ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallOutcome {
    /// Requested but never started (every request refused).
    Refused,
    /// Installing.
    Running,
    /// Rebooting after a base install.
    Rebooting,
    /// Installed.
    Succeeded,
    /// Failed.
    Failed,
}

/// The install log, one record per appliance and package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallRecord {
    /// Appliance name.
    pub appliance: String,
    /// Its group.
    pub group: String,
    /// Package id.
    pub package_id: String,
    /// Package kind (unknown packages: none).
    pub kind: Option<PackageKind>,
    /// `POST /installs` requests (Idempotency-Key replays excluded).
    pub requests: u32,
    /// Requests refused, and the last refusal's error code.
    pub refused: u32,
    /// The last refusal's error code.
    pub last_refusal: Option<String>,
    /// Installs started.
    pub starts: u32,
    /// Outcome of the last start.
    pub outcome: InstallOutcome,
    /// First request, simulated seconds.
    pub first_requested_at_s: f64,
    /// Last start, simulated seconds.
    pub started_at_s: Option<f64>,
    /// Last end (success or failure, after the reboot), simulated seconds.
    pub finished_at_s: Option<f64>,
    /// The failure message.
    pub message: Option<String>,
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainOutcome {
    /// Still draining.
    Ongoing,
    /// Every session ended on its own.
    Drained,
    /// The node took new clients again before draining.
    Resumed,
    /// Remaining sessions were cut (install, reboot, role loss).
    Cut,
}

/// A node that stopped taking new clients while up: how long its sessions took to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainRecord {
    /// Appliance name.
    pub appliance: String,
    /// Its group.
    pub group: String,
    /// When it stopped taking new clients.
    pub started_at_s: f64,
    /// Sessions it had then.
    pub clients_at_start: u64,
    /// When the drain ended.
    pub ended_at_s: Option<f64>,
    /// How it ended.
    pub outcome: DrainOutcome,
}

/// A data sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// Group.
    pub group: String,
    /// The appliance that ran it.
    pub appliance: String,
    /// `sync_now`, `data_sync_first`, `automatic` (after establish) or `cluster`.
    pub kind: String,
    /// Start, simulated seconds.
    pub started_at_s: f64,
    /// End, simulated seconds.
    pub finished_at_s: Option<f64>,
    /// Outcome, once finished.
    pub succeeded: Option<bool>,
    /// Failure message.
    pub message: Option<String>,
}

/// A move of the site address as the appliances perform it: a role promotion (`role`), a
/// shared IP coming up (`shared_ip`) or an external swing (`external`, instantaneous).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwapRecord {
    /// Group.
    pub group: String,
    /// The appliance that took the site.
    pub appliance: String,
    /// `role`, `shared_ip` or `external`.
    pub kind: String,
    /// Start, simulated seconds.
    pub started_at_s: f64,
    /// End, simulated seconds.
    pub finished_at_s: f64,
    /// Appliance-side duration (counts toward the downtime floor).
    pub duration_s: f64,
}

/// Per-site measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteReport {
    /// Group name.
    pub group: String,
    /// `pair`, `cluster` or `standalone`.
    pub kind: String,
    /// Simulated seconds with nobody serving the site.
    pub downtime_s: f64,
    /// Appliance-side duration of the swaps that happened.
    pub swap_floor_s: f64,
    /// Whether the site is down right now.
    pub down_now: bool,
    /// Simulated seconds from the upgrade's first disruptive step (drain, break, install or
    /// site address move) to its last step (install end, node back into rotation, the closing
    /// sync, or site address move). `None` while no upgrade of the site is complete.
    #[serde(default)]
    pub makespan_s: Option<f64>,
    /// The critical path through the procedure's ordering constraints with the install,
    /// drain, sync and swap durations recorded in this run: what an orchestrator with zero
    /// reaction time would have achieved. `None` when `makespan_s` is.
    #[serde(default)]
    pub makespan_floor_s: Option<f64>,
}

/// A non-idempotent request repeated (I8 as seen from the appliances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    /// Appliance name.
    pub appliance: String,
    /// Simulated seconds.
    pub at_sim_s: f64,
    /// What was repeated.
    pub what: String,
}

/// The referee's verdict at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Simulated seconds since start.
    pub sim_time_s: f64,
    /// Invariant violations, in order.
    pub violations: Vec<Violation>,
    /// Total downtime over all sites, simulated seconds.
    pub downtime_s: f64,
    /// Total downtime floor over all sites, simulated seconds.
    pub swap_floor_s: f64,
    /// Client sessions cut by installs, reboots or role losses.
    pub dropped_sessions: u64,
    /// Dropped sessions per appliance.
    pub dropped_by_appliance: BTreeMap<String, u64>,
    /// Sessions cut by an install that allowed connected clients (not dropped).
    pub sessions_cut_by_override: u64,
    /// Sessions that connected.
    pub sessions_started: u64,
    /// Client arrivals that found no appliance taking new clients.
    pub sessions_refused: u64,
    /// Repeated non-idempotent requests.
    pub duplicate_requests: u64,
    /// Each repeated request.
    pub duplicates: Vec<Duplicate>,
    /// Per-site measures.
    pub sites: Vec<SiteReport>,
    /// The install log.
    pub installs: Vec<InstallRecord>,
    /// Drains.
    pub drains: Vec<DrainRecord>,
    /// Data syncs.
    pub syncs: Vec<SyncRecord>,
    /// Site address moves.
    pub swaps: Vec<SwapRecord>,
    /// Every recorded state change.
    pub timeline: Vec<Event>,
}

impl Report {
    /// `referee: violations=0 downtime_s=12.0 dropped_sessions=0`.
    pub fn summary_line(&self) -> String {
        format!(
            "referee: violations={} downtime_s={:.1} dropped_sessions={}",
            self.violations.len(),
            self.downtime_s,
            self.dropped_sessions
        )
    }

    /// Violations of one invariant (`"I4"`).
    pub fn violations_of<'a>(
        &'a self,
        invariant: &'a str,
    ) -> impl Iterator<Item = &'a Violation> + 'a {
        self.violations
            .iter()
            .filter(move |v| v.invariant == invariant)
    }

    /// The install record of one appliance and package.
    pub fn install(&self, appliance: &str, package_id: &str) -> Option<&InstallRecord> {
        self.installs
            .iter()
            .find(|r| r.appliance == appliance && r.package_id == package_id)
    }

    /// Per-site measures of one group.
    pub fn site(&self, group: &str) -> Option<&SiteReport> {
        self.sites.iter().find(|s| s.group == group)
    }

    /// The makespan of one group's upgrade, simulated seconds (`None`: unknown group or no
    /// complete upgrade).
    pub fn makespan_s(&self, group: &str) -> Option<f64> {
        self.site(group).and_then(|s| s.makespan_s)
    }

    /// The makespan floor of one group's upgrade, simulated seconds.
    pub fn makespan_floor_s(&self, group: &str) -> Option<f64> {
        self.site(group).and_then(|s| s.makespan_floor_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_summary_line() {
        let r = Report {
            time_scale: 60.0,
            sim_time_s: 10.0,
            violations: vec![],
            downtime_s: 12.04,
            swap_floor_s: 2.0,
            dropped_sessions: 3,
            dropped_by_appliance: BTreeMap::new(),
            sessions_cut_by_override: 0,
            sessions_started: 0,
            sessions_refused: 0,
            duplicate_requests: 0,
            duplicates: vec![],
            sites: vec![],
            installs: vec![],
            drains: vec![],
            syncs: vec![],
            swaps: vec![],
            timeline: vec![],
        };
        assert_eq!(
            r.summary_line(),
            "referee: violations=0 downtime_s=12.0 dropped_sessions=3"
        );
    }

    #[test]
    fn a_site_report_without_makespan_fields_still_parses() {
        let old = r#"{"group":"site1","kind":"pair","downtime_s":2.5,"swap_floor_s":2.0,"down_now":false}"#;
        let site: SiteReport = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((site.makespan_s, site.makespan_floor_s), (None, None));
        let json = serde_json::to_value(SiteReport {
            makespan_s: Some(10.0),
            makespan_floor_s: Some(8.0),
            ..site
        })
        .unwrap_or_default();
        assert_eq!(json["makespan_s"], 10.0);
        assert_eq!(json["makespan_floor_s"], 8.0);
    }
}
