//! Logs and traces. Logs go to stderr as text or JSON. Traces go to an OpenTelemetry collector
//! over OTLP (HTTP/protobuf) only when an endpoint is configured (`--otlp-endpoint` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, a base URL such as `http://otel-collector:4318`;
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` names the full URL instead).
//!
//! Spans: the controller runtime opens `reconciling object` per reconcile; inside it
//! [`crate::runtime`] opens `reconcile` with the resource, its upgrade id and current step;
//! every appliance call is an `#[instrument]`ed span below that (endpoint and operation, never
//! credentials). [`step_span`] is the span a step driver wraps one step's appliance calls in.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The service name traces carry.
pub const SERVICE_NAME: &str = "baton-operator";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OTLP exporter could not be built (a malformed endpoint, most often).
    #[error("failed to build the OTLP exporter")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber was already installed.
    #[error("failed to install the log subscriber")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the trace pipeline alive; [`Telemetry::shutdown`] flushes it.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// The traces endpoint for a configured base URL: OTLP/HTTP posts traces to `/v1/traces`.
pub fn traces_endpoint(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// A tracer provider exporting to `endpoint` (a full traces URL), or to the URL the standard
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` variable names when `None`. The rustls crypto
/// provider must be installed first: the exporter's HTTP client uses the process default.
pub fn tracer_provider(endpoint: Option<&str>) -> Result<SdkTracerProvider, Error> {
    let builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    let builder = match endpoint {
        Some(url) => builder.with_endpoint(url),
        None => builder,
    };
    let exporter = builder.build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
        .build())
}

/// The OpenTelemetry layer for a provider.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer(SERVICE_NAME))
}

/// Installs the global subscriber: `RUST_LOG` filtering (default `info`), logs in `format`,
/// and traces when `otlp_base` is set or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is.
pub fn init(format: LogFormat, otlp_base: Option<&str>) -> Result<Telemetry, Error> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let signal_env = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let provider = match (otlp_base.filter(|b| !b.is_empty()), signal_env) {
        (Some(base), _) => Some(tracer_provider(Some(&traces_endpoint(base)))?),
        (None, Some(_)) => Some(tracer_provider(None)?),
        (None, None) => None,
    };
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The filter applies to logs only: traces keep the spans `RUST_LOG` would hide.
    let traces = provider.as_ref().map(otel_layer::<Registry>);
    tracing_subscriber::registry()
        .with(traces)
        .with(logs.with_filter(filter))
        .try_init()?;
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn tracing(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered. Blocking: the exporter runs on its own thread.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "failed to flush the last traces");
            }
        }
    }
}

/// The span one upgrade step's appliance calls run in: the appliance call spans below it
/// then belong to that upgrade and step in every trace view.
pub fn step_span(kind: &str, upgrade_id: &str, step: &str, action: &str) -> tracing::Span {
    tracing::info_span!("step", kind, upgrade_id, step, action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::Mutex;
    use tracing::Instrument;
    use tracing::instrument::WithSubscriber;

    #[test]
    fn a_base_url_gets_the_traces_path_once() {
        assert_eq!(
            traces_endpoint("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://collector:4318/v1/traces"),
            "http://collector:4318/v1/traces"
        );
    }

    /// A collector stand-in: records the body of every OTLP/HTTP trace export.
    async fn collector() -> anyhow::Result<(String, Arc<Mutex<Vec<Vec<u8>>>>)> {
        let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let seen = bodies.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    seen.lock().await.push(body.to_vec());
                    ""
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((url, bodies))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reconcile_and_step_spans_reach_an_otlp_collector() -> anyhow::Result<()> {
        // As in main: the exporter's HTTP client needs the process's crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (url, bodies) = collector().await?;
        let provider = tracer_provider(Some(&traces_endpoint(&url)))?;
        let subscriber = tracing_subscriber::registry().with(otel_layer(&provider));
        let dispatch = tracing::Dispatch::new(subscriber);
        async {
            let reconcile = tracing::info_span!(
                "reconcile",
                kind = "AppliancePair",
                namespace = "support",
                name = "site",
                upgrade_id = "u-1a2b3c",
                step = "1/install/rs-b"
            );
            async {
                step_span("AppliancePair", "u-1a2b3c", "1/install/rs-b", "Install").in_scope(
                    || tracing::info_span!("start_install", op = "start_install").in_scope(|| ()),
                );
            }
            .instrument(reconcile)
            .await;
        }
        .with_subscriber(dispatch)
        .await;
        tokio::task::spawn_blocking(move || provider.shutdown()).await??;
        let bodies = bodies.lock().await;
        let all: Vec<u8> = bodies.iter().flatten().copied().collect();
        // Protobuf carries strings as plain UTF-8: the names and values are in the body.
        for needle in [
            "reconcile",
            "start_install",
            "upgrade_id",
            "u-1a2b3c",
            "1/install/rs-b",
            SERVICE_NAME,
        ] {
            assert!(
                all.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} not exported ({} requests)",
                bodies.len()
            );
        }
        Ok(())
    }
}
