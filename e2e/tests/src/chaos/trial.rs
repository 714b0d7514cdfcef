//! One chaos trial: set up, start the operator(s), strike the plan's faults at their moments
//! while the upgrade runs, then judge: Ready, or truthfully Stalled and Ready after the fault
//! is cleared and the retry approved; and the referee's verdict on the appliances.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_sim::Report;
use serde::Serialize;
use serde_json::Value;

use super::plan::{Fault, Subject, TrialPlan};
use super::stage::{Stage, condition, condition_message};
use crate::apiproxy::Matcher;

/// How a trial ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    Ready,
    /// Stalled naming the fault, then Ready once it was cleared and the retry approved.
    StalledThenReady,
    /// Neither Ready nor truthfully Stalled (or Stalled and never recovering).
    Stuck,
}

/// What a trial found.
#[derive(Debug, Clone, Serialize)]
pub struct TrialResult {
    pub plan: TrialPlan,
    pub ending: Ending,
    /// The Stalled message, if it stalled.
    pub stalled: Option<String>,
    /// Why it is stuck, or the harness error.
    pub problem: Option<String>,
    pub violations: Vec<String>,
    pub duplicate_requests: u64,
    /// Installs started more than once on an appliance.
    pub repeated_installs: u32,
    /// Faults that struck (a held status write may find none to hold).
    pub struck: Vec<String>,
    pub seconds: f64,
}

impl TrialResult {
    /// Whether the trial kept every promise.
    pub fn passed(&self) -> bool {
        self.ending != Ending::Stuck
            && self.violations.is_empty()
            && self.duplicate_requests == 0
            && self.repeated_installs == 0
    }
}

/// The appliance's message for an injected install failure, which a Stalled message must
/// carry.
const INSTALL_FAILURE: &str = "injected: not enough disk space";

fn deadline(subject: Subject) -> Duration {
    match subject {
        Subject::Atlas => Duration::from_secs(420),
        _ => Duration::from_secs(300),
    }
}

fn settled(o: &Value) -> bool {
    condition(o, "Ready", "True") || condition(o, "Stalled", "True")
}

