//! Whole upgrades judged by the referee: an asynchronous pair (`fleets/pair.yaml`, two rounds)
//! and Atlas clusters of any shape, each next to the floors the referee computes from the
//! same run. The pair's API requests are counted through an [`ApiProxy`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_crds::AtlasCluster;
use baton_crds::conditions::types;
use baton_sim::Report;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::apiproxy::ApiProxy;
use crate::namespace::TestNamespace;
use crate::world::{PairWorld, atlas_condition, condition};
use crate::{cluster, crds, fleet, manifest, wait};

use super::fleets::{self, TARGET};
use super::launch;
use super::procfs::{self, round1};

/// An Atlas cluster to upgrade.
#[derive(Debug, Clone, Copy)]
pub struct AtlasShape {
    pub regions: usize,
    pub per_region: usize,
    pub time_scale: f64,
    /// `spec.maxConcurrentInstalls` (the CRD allows 1 to 1000).
    pub max_concurrent_installs: usize,
}

/// One asynchronous pair upgrade at `time_scale`: the referee's figures, and the API requests
/// the operator made for it (`api`).
/// The referee's whole report (timeline included) goes to `<dir>/referee-pair_async.json`.
pub async fn pair_async(time_scale: f64, dir: &Path) -> Result<(Value, Value)> {
    let world = PairWorld::start(
        "bench-pair",
        |f| f.time_scale = time_scale,
        TARGET,
        // The soak between hops is a deliberate wait (R3), not overhead: none here.
        |s| s["soak"] = json!("0s"),
    )
    .await?;
    let proxy = ApiProxy::start(&world.cluster).await?;
    let started = Instant::now();
    let running = launch::start(
        &world.cluster,
        &world.namespace.name,
        "bench",
        Some(proxy.kubeconfig().to_path_buf()),
        launch::scaled(time_scale),
    )
    .await?;
    let (stop, peak) = rss_peak(running.pid);
    world
        .until(deadline(time_scale), |p| condition(p, types::READY, "True"))
        .await?;
    let real_s = started.elapsed().as_secs_f64();
    let counts = proxy.counts();
    // The sampler answers with its peak once told to stop.
    let _ = stop.send(());
    let rss_max = peak.await.unwrap_or(0.0);
    drop(running);
    proxy.stop().await;
    let report = world.finish().await?;
    save(dir, "pair_async", &report)?;
    let mut figures = referee(&report, "site")?;
    figures["time_scale"] = json!(time_scale);
    figures["real_s"] = json!(round1(real_s));
    figures["rss_max_mib"] = json!(round1(rss_max));
    let total: u64 = counts.values().sum();
    let by_kind: BTreeMap<String, u64> = counts
        .iter()
        .map(|((verb, resource), n)| (format!("{verb} {resource}"), *n))
        .collect();
    let api = json!({
        "requests_per_upgrade": total,
        "status_writes_per_upgrade": status_writes(&counts, "appliancepairs/status"),
        "by_request": by_kind,
        "time_scale": time_scale,
    });
    Ok((figures, api))
}

/// Writes (patch or update) of `resource` among proxy counts.
pub fn status_writes(counts: &BTreeMap<(String, String), u64>, resource: &str) -> u64 {
    counts
        .iter()
        .filter(|((verb, r), _)| r == resource && matches!(verb.as_str(), "patch" | "update"))
        .map(|(_, n)| n)
        .sum()
}

