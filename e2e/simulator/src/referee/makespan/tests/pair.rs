//! Pairs: the asynchronous procedure (backup, swap, former primary, sync) and the
//! synchronous one (primary, backup, sync).

use super::*;

/// the address, rs-a 2100 s of installs, establish, a 60 s sync.
fn asynchronous_round(offset: f64) -> Case {
    let t = |x: f64| x + offset;
    Case {
        installs: vec![
            install("rs-b", &format!("base@{offset}"), t(110.0), t(1010.0)),
            install("rs-b", &format!("product@{offset}"), t(1050.0), t(2250.0)),
            install("rs-a", &format!("base@{offset}"), t(2450.0), t(3350.0)),
            install("rs-a", &format!("product@{offset}"), t(3400.0), t(4600.0)),
        ],
        drains: vec![drain("rs-a", t(2290.0), t(2400.0))],
        syncs: vec![sync(t(4700.0), t(4760.0))],
        swaps: vec![SwapRecord {
            kind: "shared_ip".into(),
            ..swap("rs-b", t(2300.0), t(2302.0))
        }],
        marks: vec![
            Mark::FailoverBroken(t(100.0)),
            Mark::UpgradeCompleted(t(4650.0)),
        ],
        ..Case::default()
    }
}

#[test]
fn floor_of_an_asynchronous_pair_is_the_chain_backup_swap_former_primary() {
    // rs-b: 2100; swap: 2 (rs-a's drain, started when it lost the address at 2290,
    // anchored at the end of rs-b's installs: 2100 + 110 = 2210 > 2102); rs-a: 2100;
    // sync: 60.
    let one = asynchronous_round(0.0);
    let mut two = asynchronous_round(0.0);
    let second = asynchronous_round(10_000.0);
    two.installs.extend(second.installs);
    two.drains.extend(second.drains);
    two.syncs.extend(second.syncs);
    two.swaps.extend(second.swaps);
    two.marks.extend(second.marks);
    let mut unsynced = asynchronous_round(0.0);
    unsynced.syncs.clear();
    let mut under_way = asynchronous_round(0.0);
    under_way.installs.push(running("rs-a", "next", 4800.0));
    let mut not_converged = asynchronous_round(0.0);
    not_converged.marks.pop();
    run_table(
        Procedure::PairAsynchronous,
        &["rs-a", "rs-b"],
        vec![
            Case {
                name: "one round with the operator's gaps",
                expect: Some((4760.0 - 100.0, 2210.0 + 2100.0 + 60.0)),
                ..one
            },
            Case {
                name: "a perfect orchestrator reaches the floor",
                installs: vec![
                    install("rs-b", "base", 0.0, 900.0),
                    install("rs-a", "base", 902.0, 1802.0),
                ],
                syncs: vec![sync(1802.0, 1862.0)],
                swaps: vec![swap("rs-b", 900.0, 902.0)],
                marks: vec![Mark::FailoverBroken(0.0), Mark::UpgradeCompleted(1802.0)],
                expect: Some((1862.0, 1862.0)),
                ..Case::default()
            },
            Case {
                name: "two rounds: the floors add up, the soak between them does not",
                expect: Some((14_760.0 - 100.0, 2.0 * 4370.0)),
                ..two
            },
            Case {
                name: "the orchestrator's Sync Now after the automatic sync ends the makespan",
                syncs: vec![sync(4700.0, 4760.0), sync(4800.0, 4830.0)],
                expect: Some((4830.0 - 100.0, 4370.0)),
                ..asynchronous_round(0.0)
            },
            Case {
                name: "a retried install starts the makespan at its first attempt",
                marks: vec![
                    Mark::InstallStarted(50.0),
                    Mark::FailoverBroken(100.0),
                    Mark::UpgradeCompleted(4650.0),
                ],
                expect: Some((4760.0 - 50.0, 4370.0)),
                ..asynchronous_round(0.0)
            },
            Case {
                name: "no sync after the last install: incomplete",
                ..unsynced
            },
            Case {
                name: "an install under way: incomplete",
                ..under_way
            },
            Case {
                name: "no completed upgrade: incomplete",
                ..not_converged
            },
            Case {
                name: "nothing installed",
                syncs: vec![sync(0.0, 60.0)],
                ..Case::default()
            },
        ],
    );
}

#[test]
fn floor_of_a_synchronous_pair_is_primary_then_backup_then_sync() {
    run_table(
        Procedure::PairSynchronous,
        &["rs-a", "rs-b"],
        vec![
            Case {
                name: "primary, backup, sync, with gaps",
                installs: vec![
                    install("rs-a", "base", 20.0, 920.0),
                    install("rs-a", "product", 950.0, 1950.0),
                    install("rs-b", "base", 2000.0, 2600.0),
                    install("rs-b", "product", 2650.0, 3650.0),
                ],
                syncs: vec![sync(0.0, 10.0), sync(3700.0, 3790.0)],
                marks: vec![Mark::FailoverBroken(15.0), Mark::UpgradeCompleted(3680.0)],
                expect: Some((3790.0 - 15.0, 1900.0 + 1600.0 + 90.0)),
                ..Case::default()
            },
            Case {
                name: "a failed install: incomplete",
                installs: vec![
                    install("rs-a", "base", 20.0, 920.0),
                    InstallRecord {
                        outcome: InstallOutcome::Failed,
                        ..install("rs-b", "base", 1000.0, 1200.0)
                    },
                ],
                syncs: vec![sync(1300.0, 1400.0)],
                marks: vec![Mark::UpgradeCompleted(920.0)],
                ..Case::default()
            },
        ],
    );
}
