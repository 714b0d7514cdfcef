//! Traffic swings other than the shared IP, end to end: the `Service` provider (baton points
//! an EndpointSlice at the new primary) and the `Manual` one (a person moves DNS and says so).
//! The fleet's pair swings `external`: the referee sees the site move only when the test,
//! playing the Service's data plane or the person, reports it with `set_site_target`.

mod manual;
mod service;

use std::collections::BTreeMap;
use std::time::Duration;

use baton_crds::AppliancePair;
use baton_crds::conditions::types;
use baton_e2e::world::condition;
use baton_sim::{FleetSpec, Report, Swing};

const UPGRADE: Duration = Duration::from_secs(240);
/// The fleet's pair (the referee's group).
const SITE: &str = "site";
/// How a person approves without touching the spec.
const APPROVE_ANNOTATION: &str = "baton.dev/approve";

/// The pair swings outside the appliances (DNS, NAT, a Service): no shared IP moves.
fn external_swing(fleet: &mut FleetSpec) {
    fleet.pairs[0].swing = Some(Swing::External);
}

/// The port the test Service sends clients to on the primary (its `targetPort`).
const TARGET_PORT: i32 = 8443;

/// The members' traffic addresses (`address:port`, as a slice routes) with their names.
fn member_routes(pair: &AppliancePair) -> BTreeMap<String, String> {
    pair.spec
        .members
        .iter()
        .filter_map(|m| {
            Some((
                format!("{}:{TARGET_PORT}", m.traffic_address.as_ref()?),
                m.name.clone(),
            ))
        })
        .collect()
}

/// Ready on the upgrade's version.
fn upgraded(p: &AppliancePair) -> bool {
    condition(p, types::READY, "True")
        && p.status
            .as_ref()
            .is_some_and(|s| s.current_version.as_deref() == Some("24.1.0"))
}

/// When (simulated seconds) an install first started on `appliance`.
fn first_install_on(report: &Report, appliance: &str) -> Option<f64> {
    report
        .installs
        .iter()
        .filter(|i| i.appliance == appliance)
        .filter_map(|i| i.started_at_s)
        .reduce(f64::min)
}

/// The referee saw the site move to `to` by the external swing before anything was installed
/// on `from` (the old primary).
fn assert_swung_before_installing(report: &Report, to: &str, from: &str) {
    let swung = report
        .swaps
        .iter()
        .filter(|s| s.group == SITE && s.kind == "external" && s.appliance == to)
        .map(|s| s.finished_at_s)
        .reduce(f64::min);
    let installed = first_install_on(report, from);
    assert!(
        matches!((swung, installed), (Some(s), Some(i)) if s <= i),
        "the site moved to {to} at {swung:?}, {from} first installed at {installed:?}: {:#?}",
        report.swaps
    );
}
