//! The AtlasCluster controller: region-aware drains and failover-based cluster upgrades
//! (procedures.md sections 4 and 5), on the same planner, driver, gates and resume logic as
//! the pair controller.

pub mod ahead;
pub mod batch;
pub mod observe;
pub mod reconcile;
pub mod step;

use std::sync::Arc;

use kube::api::Api;

use baton_crds::AtlasCluster;

use crate::context::Context;
use crate::runtime;

/// The controller's name in metrics (`controller` label).
pub const CONTROLLER: &str = "atlascluster";

/// Runs the controller until the stream ends (graceful shutdown, see [`crate::shutdown`]).
pub async fn run(ctx: Arc<Context>, api: Api<AtlasCluster>) {
    runtime::run(ctx, api, "AtlasCluster", CONTROLLER, reconcile::reconcile).await;
}
