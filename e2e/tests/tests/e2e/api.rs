//! The API as a real API server serves it: CRDs install and are Established, bad manifests
//! are refused with the intended messages, status is only written through `/status`, and
//! kubectl shows the printer columns and waits on `Ready`.

use anyhow::{Context, Result, bail};
use baton_crds::AppliancePair;
use baton_e2e::{cluster, crds, kubectl::kubectl, namespace::TestNamespace, repo_root};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// The cluster with the CRDs installed, a client and a fresh namespace.
async fn setup(prefix: &str) -> Result<(cluster::Cluster, kube::Client, TestNamespace)> {
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    let ns = TestNamespace::create(&client, prefix).await?;
    Ok((cluster, client, ns))
}

fn example(file: &str) -> Result<Value> {
    let path = repo_root().join("docs/examples").join(file);
    Ok(serde_saphyr::from_str(&std::fs::read_to_string(path)?)?)
}

fn dynamic_api(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(baton_crds::GROUP, baton_crds::VERSION, kind);
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

/// Creates the object and returns the API server's refusal, failing if it was accepted.
async fn refusal(client: &kube::Client, ns: &str, object: Value) -> Result<String> {
    let kind = object["kind"]
        .as_str()
        .context("object without kind")?
        .to_owned();
    let object: DynamicObject = serde_json::from_value(object)?;
    match dynamic_api(client, ns, &kind)
        .create(&PostParams::default(), &object)
        .await
    {
        Ok(_) => bail!("the API server accepted an invalid {kind}"),
        Err(kube::Error::Api(status)) => Ok(status.message),
        Err(other) => Err(other.into()),
    }
}

#[tokio::test]
async fn crds_install_and_are_established() -> Result<()> {
    let (cluster, _client, ns) = setup("crds").await?;
    // Installing twice is idempotent (server-side apply), as `make demo` relies on.
    crds::install(&cluster.client().await?).await?;
    let out = kubectl(
        &cluster,
        &["api-resources", "--api-group=baton.dev", "-o", "wide"],
    )
    .await?;
    assert!(out.success, "{}", out.stderr);
    for expected in [
        "appliancepairs",
        "apair",
        "atlasclusters",
        "atlas",
        "AppliancePair",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected} missing from:\n{}",
            out.stdout
        );
    }
    let out = kubectl(&cluster, &["get", "baton", "-n", &ns.name]).await?;
    assert!(
        out.success,
        "the `baton` category is not served: {}",
        out.stderr
    );
    ns.delete().await
}

#[tokio::test]
async fn the_examples_are_accepted() -> Result<()> {
    let (_cluster, client, ns) = setup("examples").await?;
    for (file, kind) in [
        ("appliancepair.yaml", "AppliancePair"),
        ("atlascluster.yaml", "AtlasCluster"),
    ] {
        let object: DynamicObject = serde_json::from_value(example(file)?)?;
        dynamic_api(&client, &ns.name, kind)
            .create(&PostParams::default(), &object)
            .await?;
    }
    // Defaults from the schema are applied by the API server.
    let pair: AppliancePair = Api::namespaced(client.clone(), &ns.name)
        .get("support-site")
        .await?;
    assert_eq!(pair.spec.approval.approved, Vec::<String>::new());
    assert!(!pair.spec.paused);
    ns.delete().await
}

#[tokio::test]
async fn bad_manifests_are_refused_with_the_intended_messages() -> Result<()> {
    let (_cluster, client, ns) = setup("refused").await?;
    let pair = example("appliancepair.yaml")?;
    let atlas = example("atlascluster.yaml")?;
    let cases: Vec<(Value, &str)> = vec![
        (
            edit(&pair, |o| {
                o["spec"]["members"].as_array_mut().map(|m| m.truncate(1))
            }),
            "a pair has exactly two members",
        ),
        (
            edit(&pair, |o| {
                o["spec"]["members"][1]["name"] = json!("rs-a");
                Some(())
            }),
            "the two members need distinct names",
        ),
        (
            edit(&pair, |o| {
                o["spec"]["members"][1]["endpoint"] = json!("https://rs-a.example.com");
                Some(())
            }),
            "the two members need distinct endpoints",
        ),
        (
            edit(&pair, |o| {
                o["spec"]["version"] = json!("24.3");
                Some(())
            }),
            "version must be a product version of three numbers",
        ),
        (
            edit(&pair, |o| {
                o["spec"]["members"][0]["endpoint"] = json!("http://rs-a.example.com");
                Some(())
            }),
            "endpoint must be an https:// URL",
        ),
        (
            edit(&pair, |o| {
                o["spec"]["members"][1]["trafficAddress"] = json!("rs-b.example.com");
                Some(())
            }),
            "trafficAddress must be an IP address",
        ),
        (
            edit(&pair, |o| {
                o["spec"]["soak"] = json!("one day");
                Some(())
            }),
            "soak must be a duration",
        ),
        (
            edit(&atlas, |o| {
                o["spec"]["trafficNodes"][0].as_object_mut().map(|n| {
                    n.remove("region");
                })
            }),
            "every traffic node needs a region",
        ),
        (
            edit(&atlas, |o| {
                o["spec"]["trafficNodes"][1]["name"] = json!("eu-1");
                Some(())
            }),
            "Duplicate value",
        ),
        (
            edit(&atlas, |o| {
                o["spec"]["drain"]["fraction"] = json!(0.75);
                Some(())
            }),
            "drain.fraction must be more than 0 and at most 0.5",
        ),
        (
            edit(&atlas, |o| {
                o["spec"]["drain"]["timeout"] = json!("later");
                Some(())
            }),
            "drain.timeout must be a duration",
        ),
    ];
    for (object, expected) in cases {
        let message = refusal(&client, &ns.name, object).await?;
        assert!(
            message.contains(expected),
            "expected {expected:?} in the refusal, got: {message}"
        );
    }
    ns.delete().await
}

