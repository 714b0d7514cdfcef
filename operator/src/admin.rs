//! The admin server: `/healthz` (the process serves), `/readyz` (it does what it is there
//! for) and `/metrics` (Prometheus, OpenMetrics text). The chart's probes and ServiceMonitor
//! point here; it never serves anything about the appliances.
//!
//! Readiness:
//! - while the process has not yet learnt who leads: not ready;
//! - a standby (another replica holds the Lease): ready; it is healthy and can take over;
//! - the leader: ready once every controller's watch has listed its resources (the reflector
//!   store is ready), so a leader never reports ready while it would act on a partial view.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

const STARTING: u8 = 0;
const STANDBY: u8 = 1;
const LEADER: u8 = 2;

/// Readiness of the process, shared with the elector and the controllers.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<HealthInner>,
}

#[derive(Debug, Default)]
struct HealthInner {
    role: AtomicU8,
    leader: Mutex<Option<String>>,
    controllers: Mutex<Vec<(String, Arc<AtomicBool>)>>,
}

/// Set when one controller's watch has synced.
#[derive(Debug, Clone)]
pub struct Synced(Arc<AtomicBool>);

impl Synced {
    /// Marks the watch synced.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Health {
    /// Another replica leads (`holder`).
    pub fn standby(&self, holder: &str) {
        if let Ok(mut l) = self.inner.leader.lock() {
            *l = Some(holder.to_owned());
        }
        self.inner.role.store(STANDBY, Ordering::Release);
    }

    /// This process leads (or runs without leader election).
    pub fn leader(&self) {
        self.inner.role.store(LEADER, Ordering::Release);
    }

    /// Registers a controller watch that must sync before the leader is ready. Call before
    /// the controller's first await so that every controller is known before any is synced.
    pub fn register(&self, name: &str) -> Synced {
        let flag = Arc::new(AtomicBool::new(false));
        if let Ok(mut c) = self.inner.controllers.lock() {
            c.push((name.to_owned(), flag.clone()));
        }
        Synced(flag)
    }

    /// `Ok(what)` when ready, `Err(why not)` otherwise.
    pub fn readiness(&self) -> Result<String, String> {
        match self.inner.role.load(Ordering::Acquire) {
            STANDBY => {
                let leader = self
                    .inner
                    .leader
                    .lock()
                    .ok()
                    .and_then(|l| l.clone())
                    .unwrap_or_default();
                Ok(format!("standby; {leader} leads"))
            }
            LEADER => {
                let controllers = self
                    .inner
                    .controllers
                    .lock()
                    .map(|c| c.clone())
                    .unwrap_or_default();
                if controllers.is_empty() {
                    return Err("leading; no controller started yet".to_owned());
                }
                let waiting: Vec<&str> = controllers
                    .iter()
                    .filter(|(_, synced)| !synced.load(Ordering::Acquire))
                    .map(|(name, _)| name.as_str())
                    .collect();
                if waiting.is_empty() {
                    Ok("leading; every watch synced".to_owned())
                } else {
                    Err(format!(
                        "leading; waiting for watches: {}",
                        waiting.join(", ")
                    ))
                }
            }
            STARTING => Err("starting: the leader is not known yet".to_owned()),
            _ => Err("unknown state".to_owned()),
        }
    }
}

#[derive(Debug, Clone)]
struct AdminState {
    health: Health,
    metrics: Arc<Metrics>,
}

/// The admin routes.
pub fn router(health: Health, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AdminState { health, metrics })
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    match state.health.readiness() {
        Ok(what) => (StatusCode::OK, format!("ok: {what}\n")),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn metrics_text(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// Serves the admin routes on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_is_ready_only_once_every_registered_watch_synced() {
        let health = Health::default();
        assert!(health.readiness().is_err(), "starting");
        health.leader();
        assert!(health.readiness().is_err(), "no controller yet");
        let pairs = health.register("AppliancePair");
        let atlas = health.register("AtlasCluster");
        pairs.set();
        let why = health.readiness().err().unwrap_or_default();
        assert!(why.contains("AtlasCluster"), "{why}");
        atlas.set();
        assert!(health.readiness().is_ok());
    }

    #[test]
    fn a_standby_is_ready_and_names_the_leader() {
        let health = Health::default();
        health.standby("pod-a");
        assert_eq!(health.readiness(), Ok("standby; pod-a leads".to_owned()));
    }
}
