//! Atlas clusters, with and without a backup master: batches, swap, the rest, syncs.

use super::*;

#[test]
fn floor_of_an_atlas_cluster_with_a_backup_master_is_batch_one_beside_it_swap_rest_former_primary()
{
    // m1 primary master, m2 backup master; t1, t2 batch 1 (drained from 10), t3, t4 the
    // rest (draining from m1's demotion at 1395).
    let records = || Case {
        installs: vec![
            install("m2", "base", 320.0, 1220.0),
            install("t1", "base", 320.0, 1120.0),
            install("t2", "base", 320.0, 1320.0),
            install("t3", "base", 1610.0, 2510.0),
            install("t4", "base", 1610.0, 2410.0),
            install("m1", "base", 2530.0, 3430.0),
        ],
        drains: vec![
            drain("t1", 10.0, 100.0),
            drain("t2", 10.0, 300.0),
            drain("t3", 1395.0, 1600.0),
            drain("t4", 1395.0, 1500.0),
        ],
        syncs: vec![sync(0.0, 5.0), sync(1420.0, 1480.0), sync(3440.0, 3500.0)],
        swaps: vec![swap("m2", 1400.0, 1405.0)],
        marks: vec![
            Mark::Accepting(1410.0),
            Mark::Accepting(2520.0),
            Mark::UpgradeCompleted(3430.0),
        ],
        ..Case::default()
    };
    // Batch 1 ready at max(m2 900, t1 90 + 800, t2 290 + 1000) = 1290; swap 5; cluster
    // sync 60 (1355); t3 drains from 1290 to 1495 then 900 (2395), t4 1395 + 800; m1
    // 900 (3295); final sync 60.
    let floor = 3355.0;
    let mut late_accept = records();
    late_accept.marks.push(Mark::Accepting(3600.0));
    let mut no_clients = records();
    for d in &mut no_clients.drains {
        d.ended_at_s = Some(d.started_at_s);
    }
    let mut slow_master = records();
    slow_master.installs[0] = install("m2", "base", 320.0, 1820.0);
    slow_master.swaps = vec![swap("m2", 1900.0, 1905.0)];
    slow_master.drains[2] = drain("t3", 1895.0, 2000.0);
    slow_master.drains[3] = drain("t4", 1895.0, 1900.0);
    slow_master.syncs[1] = sync(1920.0, 1980.0);
    slow_master.installs[3] = install("t3", "base", 2010.0, 2910.0);
    slow_master.installs[4] = install("t4", "base", 2010.0, 2810.0);
    slow_master.installs[5] = install("m1", "base", 2930.0, 3830.0);
    slow_master.syncs[2] = sync(3840.0, 3900.0);
    slow_master.marks = vec![Mark::UpgradeCompleted(3830.0)];
    run_table(
        Procedure::AtlasWithBackupMaster,
        &["m1", "m2"],
        vec![
            Case {
                name: "batches, swap, rest, former primary",
                expect: Some((3500.0 - 10.0, floor)),
                ..records()
            },
            Case {
                name: "an accept after the closing sync is the last step",
                expect: Some((3600.0 - 10.0, floor)),
                ..late_accept
            },
            Case {
                name: "nodes without clients drain at once",
                // Ready at max(900, 800, 1000) = 1000, swap 5, sync 60, t3 900, m1 900,
                // sync 60.
                expect: Some((3500.0 - 10.0, 1000.0 + 5.0 + 60.0 + 900.0 + 900.0 + 60.0)),
                ..no_clients
            },
            Case {
                name: "the backup master is the critical path of the first half",
                // m2 1500; swap 5 and sync 60 run beside t3's drain, which started at
                // m1's demotion (after m2's installs): 1500 + 105, then t3 900; m1 900;
                // sync 60.
                expect: Some((3900.0 - 10.0, 1500.0 + 105.0 + 900.0 + 900.0 + 60.0)),
                ..slow_master
            },
        ],
    );
}

#[test]
fn floor_of_an_atlas_cluster_without_a_backup_master_is_batch_one_master_sync_rest_sync() {
    let records = || Case {
        installs: vec![
            install("t1", "base", 60.0, 960.0),
            install("m1", "base", 1000.0, 1900.0),
            install("t2", "base", 1990.0, 2890.0),
        ],
        // t1 drained by the operator; t2 from the master's install.
        drains: vec![drain("t1", 0.0, 50.0), drain("t2", 1000.0, 1200.0)],
        syncs: vec![sync(1920.0, 1980.0), sync(2910.0, 2970.0)],
        marks: vec![
            Mark::Accepting(1910.0),
            Mark::UpgradeCompleted(2890.0),
            Mark::Accepting(2900.0),
        ],
        ..Case::default()
    };
    let mut long_drain = records();
    long_drain.drains[1] = drain("t2", 1000.0, 2500.0);
    long_drain.installs[2] = install("t2", "base", 2510.0, 3410.0);
    long_drain.marks = vec![Mark::UpgradeCompleted(3410.0)];
    long_drain.syncs[1] = sync(3420.0, 3480.0);
    run_table(
        Procedure::AtlasWithoutBackupMaster,
        &["m1"],
        vec![
            Case {
                name: "batch 1, master, sync, rest, sync",
                // t1 50 + 900; m1 900 (1850); sync 60 (1910); t2 (drained by 1150) 900;
                // sync 60.
                expect: Some((2970.0, 950.0 + 900.0 + 60.0 + 900.0 + 60.0)),
                ..records()
            },
            Case {
                name: "a drain longer than the master's install delays the rest",
                // t2 drains from 950 (the master's start in the floor) for 1500: 2450.
                expect: Some((3480.0, 2450.0 + 900.0 + 60.0)),
                ..long_drain
            },
        ],
    );
}
