use super::*;
use crate::appliance::Version;
use crate::upgrade::hops::RoundPackage;

fn rounds() -> Vec<Round> {
    let v = |s: &str| {
        s.parse::<Version>()
            .unwrap_or_else(|_| Version::new(vec![0]))
    };
    vec![
        Round {
            product: v("24.1.0"),
            packages: vec![
                RoundPackage {
                    id: "base-5.1.0".into(),
                    base: true,
                },
                RoundPackage {
                    id: "product-24.1.0".into(),
                    base: false,
                },
            ],
        },
        Round {
            product: v("24.3.2"),
            packages: vec![RoundPackage {
                id: "product-24.3.2".into(),
                base: false,
            }],
        },
    ]
}

fn ids(strategy: Strategy, gates: &[Gate]) -> Vec<String> {
    let rounds = rounds();
    let input = PairPlanInput {
        strategy,
        primary: "rs-a",
        backup: "rs-b",
        rounds: &rounds,
        gates,
    };
    pair_plan(&input).into_iter().map(|s| s.id).collect()
}

fn position(ids: &[String], id: &str) -> usize {
    ids.iter()
        .position(|s| s == id)
        .unwrap_or_else(|| panic!("{id} not in plan {ids:?}"))
}

#[test]
fn asynchronous_installs_the_backup_first_and_swaps_roles_each_round() {
    let ids = ids(Strategy::Asynchronous, &[]);
    // Round 1: rs-a primary; rs-b is upgraded, gets the traffic, then rs-a.
    assert!(
        position(&ids, "1/install/rs-b/product-24.1.0") < position(&ids, "1/swing-traffic/rs-b")
    );
    assert!(position(&ids, "1/swing-traffic/rs-b") < position(&ids, "1/install/rs-a/base-5.1.0"));
    assert!(position(&ids, "1/verify/rs-a") < position(&ids, "1/establish-failover/rs-b"));
    // Round 2 starts from the swapped roles: rs-b is primary, so rs-a goes first.
    assert!(position(&ids, "2/backup/rs-b") < position(&ids, "2/install/rs-a/product-24.3.2"));
    assert!(
        position(&ids, "2/swing-traffic/rs-a") < position(&ids, "2/install/rs-b/product-24.3.2")
    );
    assert_eq!(ids.last().map(String::as_str), Some("2/sync-failover/rs-a"));
}

#[test]
fn every_round_starts_with_a_backup_and_a_completed_sync_before_breaking_failover() {
    for strategy in [Strategy::Asynchronous, Strategy::Synchronous] {
        let ids = ids(strategy, &[]);
        for r in ["1", "2"] {
            let break_at = ids
                .iter()
                .position(|s| s.starts_with(&format!("{r}/break-failover")))
                .unwrap_or(0);
            let backup_at = ids
                .iter()
                .position(|s| s.starts_with(&format!("{r}/backup")))
                .unwrap_or(usize::MAX);
            let sync_at = ids
                .iter()
                .position(|s| s.starts_with(&format!("{r}/sync-failover")))
                .unwrap_or(usize::MAX);
            assert!(
                backup_at < sync_at && sync_at < break_at,
                "{strategy:?} round {r}: {ids:?}"
            );
        }
    }
}

#[test]
fn stage_comes_right_before_each_install() {
    let ids = ids(Strategy::Asynchronous, &[]);
    for (i, id) in ids.iter().enumerate() {
        if let Some(rest) = id.strip_prefix("1/install/") {
            assert_eq!(ids[i - 1], format!("1/stage/{rest}"));
        }
    }
}

#[test]
fn synchronous_upgrades_the_primary_first_and_keeps_it_primary() {
    let ids = ids(Strategy::Synchronous, &[]);
    assert!(
        position(&ids, "1/install/rs-a/product-24.1.0")
            < position(&ids, "1/install/rs-b/base-5.1.0")
    );
    assert!(position(&ids, "1/establish-failover/rs-a") > position(&ids, "1/verify/rs-b"));
    assert!(!ids.iter().any(|s| s.contains("swing-traffic")));
    assert!(ids.contains(&"2/establish-failover/rs-a".to_owned()));
}

#[test]
fn a_soak_follows_every_round_but_the_last() {
    let ids = ids(Strategy::Asynchronous, &[]);
    assert_eq!(
        ids.iter()
            .filter(|s| s.contains("/soak"))
            .collect::<Vec<_>>(),
        ["1/soak"]
    );
    assert!(position(&ids, "1/soak") < position(&ids, "2/preflight"));
}

#[test]
fn gates_sit_before_the_steps_they_guard() {
    let ids = ids(
        Strategy::Asynchronous,
        &[
            Gate::BeforeUpgrade,
            Gate::BeforePromotion,
            Gate::BeforeFormerPrimary,
        ],
    );
    assert!(position(&ids, "1/approval/BeforeUpgrade") < position(&ids, "1/break-failover/rs-a"));
    assert!(position(&ids, "1/approval/BeforePromotion") < position(&ids, "1/swing-traffic/rs-b"));
    assert!(
        position(&ids, "1/approval/BeforeFormerPrimary")
            < position(&ids, "1/stage/rs-a/base-5.1.0")
    );
    // BeforeUpgrade guards the upgrade once, not every round.
    assert!(!ids.contains(&"2/approval/BeforeUpgrade".to_owned()));
}

#[test]
fn base_software_steps_are_marked_so_a_failure_stops_everything() {
    let rounds = rounds();
    let input = PairPlanInput {
        strategy: Strategy::Asynchronous,
        primary: "rs-a",
        backup: "rs-b",
        rounds: &rounds,
        gates: &[],
    };
    let plan = pair_plan(&input);
    let base: Vec<&str> = plan
        .iter()
        .filter(|s| s.base_software)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        base,
        [
            "1/stage/rs-b/base-5.1.0",
            "1/install/rs-b/base-5.1.0",
            "1/stage/rs-a/base-5.1.0",
            "1/install/rs-a/base-5.1.0"
        ]
    );
}

#[test]
fn step_ids_are_unique_so_status_can_key_on_them() {
    let ids = ids(
        Strategy::Asynchronous,
        &[Gate::BeforePromotion, Gate::BeforeFormerPrimary],
    );
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}
