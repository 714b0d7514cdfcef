//! The AppliancePair controller: a thin adapter (how to observe a pair, which decision
//! applies) around the shared skeleton: observe -> decide -> act -> write status. Appliances send no watch events, so the controller requeues while an
//! upgrade runs and, rarely, while idle.

pub mod observe;
pub mod reconcile;

use std::sync::Arc;

use kube::api::Api;

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

    /// Whether the API server refused a write made on an older resourceVersion (409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube(kube::Error::Api(e)) if e.code == 409)
    }
}

/// The controller's name in metrics (`controller` label), as controller-runtime names them.
pub const CONTROLLER: &str = "appliancepair";

/// Runs the controller until the stream ends (graceful shutdown, see [`crate::shutdown`]).
pub async fn run(ctx: Arc<Context>, api: Api<AppliancePair>) {
    runtime::run(ctx, api, "AppliancePair", CONTROLLER, reconcile::reconcile).await;
}
