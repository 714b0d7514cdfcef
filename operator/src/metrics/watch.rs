//! The domain metrics' input: the part of a status they read ([`StatusView`]), the kinds
//! that have one ([`Observed`]), and the watch that feeds every status change into
//! [`Metrics`].

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use baton_crds::conditions::types;
use baton_crds::status::{LastUpgrade, Phase, UpgradeStatus};
use baton_crds::{AppliancePair, AtlasCluster};

use super::Metrics;

/// The part of a status the domain metrics read.
#[derive(Debug, Clone, Copy)]
pub struct StatusView<'a> {
    pub phase: Phase,
    pub stalled: bool,
    pub upgrade: Option<&'a UpgradeStatus>,
    pub last_upgrade: Option<&'a LastUpgrade>,
}

/// A kind whose status the domain metrics read.
pub trait Observed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    /// The kind, as in `kind` labels.
    const KIND: &'static str;
    /// The status as the metrics see it.
    fn view(&self) -> StatusView<'_>;
}

fn stalled(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == types::STALLED && c.status == "True")
}

impl Observed for AppliancePair {
    const KIND: &'static str = "AppliancePair";
    fn view(&self) -> StatusView<'_> {
        match &self.status {
            Some(s) => StatusView {
                phase: s.phase,
                stalled: stalled(&s.conditions),
                upgrade: s.upgrade.as_ref(),
                last_upgrade: s.last_upgrade.as_ref(),
            },
            None => StatusView::pending(),
        }
    }
}

impl Observed for AtlasCluster {
    const KIND: &'static str = "AtlasCluster";
    fn view(&self) -> StatusView<'_> {
        match &self.status {
            Some(s) => StatusView {
                phase: s.phase,
                stalled: stalled(&s.conditions),
                upgrade: s.upgrade.as_ref(),
                last_upgrade: s.last_upgrade.as_ref(),
            },
            None => StatusView::pending(),
        }
    }
}

impl StatusView<'_> {
    fn pending() -> Self {
        Self {
            phase: Phase::Pending,
            stalled: false,
            upgrade: None,
            last_upgrade: None,
        }
    }
}

/// Feeds every status change of `K` in `api`'s scope into the domain metrics until the
/// watch ends (it retries with backoff, so: until the task is dropped).
pub async fn watch_statuses<K: Observed>(
    metrics: Arc<Metrics>,
    api: Api<K>,
    namespace: Option<String>,
) {
    let mut relisted: Option<HashSet<(String, String)>> = None;
    let events = watcher(api, watcher::Config::default().any_semantic()).default_backoff();
    futures::pin_mut!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => relisted = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object)) => {
                let (ns, name) = (object.namespace().unwrap_or_default(), object.name_any());
                metrics.observe(K::KIND, &ns, &name, &object.view());
                if let Some(seen) = relisted.as_mut() {
                    seen.insert((ns, name));
                }
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(seen) = relisted.take() {
                    metrics.retain(K::KIND, namespace.as_deref(), &seen);
                }
            }
            Ok(watcher::Event::Delete(object)) => {
                metrics.forget(
                    K::KIND,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                );
            }
            Err(e) => {
                tracing::debug!(kind = K::KIND, error = %e, "status watch for metrics failed; retrying")
            }
        }
    }
}
