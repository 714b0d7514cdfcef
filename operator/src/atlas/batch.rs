//! The steps on a batch of traffic nodes: drain, install, verify, accept.
//!
//! Installs run in parallel up to `maxConcurrentInstalls`. Each node's install is looked up in
//! its own install history before one is asked for, and asked for with the idempotency key
//! `<upgrade id>/<step id>/<node>`, so a restart neither repeats nor loses one (I8). A node is
//! installed only once its connected clients reached zero (I3), unless the drain timed out
//! with `onTimeout: Proceed`, which is recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

use baton_crds::atlas::OnDrainTimeout;
use baton_crds::common::Member;
use baton_crds::conditions::reasons;
use baton_crds::status::StepAction;

use super::ahead::{self, Progress, progress_in};
use super::step::AtlasStep;
use crate::appliance::{InstallRequest, InstallState};
use crate::drive::actions::{self, InstallTarget};
use crate::drive::{Outcome, StepResult};
use crate::members::Connected;
use crate::secrets::SecretReader;
use crate::time::from_k8s;
use crate::upgrade::batches::out_of_rotation_cap;
use crate::upgrade::gates::parse_duration;

/// Requests in flight at once while polling a batch (each appliance has its own rate limit).
const FAN_OUT: usize = 16;

fn nodes<'a>(s: &AtlasStep<'a>, n: usize) -> &'a [String] {
    s.batches.get(n - 1).map(Vec::as_slice).unwrap_or_default()
}

/// Takes the batch out of rotation and waits for its clients to leave.
pub async fn drain(s: &AtlasStep<'_>, n: usize) -> StepResult {
    let view = match &s.view.nodes {
        Ok(v) => v,
        Err(u) => return s.wait(u.reason, u.message.clone()).into(),
    };
    let acting = match s.acting() {
        Ok(m) => m,
        Err(o) => return o.into(),
    };
    let batch = nodes(s, n);
    for name in batch {
        let Some(node) = view.get(name) else { continue };
        if !node.accepting_connections {
            continue;
        }
        // Never more than the region's share out at once (I2), counting nodes already out.
        let region = node.region.clone().unwrap_or_default();
        let in_region: Vec<_> = view
            .values()
            .filter(|v| {
                v.region.as_deref() == Some(region.as_str())
                    && s.cluster
                        .spec
                        .traffic_nodes
                        .iter()
                        .any(|t| t.name == v.name)
            })
            .collect();
        let out = in_region
            .iter()
            .filter(|v| !v.accepting_connections)
            .count();
        let cap = if in_region.len() == 1 {
            1
        } else {
            out_of_rotation_cap(in_region.len(), s.cluster.spec.drain.fraction)
        };
        if out >= cap {
            return s.wait(reasons::UPGRADING, format!("{name} waits: {out} of {} nodes of region {region} are already out of rotation", in_region.len())).into();
        }
        if let Err(e) = acting
            .appliance
            .set_accepting_connections(&node.appliance_id, false)
            .await
        {
            return s
                .wait(
                    reasons::UNREACHABLE,
                    format!("failed to take {name} out of rotation: {e}"),
                )
                .into();
        }
    }
    let busy: Vec<(String, u64)> = batch
        .iter()
        .filter_map(|name| view.get(name))
        .filter(|v| v.connected_clients > 0)
        .map(|v| (v.name.clone(), v.connected_clients))
        .collect();
    if busy.is_empty() {
        return Outcome::Done(format!(
            "batch {n} ({} nodes) out of rotation with no client connected",
            batch.len()
        ))
        .into();
    }
    let sessions: u64 = busy.iter().map(|(_, c)| c).sum();
    let list = busy
        .iter()
        .map(|(n, c)| format!("{n} ({c})"))
        .collect::<Vec<_>>()
        .join(", ");
    let drain = &s.cluster.spec.drain;
    let started = s.step.started_at.as_ref().map(from_k8s).unwrap_or(s.now);
    let timeout = parse_duration(&drain.timeout).unwrap_or_else(|| chrono::Duration::hours(2));
    if s.now - started < timeout {
        return s
            .wait(
                reasons::UPGRADING,
                format!("waiting for {sessions} sessions to end on {list}"),
            )
            .into();
    }
    match drain.on_timeout {
        OnDrainTimeout::Wait => s.wait(reasons::UPGRADING, format!("drain timeout {} passed; still waiting (onTimeout: Wait) for {sessions} sessions on {list}", drain.timeout)).into(),
        OnDrainTimeout::Proceed => StepResult {
            outcome: Outcome::Done(format!("drain timeout {} passed; proceeding (onTimeout: Proceed): {sessions} sessions will be cut on {list}", drain.timeout)),
            reference: Some(format!("proceed:{sessions}:{list}")),
            backup: None,
        },
        OnDrainTimeout::Fail => Outcome::Failed {
            reason: reasons::DRAIN_TIMEOUT,
            message: format!("drain timeout {} passed with {sessions} sessions on {list}; nothing was installed on them. Wait for them or raise drain.timeout, then approve a retry", drain.timeout),
        }
        .into(),
    }
}

