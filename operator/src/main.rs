//! The baton operator binary: arguments, telemetry, the TLS crypto provider, the admin server,
//! leader election and the controllers. Everything else lives in the library.
//!
//! Life of the process: serve `/healthz`, `/readyz` and `/metrics` at once; wait for the Lease
//! (a standby stays here); as the leader, run the controllers and the status metrics until
//! SIGTERM (graceful: running reconciles finish within the grace period, then the Lease is
//! released and the process exits 0) or until the Lease is lost (exit 1 at once: another
//! replica may already act).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Parser};
use futures::FutureExt;
use futures::future::BoxFuture;
use kube::Api;
use kube::runtime::events::Reporter;

use baton_crds::{AppliancePair, AtlasCluster};
use baton_operator::admin::{self, Health};
use baton_operator::appliance::Connector;
use baton_operator::context::{Context, Timings};
use baton_operator::drive::write::StatusLedger;
use baton_operator::leader::{self, Elector, LeaseConfig};
use baton_operator::members::MemberCache;
use baton_operator::metrics::{self, Metrics};
use baton_operator::shutdown::Shutdown;
use baton_operator::telemetry::{self, LogFormat};
use baton_operator::upgrade::gates::parse_duration;

/// Upgrades BeyondTrust B Series failover pairs and Atlas clusters declaratively.
#[derive(Debug, Parser)]
#[command(version, about, args_override_self = true)]
struct Args {
    /// Watch only these namespaces (repeat the flag or separate with commas); all namespaces
    /// the operator may read when none is given.
    #[arg(long, env = "BATON_NAMESPACE", value_delimiter = ',')]
    namespace: Vec<String>,
    /// Log format.
    #[arg(long, env = "BATON_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Where the admin server (/healthz, /readyz, /metrics) listens.
    #[arg(long, env = "BATON_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    admin_addr: SocketAddr,
    /// OTLP/HTTP collector base URL (such as http://otel-collector:4318); traces are off
    /// unless this or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Elect a leader through a Lease so that only one replica acts (`--leader-elect=false`
    /// for a single local process).
    #[arg(long, env = "BATON_LEADER_ELECT", default_value_t = true, action = ArgAction::Set)]
    leader_elect: bool,
    /// The Lease's name.
    #[arg(long, env = "BATON_LEASE_NAME", default_value = "baton-operator")]
    lease_name: String,
    /// The Lease's namespace (the operator's own; default: the pod's, else the kubeconfig's).
    #[arg(long, env = "POD_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity in the Lease (default: the pod name, else host name + random).
    #[arg(long, env = "BATON_LEASE_IDENTITY")]
    lease_identity: Option<String>,
    /// How long a Lease stays valid without renewal; a standby takes over after it.
    #[arg(long, env = "BATON_LEASE_DURATION", default_value = "15s", value_parser = duration)]
    lease_duration: Duration,
    /// How long the leader tries to renew before it gives up and exits (< lease duration).
    #[arg(long, env = "BATON_LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = duration)]
    lease_renew_deadline: Duration,
    /// How often candidates try and the leader renews.
    #[arg(long, env = "BATON_LEASE_RETRY_PERIOD", default_value = "2s", value_parser = duration)]
    lease_retry_period: Duration,
    /// After SIGTERM, how long running reconciles may take before they are abandoned.
    #[arg(long, env = "BATON_SHUTDOWN_GRACE", default_value = "25s", value_parser = duration)]
    shutdown_grace: Duration,
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
    /// How often live readings alone (connected clients, last sync time) are written to the
    /// status of a resource with nothing else changing.
    #[arg(long, env = "BATON_STATUS_REFRESH", default_value = "1h", value_parser = duration)]
    status_refresh: Duration,
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
async fn main() -> ExitCode {
    let args = Args::parse();
    // One crypto provider for the whole process, before any TLS client is built: kube, the
    // appliance client and the OTLP exporter all use ring.
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        eprintln!("baton-operator: failed to install the ring crypto provider");
        return ExitCode::from(2);
    }
    let format = if args.log_format == "json" {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    let telemetry = match telemetry::init(format, args.otlp_endpoint.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton-operator: {e}: {}", source_chain(&e));
            return ExitCode::from(2);
        }
    };
    let code = match run(args, telemetry.tracing()).await {
        Ok(()) => {
            tracing::info!("baton operator stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "baton operator stopped");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut next = e.source();
    while let Some(s) = next {
        out.push(s.to_string());
        next = s.source();
    }
    out.join(": ")
}

async fn run(args: Args, tracing_on: bool) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = Shutdown::on_signals(args.shutdown_grace)?;
    let client = kube::Client::try_default().await?;

    let metrics = Arc::new(Metrics::new());
    let health = Health::default();
    let listener = tokio::net::TcpListener::bind(args.admin_addr)
        .await
        .map_err(|e| {
            format!(
                "failed to listen on {} (--admin-addr): {e}",
                args.admin_addr
            )
        })?;
    let admin_addr = listener.local_addr()?;
    let router = admin::router(health.clone(), metrics.clone());
    tokio::spawn(async move {
        if let Err(e) = admin::serve(listener, router).await {
            tracing::error!(error = %e, "the admin server stopped");
        }
    });
    // Each namespace once: two controllers on one namespace would act twice.
    let mut namespaces = args.namespace.clone();
    namespaces.sort();
    namespaces.dedup();
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    };
    tracing::info!(
        namespaces = %if namespaces.is_empty() { "<all>".to_owned() } else { namespaces.join(",") },
        admin = %admin_addr,
        tracing = tracing_on,
        leader_election = args.leader_elect,
        "baton operator starting"
    );

    let ctx = Arc::new(Context {
        client: client.clone(),
        connector: Connector::new(),
        members: MemberCache::default(),
        timings: Timings {
            idle: args.idle_requeue,
            busy: args.busy_requeue,
            gated: args.gated_requeue,
            long_poll: args.long_poll,
            clock_tolerance: args.clock_tolerance,
            verify_timeout: args.verify_timeout,
        },
        reporter: Reporter {
            controller: "baton-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
        metrics: metrics.clone(),
        health: health.clone(),
        shutdown: shutdown.clone(),
        status: StatusLedger::new(args.status_refresh),
    });

    if !args.leader_elect {
        health.leader();
        run_controllers(&ctx, &scopes).await;
        return Ok(());
    }

    let config = LeaseConfig {
        name: args.lease_name.clone(),
        namespace: args
            .lease_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned()),
        identity: args
            .lease_identity
            .clone()
            .unwrap_or_else(leader::default_identity),
        lease_duration: args.lease_duration,
        renew_deadline: args.lease_renew_deadline,
        retry_period: args.lease_retry_period,
    };
    config.validate()?;
    tracing::info!(lease = %config.name, namespace = %config.namespace, identity = %config.identity, "waiting for the lease");
    let mut elector = Elector::new(client, config, metrics);
    let standby = health.clone();
    tokio::select! {
        () = elector.acquire(|holder| standby.standby(holder)) => {}
        () = shutdown.reached(baton_operator::shutdown::Stage::Graceful) => return Ok(()),
    }
    health.leader();
    let lost = tokio::select! {
        () = run_controllers(&ctx, &scopes) => None,
        lost = elector.hold() => Some(lost),
    };
    if let Some(lost) = lost {
        // Exit at once: another replica may already act on the same appliances.
        return Err(format!("{lost}; exiting so that only the new leader acts").into());
    }
    if let Err(e) = elector.release().await {
        tracing::warn!(error = %e, "failed to release the lease; a standby takes over when it expires");
    }
    Ok(())
}

/// Runs every controller for every watched namespace until they stop (graceful shutdown),
/// with the status watches that feed the domain metrics beside them.
async fn run_controllers(ctx: &Arc<Context>, scopes: &[Option<String>]) {
    let client = &ctx.client;
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    let mut watches = Vec::new();
    for scope in scopes {
        controllers.push(baton_operator::pair::run(ctx.clone(), api(client, scope)).boxed());
        controllers.push(baton_operator::atlas::run(ctx.clone(), api(client, scope)).boxed());
        watches.push(tokio::spawn(metrics::watch_statuses(
            ctx.metrics.clone(),
            api::<AppliancePair>(client, scope),
            scope.clone(),
        )));
        watches.push(tokio::spawn(metrics::watch_statuses(
            ctx.metrics.clone(),
            api::<AtlasCluster>(client, scope),
            scope.clone(),
        )));
    }
    futures::future::join_all(controllers).await;
    for w in watches {
        w.abort();
    }
}

fn api<K>(client: &kube::Client, scope: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}
