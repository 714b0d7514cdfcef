//! A trial's world, whichever kind it upgrades: the namespace, the fleet, the resource (read
//! as JSON, so one harness follows both kinds), the API proxy the operators talk through, and
//! the operators themselves.

use std::time::Duration;

use anyhow::{Context, Result};
use baton_sim::Fleet;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use super::plan::Subject;
use crate::apiproxy::ApiProxy;
use crate::cluster::Cluster;
use crate::namespace::TestNamespace;
use crate::operator::{Launch, Operator};
use crate::world::{AtlasWorld, PairWorld};

/// A running trial world.
pub struct Stage {
    pub cluster: Cluster,
    pub namespace: TestNamespace,
    pub fleet: Fleet,
    pub proxy: ApiProxy,
    pub api: Api<DynamicObject>,
    pub name: String,
    /// The resource's plural, for the proxy's matchers (`appliancepairs`).
    pub plural: &'static str,
    /// The operators running now, with the identity each has.
    pub operators: Vec<(String, Operator)>,
    pub replicas: u8,
    started: u32,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("namespace", &self.namespace.name)
            .field("operators", &self.operators.len())
            .finish_non_exhaustive()
    }
}

impl Stage {
    /// Sets up `subject` in a fresh namespace (the operators are not started yet).
    pub async fn start(subject: Subject, seed: u64, replicas: u8) -> Result<Self> {
        let prefix = format!("chaos-{}", seed % 100_000);
        let (cluster, client, namespace, fleet, name, kind, plural) = match subject {
            Subject::PairAsync | Subject::PairSync => {
                let sync = subject == Subject::PairSync;
                let w = PairWorld::start(
                    &prefix,
                    |f| {
                        if sync {
                            f.pairs[0].strategy = baton_sim::fleet::Strategy::Synchronous;
                        }
                    },
                    "24.3.2",
                    |s| {
                        if sync {
                            s["strategy"] = json!("Synchronous");
                        }
                    },
                )
                .await?;
                let (cluster, client, ns, fleet, name) =
                    (w.cluster, w.client, w.namespace, w.fleet, w.name);
                (
                    cluster,
                    client,
                    ns,
                    fleet,
                    name,
                    "AppliancePair",
                    "appliancepairs",
                )
            }
            Subject::Atlas => {
                let w = AtlasWorld::start(&prefix, true, |_| {}, |_| {}).await?;
                let (cluster, client, ns, fleet, name) =
                    (w.cluster, w.client, w.namespace, w.fleet, w.name);
                (
                    cluster,
                    client,
                    ns,
                    fleet,
                    name,
                    "AtlasCluster",
                    "atlasclusters",
                )
            }
        };
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("baton.dev", "v1alpha1", kind),
            plural,
        );
        let api = Api::namespaced_with(client, &namespace.name, &resource);
        let proxy = ApiProxy::start(&cluster).await?;
        Ok(Self {
            cluster,
            namespace,
            fleet,
            proxy,
            api,
            name,
            plural,
            operators: Vec::new(),
            replicas,
            started: 0,
        })
    }

    /// Starts one more operator, through the proxy; with leader election when the trial runs
    /// two replicas.
    pub fn launch(&mut self) -> Result<()> {
        self.started += 1;
        let identity = format!("op-{}", self.started);
        let ns = self.namespace.name.clone();
        let mut launch = Launch {
            kubeconfig: Some(self.proxy.kubeconfig().to_path_buf()),
            ..Launch::default()
        };
        if self.replicas > 1 {
            launch.args = [
                "--leader-elect=true".to_owned(),
                format!("--lease-namespace={ns}"),
                "--lease-duration=3s".to_owned(),
                "--lease-renew-deadline=2s".to_owned(),
                "--lease-retry-period=500ms".to_owned(),
            ]
            .into();
            launch.env = vec![("POD_NAME".to_owned(), identity.clone())];
        }
        let operator = Operator::launch(&self.cluster, &ns, &identity, launch)?;
        self.operators.push((identity, operator));
        Ok(())
    }

    /// SIGKILLs the operator with `identity` (the only one when `None`).
    pub async fn kill(&mut self, identity: Option<&str>) -> Result<()> {
        let at = match identity {
            Some(id) => self.operators.iter().position(|(i, _)| i == id),
            None => (!self.operators.is_empty()).then_some(0),
        };
        if let Some(at) = at {
            let (_, operator) = self.operators.remove(at);
            operator.kill().await?;
        }
        Ok(())
    }

    /// The identity holding the Lease.
    pub async fn leader(&self) -> Option<String> {
        let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
            Api::namespaced(self.api.clone().into_client(), &self.namespace.name);
        leases
            .get_opt("baton-operator")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
    }

    /// The resource as JSON.
    pub async fn get(&self) -> Result<Value> {
        let object = self.api.get(&self.name).await?;
        Ok(serde_json::to_value(object)?)
    }

    /// Waits until `check` holds on the resource's JSON, or `deadline` passes.
    pub async fn until(&self, deadline: Duration, check: impl Fn(&Value) -> bool) -> Result<Value> {
        let found = crate::wait::until(
            &self.api,
            &self.name,
            deadline,
            move |o: Option<&DynamicObject>| {
                o.and_then(|o| serde_json::to_value(o).ok())
                    .is_some_and(|v| check(&v))
            },
        )
        .await?;
        let object = found.context("the resource disappeared")?;
        Ok(serde_json::to_value(object)?)
    }

    /// Approves `token` by annotation, as a person would.
    pub async fn approve(&self, token: &str) -> Result<()> {
        self.api
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({ "metadata": { "annotations": { "baton.dev/approve": token } } }),
                ),
            )
            .await?;
        Ok(())
    }

    /// Stops everything; the referee's report.
    pub async fn finish(mut self) -> Result<baton_sim::Report> {
        for (_, operator) in self.operators.drain(..) {
            operator.kill().await?;
        }
        self.proxy.stop().await;
        let report = self.fleet.shutdown().await;
        self.namespace.delete().await?;
        Ok(report)
    }
}

/// Condition `type_` of a resource's JSON is `status` for its current generation.
pub fn condition(object: &Value, type_: &str, status: &str) -> bool {
    object["status"]["observedGeneration"] == object["metadata"]["generation"]
        && object["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == type_ && c["status"] == status)
}

/// The message of condition `type_`.
pub fn condition_message(object: &Value, type_: &str) -> String {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}