/// Whether this batch's drain timed out with `onTimeout: Proceed`.
fn proceeded(s: &AtlasStep<'_>) -> bool {
    let member = s.step.member.as_deref();
    s.plan.iter().any(|p| {
        p.round == s.step.round
            && p.action == StepAction::Drain
            && p.member.as_deref() == member
            && p.reference
                .as_deref()
                .is_some_and(|r| r.starts_with("proceed"))
    })
}

/// One install target: a traffic node, or the backup master with batch 1.
struct Target {
    connected: Connected,
    clients: u64,
}

async fn targets(s: &AtlasStep<'_>, n: usize) -> Result<Vec<Target>, Outcome> {
    let namespace = s.namespace();
    // One reader for the whole batch: nodes share the primary master's Secrets.
    let secrets = SecretReader::new(s.ctx.client.clone(), &namespace);
    let resource = s.cluster.metadata.name.as_deref().unwrap_or_default();
    let view = s
        .view
        .nodes
        .as_ref()
        .map_err(|u| s.wait(u.reason, u.message.clone()))?;
    let mut out = Vec::new();
    for name in nodes(s, n) {
        let Some(spec) = s
            .cluster
            .spec
            .traffic_nodes
            .iter()
            .find(|t| &t.name == name)
        else {
            return Err(Outcome::Failed {
                reason: reasons::INVALID_SPEC,
                message: format!(
                    "node {name} of batch {n} is no longer in the spec; restore it or delete status.upgrade"
                ),
            });
        };
        let primary = &s.cluster.spec.primary_master;
        let member = Member {
            name: spec.name.clone(),
            endpoint: spec.endpoint.clone(),
            credentials_secret_ref: spec
                .credentials_secret_ref
                .clone()
                .unwrap_or_else(|| primary.credentials_secret_ref.clone()),
            ca_secret_ref: spec
                .ca_secret_ref
                .clone()
                .or_else(|| primary.ca_secret_ref.clone()),
            traffic_address: None,
        };
        let connected = s
            .members()
            .connect(&s.ctx.connector, &secrets, resource, &member)
            .await
            .map_err(|e| Outcome::Failed {
                reason: e.reason(),
                message: e.to_string(),
            })?;
        out.push(Target {
            connected,
            clients: view.get(name).map_or(0, |v| v.connected_clients),
        });
    }
    // With a backup master, it installs together with batch 1 (procedure 4, steps 4 and 5).
    if n == 1 && s.masters.len() == 2 {
        let acting = s.view.acting.unwrap_or(0);
        if let Some(m) = s
            .masters
            .iter()
            .enumerate()
            .find(|(i, _)| *i != acting)
            .map(|(_, m)| m)
        {
            out.push(Target {
                connected: m.clone(),
                clients: 0,
            });
        }
    }
    Ok(out)
}

