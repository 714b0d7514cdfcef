//! A large Atlas cluster (500 traffic nodes with live clients) starts quickly and answers
//! promptly while the world churns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use common::Sim;
use reqwest::StatusCode;

fn big_cluster(nodes: usize) -> String {
    let mut s = String::from(
        "seed: 4\ntime_scale: 60\nrate_limit: { per_second: 1000 }\nappliances:\n  - { name: m1, product: pra, version: 24.1.0, base_version: 5.1.0 }\n  - { name: m2, product: pra, version: 24.1.0, base_version: 5.1.0 }\n",
    );
    for i in 0..nodes {
        let _ = writeln!(
            s,
            "  - {{ name: t{i}, product: pra, version: 24.1.0, base_version: 5.1.0, clients: {{ arrival_per_min: 2.0, session_min: [5, 30] }} }}"
        );
    }
    s.push_str("clusters:\n  - { name: big, primary_master: m1, backup_master: m2, shared_ip: 10.9.0.1, traffic_nodes: [");
    for i in 0..nodes {
        let _ = write!(
            s,
            "{}{{ appliance: t{i}, region: r{} }}",
            if i == 0 { "" } else { ", " },
            i % 5
        );
    }
    s.push_str("] }\n");
    s
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            Some((rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_traffic_nodes_with_clients() -> Result<()> {
    let started = Instant::now();
    let sim = Sim::start(&big_cluster(500)).await?;
    let startup = started.elapsed();
    assert!(
        startup < Duration::from_secs(10),
        "startup took {startup:?}"
    );

    let cpu0 = cpu_seconds();
    let wall0 = Instant::now();
    // Two real seconds of churn: about 2000 arrivals and as many departures.
    let until = sim.fleet.now_sim_s() + 120.0;
    sim.eventually(
        Duration::from_secs(10),
        "two minutes of simulated churn",
        || async { Ok(sim.fleet.now_sim_s() >= until) },
    )
    .await?;
    assert!(sim.fleet.report().sessions_started >= 1000);
    let t = sim.token("m1").await?;
    let before = Instant::now();
    let (st, cluster) = sim.get("m1", &t, "/cluster").await?;
    let latency = before.elapsed();
    assert_eq!(st, StatusCode::OK);
    assert_eq!(cluster["nodes"].as_array().map(Vec::len), Some(502));
    assert!(
        latency < Duration::from_secs(1),
        "GET /cluster took {latency:?}"
    );
    let cpu = cpu_seconds() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    println!("startup {startup:?}, cpu {cpu:.2} s over {wall:.2} s, /cluster {latency:?}");
    // The world itself must stay cheap: well under one core while idle of requests.
    assert!(cpu < wall * 0.8, "{cpu:.2} s of CPU in {wall:.2} s");
    Ok(())
}
