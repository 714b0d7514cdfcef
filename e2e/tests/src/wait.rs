//! Awaiting a condition on a resource with a deadline, by watching it: no sleeps.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::Resource;
use kube::api::Api;
use kube::runtime::wait::{Condition, await_condition};
use serde::de::DeserializeOwned;

/// Waits until `condition` holds for the named object, or fails after `deadline`.
pub async fn until<K>(
    api: &Api<K>,
    name: &str,
    deadline: Duration,
    condition: impl Condition<K>,
) -> Result<Option<K>>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    tokio::time::timeout(deadline, await_condition(api.clone(), name, condition))
        .await
        .with_context(|| format!("{name}: condition not met within {deadline:?}"))?
        .context("watch failed")
}
