//! The referee works from a log alone: logs written by hand, with no world behind them, are
//! judged like the world's own. Each test names the facts it writes and what the referee must
//! make of them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::Referee;
use super::report::{InstallOutcome, Report};
use crate::fleet::FleetSpec;
use crate::log::{Fact, FailoverRole, Log, SharedIpChange, SyncKind};

/// rs-a (appliance 0, primary, holding the shared IP) and rs-b (1, backup) form the pair
/// site1 (group 0), judged by the asynchronous procedure; solo (2) stands alone (group 1).
const FLEET: &str = r#"
catalogue:
  - { id: base-5.1.0, name: "Base 5.1.0", kind: base, version: 5.1.0, install_s: [600, 600] }
appliances:
  - { name: rs-a, product: rs, version: 23.3.1, base_version: 5.0.0 }
  - { name: rs-b, product: rs, version: 23.3.1, base_version: 5.0.0 }
  - { name: solo, product: rs, version: 23.3.1, base_version: 5.0.0 }
pairs:
  - { name: site1, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10, strategy: asynchronous }
"#;

const BASE: &str = "base-5.1.0";

fn judge(facts: Vec<(f64, Fact)>, now: f64) -> Report {
    let spec = FleetSpec::from_yaml(FLEET).unwrap();
    let mut log = Log::default();
    for (t, fact) in facts {
        log.push(t, fact);
    }
    let mut referee = Referee::new(&spec).unwrap();
    referee.read(&log);
    referee.report(now)
}

fn install_started(appliance: usize) -> Fact {
    Fact::InstallStarted {
        appliance,
        package: BASE.to_owned(),
        install: format!("inst-{appliance}"),
        duration_s: 600.0,
        allow_connected_clients: false,
        precheck_failed: false,
    }
}

fn requested(appliance: usize) -> Fact {
    Fact::InstallRequested {
        appliance,
        package: BASE.to_owned(),
    }
}

fn shared_ip(appliance: usize, change: SharedIpChange) -> Fact {
    Fact::SharedIp { appliance, change }
}

#[test]
fn a_hand_written_correct_walk_is_judged_clean_with_its_downtime_and_floor() {
    // Backup and sync, break, upgrade rs-b, swing the shared IP to it (2 s) with a 3 s gap
    // between the two requests.
    let report = judge(
        vec![
            (0.0, Fact::Settled),
            (10.0, Fact::BackupDownloaded { appliance: 0 }),
            (
                20.0,
                Fact::SyncStarted {
                    group: 0,
                    sync: 1,
                    appliance: 0,
                    kind: SyncKind::SyncNow,
                },
            ),
            (
                50.0,
                Fact::SyncFinished {
                    sync: 1,
                    ok: true,
                    message: None,
                },
            ),
            (60.0, Fact::FailoverBroken { appliance: 0 }),
            (60.0, Fact::Settled),
            (70.0, requested(1)),
            (70.0, install_started(1)),
            (70.0, Fact::Settled),
            (
                670.0,
                Fact::InstallSucceeded {
                    appliance: 1,
                    package: BASE.to_owned(),
                },
            ),
            (670.0, Fact::Settled),
            (700.0, shared_ip(0, SharedIpChange::Disabled)),
            (700.0, Fact::Settled),
            (703.0, shared_ip(1, SharedIpChange::Enabling)),
            (703.0, Fact::Settled),
            (705.0, shared_ip(1, SharedIpChange::Enabled)),
            (705.0, Fact::Settled),
        ],
        1000.0,
    );
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let site = report.site("site1").unwrap();
    assert!((site.downtime_s - 5.0).abs() < 1e-9, "{site:?}");
    assert!((site.swap_floor_s - 2.0).abs() < 1e-9, "{site:?}");
    assert!(!site.down_now);
    let install = report.install("rs-b", BASE).unwrap();
    assert_eq!((install.requests, install.starts), (1, 1));
    assert_eq!(install.outcome, InstallOutcome::Succeeded);
    assert_eq!(report.syncs.len(), 1);
    assert_eq!(report.syncs[0].succeeded, Some(true));
}

#[test]
fn an_invariant_violation_in_a_hand_written_log_is_reported() {
    // rs-b promoted while rs-a is still primary: two primaries (I1).
    let report = judge(
        vec![
            (0.0, Fact::Settled),
            (
                5.0,
                Fact::RoleChanged {
                    appliance: 1,
                    role: FailoverRole::Primary,
                },
            ),
            (5.0, Fact::Settled),
        ],
        10.0,
    );
    let i1: Vec<_> = report.violations_of("I1").collect();
    assert_eq!(i1.len(), 1, "{:?}", report.violations);
    assert_eq!(i1[0].message, "two primaries at once among rs-a, rs-b");
    assert_eq!(i1[0].at_sim_s, 5.0);

    // The serving primary installed first, with no backup: I4 and I5; the site is down from
    // then on (nobody else holds the address).
    let report = judge(
        vec![
            (0.0, Fact::Settled),
            (10.0, requested(0)),
            (10.0, install_started(0)),
            (10.0, Fact::Settled),
        ],
        100.0,
    );
    let found: Vec<&str> = report
        .violations
        .iter()
        .map(|v| v.invariant.as_str())
        .collect();
    assert_eq!(found, ["I4", "I5"], "{:?}", report.violations);
    let site = report.site("site1").unwrap();
    assert!(
        site.down_now && (site.downtime_s - 90.0).abs() < 1e-9,
        "{site:?}"
    );
}

#[test]
fn repeated_requests_and_dropped_sessions_come_from_the_log() {
    let report = judge(
        vec![
            (0.0, Fact::Settled),
            (1.0, Fact::ClientConnected { appliance: 2 }),
            (2.0, Fact::ClientConnected { appliance: 2 }),
            (3.0, Fact::ClientRefused { owner: 2 }),
            (
                4.0,
                Fact::SessionsCut {
                    appliance: 2,
                    sessions: 2,
                    why: "install of base-5.1.0".to_owned(),
                    by_override: false,
                },
            ),
            (5.0, requested(2)),
            (
                5.0,
                Fact::InstallRefused {
                    appliance: 2,
                    package: BASE.to_owned(),
                    code: "already_installed",
                },
            ),
            (
                6.0,
                Fact::RoleRequested {
                    appliance: 0,
                    role: FailoverRole::Primary,
                    data_sync_first: false,
                    force: false,
                },
            ),
        ],
        10.0,
    );
    assert_eq!((report.sessions_started, report.sessions_refused), (2, 1));
    assert_eq!(report.dropped_sessions, 2);
    assert_eq!(report.dropped_by_appliance.get("solo"), Some(&2));
    let what: Vec<&str> = report.duplicates.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "install of base-5.1.0 which is already installed",
            "set_failover_role primary changes nothing"
        ]
    );
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn a_fact_about_an_appliance_the_fleet_does_not_have_is_skipped() {
    let report = judge(
        vec![
            (0.0, Fact::Settled),
            (1.0, Fact::ClientConnected { appliance: 7 }),
            (2.0, Fact::SwapStarted { group: 9 }),
        ],
        3.0,
    );
    assert_eq!(report.sessions_started, 0);
    assert!(report.timeline.is_empty(), "{:?}", report.timeline);
}