fn edit(base: &Value, f: impl FnOnce(&mut Value) -> Option<()>) -> Value {
    let mut object = base.clone();
    let _ = f(&mut object);
    object
}

#[tokio::test]
async fn status_is_written_only_through_the_status_subresource() -> Result<()> {
    let (_cluster, client, ns) = setup("status").await?;
    let api: Api<AppliancePair> = Api::namespaced(client.clone(), &ns.name);
    let mut object = example("appliancepair.yaml")?;
    object["status"] = json!({"phase": "UpToDate"});
    let pair: AppliancePair = serde_json::from_value(object)?;
    let created = api.create(&PostParams::default(), &pair).await?;
    assert_eq!(created.status, None, "status set on create must be dropped");

    let main = json!({"apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePair", "status": {"phase": "Stalled"}});
    let patched = api
        .patch(
            "support-site",
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&main),
        )
        .await?;
    assert_eq!(
        patched.status, None,
        "status written through the main resource must be ignored"
    );

    let status = json!({"apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePair", "status": {"phase": "Upgrading", "primary": "rs-b"}});
    let patched = api
        .patch_status(
            "support-site",
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&status),
        )
        .await?;
    let status = patched
        .status
        .context("status subresource did not take the status")?;
    assert_eq!(status.primary.as_deref(), Some("rs-b"));
    // A status write does not bump the generation: observedGeneration stays comparable.
    assert_eq!(patched.metadata.generation, created.metadata.generation);
    ns.delete().await
}

/// Writes a finished-looking status, as the operator would at the end of an upgrade.
async fn mark_finished(api: &Api<AppliancePair>, name: &str, ready: &str) -> Result<()> {
    let generation = api.get(name).await?.metadata.generation;
    let status = json!({
        "apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePair",
        "status": {
            "observedGeneration": generation, "phase": "UpToDate", "currentVersion": "24.3.2",
            "targetVersion": "24.3.2", "primary": "rs-b",
            "upgrade": {"id": "u-1a2b3c", "fromVersion": "23.3.1", "toVersion": "24.3.2", "currentStep": "sync-failover", "plan": []},
            "conditions": [{"type": "Ready", "status": ready, "reason": "UpToDate", "message": "both members on 24.3.2",
                            "lastTransitionTime": "2026-11-24T00:00:00Z", "observedGeneration": generation}],
        }
    });
    api.patch_status(
        name,
        &PatchParams::apply("baton-operator").force(),
        &Patch::Apply(&status),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn kubectl_get_shows_the_printer_columns() -> Result<()> {
    let (cluster, client, ns) = setup("columns").await?;
    let api: Api<AppliancePair> = Api::namespaced(client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(example("appliancepair.yaml")?)?,
    )
    .await?;
    mark_finished(&api, "support-site", "True").await?;
    let out = kubectl(&cluster, &["get", "apair,atlas", "-n", &ns.name]).await?;
    assert!(out.success, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let header: Vec<&str> = lines
        .first()
        .context("no output")?
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "DESIRED", "CURRENT", "PHASE", "PRIMARY", "STEP", "AGE"
        ]
    );
    let row: Vec<&str> = lines.get(1).context("no row")?.split_whitespace().collect();
    assert_eq!(
        &row[..6],
        [
            "appliancepair.baton.dev/support-site",
            "24.3.2",
            "24.3.2",
            "UpToDate",
            "rs-b",
            "sync-failover"
        ]
    );
    ns.delete().await
}

#[tokio::test]
async fn kubectl_wait_for_ready_works_on_a_finished_resource() -> Result<()> {
    let (cluster, client, ns) = setup("wait").await?;
    let api: Api<AppliancePair> = Api::namespaced(client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(example("appliancepair.yaml")?)?,
    )
    .await?;

    // Not ready yet: kubectl wait must time out and say so.
    mark_finished(&api, "support-site", "False").await?;
    let out = kubectl(
        &cluster,
        &[
            "wait",
            "--for=condition=Ready",
            "apair/support-site",
            "-n",
            &ns.name,
            "--timeout=2s",
        ],
    )
    .await?;
    assert!(
        !out.success,
        "kubectl wait returned although Ready=False: {}",
        out.stdout
    );

    mark_finished(&api, "support-site", "True").await?;
    let out = kubectl(
        &cluster,
        &[
            "wait",
            "--for=condition=Ready",
            "apair/support-site",
            "-n",
            &ns.name,
            "--timeout=30s",
        ],
    )
    .await?;
    assert!(out.success, "kubectl wait failed: {}", out.stderr);
    assert!(out.stdout.contains("condition met"), "{}", out.stdout);
    ns.delete().await
}
