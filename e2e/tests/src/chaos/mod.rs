//! `make chaos`: many seeded trials, each an upgrade with faults struck at random moments
//! (operator kills, also during a status write; a leader kill with two replicas; appliances
//! unreachable, slow or failing; API server conflicts and stale reads; a failed sync), judged
//! by the referee and by what the resource ends up saying. Trial `i` of a run with seed `s`
//! has seed `s + i`; `--replay <trial seed>` runs that one trial again.

pub mod plan;
pub mod stage;
pub mod trial;

use std::path::Path;

use anyhow::Result;
use futures::StreamExt;
use serde::Serialize;

use trial::{Ending, TrialResult};

/// A chaos run.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many trials.
    pub trials: u64,
    /// The run's seed.
    pub seed: u64,
    /// Trials at once.
    pub parallel: usize,
    /// Faults strike within this many milliseconds of a pair trial's start.
    pub window_ms: u64,
}

/// `target/chaos/report.json`.
#[derive(Debug, Serialize)]
pub struct ChaosReport {
    pub seed: u64,
    pub trials: u64,
    pub passed: u64,
    /// Referee invariant violations over all trials.
    pub violations: u64,
    /// Non-idempotent requests repeated (the referee's count) plus installs started twice.
    pub duplicate_requests: u64,
    /// Trials that ended neither Ready nor truthfully Stalled (then Ready after the retry).
    pub stuck: u64,
    pub ready: u64,
    pub stalled_then_ready: u64,
    /// Faults that struck, by kind.
    pub struck: std::collections::BTreeMap<String, u64>,
    /// The trial seeds that failed: replay one with `make chaos CHAOS_ARGS="--replay <seed>"`.
    pub failing_seeds: Vec<u64>,
    pub results: Vec<TrialResult>,
}

/// Runs the trials, `parallel` at a time; prints a line per trial.
pub async fn run(config: &Config) -> Vec<TrialResult> {
    let seeds: Vec<u64> = (0..config.trials)
        .map(|i| config.seed.wrapping_add(i))
        .collect();
    run_seeds(&seeds, config).await
}

/// Runs the trials of these seeds.
pub async fn run_seeds(seeds: &[u64], config: &Config) -> Vec<TrialResult> {
    let total = seeds.len();
    let window = config.window_ms;
    let mut results: Vec<TrialResult> = futures::stream::iter(seeds.iter().copied())
        .map(|seed| async move { trial::run(plan::plan(seed, window)).await })
        .buffer_unordered(config.parallel.max(1))
        .enumerate()
        .map(|(i, r)| {
            println!(
                "chaos trial {}/{total} seed={} {:?} faults={} ending={:?} violations={} duplicates={} {:.0}s{}",
                i + 1,
                r.plan.seed,
                r.plan.subject,
                r.struck.len(),
                r.ending,
                r.violations.len(),
                r.duplicate_requests + u64::from(r.repeated_installs),
                r.seconds,
                r.problem.as_deref().map(|p| format!(" problem: {p}")).unwrap_or_default()
            );
            r
        })
        .collect()
        .await;
    results.sort_by_key(|r| r.plan.seed);
    results
}

/// The report of a run's results.
pub fn report(seed: u64, results: Vec<TrialResult>) -> ChaosReport {
    let count = |f: &dyn Fn(&TrialResult) -> bool| results.iter().filter(|r| f(r)).count() as u64;
    let mut struck = std::collections::BTreeMap::new();
    for r in &results {
        for s in &r.struck {
            let kind = s.split([' ', '{']).next().unwrap_or_default().to_owned();
            *struck.entry(kind).or_insert(0) += 1;
        }
    }
    ChaosReport {
        seed,
        trials: results.len() as u64,
        passed: count(&|r| r.passed()),
        violations: results.iter().map(|r| r.violations.len() as u64).sum(),
        duplicate_requests: results
            .iter()
            .map(|r| r.duplicate_requests + u64::from(r.repeated_installs))
            .sum(),
        stuck: count(&|r| r.ending == Ending::Stuck),
        ready: count(&|r| r.ending == Ending::Ready),
        stalled_then_ready: count(&|r| r.ending == Ending::StalledThenReady),
        struck,
        failing_seeds: results
            .iter()
            .filter(|r| !r.passed())
            .map(|r| r.plan.seed)
            .collect(),
        results,
    }
}

impl ChaosReport {
    /// The one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "chaos: seed={} trials={} passed={} violations={} duplicate_requests={} stuck={} ready={} stalled_then_ready={} failing_seeds={:?}",
            self.seed,
            self.trials,
            self.passed,
            self.violations,
            self.duplicate_requests,
            self.stuck,
            self.ready,
            self.stalled_then_ready,
            self.failing_seeds
        )
    }

    /// Writes the report as JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }
}
