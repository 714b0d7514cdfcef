//! A test's world: the cluster with the CRDs, a namespace, a simulated fleet with its
//! Secrets, and the operator watching that namespace.

use std::time::Duration;

use anyhow::Result;
use baton_crds::AppliancePair;
use baton_sim::{Fleet, FleetSpec};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::Value;

use crate::cluster::{self, Cluster};
use crate::namespace::TestNamespace;
use crate::operator::Operator;
use crate::{crds, fleet, manifest, wait};

/// Everything one pair test needs.
pub struct PairWorld {
    pub cluster: Cluster,
    pub client: kube::Client,
    pub namespace: TestNamespace,
    pub fleet: Fleet,
    pub api: Api<AppliancePair>,
    pub name: String,
}

impl std::fmt::Debug for PairWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairWorld")
            .field("namespace", &self.namespace.name)
            .finish_non_exhaustive()
    }
}

impl PairWorld {
    /// Starts the `fleets/pair.yaml` fleet (edited), creates its Secrets, and applies a pair
    /// named `site` for rs-a and rs-b at `version` (spec edited). The operator is not started.
    pub async fn start(
        prefix: &str,
        fleet_edit: impl FnOnce(&mut FleetSpec),
        version: &str,
        spec_edit: impl FnOnce(&mut Value),
    ) -> Result<Self> {
        let cluster = cluster::shared().await?;
        let client = cluster.client().await?;
        crds::install(&client).await?;
        let namespace = TestNamespace::create(&client, prefix).await?;
        let yaml = std::fs::read_to_string(crate::repo_root().join("e2e/tests/fleets/pair.yaml"))?;
        let mut spec = FleetSpec::from_yaml(&yaml)?;
        fleet_edit(&mut spec);
        let fleet = baton_sim::start(spec).await?;
        fleet::create_secrets(&client, &namespace.name, fleet.connection()).await?;
        let api: Api<AppliancePair> = Api::namespaced(client.clone(), &namespace.name);
        let pair = manifest::pair(
            "site",
            fleet.connection(),
            ["rs-a", "rs-b"],
            version,
            spec_edit,
        )?;
        api.create(&PostParams::default(), &pair).await?;
        Ok(Self {
            cluster,
            client,
            namespace,
            fleet,
            api,
            name: "site".to_owned(),
        })
    }

    /// Starts an operator on this world's namespace.
    pub fn operator(&self, tag: &str) -> Result<Operator> {
        Operator::start(&self.cluster, &self.namespace.name, tag, &[])
    }

    /// Waits until `check` holds on the pair.
    pub async fn until(
        &self,
        deadline: Duration,
        check: impl Fn(&AppliancePair) -> bool,
    ) -> Result<AppliancePair> {
        let found = wait::until(
            &self.api,
            &self.name,
            deadline,
            move |p: Option<&AppliancePair>| p.is_some_and(&check),
        )
        .await;
        match found {
            Ok(Some(p)) => Ok(p),
            Ok(None) => anyhow::bail!("{} disappeared", self.name),
            Err(e) => {
                let now = self
                    .api
                    .get(&self.name)
                    .await
                    .ok()
                    .and_then(|p| p.status)
                    .map(|s| serde_json::to_string_pretty(&s).unwrap_or_default());
                anyhow::bail!("{e:#}\nlast status: {}", now.unwrap_or_default())
            }
        }
    }

    /// Merges `patch` into the pair's spec (as a person or a GitOps tool would).
    pub async fn patch_spec(&self, patch: Value) -> Result<()> {
        self.api
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "spec": patch })),
            )
            .await?;
        Ok(())
    }

    /// Sets one annotation on the pair (merge patch on metadata.annotations), as
    /// `kubectl annotate --overwrite` does: how a person approves without touching the spec.
    pub async fn annotate(&self, key: &str, value: &str) -> Result<()> {
        self.api
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "metadata": { "annotations": { key: value } } })),
            )
            .await?;
        Ok(())
    }

    /// Stops the fleet and returns the referee's final report; deletes the namespace.
    pub async fn finish(self) -> Result<baton_sim::Report> {
        let report = self.fleet.shutdown().await;
        self.namespace.delete().await?;
        Ok(report)
    }
}

/// Whether condition `type_` is `status` with the resource's current generation.
pub fn condition(pair: &AppliancePair, type_: &str, status: &str) -> bool {
    let Some(s) = &pair.status else { return false };
    s.observed_generation == pair.metadata.generation
        && s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status)
}

