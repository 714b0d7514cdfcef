//! AppliancePair upgrades end to end: the real API server, the operator binary, a simulated
//! pair, and the referee's verdict.

mod failures;
mod gates;
mod restarts;
mod rounds;

use std::collections::BTreeMap;
use std::time::Duration;

use baton_sim::Report;

const UPGRADE: Duration = Duration::from_secs(240);

/// Install starts per (appliance, package) from the referee's log.
fn starts(report: &Report) -> BTreeMap<(String, String), u32> {
    report
        .installs
        .iter()
        .map(|i| ((i.appliance.clone(), i.package_id.clone()), i.starts))
        .collect()
}

fn assert_clean(report: &Report) {
    assert!(
        report.violations.is_empty(),
        "referee violations: {:#?}",
        report.violations
    );
    assert_eq!(
        report.duplicate_requests, 0,
        "repeated requests: {:#?}",
        report.duplicates
    );
}

fn assert_every_package_once(report: &Report) {
    let starts = starts(report);
    assert_eq!(starts.len(), 8, "{starts:?}");
    assert!(
        starts.values().all(|n| *n == 1),
        "an install started more than once: {starts:?}"
    );
}
