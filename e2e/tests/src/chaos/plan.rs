//! What one chaos trial does, drawn from its seed alone: which upgrade, which faults, when.
//! The same seed always gives the same plan, so a failing trial replays with `--replay`.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The upgrade a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// `fleets/pair.yaml`, two rounds, asynchronous (roles swap).
    PairAsync,
    /// The same pair, synchronous (primary first).
    PairSync,
    /// `fleets/atlas.yaml` with its backup master.
    Atlas,
}

/// One fault, with when it strikes: `after_ms` real milliseconds after the operator starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL the operator (whatever it is doing: often in the middle of a step), restart it.
    KillOperator { after_ms: u64 },
    /// Hold the operator's next status write at the API server's door, SIGKILL the operator
    /// while it waits, drop the write, restart.
    KillDuringStatusWrite { after_ms: u64 },
    /// Two replicas with leader election; SIGKILL the leader (the standby takes over).
    KillLeader { after_ms: u64 },
    /// The appliance's API stops answering for a while (simulated seconds).
    Unreachable {
        appliance: String,
        after_ms: u64,
        for_sim_s: f64,
    },
    /// Every answer of the appliance comes late for `for_ms` real milliseconds.
    Slow {
        appliance: String,
        after_ms: u64,
        latency_ms: u64,
        for_ms: u64,
    },
    /// The appliance's next requests fail with a transient server error (503).
    ServerErrors {
        appliance: String,
        after_ms: u64,
        requests: u32,
    },
    /// The API server answers the operator's next status writes with 409 Conflict.
    Conflicts { after_ms: u64, writes: u64 },
    /// The API server serves the operator's next reads of the resource from an older copy.
    StaleReads { after_ms: u64, reads: u64 },
    /// The next data sync run by the appliance fails (once).
    SyncFailsOnce { appliance: String, after_ms: u64 },
    /// The appliance's next install (of base software, or of the product) fails: the
    /// upgrade must stop, say so, and go on only after a person clears it and approves a
    /// retry (R6).
    InstallFails {
        appliance: String,
        after_ms: u64,
        base: bool,
    },
}

impl Fault {
    /// When it strikes.
    pub fn after_ms(&self) -> u64 {
        match self {
            Fault::KillOperator { after_ms }
            | Fault::KillDuringStatusWrite { after_ms }
            | Fault::KillLeader { after_ms }
            | Fault::Unreachable { after_ms, .. }
            | Fault::Slow { after_ms, .. }
            | Fault::ServerErrors { after_ms, .. }
            | Fault::Conflicts { after_ms, .. }
            | Fault::StaleReads { after_ms, .. }
            | Fault::SyncFailsOnce { after_ms, .. }
            | Fault::InstallFails { after_ms, .. } => *after_ms,
        }
    }
}

/// A trial: its seed, its upgrade and its faults in the order they strike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialPlan {
    pub seed: u64,
    pub subject: Subject,
    /// Whether two operator replicas run with leader election.
    pub replicas: u8,
    pub faults: Vec<Fault>,
}

const PAIR: &[&str] = &["rs-a", "rs-b"];
const ATLAS: &[&str] = &["master-a", "master-b", "eu-1", "us-1", "ap-1", "ap-3"];

/// The plan for `seed`: one to three faults within the first `window_ms` of a pair upgrade
/// (twice that for the longer Atlas upgrade).
pub fn plan(seed: u64, window_ms: u64) -> TrialPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let subject = *[
        Subject::PairAsync,
        Subject::PairAsync,
        Subject::PairSync,
        Subject::Atlas,
    ]
    .choose(&mut rng)
    .unwrap_or(&Subject::PairAsync);
    let (appliances, window_ms) = match subject {
        Subject::Atlas => (ATLAS, window_ms * 2),
        _ => (PAIR, window_ms),
    };
    let count = rng.random_range(1..=3);
    let mut faults: Vec<Fault> = (0..count)
        .map(|_| fault(&mut rng, appliances, window_ms))
        .collect();
    // One leader kill is enough to exercise the takeover; two replicas only when there is one.
    let mut seen_leader = false;
    faults.retain(|f| match f {
        Fault::KillLeader { .. } => !std::mem::replace(&mut seen_leader, true),
        _ => true,
    });
    faults.sort_by_key(Fault::after_ms);
    TrialPlan {
        seed,
        subject,
        replicas: if seen_leader { 2 } else { 1 },
        faults,
    }
}

fn fault(rng: &mut ChaCha8Rng, appliances: &[&str], window_ms: u64) -> Fault {
    let after_ms = rng.random_range(0..window_ms);
    let appliance = (*appliances.choose(rng).unwrap_or(&"rs-a")).to_owned();
    match rng.random_range(0..10) {
        0 => Fault::KillOperator { after_ms },
        1 => Fault::KillDuringStatusWrite { after_ms },
        2 => Fault::KillLeader { after_ms },
        3 => Fault::Unreachable {
            appliance,
            after_ms,
            for_sim_s: f64::from(rng.random_range(60..900)),
        },
        4 => Fault::Slow {
            appliance,
            after_ms,
            latency_ms: rng.random_range(100..1500),
            for_ms: rng.random_range(1000..8000),
        },
        5 => Fault::ServerErrors {
            appliance,
            after_ms,
            requests: rng.random_range(1..6),
        },
        6 => Fault::Conflicts {
            after_ms,
            writes: rng.random_range(1..4),
        },
        7 => Fault::StaleReads {
            after_ms,
            reads: rng.random_range(1..4),
        },
        8 => Fault::SyncFailsOnce {
            appliance,
            after_ms,
        },
        _ => Fault::InstallFails {
            appliance,
            after_ms,
            base: rng.random_bool(0.5),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_plan_and_seeds_differ() {
        assert_eq!(plan(42, 20_000), plan(42, 20_000));
        let plans: std::collections::BTreeSet<String> =
            (0..50).map(|s| format!("{:?}", plan(s, 20_000))).collect();
        assert!(plans.len() > 45, "seeds give too few distinct plans");
    }

    #[test]
    fn plans_are_ordered_in_the_window_with_at_most_one_leader_kill() {
        for seed in 0..500 {
            let p = plan(seed, 20_000);
            assert!((1..=3).contains(&p.faults.len()), "{p:?}");
            assert!(
                p.faults
                    .windows(2)
                    .all(|w| w[0].after_ms() <= w[1].after_ms())
            );
            assert!(p.faults.iter().all(|f| f.after_ms() < 40_000));
            let leaders = p
                .faults
                .iter()
                .filter(|f| matches!(f, Fault::KillLeader { .. }))
                .count();
            assert_eq!(p.replicas == 2, leaders == 1, "{p:?}");
        }
    }

    #[test]
    fn every_kind_of_fault_and_subject_comes_up() {
        let plans: Vec<TrialPlan> = (0..300).map(|s| plan(s, 20_000)).collect();
        let kinds: std::collections::BTreeSet<String> = plans
            .iter()
            .flat_map(|p| &p.faults)
            .map(|f| {
                format!("{f:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds.len(), 10, "{kinds:?}");
        for s in [Subject::PairAsync, Subject::PairSync, Subject::Atlas] {
            assert!(plans.iter().any(|p| p.subject == s), "{s:?} never drawn");
        }
    }
}
