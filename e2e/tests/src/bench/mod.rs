//! `make bench`: baton's performance figures, measured against a real kube-apiserver, the
//! simulated fleet and its referee, and the operator binary (release build), into
//! `target/bench/report.json`, with a line per figure and a table of the targets.
//! `docs/src/operations/bench.md` says what each figure means and how it is measured.

mod fleets;
mod idle;
mod launch;
mod procfs;
mod reaction;
mod relay;
mod report;
mod table;
mod upgrade;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::repo_root;
use upgrade::AtlasShape;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Small counts and fast clocks: a smoke run of every scenario in a few minutes.
    pub quick: bool,
    /// Only these scenarios (`reaction`, `pair`, `atlas`, `idle`); all when empty. The
    /// figures of the others are kept from the report already at [`Options::out`], if any.
    pub only: Vec<String>,
    /// Where the report goes.
    pub out: PathBuf,
    /// Also rewrite the generated tables of `docs/src/operations/bench.md`.
    pub write_doc: bool,
    /// Run nothing: make the tables of the report already at [`Options::out`].
    pub tables_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            quick: false,
            only: Vec::new(),
            out: root().join("target/bench/report.json"),
            write_doc: false,
            tables_only: false,
        }
    }
}

/// The repository root without `..` in it, for paths people read.
fn root() -> PathBuf {
    repo_root().canonicalize().unwrap_or_else(|_| repo_root())
}

/// The sizes and clocks of one run.
#[derive(Debug, Clone)]
struct Plan {
    reaction_samples: usize,
    pair_scale: f64,
    atlas: Vec<(&'static str, AtlasShape)>,
    idle_counts: Vec<usize>,
    idle_requeue: Duration,
    idle_window: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let mut plan = Self::sized(quick);
        // Other sizes for exploring: BENCH_IDLE_COUNTS=2000,10000.
        if let Ok(counts) = std::env::var("BENCH_IDLE_COUNTS") {
            plan.idle_counts = counts
                .split(',')
                .filter_map(|c| c.trim().parse().ok())
                .collect();
        }
        plan
    }

    fn sized(quick: bool) -> Self {
        let shape = |regions, per_region, time_scale, max_concurrent_installs| AtlasShape {
            regions,
            per_region,
            time_scale,
            max_concurrent_installs,
        };
        if quick {
            return Self {
                reaction_samples: 10,
                pair_scale: 600.0,
                atlas: vec![
                    ("atlas_3x10", shape(3, 10, 600.0, 30)),
                    ("atlas_5x100", shape(5, 10, 600.0, 50)),
                ],
                idle_counts: vec![0, 50, 200],
                idle_requeue: Duration::from_secs(30),
                idle_window: Duration::from_secs(35),
            };
        }
        Self {
            reaction_samples: 60,
            pair_scale: 120.0,
            atlas: vec![
                // Every node may install at once: the floor has no concurrency bound.
                ("atlas_3x10", shape(3, 10, 120.0, 30)),
                ("atlas_5x100", shape(5, 100, 120.0, 500)),
            ],
            idle_counts: vec![0, 1000, 5000],
            // The operator's default; a window a little longer than one requeue sees every
            // resource about once.
            idle_requeue: Duration::from_secs(300),
            idle_window: Duration::from_secs(320),
        }
    }
}

/// Runs the benchmark, writing the report as figures come in. Fails when a scenario fails;
/// missed targets are reported, not failures.
pub async fn run(options: &Options) -> Result<Value> {
    let plan = Plan::new(options.quick);
    let wants = |s: &str| {
        !options.tables_only && (options.only.is_empty() || options.only.iter().any(|o| o == s))
    };
    let keep = options.tables_only || !options.only.is_empty();
    let mut out = match std::fs::read(&options.out) {
        Ok(previous) if keep => serde_json::from_slice(&previous)?,
        _ => json!({}),
    };
    if !options.tables_only {
        out["date"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        out["git"] = json!(procfs::git());
        out["machine"] = procfs::machine();
        out["quick"] = json!(options.quick);
    }
    let started = Instant::now();
    let dir = options
        .out
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir)?;
    if wants("reaction") {
        let figures = step("reaction", reaction::run(plan.reaction_samples)).await?;
        record(&mut out, "reaction", figures, options)?;
    }
    if wants("pair") {
        let (pair, api) = step("pair_async", upgrade::pair_async(plan.pair_scale, &dir)).await?;
        record(&mut out, "pair_async", pair, options)?;
        record(&mut out, "api", api, options)?;
    }
    if wants("atlas") {
        for (name, shape) in &plan.atlas {
            let figures = step(name, upgrade::atlas(name, *shape, &dir)).await?;
            if *name == "atlas_5x100" {
                let mid = json!({
                    "rss_mib": figures["rss_max_mib"],
                    "nodes": shape.regions * shape.per_region,
                });
                record(&mut out, "atlas_500_midupgrade", mid, options)?;
            }
            record(&mut out, name, figures, options)?;
        }
    }
    if wants("idle") {
        let counts = &plan.idle_counts;
        let all = step(
            "idle",
            idle::run(counts, plan.idle_requeue, plan.idle_window),
        )
        .await?;
        if let Some((n, biggest)) = all.iter().filter(|(n, _)| *n > 0).max_by_key(|(n, _)| *n) {
            let summary = json!({
                "resources": n,
                "requests_per_resource_hour": biggest["requests_per_resource_hour"],
                "status_writes_per_resource_hour": biggest["status_writes_per_resource_hour"],
            });
            record(&mut out, "idle", summary, options)?;
        }
        for (n, figures) in all {
            record(&mut out, &format!("idle_{n}"), figures, options)?;
        }
    }
    let table = table::markdown(&out);
    println!("\n{table}");
    let table_path = options.out.with_file_name("table.md");
    std::fs::write(&table_path, &table)
        .with_context(|| format!("failed to write {}", table_path.display()))?;
    if options.write_doc {
        report::splice_doc(&root().join("docs/src/operations/bench.md"), &table)?;
    }
    println!(
        "bench finished in {:.0} s: {} ({})",
        started.elapsed().as_secs_f64(),
        options.out.display(),
        table_path.display()
    );
    Ok(out)
}

/// Runs one scenario, saying so.
async fn step<T>(name: &str, scenario: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    println!("bench: {name}…");
    let started = Instant::now();
    let result = scenario
        .await
        .with_context(|| format!("scenario {name} failed"));
    println!(
        "bench: {name} took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    result
}

/// Adds a scenario's figures, prints them, and writes the report so far.
fn record(out: &mut Value, name: &str, figures: Value, options: &Options) -> Result<()> {
    let mut lines = Vec::new();
    report::lines(name, &figures, &mut lines);
    for line in lines {
        println!("  {line}");
    }
    out[name] = figures;
    let checked: Vec<Value> = report::targets(out)
        .into_iter()
        .map(
            |t| json!({ "what": t.what, "target": t.target, "measured": t.measured, "met": t.met }),
        )
        .collect();
    out["targets"] = Value::Array(checked);
    let text = serde_json::to_string_pretty(out)?;
    std::fs::write(&options.out, text)
        .with_context(|| format!("failed to write {}", options.out.display()))
}