/// The condition's reason and message, if set.
pub fn condition_text(pair: &AppliancePair, type_: &str) -> Option<(String, String)> {
    pair.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.reason.clone(), c.message.clone()))
}

/// Everything one Atlas test needs.
pub struct AtlasWorld {
    pub cluster: Cluster,
    pub client: kube::Client,
    pub namespace: TestNamespace,
    pub fleet: Fleet,
    pub api: Api<baton_crds::AtlasCluster>,
    pub name: String,
}

impl std::fmt::Debug for AtlasWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlasWorld")
            .field("namespace", &self.namespace.name)
            .finish_non_exhaustive()
    }
}

/// The traffic nodes of `fleets/atlas.yaml` with their regions.
pub const ATLAS_NODES: &[(&str, &str)] = &[
    ("eu-1", "eu"),
    ("us-1", "us"),
    ("us-2", "us"),
    ("ap-1", "ap"),
    ("ap-2", "ap"),
    ("ap-3", "ap"),
    ("ap-4", "ap"),
    ("ap-5", "ap"),
];

impl AtlasWorld {
    /// Starts `fleets/atlas.yaml` (edited), its Secrets, and an AtlasCluster `atlas` for it.
    /// `backup_master: false` drops the backup master from both the fleet and the manifest.
    pub async fn start(
        prefix: &str,
        backup_master: bool,
        fleet_edit: impl FnOnce(&mut FleetSpec),
        spec_edit: impl FnOnce(&mut Value),
    ) -> Result<Self> {
        let cluster = cluster::shared().await?;
        let client = cluster.client().await?;
        crds::install(&client).await?;
        let namespace = TestNamespace::create(&client, prefix).await?;
        let yaml = std::fs::read_to_string(crate::repo_root().join("e2e/tests/fleets/atlas.yaml"))?;
        let mut spec = FleetSpec::from_yaml(&yaml)?;
        if !backup_master {
            spec.clusters[0].backup_master = None;
            spec.appliances.retain(|a| a.name != "master-b");
        }
        fleet_edit(&mut spec);
        let fleet = baton_sim::start(spec).await?;
        fleet::create_secrets(&client, &namespace.name, fleet.connection()).await?;
        let api: Api<baton_crds::AtlasCluster> = Api::namespaced(client.clone(), &namespace.name);
        let masters: &[&str] = if backup_master {
            &["master-a", "master-b"]
        } else {
            &["master-a"]
        };
        let object = manifest::atlas(
            "atlas",
            fleet.connection(),
            masters,
            ATLAS_NODES,
            "24.3.2",
            spec_edit,
        )?;
        api.create(&PostParams::default(), &object).await?;
        Ok(Self {
            cluster,
            client,
            namespace,
            fleet,
            api,
            name: "atlas".to_owned(),
        })
    }

    /// Starts an operator on this world's namespace.
    pub fn operator(&self, tag: &str) -> Result<Operator> {
        Operator::start(&self.cluster, &self.namespace.name, tag, &[])
    }

    /// Waits until `check` holds on the cluster resource.
    pub async fn until(
        &self,
        deadline: Duration,
        check: impl Fn(&baton_crds::AtlasCluster) -> bool,
    ) -> Result<baton_crds::AtlasCluster> {
        let found = wait::until(
            &self.api,
            &self.name,
            deadline,
            move |c: Option<&baton_crds::AtlasCluster>| c.is_some_and(&check),
        )
        .await;
        match found {
            Ok(Some(c)) => Ok(c),
            Ok(None) => anyhow::bail!("{} disappeared", self.name),
            Err(e) => {
                let now = self
                    .api
                    .get(&self.name)
                    .await
                    .ok()
                    .and_then(|c| c.status)
                    .map(|s| serde_json::to_string_pretty(&s).unwrap_or_default());
                anyhow::bail!("{e:#}\nlast status: {}", now.unwrap_or_default())
            }
        }
    }

    /// Stops the fleet, returns the referee's report, deletes the namespace.
    pub async fn finish(self) -> Result<baton_sim::Report> {
        let report = self.fleet.shutdown().await;
        self.namespace.delete().await?;
        Ok(report)
    }
}

/// Whether the Atlas condition `type_` is `status` for the current generation.
pub fn atlas_condition(c: &baton_crds::AtlasCluster, type_: &str, status: &str) -> bool {
    let Some(s) = &c.status else { return false };
    s.observed_generation == c.metadata.generation
        && s.conditions
            .iter()
            .any(|x| x.type_ == type_ && x.status == status)
}
