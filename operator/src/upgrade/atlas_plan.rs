//! The steps of an Atlas cluster upgrade, in order (procedures.md sections 4 and 5).
//!
//! With a backup master B (the primary master is A), each round: backup and failover sync on
//! A, distribute the packages, drain batch 1, install B and batch 1, verify, promote B (A
//! becomes backup even if B cannot be reached, B primary, traffic swung), put batch 1 back,
//! cluster sync, drain and install the rest, put them back, install A, verify, enable backup
//! operations on A, cluster sync. The roles stay swapped.
//!
//! Without a backup master: backup, distribute, drain and install batch 1, install the
//! master (every node stops accepting while it does: the downtime of that procedure), put
//! batch 1 back, sync, drain and install the rest, put them back, sync.

use baton_crds::common::Gate;
use baton_crds::status::{PlanStep, StepAction};

use super::hops::Round;
use super::plan::step;

/// What an Atlas plan is made from.
#[derive(Debug, Clone)]
pub struct AtlasPlanInput<'a> {
    /// The acting primary master when the upgrade starts.
    pub primary: &'a str,
    /// Its failover partner, if the cluster has one.
    pub backup: Option<&'a str>,
    pub rounds: &'a [Round],
    pub gates: &'a [Gate],
}

/// The name batch steps carry in their ids: `batch-1`, `batch-2`.
pub fn batch_member(n: i32) -> String {
    format!("batch-{n}")
}

/// Adds one step: action, member, package, description.
type Add<'x> = dyn FnMut(StepAction, Option<&str>, Option<&str>, String) + 'x;

/// The plan for an Atlas upgrade.
pub fn atlas_plan(input: &AtlasPlanInput<'_>) -> Vec<PlanStep> {
    let mut steps = Vec::new();
    let (mut primary, mut backup) = (input.primary, input.backup);
    let last = input.rounds.len();
    for (i, round) in input.rounds.iter().enumerate() {
        let r = i as i32 + 1;
        let version = round.product.to_string();
        let mut push = |action, member: Option<&str>, package: Option<&str>, what: String| {
            let mut s = step(r, action, member, package, what);
            // Batch steps name their batch (the id keeps `batch-<n>`, part of install keys).
            if let Some(n) = member
                .and_then(|m| m.strip_prefix("batch-"))
                .and_then(|n| n.parse().ok())
            {
                s.batch = Some(n);
                s.member = None;
            }
            s.version = Some(version.clone());
            s.base_software = round
                .packages
                .iter()
                .any(|p| p.base && Some(p.id.as_str()) == s.package.as_deref());
            steps.push(s);
        };
        let add: &mut Add<'_> = &mut push;
        let packages: Vec<&str> = round.packages.iter().map(|p| p.id.as_str()).collect();
        let b1 = batch_member(1);
        add(
            StepAction::Preflight,
            None,
            None,
            format!("check the masters and nodes before round {r} (to {version})"),
        );
        add(
            StepAction::Backup,
            Some(primary),
            None,
            format!("download a configuration backup from {primary}"),
        );
        // I5: a completed sync after the backup, before anything else: the failover sync to
        // the backup master, or the cluster sync when there is none.
        match backup {
            Some(b) => add(
                StepAction::SyncFailover,
                Some(primary),
                None,
                format!("Sync Now from {primary} to {b} and wait for it"),
            ),
            None => add(
                StepAction::SyncCluster,
                Some(primary),
                None,
                format!("cluster Sync Now from {primary} and wait for it"),
            ),
        }
        for p in &packages {
            add(
                StepAction::Distribute,
                Some(primary),
                Some(p),
                format!("distribute {p} to every node from {primary}"),
            );
        }
        if r == 1 && input.gates.contains(&Gate::BeforeUpgrade) {
            add(
                StepAction::Approval,
                None,
                Some("BeforeUpgrade"),
                "wait for approval to start the upgrade".into(),
            );
        }
        add(
            StepAction::Drain,
            Some(&b1),
            None,
            "take batch 1 out of rotation and wait for its clients to leave".into(),
        );
        match backup {
            Some(b) => {
                installs(add, &b1, &packages, &format!("{b} and batch 1"));
                add(
                    StepAction::Verify,
                    Some(&b1),
                    None,
                    format!("verify {b} and batch 1 run {version} and are healthy"),
                );
                if input.gates.contains(&Gate::BeforePromotion) {
                    add(
                        StepAction::Approval,
                        None,
                        Some("BeforePromotion"),
                        format!("wait for approval to make {b} primary"),
                    );
                }
                add(
                    StepAction::SwingTraffic,
                    Some(b),
                    None,
                    format!("make {b} the primary master and swing the site to it"),
                );
                add(
                    StepAction::Accept,
                    Some(&b1),
                    None,
                    "put batch 1 back into rotation".into(),
                );
                add(
                    StepAction::SyncCluster,
                    Some(b),
                    None,
                    format!("cluster Sync Now from {b}"),
                );
                if input.gates.contains(&Gate::BeforeFormerPrimary) {
                    add(
                        StepAction::Approval,
                        None,
                        Some("BeforeFormerPrimary"),
                        format!("wait for approval to upgrade the rest and {primary}"),
                    );
                }
                remaining_nodes(add, &packages, &version);
                master(add, primary, &packages, &version, "");
                add(
                    StepAction::EnableBackupOperations,
                    Some(primary),
                    None,
                    format!("enable backup operations on {primary}, now the backup master"),
                );
                add(
                    StepAction::SyncCluster,
                    Some(b),
                    None,
                    format!("cluster Sync Now from {b}"),
                );
            }
            None => {
                installs(add, &b1, &packages, "batch 1");
                add(
                    StepAction::Verify,
                    Some(&b1),
                    None,
                    format!("verify batch 1 runs {version}"),
                );
                master(
                    add,
                    primary,
                    &packages,
                    &version,
                    " (the site stops while it installs)",
                );
                add(
                    StepAction::Accept,
                    Some(&b1),
                    None,
                    "put batch 1 back into rotation".into(),
                );
                add(
                    StepAction::SyncCluster,
                    Some(primary),
                    None,
                    format!("cluster Sync Now from {primary}"),
                );
                remaining_nodes(add, &packages, &version);
                add(
                    StepAction::SyncCluster,
                    Some(primary),
                    None,
                    format!("cluster Sync Now from {primary}"),
                );
            }
        }
        if r as usize != last {
            add(
                StepAction::Soak,
                None,
                None,
                format!("soak on {version} before the next product hop (R3)"),
            );
        }
        if let Some(b) = backup {
            // The roles stay swapped: the next round starts from the new primary.
            backup = Some(primary);
            primary = b;
        }
    }
    steps
}

