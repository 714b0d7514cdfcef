//! `make chaos`: seeded fault-injection trials against the operator, judged by the referee.
//! Writes `target/chaos/report.json`, prints one line per trial and a summary; exits non-zero
//! when a trial failed.
//!
//! Usage: baton-chaos [--trials N] [--seed S] [--parallel P] [--replay TRIAL_SEED]...

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use baton_e2e::chaos::{self, Config};

fn parse() -> Result<(Config, Vec<u64>)> {
    let mut config = Config {
        trials: 100,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        parallel: 2,
        window_ms: 12_000,
    };
    let mut replay = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || -> Result<u64> {
            value
                .parse()
                .with_context(|| format!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--trials" => config.trials = number()?,
            "--seed" => config.seed = number()?,
            "--parallel" => config.parallel = usize::try_from(number()?)?,
            "--window-ms" => config.window_ms = number()?,
            "--replay" => replay.push(number()?),
            other => bail!("unknown flag {other} (see the usage in e2e/tests/src/bin/chaos.rs)"),
        }
    }
    Ok((config, replay))
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (config, replay) = parse()?;
    println!(
        "chaos: seed={} trials={} parallel={} (replay a failing trial with --replay <its seed>)",
        config.seed,
        if replay.is_empty() {
            config.trials
        } else {
            replay.len() as u64
        },
        config.parallel
    );
    let run = async {
        if replay.is_empty() {
            chaos::run(&config).await
        } else {
            chaos::run_seeds(&replay, &config).await
        }
    };
    // Interrupted: dropping the trials kills their operators (kill_on_drop); exiting without
    // that would leave them running against a control plane that is gone.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let results = tokio::select! {
        results = run => results,
        _ = tokio::signal::ctrl_c() => return Ok(ExitCode::from(130)),
        _ = terminate.recv() => return Ok(ExitCode::from(143)),
    };
    let report = chaos::report(config.seed, results);
    let path = baton_e2e::repo_root().join("target/chaos/report.json");
    report.write(&path)?;
    println!("{}", report.summary());
    println!("report: {}", path.display());
    Ok(if report.failing_seeds.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
