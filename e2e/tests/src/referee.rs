//! Assertions on the referee's report that many tests share.

use std::collections::BTreeMap;

use baton_sim::Report;

/// Install starts per (appliance, package) from the referee's log.
pub fn install_starts(report: &Report) -> BTreeMap<(String, String), u32> {
    report
        .installs
        .iter()
        .map(|i| ((i.appliance.clone(), i.package_id.clone()), i.starts))
        .collect()
}

/// No invariant violated and no request repeated.
pub fn assert_clean(report: &Report) {
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

/// Exactly `count` installs, each started once.
pub fn assert_every_install_once(report: &Report, count: usize) {
    let starts = install_starts(report);
    assert_eq!(starts.len(), count, "{starts:?}");
    assert!(
        starts.values().all(|n| *n == 1),
        "an install started more than once: {starts:?}"
    );
}
