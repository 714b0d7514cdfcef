//! The AtlasCluster controller: a thin adapter (how to observe a cluster and its batches,
//! which decision applies) around the skeleton the pair controller shares.

pub mod observe;
pub mod reconcile;
pub mod targets;

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