/// Runs the trial `plan` to its end.
pub async fn run(plan: TrialPlan) -> TrialResult {
    let started = Instant::now();
    let mut result = TrialResult {
        plan: plan.clone(),
        ending: Ending::Stuck,
        stalled: None,
        problem: None,
        violations: Vec::new(),
        duplicate_requests: 0,
        repeated_installs: 0,
        struck: Vec::new(),
        seconds: 0.0,
    };
    let mut stage = match Stage::start(plan.subject, plan.seed, plan.replicas).await {
        Ok(stage) => stage,
        Err(e) => {
            result.problem = Some(format!("setting up: {e:#}"));
            return result;
        }
    };
    match drive(&plan, &mut stage, &mut result).await {
        Ok(ending) => result.ending = ending,
        Err(e) => result.problem = Some(format!("{e:#}")),
    }
    match stage.finish().await {
        Ok(report) => judge(&report, &mut result),
        Err(e) => result.problem = Some(format!("finishing: {e:#}")),
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

async fn drive(plan: &TrialPlan, stage: &mut Stage, result: &mut TrialResult) -> Result<Ending> {
    for _ in 0..plan.replicas {
        stage.launch()?;
    }
    let start = tokio::time::Instant::now();
    for fault in timeline(&plan.faults) {
        let at = start + Duration::from_millis(fault.after_ms());
        // Stop striking once the upgrade has settled: the remaining faults would hit nothing.
        let wait = at.saturating_duration_since(tokio::time::Instant::now());
        if tokio::time::timeout(wait, stage.until(deadline(plan.subject), settled))
            .await
            .is_ok()
        {
            break;
        }
        let ends_slowdown = matches!(fault, Fault::Slow { latency_ms: 0, .. });
        if strike(stage, &fault).await? && !ends_slowdown {
            result.struck.push(format!("{fault:?}"));
        }
    }
    let end = stage
        .until(deadline(plan.subject), settled)
        .await
        .context("the upgrade settled neither Ready nor Stalled")?;
    if condition(&end, "Ready", "True") {
        return Ok(Ending::Ready);
    }
    let message = condition_message(&end, "Stalled");
    result.stalled = Some(message.clone());
    if !truthful(&message, &plan.faults) {
        result.problem = Some(format!(
            "Stalled without naming an injected fault: {message}"
        ));
        return Ok(Ending::Stuck);
    }
    recover(stage, &end).await?;
    stage
        .until(deadline(plan.subject), |o| condition(o, "Ready", "True"))
        .await
        .context("not Ready after the fault was cleared and the retry approved")?;
    Ok(Ending::StalledThenReady)
}

/// The plan's faults with the end of each slowdown added as its own moment.
fn timeline(faults: &[Fault]) -> Vec<Fault> {
    let mut all: Vec<Fault> = faults.to_vec();
    for f in faults {
        if let Fault::Slow {
            appliance,
            after_ms,
            for_ms,
            ..
        } = f
        {
            all.push(Fault::Slow {
                appliance: appliance.clone(),
                after_ms: after_ms + for_ms,
                latency_ms: 0,
                for_ms: 0,
            });
        }
    }
    all.sort_by_key(Fault::after_ms);
    all
}

/// Strikes one fault; whether it struck.
async fn strike(stage: &mut Stage, fault: &Fault) -> Result<bool> {
    use baton_sim::Fault as Sim;
    let ns = stage.namespace.name.clone();
    match fault {
        Fault::KillOperator { .. } => {
            stage.kill(None).await?;
            stage.launch()?;
        }
        Fault::KillDuringStatusWrite { .. } => {
            let status = format!("{}/status", stage.plural);
            let mut held = stage
                .proxy
                .hold_next(Matcher::resource(&status).namespace(&ns));
            // A write comes at the next step boundary or observation; none within a while
            // means the upgrade is waiting on something long, and the fault misses.
            let arrived = tokio::time::timeout(Duration::from_secs(15), held.arrived()).await;
            if !matches!(arrived, Ok(Ok(_))) {
                held.release_forward();
                stage.proxy.clear_faults();
                return Ok(false);
            }
            let leader = stage.leader().await;
            stage.kill(leader.as_deref()).await?;
            held.release_drop();
            stage.launch()?;
        }
        Fault::KillLeader { .. } => {
            let Some(leader) = stage.leader().await else {
                return Ok(false);
            };
            stage.kill(Some(&leader)).await?;
            stage.launch()?;
        }
        Fault::Unreachable {
            appliance,
            for_sim_s,
            ..
        } => stage.fleet.inject(Sim::Unreachable {
            appliance: appliance.clone(),
            for_s: Some(*for_sim_s),
        })?,
        Fault::Slow {
            appliance,
            latency_ms,
            ..
        } => stage.fleet.inject(Sim::Slow {
            appliance: appliance.clone(),
            latency_ms: *latency_ms,
        })?,
        Fault::ServerErrors {
            appliance,
            requests,
            ..
        } => stage.fleet.inject(Sim::ServerErrors {
            appliance: appliance.clone(),
            requests: *requests,
            status: None,
        })?,
        Fault::Conflicts { writes, .. } => stage.proxy.conflict_next(
            Matcher::resource("/status")
                .verbs(&["patch", "update"])
                .namespace(&ns),
            *writes,
        ),
        Fault::StaleReads { reads, .. } => stage.proxy.stale_next(
            Matcher::resource(stage.plural)
                .verbs(&["get", "list"])
                .namespace(&ns),
            *reads,
        ),
        Fault::SyncFailsOnce { appliance, .. } => stage.fleet.inject(Sim::FailNextSync {
            appliance: appliance.clone(),
        })?,
        Fault::InstallFails {
            appliance, base, ..
        } => stage.fleet.inject(Sim::FailNextInstall {
            appliance: appliance.clone(),
            package_kind: Some(if *base {
                baton_sim::PackageKind::Base
            } else {
                baton_sim::PackageKind::Product
            }),
            message: Some(INSTALL_FAILURE.to_owned()),
        })?,
    }
    Ok(true)
}

/// Whether a Stalled message names what went wrong: an appliance the faults touched, or the
/// kind of failure one of them causes.
fn truthful(message: &str, faults: &[Fault]) -> bool {
    let message = message.to_lowercase();
    faults.iter().any(|f| {
        let words: &[&str] = match f {
            Fault::SyncFailsOnce { .. } => &["sync"],
            Fault::Unreachable { .. } | Fault::Slow { .. } => {
                &["unreachable", "timed out", "connect"]
            }
            Fault::ServerErrors { .. } => &["503", "server error", "unavailable"],
            Fault::InstallFails { .. } => &[INSTALL_FAILURE],
            _ => &[],
        };
        let appliance = match f {
            Fault::Unreachable { appliance, .. }
            | Fault::Slow { appliance, .. }
            | Fault::ServerErrors { appliance, .. }
            | Fault::SyncFailsOnce { appliance, .. }
            | Fault::InstallFails { appliance, .. } => Some(appliance.as_str()),
            _ => None,
        };
        words.iter().any(|w| message.contains(w)) || appliance.is_some_and(|a| message.contains(a))
    })
}

/// What a person does: clear the faults, approve the retry the message names.
async fn recover(stage: &mut Stage, stalled: &Value) -> Result<()> {
    for appliance in stage.fleet.appliances() {
        stage.fleet.clear_faults(&appliance.name)?;
    }
    stage.proxy.clear_faults();
    let upgrade = &stalled["status"]["upgrade"];
    let id = upgrade["id"]
        .as_str()
        .context("Stalled without an upgrade id")?;
    let retries = upgrade["retries"].as_u64().unwrap_or(0);
    stage.approve(&format!("{id}-r{}/Retry", retries + 1)).await
}

/// The referee's verdict into the result.
fn judge(report: &Report, result: &mut TrialResult) {
    result.violations = report
        .violations
        .iter()
        .map(|v| format!("{}: {}", v.invariant, v.message))
        .collect();
    result.duplicate_requests = report.duplicate_requests;
    // An install a fault made fail is started again by the retry a person approved: that
    // second start is the procedure, not a repeat.
    let failed_on: Vec<&str> = result
        .plan
        .faults
        .iter()
        .filter_map(|f| match f {
            Fault::InstallFails { appliance, .. } => Some(appliance.as_str()),
            _ => None,
        })
        .collect();
    result.repeated_installs = report
        .installs
        .iter()
        .filter(|i| !failed_on.contains(&i.appliance.as_str()))
        .map(|i| i.starts.saturating_sub(1))
        .sum();
}
