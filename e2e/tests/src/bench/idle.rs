//! The operator's cost when nothing happens: memory, CPU and API requests with N idle
//! AppliancePairs (already on the target version, failover established, clients coming and
//! going), with the production timings.
//!
//! One operator per N, each on its own namespace behind its own [`ApiProxy`], all measured
//! over the same window: the window must span a whole idle requeue (every resource is looked
//! at once in it), so running them side by side keeps the benchmark short. Each pair of
//! simulated appliances backs at most [`PAIRS_PER_SITE`] resources: the operator keeps to
//! the vendor's documented rate limit per API account (20/s, 15,000/hour), and a thousand
//! resources on one account would measure that limit, not the operator.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_crds::AppliancePair;
use baton_crds::status::Phase;
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

use crate::apiproxy::ApiProxy;
use crate::cluster::{self, Cluster};
use crate::namespace::TestNamespace;
use crate::{admin, crds, fleet, manifest};

use super::fleets::{self, TARGET};
use super::launch::{self, Running};
use super::procfs::{self, round1};
use super::upgrade::status_writes;

/// Resources per simulated pair of appliances (at most 50 × 4 requests per member per idle
/// requeue: 2,400 an hour at 5 minutes, within the account's 15,000).
pub const PAIRS_PER_SITE: usize = 50;
/// Creates in flight at once.
const CREATE_CONCURRENCY: usize = 32;

/// One idle world: its namespace, fleet, proxy and operator.
struct Idle {
    count: usize,
    namespace: TestNamespace,
    fleet: Option<baton_sim::Fleet>,
    proxy: ApiProxy,
    running: Running,
    converge_s: f64,
}

