//! Reaction time: from a change of `spec.version` (the API server's answer to the patch) to
//! the first request the operator makes to an appliance because of it, seen at the
//! appliances (through a [`Relay`]).
//!
//! One pair on the target version, UpToDate, with the production timings (nothing else makes
//! the operator talk to the appliances for five minutes). Each sample waits until nothing went
//! to the appliances for a while, sends the patch, and takes the first request after it; the
//! versions alternate between a downgrade (the operator observes, then stops with Stalled:
//! Downgrade) and the target again (observes, UpToDate), so every change is a real decision
//! and none starts an upgrade.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_crds::AppliancePair;
use baton_crds::status::Phase;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::namespace::TestNamespace;
use crate::{cluster, crds, fleet, manifest, wait};

use super::fleets::{self, TARGET};
use super::launch;
use super::relay::Relay;

/// An older version the appliances run no more: asking for it is refused with Downgrade.
const DOWNGRADE: &str = "24.1.0";
/// How long nothing must reach the appliances before a change is sent.
const QUIET: Duration = Duration::from_millis(500);

/// Takes `samples` reaction times; answers p50, p99 and the rest, milliseconds.
pub async fn run(samples: usize) -> Result<Value> {
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    let namespace = TestNamespace::create(&client, "bench-reaction").await?;
    let fleet = baton_sim::start(fleets::idle(1)?).await?;
    fleet::create_secrets(&client, &namespace.name, fleet.connection()).await?;
    let members = fleets::idle_members(0);
    let mut upstreams = Vec::new();
    for m in &members {
        let endpoint = &fleet
            .connection()
            .appliance(m)
            .with_context(|| format!("no appliance {m}"))?
            .endpoint;
        let uri: http::Uri = endpoint.parse()?;
        let port = uri.port_u16().context("endpoint without a port")?;
        upstreams.push(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let relay = Relay::start(&upstreams).await?;
    let mut pair = manifest::pair(
        "react",
        fleet.connection(),
        [&members[0], &members[1]],
        TARGET,
        |_| {},
    )?;
    for (member, url) in pair.spec.members.iter_mut().zip(&relay.urls) {
        member.endpoint.clone_from(url);
    }
    let api: Api<AppliancePair> = Api::namespaced(client.clone(), &namespace.name);
    api.create(&PostParams::default(), &pair).await?;
    let running = launch::start(
        &cluster,
        &namespace.name,
        "bench",
        None,
        launch::production(Duration::from_secs(300)),
    )
    .await?;
    settle(&api, Phase::UpToDate).await?;
    let mut times = Vec::with_capacity(samples);
    let mut writes = Vec::with_capacity(samples);
    for i in 0..samples {
        let (version, phase) = if i % 2 == 0 {
            (DOWNGRADE, Phase::Stalled)
        } else {
            (TARGET, Phase::UpToDate)
        };
        relay.quiet(QUIET, Duration::from_secs(30)).await?;
        let sent = Instant::now();
        api.patch(
            "react",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "version": version } })),
        )
        .await?;
        // The patch's round trip: the change exists once the API server answered.
        writes.push(sent.elapsed());
        times.push(relay.first_after(sent, Duration::from_secs(30)).await?);
        settle(&api, phase).await?;
    }
    drop(running);
    relay.stop();
    drop(fleet);
    namespace.delete().await?;
    // From the API server's answer on: the change exists from then. The answer comes late
    // on the bench's side (its client writes the patch body in a second TCP segment that
    // waits for the server's delayed ACK, about 40 ms), so the time from sending is reported
    // too. Negative when the operator's watch saw the change before the answer reached us.
    let after: Vec<f64> = sorted(
        times
            .iter()
            .zip(&writes)
            .map(|(t, w)| (t.as_secs_f64() - w.as_secs_f64()) * 1000.0)
            .collect(),
    );
    let from_send = sorted(times.iter().map(|d| d.as_secs_f64() * 1000.0).collect());
    let patch = sorted(writes.iter().map(|d| d.as_secs_f64() * 1000.0).collect());
    let round = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "samples": after.len(),
        "p50_ms": round(percentile(&after, 50.0)),
        "p99_ms": round(percentile(&after, 99.0)),
        "max_ms": round(after.last().copied().unwrap_or(0.0)),
        "mean_ms": round(after.iter().sum::<f64>() / after.len().max(1) as f64),
        "from_send_p50_ms": round(percentile(&from_send, 50.0)),
        "from_send_p99_ms": round(percentile(&from_send, 99.0)),
        "patch_p50_ms": round(percentile(&patch, 50.0)),
        "patch_p99_ms": round(percentile(&patch, 99.0)),
    }))
}

fn sorted(mut ms: Vec<f64>) -> Vec<f64> {
    ms.sort_by(f64::total_cmp);
    ms
}

/// Waits until the pair reports `phase` for its current generation.
async fn settle(api: &Api<AppliancePair>, phase: Phase) -> Result<()> {
    wait::until(
        api,
        "react",
        Duration::from_secs(60),
        |p: Option<&AppliancePair>| {
            p.and_then(|p| Some((p.status.as_ref()?, p.metadata.generation)))
                .is_some_and(|(s, generation)| {
                    s.phase == phase && s.observed_generation == generation
                })
        },
    )
    .await?;
    Ok(())
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v[..10], 99.0), 10.0);
    }
}