/// Where a target stands on the step's package and, when the batch works ahead, on the next
/// step's: one read of its install history. Unreachable (rebooting after a base install):
/// still running.
async fn progress_of(
    t: &Target,
    package: &str,
    retry: bool,
    next: Option<(&str, bool)>,
) -> (Progress, Option<Progress>) {
    match t.connected.appliance.installs().await {
        Ok(list) => (
            progress_in(&list, package, retry),
            next.map(|(p, retry)| progress_in(&list, p, retry)),
        ),
        Err(e) if e.is_transient() => (Progress::Running(None), None),
        Err(e) => (
            Progress::Failed(format!("failed to read its installs: {e}")),
            None,
        ),
    }
}

/// The sessions cut so far by this step's installs (recorded as `cut:<n>` in its reference).
pub fn cut_so_far(reference: Option<&str>) -> u64 {
    reference
        .and_then(|r| r.strip_prefix("cut:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Installs the step's package on every target of the batch, in parallel up to the limit.
pub async fn install(s: &AtlasStep<'_>, n: usize) -> StepResult {
    let mut cut = cut_so_far(s.step.reference.as_deref());
    let outcome = install_batch(s, n, &mut cut).await;
    let reference = (cut > 0).then(|| format!("cut:{cut}"));
    StepResult {
        outcome,
        reference,
        backup: None,
    }
}

async fn install_batch(s: &AtlasStep<'_>, n: usize, cut: &mut u64) -> Outcome {
    let package = s.step.package.as_deref().unwrap_or_default();
    let targets = match targets(s, n).await {
        Ok(t) => t,
        Err(o) => return o,
    };
    let next = ahead::next_install(s.plan, s.step);
    let next_package = next.and_then(|n| n.package.as_deref());
    let next_lookup = next_package.zip(next.map(|n| n.attempt > 0));
    // Futures built up front: a closure inside the stream would not be Send-provable here.
    let lookups: Vec<_> = targets
        .iter()
        .map(|t| progress_of(t, package, s.step.attempt > 0, next_lookup))
        .collect();
    let (progress, ahead): (Vec<Progress>, Vec<Option<Progress>>) = futures::stream::iter(lookups)
        .buffered(FAN_OUT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .unzip();
    let call = |name| s.call(name);
    let key_of = |t: &Target| actions::install_key(s.upgrade_id, s.step, Some(&t.connected.name));
    let target_of = |key| InstallTarget {
        package,
        base: s.step.base_software,
        key,
        reference: None,
        allow_connected_clients: false,
    };
    if let Some((t, Progress::Failed(message))) = targets
        .iter()
        .zip(&progress)
        .find(|(_, p)| matches!(p, Progress::Failed(_)))
    {
        // Nothing more starts anywhere; what already serves keeps serving.
        let key = key_of(t);
        return actions::failed(call(&t.connected.name), target_of(&key), message);
    }
    let done = progress
        .iter()
        .filter(|p| matches!(p, Progress::Done))
        .count();
    let mut running = progress
        .iter()
        .chain(ahead.iter().flatten())
        .filter(|p| matches!(p, Progress::Running(_)))
        .count();
    // Installs to follow by long poll: those running, and those this pass starts.
    let mut following: Vec<(&Target, String)> = targets
        .iter()
        .zip(&progress)
        .chain(targets.iter().zip(ahead.iter().flatten()))
        .filter_map(|(t, p)| match p {
            Progress::Running(Some(id)) => Some((t, id.clone())),
            _ => None,
        })
        .collect();
    let limit = usize::try_from(s.cluster.spec.max_concurrent_installs)
        .unwrap_or(1)
        .max(1);
    let proceed = proceeded(s);
    let mut waiting_for_clients = Vec::new();
    for (t, p) in targets.iter().zip(&progress) {
        if !matches!(p, Progress::NotStarted) || running >= limit {
            continue;
        }
        if t.clients > 0 && !proceed {
            waiting_for_clients.push(format!("{} ({})", t.connected.name, t.clients));
            continue;
        }
        let key = key_of(t);
        let request = InstallRequest {
            package_id: package.to_owned(),
            allow_connected_clients: proceed && t.clients > 0,
        };
        match t.connected.appliance.start_install(&request, &key).await {
            Ok(i) if i.state == InstallState::Failed => {
                let message = i.message.unwrap_or_else(|| "no message".into());
                return actions::failed(call(&t.connected.name), target_of(&key), &message);
            }
            Ok(i) => {
                running += 1;
                following.push((t, i.id));
                // What the drain policy allowed to be cut, counted where it happens.
                if request.allow_connected_clients {
                    *cut += t.clients;
                }
            }
            Err(crate::appliance::Error::Conflict { code, .. }) if code == "already_installed" => {}
            Err(e) if e.is_transient() => {}
            Err(e) => {
                return actions::failed(call(&t.connected.name), target_of(&key), &e.to_string());
            }
        }
    }
    if let Some(next) = next {
        let worked = work_ahead(
            s,
            next,
            &targets,
            (&progress, &ahead),
            &mut running,
            limit,
            proceed,
        )
        .await;
        match worked {
            Ok(started) => following.extend(started),
            Err(outcome) => return outcome,
        }
    }
    if done == targets.len() {
        return Outcome::Done(format!(
            "{package} installed on the {} targets of batch {n}",
            targets.len()
        ));
    }
    let mut message = format!(
        "installing {package} on batch {n}: {done}/{} done, {running} running",
        targets.len()
    );
    if !waiting_for_clients.is_empty() {
        message.push_str(&format!(
            "; waiting for clients to leave {}",
            waiting_for_clients.join(", ")
        ));
    }
    let after = if waiting_for_clients.is_empty() {
        first_to_finish(&following, s.ctx.timings.long_poll).await
    } else {
        None
    };
    Outcome::Wait {
        reason: reasons::UPGRADING,
        message,
        after: after.unwrap_or_else(|| s.ctx.timings.busy.min(Duration::from_secs(2))),
    }
}

/// Starts the next step's package on the targets done with this one ([`ahead`]), within the
/// concurrency limit; the installs started, to follow. A failure of an install started
/// ahead stops this step (nothing more starts anywhere), except on a retry of this step,
/// where the next step reports it itself (with its own retry).
async fn work_ahead<'t>(
    s: &AtlasStep<'_>,
    next: &baton_crds::status::PlanStep,
    targets: &'t [Target],
    (progress, ahead): (&[Progress], &[Option<Progress>]),
    running: &mut usize,
    limit: usize,
    proceed: bool,
) -> Result<Vec<(&'t Target, String)>, Outcome> {
    let package = next.package.as_deref().unwrap_or_default();
    let failed = targets.iter().zip(ahead).find_map(|(t, p)| match p {
        Some(Progress::Failed(m)) => Some((t, m)),
        _ => None,
    });
    if let Some((t, message)) = failed {
        if s.step.attempt > 0 {
            return Ok(Vec::new());
        }
        let key = actions::install_key(s.upgrade_id, next, Some(&t.connected.name));
        let target = InstallTarget {
            package,
            base: next.base_software,
            key: &key,
            reference: None,
            allow_connected_clients: false,
        };
        return Err(actions::failed(s.call(&t.connected.name), target, message));
    }
    let mut started = Vec::new();
    for ((t, now), p) in targets.iter().zip(progress).zip(ahead) {
        if *running >= limit {
            break;
        }
        // In order (R2): only once this step's package is installed there.
        if *now != Progress::Done
            || p.as_ref() != Some(&Progress::NotStarted)
            || (t.clients > 0 && !proceed)
        {
            continue;
        }
        let key = actions::install_key(s.upgrade_id, next, Some(&t.connected.name));
        let request = InstallRequest {
            package_id: package.to_owned(),
            allow_connected_clients: false,
        };
        // Anything but a start is left to the next step, which handles it in full.
        if let Ok(i) = t.connected.appliance.start_install(&request, &key).await
            && i.state != InstallState::Failed
        {
            *running += 1;
            started.push((t, i.id));
        }
    }
    Ok(started)
}

/// Long-polls the installs followed until the first one finishes (or the poll ends): the
/// next pass then starts at once, instead of up to a requeue later, which on a batch of many
/// nodes is most of what separates the makespan from its floor. `None` (requeue as usual)
/// when nothing answered the poll, such as a node rebooting after its base install.
async fn first_to_finish(following: &[(&Target, String)], wait: Duration) -> Option<Duration> {
    if following.is_empty() {
        return None;
    }
    let polls = following
        .iter()
        .map(|(t, id)| t.connected.appliance.install(id, wait));
    let (first, _, _) = futures::future::select_all(polls).await;
    first.ok().map(|_| Duration::ZERO)
}

/// What keeps a target from passing verification, if anything.
async fn problem_of(t: &Target, want: &str) -> Option<String> {
    let a = &t.connected.appliance;
    match (a.software().await, a.health().await) {
        (Ok(sw), Ok(h))
            if sw.product_version.to_string() == want
                && h.healthy
                && sw.state == crate::appliance::SoftwareState::Idle =>
        {
            None
        }
        (Ok(sw), Ok(h)) => Some(format!(
            "{} runs {} ({:?}, healthy: {})",
            t.connected.name, sw.product_version, sw.state, h.healthy
        )),
        (Err(e), _) | (_, Err(e)) => Some(format!("{}: {e}", t.connected.name)),
    }
}

/// Every target runs the round's version, healthy and idle.
pub async fn verify(s: &AtlasStep<'_>, n: usize) -> Outcome {
    let want = s.step.version.clone().unwrap_or_default();
    let targets = match targets(s, n).await {
        Ok(t) => t,
        Err(o) => return o,
    };
    let checks: Vec<_> = targets.iter().map(|t| problem_of(t, &want)).collect();
    let problems: Vec<String> = futures::stream::iter(checks)
        .buffered(FAN_OUT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    if problems.is_empty() {
        return Outcome::Done(format!(
            "the {} targets of batch {n} run {want} and are healthy",
            targets.len()
        ));
    }
    verify_deadline(s, problems.join("; "))
}

/// Waits for verification until the verify timeout, then stops: nothing is promoted.
pub fn verify_deadline(s: &AtlasStep<'_>, problem: String) -> Outcome {
    let started = s.step.started_at.as_ref().map(from_k8s).unwrap_or(s.now);
    let waited = (s.now - started).to_std().unwrap_or_default();
    if waited > s.ctx.timings.verify_timeout {
        return Outcome::Failed {
            reason: reasons::VERIFICATION_FAILED,
            message: format!(
                "verification failed after {}s: {problem}. Fix it, then approve a retry",
                waited.as_secs(),
            ),
        };
    }
    s.wait(reasons::UPGRADING, format!("verifying: {problem}"))
}

/// Puts the batch back to accepting new client connections, from the acting master.
pub async fn accept(s: &AtlasStep<'_>, n: usize) -> Outcome {
    let view = match &s.view.nodes {
        Ok(v) => v,
        Err(u) => return s.wait(u.reason, u.message.clone()),
    };
    let acting = match s.acting() {
        Ok(m) => m,
        Err(o) => return o,
    };
    let batch = nodes(s, n);
    let out: BTreeMap<&str, &str> = batch
        .iter()
        .filter_map(|name| view.get(name))
        .filter(|v| !v.accepting_connections)
        .map(|v| (v.name.as_str(), v.appliance_id.as_str()))
        .collect();
    if out.is_empty() {
        return Outcome::Done(format!(
            "batch {n} ({} nodes) accepts new client connections",
            batch.len()
        ));
    }
    for (name, id) in &out {
        if let Err(e) = acting.appliance.set_accepting_connections(id, true).await {
            return s.wait(
                reasons::UNREACHABLE,
                format!("failed to put {name} back into rotation: {e}"),
            );
        }
    }
    Outcome::Wait {
        reason: reasons::UPGRADING,
        message: format!(
            "putting {} nodes of batch {n} back into rotation",
            out.len()
        ),
        after: Duration::ZERO,
    }
}
