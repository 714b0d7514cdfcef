//! The AppliancePair controller: observe both members -> decide the next step -> act ->
//! write status. Appliances send no watch events, so the controller requeues while an
//! upgrade runs and, rarely, while idle.

pub mod install;
pub mod observe;
pub mod preflight;
pub mod reconcile;
pub mod step;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use baton_crds::AppliancePair;

use crate::context::Context;
use crate::runtime;

/// Why a reconcile failed (appliance trouble is never an error: it is status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API failed (reading the pair, writing status).
    #[error("failed to talk to the Kubernetes API")]
    Kube(#[from] kube::Error),
}

impl Error {
    /// A bounded label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
        }
    }
}

/// The controller's name in metrics (`controller` label), as controller-runtime names them.
pub const CONTROLLER: &str = "appliancepair";

/// Runs the controller until the stream ends (graceful shutdown, see [`crate::shutdown`]).
pub async fn run(ctx: Arc<Context>, api: Api<AppliancePair>) {
    // Built before the first await, so /readyz knows every controller before any syncs.
    let controller = runtime::controller(&ctx, "AppliancePair", api);
    ctx.metrics.register_controller(CONTROLLER, "AppliancePair");
    controller
        .run(
            |pair, ctx| runtime::reconcile(CONTROLLER, pair, ctx, reconcile::reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
}

fn error_policy(_pair: Arc<AppliancePair>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %error, category = error.category(), "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