/// The round's packages, one install step each, on `member` (a master or a batch).
fn installs(add: &mut Add<'_>, member: &str, packages: &[&str], on: &str) {
    for p in packages {
        add(
            StepAction::Install,
            Some(member),
            Some(p),
            format!("install {p} on {on}"),
        );
    }
}

/// The nodes not in batch 1: out of rotation once an upgraded master acts, so: wait for their
/// clients, install, verify, put back.
fn remaining_nodes(add: &mut Add<'_>, packages: &[&str], version: &str) {
    let b2 = batch_member(2);
    add(
        StepAction::Drain,
        Some(&b2),
        None,
        "wait for the clients of the remaining nodes to leave".into(),
    );
    installs(add, &b2, packages, "the remaining nodes");
    add(
        StepAction::Verify,
        Some(&b2),
        None,
        format!("verify the remaining nodes run {version}"),
    );
    add(
        StepAction::Accept,
        Some(&b2),
        None,
        "put the remaining nodes back into rotation".into(),
    );
}

/// A master's installs and their verification.
fn master(add: &mut Add<'_>, name: &str, packages: &[&str], version: &str, note: &str) {
    installs(add, name, packages, &format!("{name}{note}"));
    add(
        StepAction::Verify,
        Some(name),
        None,
        format!("verify {name} runs {version}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appliance::Version;
    use crate::upgrade::hops::RoundPackage;

    fn rounds() -> Vec<Round> {
        let product = Version::new(vec![24, 3, 2]);
        vec![Round {
            product,
            packages: vec![
                RoundPackage {
                    id: "base-5.2.0".into(),
                    base: true,
                },
                RoundPackage {
                    id: "product-24.3.2".into(),
                    base: false,
                },
            ],
        }]
    }

    fn ids(backup: Option<&str>) -> Vec<String> {
        let rounds = rounds();
        atlas_plan(&AtlasPlanInput {
            primary: "m-a",
            backup,
            rounds: &rounds,
            gates: &[],
        })
        .into_iter()
        .map(|s| s.id)
        .collect()
    }

    fn at(ids: &[String], id: &str) -> usize {
        ids.iter()
            .position(|s| s == id)
            .unwrap_or_else(|| panic!("{id} not in {ids:?}"))
    }

    #[test]
    fn with_a_backup_master_the_backup_side_is_upgraded_before_promotion() {
        let ids = ids(Some("m-b"));
        assert!(at(&ids, "1/drain/batch-1") < at(&ids, "1/install/batch-1/base-5.2.0"));
        assert!(at(&ids, "1/verify/batch-1") < at(&ids, "1/swing-traffic/m-b"));
        assert!(at(&ids, "1/swing-traffic/m-b") < at(&ids, "1/accept/batch-1"));
        assert!(at(&ids, "1/accept/batch-2") < at(&ids, "1/install/m-a/base-5.2.0"));
        assert!(at(&ids, "1/verify/m-a") < at(&ids, "1/backup-operations/m-a"));
        assert_eq!(ids.last().map(String::as_str), Some("1/sync-cluster/m-b"));
    }

    #[test]
    fn without_a_backup_master_the_master_installs_between_the_batches() {
        let ids = ids(None);
        assert!(at(&ids, "1/verify/batch-1") < at(&ids, "1/install/m-a/base-5.2.0"));
        assert!(at(&ids, "1/verify/m-a") < at(&ids, "1/accept/batch-1"));
        assert!(at(&ids, "1/sync-cluster/m-a") < at(&ids, "1/drain/batch-2"));
        assert!(
            !ids.iter()
                .any(|s| s.contains("swing-traffic") || s.contains("sync-failover"))
        );
    }

    #[test]
    fn every_round_starts_with_a_backup_and_a_completed_sync_before_any_drain() {
        for (backup, sync) in [
            (Some("m-b"), "1/sync-failover/m-a"),
            (None, "1/sync-cluster/m-a"),
        ] {
            let ids = ids(backup);
            assert!(
                at(&ids, "1/backup/m-a") < at(&ids, sync)
                    && at(&ids, sync) < at(&ids, "1/drain/batch-1")
            );
            assert!(at(&ids, "1/distribute/m-a/product-24.3.2") < at(&ids, "1/drain/batch-1"));
        }
    }
}