/// One Atlas upgrade (backup master, one hop of two packages, clients on every node, drain
/// policy Wait) of `shape`; the operator's resident memory is sampled throughout
/// (`rss_max_mib`). The referee's report goes to `<dir>/referee-<name>.json`.
pub async fn atlas(name: &str, shape: AtlasShape, dir: &Path) -> Result<Value> {
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    let namespace = TestNamespace::create(&client, "bench-atlas").await?;
    let spec = fleets::atlas(shape.regions, shape.per_region, shape.time_scale)?;
    let fleet = baton_sim::start(spec).await?;
    fleet::create_secrets(&client, &namespace.name, fleet.connection()).await?;
    let names: Vec<(String, String)> = (0..shape.regions)
        .flat_map(|r| {
            (0..shape.per_region).map(move |i| (fleets::node_name(r, i), fleets::region_name(r)))
        })
        .collect();
    let nodes: Vec<(&str, &str)> = names
        .iter()
        .map(|(n, r)| (n.as_str(), r.as_str()))
        .collect();
    let object = manifest::atlas(
        "atlas",
        fleet.connection(),
        &["master-a", "master-b"],
        &nodes,
        TARGET,
        |s| {
            s["soak"] = json!("0s");
            s["maxConcurrentInstalls"] = json!(shape.max_concurrent_installs);
            // Wait: sessions are never cut, however long they last.
            s["drain"] = json!({ "timeout": "2h", "onTimeout": "Wait" });
        },
    )?;
    let api: Api<AtlasCluster> = Api::namespaced(client.clone(), &namespace.name);
    api.create(&PostParams::default(), &object).await?;
    let started = Instant::now();
    let running = launch::start(
        &cluster,
        &namespace.name,
        "bench",
        None,
        launch::scaled(shape.time_scale),
    )
    .await?;
    let (stop, peak) = rss_peak(running.pid);
    let ready = wait::until(
        &api,
        "atlas",
        deadline(shape.time_scale) * 4,
        |c: Option<&AtlasCluster>| c.is_some_and(|c| atlas_condition(c, types::READY, "True")),
    )
    .await;
    let real_s = started.elapsed().as_secs_f64();
    // The sampler answers with its peak once told to stop.
    let _ = stop.send(());
    let rss_max = peak.await.unwrap_or(0.0);
    drop(running);
    let report = fleet.shutdown().await;
    namespace.delete().await?;
    save(dir, name, &report)?;
    ready.with_context(|| {
        format!(
            "{} violations: {:?}",
            report.violations.len(),
            report.violations
        )
    })?;
    let mut figures = referee(&report, "atlas")?;
    figures["time_scale"] = json!(shape.time_scale);
    figures["regions"] = json!(shape.regions);
    figures["nodes_per_region"] = json!(shape.per_region);
    figures["max_concurrent_installs"] = json!(shape.max_concurrent_installs);
    figures["real_s"] = json!(round1(real_s));
    figures["rss_max_mib"] = json!(round1(rss_max));
    Ok(figures)
}

/// Keeps the referee's report, to see where a figure comes from (its timeline has every
/// step with simulated and real times).
fn save(dir: &Path, name: &str, report: &Report) -> Result<()> {
    let path = dir.join(format!("referee-{name}.json"));
    std::fs::write(&path, serde_json::to_vec(report)?)
        .with_context(|| format!("failed to write {}", path.display()))
}

/// Real time allowed for an upgrade: about 40,000 simulated seconds, plus start-up.
fn deadline(time_scale: f64) -> Duration {
    Duration::from_secs_f64(40_000.0 / time_scale + 120.0)
}

/// The referee's figures for `group`.
fn referee(report: &Report, group: &str) -> Result<Value> {
    let site = report
        .site(group)
        .with_context(|| format!("no site {group}"))?;
    let makespan = report.makespan_s(group);
    let floor = report.makespan_floor_s(group);
    let ratio = makespan
        .zip(floor)
        .map(|(m, f)| (m / f * 1000.0).round() / 1000.0);
    // The overheads in real time: what the operator spent, before the scale multiplied it.
    let real = |sim: f64| sim / report.time_scale.max(1.0);
    let makespan_overhead = makespan.zip(floor).map(|(m, f)| round1(real(m - f)));
    let downtime_overhead_ms = (real(site.downtime_s - site.swap_floor_s) * 1000.0).round();
    Ok(json!({
        "makespan_overhead_real_s": makespan_overhead,
        "downtime_overhead_real_ms": downtime_overhead_ms,
        "makespan_s": makespan.map(round1),
        "makespan_floor_s": floor.map(round1),
        "ratio": ratio,
        "downtime_s": round1(site.downtime_s),
        "downtime_floor_s": round1(site.swap_floor_s),
        "dropped_sessions": report.dropped_sessions,
        "sessions_started": report.sessions_started,
        "violations": report.violations.len(),
        "duplicate_requests": report.duplicate_requests,
        "installs": report.installs.len(),
    }))
}

/// Samples `pid`'s resident memory twice a second until told to stop; answers the peak, MiB.
fn rss_peak(pid: u32) -> (oneshot::Sender<()>, tokio::task::JoinHandle<f64>) {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        loop {
            if let Ok(rss) = procfs::rss_mib(pid) {
                peak = peak.max(rss);
            }
            tokio::select! {
                _ = &mut stopped => return peak,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    });
    (stop, task)
}