/// Measures idle operators with each of `counts` resources, over `window`, with the operator
/// requeueing idle resources every `idle_requeue`. Answers one figure set per count.
pub async fn run(
    counts: &[usize],
    idle_requeue: Duration,
    window: Duration,
) -> Result<Vec<(usize, Value)>> {
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    let worlds = futures::future::try_join_all(
        counts
            .iter()
            .map(|n| setup(&cluster, &client, *n, idle_requeue)),
    )
    .await?;
    quiet(&worlds).await;
    let mut before = Vec::new();
    for w in &worlds {
        w.proxy.reset_counts();
        let cpu = procfs::cpu_seconds(w.running.pid)?;
        before.push((cpu, sessions(w), reconciles(w).await?));
    }
    let started = Instant::now();
    let mut peaks = vec![0.0_f64; worlds.len()];
    while started.elapsed() < window {
        for (w, peak) in worlds.iter().zip(&mut peaks) {
            *peak = peak.max(procfs::rss_mib(w.running.pid)?);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let window_s = started.elapsed().as_secs_f64();
    let mut figures = Vec::new();
    for ((w, (cpu0, sessions0, reconciles0)), peak) in worlds.iter().zip(before).zip(peaks) {
        let cpu = procfs::cpu_seconds(w.running.pid)? - cpu0;
        let rss = procfs::rss_mib(w.running.pid)?;
        let looks = reconciles(w).await? - reconciles0;
        let counts = w.proxy.counts();
        let requests: u64 = counts.values().sum();
        let writes = status_writes(&counts, "appliancepairs/status");
        let by_request: BTreeMap<String, u64> = counts
            .iter()
            .map(|((verb, resource), n)| (format!("{verb} {resource}"), *n))
            .collect();
        // Per look (reconcile) times looks per hour: the window's edges cut the requeue
        // bursts, the cost of one look does not depend on them.
        let per_hour = |x: u64| {
            (looks > 0)
                .then(|| round1(x as f64 / looks as f64 * 3600.0 / idle_requeue.as_secs_f64()))
        };
        figures.push((
            w.count,
            json!({
                "resources": w.count,
                "rss_mib": round1(rss),
                "rss_max_mib": round1(rss.max(peak)),
                "cpu_percent": (cpu / window_s * 1000.0).round() / 10.0,
                "cpu_seconds": round1(cpu),
                "window_s": round1(window_s),
                "idle_requeue_s": idle_requeue.as_secs(),
                "converge_s": round1(w.converge_s),
                "reconciles": looks,
                "requests": requests,
                "by_request": by_request,
                "status_writes": writes,
                "requests_per_resource_hour": per_hour(requests),
                "status_writes_per_resource_hour": per_hour(writes),
                // Client counts changed meanwhile: the live readings status leaves unwritten.
                "client_sessions_started": sessions(w) - sessions0,
            }),
        ));
    }
    for w in worlds {
        drop(w.running);
        w.proxy.stop().await;
        w.namespace.delete().await?;
    }
    Ok(figures)
}

/// Waits until no operator has sent the API server anything for a few seconds (start-up
/// work done: the second look each resource gets after its first status write), at most
/// three minutes: a window opened earlier would count start-up work as idle cost.
async fn quiet(worlds: &[Idle]) {
    let mut last = Vec::new();
    let mut still = 0;
    for _ in 0..180 {
        let now: Vec<u64> = worlds
            .iter()
            .map(|w| w.proxy.counts().values().sum())
            .collect();
        still = if now == last { still + 1 } else { 0 };
        if still >= 5 {
            return;
        }
        last = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reconciles of AppliancePairs so far, from the operator's own metrics.
async fn reconciles(w: &Idle) -> Result<u64> {
    let (_, metrics) = admin::get(w.running.admin, "/metrics").await?;
    let total = metrics
        .lines()
        .filter(|l| l.starts_with("controller_runtime_reconcile_total{"))
        .filter(|l| l.contains("controller=\"appliancepair\""))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum::<f64>();
    Ok(total as u64)
}

/// Client sessions started on the world's appliances so far.
fn sessions(w: &Idle) -> u64 {
    w.fleet.as_ref().map_or(0, |f| f.report().sessions_started)
}

/// A namespace with `count` idle pairs and an operator that has seen them all UpToDate.
async fn setup(
    cluster: &Cluster,
    client: &kube::Client,
    count: usize,
    idle_requeue: Duration,
) -> Result<Idle> {
    let namespace = TestNamespace::create(client, &format!("bench-idle-{count}")).await?;
    let sites = count.div_ceil(PAIRS_PER_SITE);
    let fleet = if sites > 0 {
        let fleet = baton_sim::start(fleets::idle(sites)?).await?;
        fleet::create_secrets(client, &namespace.name, fleet.connection()).await?;
        Some(fleet)
    } else {
        None
    };
    let proxy = ApiProxy::start(cluster).await?;
    let running = launch::start(
        cluster,
        &namespace.name,
        "bench",
        Some(proxy.kubeconfig().to_path_buf()),
        launch::production(idle_requeue),
    )
    .await?;
    let started = Instant::now();
    let api: Api<AppliancePair> = Api::namespaced(client.clone(), &namespace.name);
    if let Some(fleet) = &fleet {
        let mut pairs = Vec::with_capacity(count);
        for i in 0..count {
            let [a, b] = fleets::idle_members(i % sites);
            pairs.push(manifest::pair(
                &format!("idle-{i:05}"),
                fleet.connection(),
                [&a, &b],
                TARGET,
                |_| {},
            )?);
        }
        futures::stream::iter(pairs)
            .map(|p| {
                let api = api.clone();
                async move { api.create(&PostParams::default(), &p).await }
            })
            .buffer_unordered(CREATE_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
    }
    let deadline = Duration::from_secs(120 + count as u64 / 10);
    tokio::time::timeout(deadline, all_up_to_date(api, count))
        .await
        .with_context(|| format!("{count} idle pairs not all UpToDate within {deadline:?}"))??;
    Ok(Idle {
        count,
        namespace,
        fleet,
        proxy,
        running,
        converge_s: started.elapsed().as_secs_f64(),
    })
}

/// Waits until `count` pairs report phase UpToDate for their generation, by watching them
/// (one watch rather than listing thousands of objects again and again).
async fn all_up_to_date(api: Api<AppliancePair>, count: usize) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut up: HashMap<String, bool> = HashMap::new();
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.try_next().await? {
        match event {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                let ok = p.status.as_ref().is_some_and(|s| {
                    s.phase == Phase::UpToDate && s.observed_generation == p.metadata.generation
                });
                up.insert(p.name_any(), ok);
            }
            watcher::Event::Delete(p) => {
                up.remove(&p.name_any());
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
        if up.values().filter(|ok| **ok).count() >= count {
            return Ok(());
        }
    }
    anyhow::bail!("the watch ended")
}
