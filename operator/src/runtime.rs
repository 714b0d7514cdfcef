//! What every controller shares around its reconcile function: the `reconcile` span, the
//! controller-runtime metrics, readiness once the watch synced, and shutdown.
//!
//! A controller's `run` wires it like this (see `pair::run`):
//!
//! ```ignore
//! runtime::controller(&ctx, "AppliancePair", api) // before any await
//!     .run(|o, c| runtime::reconcile("appliancepair", o, c, reconcile::reconcile), ...)
//! ```

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector;
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::context::Context;
use crate::metrics::Observed;
use crate::shutdown::Stage;

/// A controller for `api`'s scope whose watch reports to `/readyz` (as `kind`) once it has
/// listed everything, and which stops on graceful shutdown. Call before the controller's
/// first await, so that `/readyz` knows every controller before any is synced.
///
/// The controller gets its own reflector (rather than `Controller::new`'s) so that readiness
/// comes from the watch stream itself: `Store::wait_until_ready` keeps a single waker, and a
/// second task waiting on it can leave the controller's own wait asleep for good.
pub fn controller<K>(ctx: &Context, kind: &str, api: Api<K>) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let synced = ctx.health.register(kind);
    let kind = kind.to_owned();
    let trigger = watcher(api, watcher::Config::default().any_semantic())
        .reflect(writer)
        .inspect(move |event| {
            // The reflector has applied the event: at InitDone the store holds the full list.
            if let Ok(watcher::Event::InitDone) = event {
                tracing::info!(kind = %kind, "watch synced; the controller starts reconciling");
                synced.set();
            }
        })
        .applied_objects();
    Controller::for_stream(trigger, reader).graceful_shutdown_on(ctx.shutdown.graceful())
}

/// The metric label of a reconcile's outcome, in controller-runtime's words.
pub fn result_label<E>(result: &Result<Action, E>) -> &'static str {
    match result {
        Err(_) => "error",
        Ok(action) if *action == Action::await_change() => "success",
        Ok(action) if *action == Action::requeue(std::time::Duration::ZERO) => "requeue",
        Ok(_) => "requeue_after",
    }
}

/// Runs `reconcile` for `object` in a `reconcile` span, records the controller metrics, and
/// drops the reconcile if shutdown abandons it (the next leader resumes from status, I8).
pub async fn reconcile<K, E, F, Fut>(
    controller: &'static str,
    object: Arc<K>,
    ctx: Arc<Context>,
    reconcile: F,
) -> Result<Action, E>
where
    K: Observed,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
{
    let view = object.view();
    let upgrade = view.upgrade;
    let span = tracing::info_span!(
        "reconcile",
        controller,
        kind = K::KIND,
        namespace = %object.namespace().unwrap_or_default(),
        name = %object.name_any(),
        upgrade_id = upgrade.map(|u| u.id.as_str()).unwrap_or_default(),
        step = upgrade
            .and_then(|u| u.current_step.as_deref())
            .unwrap_or_default(),
        result = tracing::field::Empty,
    );
    let started = Instant::now();
    let shutdown = ctx.shutdown.clone();
    let work = reconcile(object.clone(), ctx.clone()).instrument(span.clone());
    let result = tokio::select! {
        result = work => result,
        () = shutdown.reached(Stage::Abandon) => {
            span.in_scope(|| tracing::warn!("shutdown: abandoned the running reconcile; the next leader resumes it from status"));
            Ok(Action::await_change())
        }
    };
    let label = result_label(&result);
    span.record("result", label);
    ctx.metrics.reconciled(controller, label, started.elapsed());
    result
}

/// Runs a kind's controller until graceful shutdown: readiness, controller metrics and the
/// reconcile span come from here, the kind brings its reconcile function.
pub async fn run<K, F, Fut>(
    ctx: Arc<Context>,
    api: Api<K>,
    kind: &'static str,
    name: &'static str,
    reconcile_fn: F,
) where
    K: Observed
        + Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<Action, crate::pair::Error>> + Send + 'static,
{
    // Built before the first await, so /readyz knows every controller before any syncs.
    let controller = controller(&ctx, kind, api);
    ctx.metrics.register_controller(name, kind);
    controller
        .run(
            move |object, ctx| reconcile(name, object, ctx, reconcile_fn.clone()),
            |_object, error: &crate::pair::Error, _ctx| {
                // A conflict only means our read was older than the cluster: read again soon.
                if error.is_conflict() {
                    tracing::debug!(error = %error, "status write conflicted; reading again");
                    return Action::requeue(std::time::Duration::from_millis(200));
                }
                tracing::warn!(error = %error, category = error.category(), "reconcile failed; retrying");
                Action::requeue(std::time::Duration::from_secs(5))
            },
            ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn outcomes_use_controller_runtime_labels() {
        let ok = |a: Action| -> Result<Action, ()> { Ok(a) };
        assert_eq!(result_label(&ok(Action::await_change())), "success");
        assert_eq!(
            result_label(&ok(Action::requeue(Duration::ZERO))),
            "requeue"
        );
        assert_eq!(
            result_label(&ok(Action::requeue(Duration::from_secs(5)))),
            "requeue_after"
        );
        assert_eq!(result_label::<()>(&Err(())), "error");
    }
}
