//! The AtlasCluster controller: region-aware drains and failover-based cluster upgrades
//! (procedures.md sections 4 and 5), on the same planner, driver, gates and resume logic as
//! the pair controller.

pub mod batch;
pub mod observe;
pub mod reconcile;
pub mod step;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::watcher;

use baton_crds::AtlasCluster;

use crate::context::Context;
use crate::pair::Error;
use crate::runtime;

/// The controller's name in metrics (`controller` label).
pub const CONTROLLER: &str = "atlascluster";

/// Runs the controller until the stream ends (graceful shutdown, see [`crate::shutdown`]).
pub async fn run(ctx: Arc<Context>, api: Api<AtlasCluster>) {
    let controller = Controller::new(api, watcher::Config::default().any_semantic())
        .graceful_shutdown_on(ctx.shutdown.graceful());
    // Registered before the first await, so /readyz knows every controller before any syncs.
    runtime::ready_when_synced(&ctx, "AtlasCluster", controller.store());
    ctx.metrics.register_controller(CONTROLLER, "AtlasCluster");
    controller
        .run(
            |cluster, ctx| runtime::reconcile(CONTROLLER, cluster, ctx, reconcile::reconcile),
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

fn error_policy(_cluster: Arc<AtlasCluster>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %error, category = error.category(), "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
