//! `baton-sim`: serve a simulated fleet until SIGTERM, SIGINT or `POST /admin/shutdown`,
//! then write the referee's report and print its summary line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Serve a simulated BeyondTrust appliance fleet and referee whoever drives it.
#[derive(Debug, Parser)]
#[command(name = "baton-sim", version)]
struct Args {
    /// The fleet file (YAML).
    #[arg(long)]
    fleet: PathBuf,
    /// Where to write the connection file (JSON) once listening.
    #[arg(long)]
    connection_out: PathBuf,
    /// Where to write the final report (JSON).
    #[arg(long)]
    report_out: Option<PathBuf>,
    /// Override the fleet file's time_scale (simulated seconds per real second).
    #[arg(long)]
    time_scale: Option<f64>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The one crypto provider of the workspace, installed before anything uses rustls.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("baton-sim: failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baton-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let yaml = tokio::fs::read_to_string(&args.fleet)
        .await
        .with_context(|| format!("failed to read {}", args.fleet.display()))?;
    let mut spec = baton_sim::FleetSpec::from_yaml(&yaml)?;
    if let Some(scale) = args.time_scale {
        spec.time_scale = scale;
    }
    let fleet = baton_sim::start(spec).await?;
    let conn = serde_json::to_vec_pretty(fleet.connection())?;
    write_atomically(&args.connection_out, &conn).await?;
    tracing::info!(connection = %args.connection_out.display(), "listening");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to install the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        () = fleet.shutdown_requested() => {}
    }
    let report = fleet.shutdown().await;
    if let Some(path) = &args.report_out {
        write_atomically(path, &serde_json::to_vec_pretty(&report)?).await?;
    }
    println!("{}", report.summary_line());
    Ok(())
}

/// Writes next to the target, then renames: readers never see a partial file.
async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    tokio::fs::write(&tmp, bytes)
        .await
        .with_context(|| format!("failed to write {}", tmp.display()))?;
    tokio::fs::rename(&tmp, path)
        .await
        .with_context(|| format!("failed to rename {} to {}", tmp.display(), path.display()))?;
    Ok(())
}
