//! Tables of hand-made records and the makespan and floor the referee must make of them,
//! one module per kind of site.

mod atlas;
mod pair;

use super::*;
use crate::referee::report::DrainOutcome;

fn install(appliance: &str, package: &str, start: f64, end: f64) -> InstallRecord {
    InstallRecord {
        appliance: appliance.to_owned(),
        group: "site".to_owned(),
        package_id: package.to_owned(),
        kind: None,
        requests: 1,
        refused: 0,
        last_refusal: None,
        starts: 1,
        outcome: InstallOutcome::Succeeded,
        first_requested_at_s: start,
        started_at_s: Some(start),
        finished_at_s: Some(end),
        message: None,
    }
}

fn running(appliance: &str, package: &str, start: f64) -> InstallRecord {
    InstallRecord {
        outcome: InstallOutcome::Running,
        finished_at_s: None,
        ..install(appliance, package, start, start)
    }
}

fn drain(appliance: &str, start: f64, end: f64) -> DrainRecord {
    DrainRecord {
        appliance: appliance.to_owned(),
        group: "site".to_owned(),
        started_at_s: start,
        clients_at_start: 3,
        ended_at_s: Some(end),
        outcome: DrainOutcome::Drained,
    }
}

fn sync(start: f64, end: f64) -> SyncRecord {
    SyncRecord {
        group: "site".to_owned(),
        appliance: "primary".to_owned(),
        kind: "sync_now".to_owned(),
        started_at_s: start,
        finished_at_s: Some(end),
        succeeded: Some(true),
        message: None,
    }
}

fn swap(appliance: &str, start: f64, end: f64) -> SwapRecord {
    SwapRecord {
        group: "site".to_owned(),
        appliance: appliance.to_owned(),
        kind: "role".to_owned(),
        started_at_s: start,
        finished_at_s: end,
        duration_s: end - start,
    }
}

/// One row of a table: hand-made records and what the referee must make of them.
#[derive(Default)]
struct Case {
    name: &'static str,
    installs: Vec<InstallRecord>,
    drains: Vec<DrainRecord>,
    syncs: Vec<SyncRecord>,
    swaps: Vec<SwapRecord>,
    marks: Vec<Mark>,
    /// (makespan, floor), or None for an incomplete run.
    expect: Option<(f64, f64)>,
}

fn run_table(procedure: Procedure, masters: &[&str], cases: Vec<Case>) {
    let masters: Vec<String> = masters.iter().map(|m| (*m).to_owned()).collect();
    let site = Site {
        procedure,
        masters: &masters,
    };
    for case in &cases {
        let rec = Records {
            installs: case.installs.iter().collect(),
            drains: case.drains.iter().collect(),
            syncs: case.syncs.iter().collect(),
            swaps: case.swaps.iter().collect(),
            marks: case.marks.clone(),
        };
        let got = measure(&site, &rec).map(|m| (m.makespan_s, m.floor_s));
        match (got, case.expect) {
            (Some((m, f)), Some((em, ef))) => {
                assert!(
                    (m - em).abs() < 1e-9 && (f - ef).abs() < 1e-9,
                    "{}: got makespan {m} floor {f}, want {em} {ef}",
                    case.name
                );
                assert!(m >= f, "{}: makespan {m} below its floor {f}", case.name);
            }
            (got, want) => assert_eq!(got, want, "{}", case.name),
        }
    }
}

/// A pair round as the operator ran it, with reaction time between the steps: break at
/// 100, rs-b 2100 s of installs, the swing (2 s), rs-a draining 110 s from when it lost

#[test]
fn floor_of_a_standalone_appliance_is_its_installs_back_to_back() {
    run_table(
        Procedure::Standalone,
        &["solo"],
        vec![Case {
            name: "two packages with a gap",
            installs: vec![
                install("solo", "base", 0.0, 900.0),
                install("solo", "product", 1000.0, 2200.0),
            ],
            marks: vec![
                Mark::UpgradeCompleted(900.0),
                Mark::UpgradeCompleted(2200.0),
            ],
            expect: Some((2200.0, 2100.0)),
            ..Case::default()
        }],
    );
}
