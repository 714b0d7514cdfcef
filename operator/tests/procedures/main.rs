//! The upgrade procedures of procedures.md walked step by step through the production
//! appliance client against the simulator, judged by its referee: the asynchronous pair
//! procedure (§3) and the Atlas-with-failover procedure (§4) come out clean, and the wrong
//! orders the invariants forbid (I3, I4, I7) are flagged on the appliance that broke them.

#[path = "../appliance_support/mod.rs"]
mod appliance_support;
mod atlas;
mod fleets;
mod pair;
mod steps;
mod wrong_order;

use baton_sim::{InstallOutcome, Report};

use fleets::HOPS;

/// Every hop on every appliance was requested once, started once and succeeded.
fn assert_each_install_started_once(report: &Report, appliances: &[&str]) {
    assert_eq!(
        report.installs.len(),
        appliances.len() * HOPS.len(),
        "{:#?}",
        report.installs
    );
    for name in appliances {
        for package in HOPS {
            let record = report.install(name, package);
            assert!(
                record.is_some_and(|r| r.requests == 1
                    && r.starts == 1
                    && r.refused == 0
                    && r.outcome == InstallOutcome::Succeeded),
                "{package} on {name}: {record:?}"
            );
        }
    }
}

/// Whether the referee saw `group`'s upgrade complete.
fn upgrade_completed(report: &Report, group: &str) -> bool {
    report
        .timeline
        .iter()
        .any(|e| e.kind == "upgrade_completed" && e.group.as_deref() == Some(group))
}
