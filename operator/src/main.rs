//! The baton operator binary: arguments, telemetry, the TLS crypto provider, the controllers.
//! Everything else lives in the library.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::Api;
use kube::runtime::events::Reporter;

use baton_operator::appliance::Connector;
use baton_operator::context::{Context, Timings};
use baton_operator::members::MemberCache;
use baton_operator::upgrade::gates::parse_duration;

/// Upgrades BeyondTrust B Series failover pairs and Atlas clusters declaratively.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Watch only this namespace (default: all namespaces the operator may read).
    #[arg(long, env = "BATON_NAMESPACE")]
    namespace: Option<String>,
    /// Log format.
    #[arg(long, env = "BATON_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Requeue of an idle resource (Go duration).
    #[arg(long, env = "BATON_IDLE_REQUEUE", default_value = "5m", value_parser = duration)]
    idle_requeue: Duration,
    /// Requeue while a step waits on an appliance.
    #[arg(long, env = "BATON_BUSY_REQUEUE", default_value = "5s", value_parser = duration)]
    busy_requeue: Duration,
    /// Requeue while a gate holds (approval, window, soak).
    #[arg(long, env = "BATON_GATED_REQUEUE", default_value = "60s", value_parser = duration)]
    gated_requeue: Duration,
    /// Long poll on installs and syncs.
    #[arg(long, env = "BATON_LONG_POLL", default_value = "20s", value_parser = duration)]
    long_poll: Duration,
    /// Largest accepted appliance clock error (R8).
    #[arg(long, env = "BATON_CLOCK_TOLERANCE", default_value = "2m", value_parser = duration)]
    clock_tolerance: Duration,
    /// How long an upgraded appliance may take to pass verification.
    #[arg(long, env = "BATON_VERIFY_TIMEOUT", default_value = "30m", value_parser = duration)]
    verify_timeout: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| format!("{text:?} is not a duration such as 30s or 5m"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    init_logging(&args.log_format);
    // One crypto provider for the whole process: kube and the appliance client both use ring.
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| "failed to install the ring crypto provider")?;

    let client = kube::Client::try_default().await?;
    let timings = Timings {
        idle: args.idle_requeue,
        busy: args.busy_requeue,
        gated: args.gated_requeue,
        long_poll: args.long_poll,
        clock_tolerance: args.clock_tolerance,
        verify_timeout: args.verify_timeout,
    };
    let reporter = Reporter {
        controller: "baton-operator".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        connector: Connector::new(),
        members: MemberCache::default(),
        timings,
        reporter,
    });
    let pairs = match &args.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("<all>"),
        "baton operator starting"
    );
    baton_operator::pair::run(ctx, pairs).await;
    tracing::info!("baton operator stopped");
    Ok(())
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
