//! The chart rendered with its main value combinations: lint, a server-side dry run of every
//! object, the Deployment's pod admitted under the restricted Pod Security profile, what
//! each combination grants, and the install notes.

use anyhow::{Context, Result, bail};
use baton_e2e::cluster::{self, Cluster};
use baton_e2e::kubectl::{kubectl, kubectl_with_input};
use baton_e2e::namespace::TestNamespace;
use baton_e2e::{crds, helm};
use serde_json::json;

use super::find;

/// The ServiceMonitor kind, for clusters without the Prometheus Operator: enough for the API
/// server to accept (and validate the shape of) a dry-run ServiceMonitor.
async fn ensure_service_monitor_crd(cluster: &Cluster) -> Result<()> {
    let found = kubectl(
        cluster,
        &["get", "crd", "servicemonitors.monitoring.coreos.com"],
    )
    .await?;
    if found.success {
        return Ok(());
    }
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": { "name": "servicemonitors.monitoring.coreos.com" },
        "spec": {
            "group": "monitoring.coreos.com", "scope": "Namespaced",
            "names": { "kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor", "listKind": "ServiceMonitorList" },
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }],
        },
    });
    let out = kubectl_with_input(
        cluster,
        &["apply", "--server-side", "-f", "-"],
        crd.to_string(),
    )
    .await?;
    if !out.success && !out.stderr.contains("AlreadyExists") {
        bail!(
            "failed to create the ServiceMonitor CRD stand-in: {}",
            out.stderr
        );
    }
    let out = kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/servicemonitors.monitoring.coreos.com",
        ],
    )
    .await?;
    if !out.success {
        bail!(
            "the ServiceMonitor CRD stand-in is not Established: {}",
            out.stderr
        );
    }
    Ok(())
}

/// `kubectl label` a namespace with the restricted Pod Security profile, enforced.
async fn restrict(cluster: &Cluster, namespace: &str) -> Result<()> {
    let out = kubectl(
        cluster,
        &[
            "label",
            "namespace",
            namespace,
            "--overwrite",
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/warn=restricted",
        ],
    )
    .await?;
    if !out.success {
        bail!("failed to label {namespace}: {}", out.stderr);
    }
    Ok(())
}

#[tokio::test]
async fn chart_lints_and_every_value_combination_passes_a_server_side_dry_run() -> Result<()> {
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    ensure_service_monitor_crd(&cluster).await?;
    let operator_ns = TestNamespace::create(&client, "chart-system").await?;
    let watched_a = TestNamespace::create(&client, "chart-a").await?;
    let watched_b = TestNamespace::create(&client, "chart-b").await?;
    restrict(&cluster, &operator_ns.name).await?;
    let namespaces = format!("{{{},{}}}", watched_a.name, watched_b.name);

    let combos: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "defaults: cluster-wide, CRDs, two replicas, leader election",
            vec![],
        ),
        (
            "namespaced watch, Service swing, no backup Secrets, no CRDs",
            vec![
                ("watch.namespaces", namespaces.as_str()),
                ("rbac.serviceSwing", "true"),
                ("rbac.backupSecrets", "false"),
                ("crds.enabled", "false"),
            ],
        ),
        (
            "one replica without leader election, ServiceMonitor, tracing, timings, a backup volume",
            vec![
                ("replicas", "1"),
                ("leaderElection.enabled", "false"),
                ("metrics.serviceMonitor.enabled", "true"),
                ("metrics.serviceMonitor.labels.release", "prometheus"),
                (
                    "tracing.otlpEndpoint",
                    "http://otel-collector.observability:4318",
                ),
                ("timings.verifyTimeout", "45m"),
                ("timings.busyRequeue", "10s"),
                ("extraArgs[0]", "--clock-tolerance=3m"),
                ("extraVolumes[0].name", "backups"),
                ("extraVolumes[0].emptyDir.sizeLimit", "1Gi"),
                ("extraVolumeMounts[0].name", "backups"),
                ("extraVolumeMounts[0].mountPath", "/backups"),
                (
                    "image.digest",
                    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                ),
            ],
        ),
        (
            "an existing ServiceAccount, no RBAC, no metrics Service",
            vec![
                ("serviceAccount.create", "false"),
                ("serviceAccount.name", "platform-operators"),
                ("rbac.create", "false"),
                ("metrics.service.enabled", "false"),
            ],
        ),
    ];

    for (what, values) in &combos {
        let lint = helm::lint(values).await?;
        assert!(
            lint.success,
            "{what}: helm lint failed:\n{}{}",
            lint.stdout, lint.stderr
        );
        let rendered = helm::template("baton", &operator_ns.name, values)
            .await
            .context(*what)?;
        let docs = helm::documents(&rendered)?;
        let out = kubectl_with_input(
            &cluster,
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=chart-test",
                "--dry-run=server",
                "-f",
                "-",
            ],
            rendered.clone(),
        )
        .await?;
        assert!(
            out.success,
            "{what}: the API server refused the chart:\n{}",
            out.stderr
        );
        // The namespace enforces the restricted profile and warns for workloads.
        assert!(
            !out.stderr.contains("violate PodSecurity"),
            "{what}: {}",
            out.stderr
        );

        // The Deployment's pod, created (dry run) where the restricted profile is enforced.
        let deployment = find(&docs, "Deployment").context("no Deployment rendered")?;
        let template = &deployment["spec"]["template"];
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "baton-restricted-check", "namespace": operator_ns.name, "labels": template["metadata"]["labels"] },
            "spec": template["spec"],
        });
        let out = kubectl_with_input(
            &cluster,
            &["create", "--dry-run=server", "-f", "-"],
            pod.to_string(),
        )
        .await?;
        assert!(
            out.success,
            "{what}: the pod breaks the restricted profile:\n{}",
            out.stderr
        );

        let container = &template["spec"]["containers"][0];
        for probe in ["livenessProbe", "readinessProbe"] {
            assert!(
                container[probe]["httpGet"]["port"] == "admin",
                "{what}: {probe}: {container}"
            );
        }
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{what}: no limits"
        );

        let crd_count = docs
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
            .count();
        let crds_on = !values.contains(&("crds.enabled", "false"));
        assert_eq!(crd_count, if crds_on { 2 } else { 0 }, "{what}");
        for crd in docs
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
        {
            assert_eq!(
                crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
                "{what}"
            );
        }
    }

    // What each combination grants.
    let defaults = helm::documents(&helm::template("baton", &operator_ns.name, &[]).await?)?;
    let role = find(&defaults, "ClusterRole").context("cluster-wide: no ClusterRole")?;
    let rules = role["rules"].to_string();
    assert!(
        !rules.contains("endpointslices"),
        "the Service swing is off by default: {rules}"
    );
    assert!(
        rules.contains("\"create\",\"patch\""),
        "backup Secrets are on by default: {rules}"
    );
    let lease_role = defaults
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == operator_ns.name.as_str())
        .context("no leader-election Role in the release namespace")?;
    assert!(lease_role["rules"].to_string().contains("leases"));

    let namespaced = helm::documents(
        &helm::template(
            "baton",
            &operator_ns.name,
            &[
                ("watch.namespaces", &namespaces),
                ("rbac.serviceSwing", "true"),
            ],
        )
        .await?,
    )?;
    assert!(
        find(&namespaced, "ClusterRole").is_none(),
        "namespaced watch must not grant cluster-wide"
    );
    for ns in [&watched_a.name, &watched_b.name] {
        let role = namespaced
            .iter()
            .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == ns.as_str())
            .with_context(|| format!("no Role in {ns}"))?;
        assert!(role["rules"].to_string().contains("endpointslices"));
        assert!(
            !role["rules"].to_string().contains("leases"),
            "Leases only in the operator's namespace"
        );
    }
    let args = find(&namespaced, "Deployment").context("no Deployment")?["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(
        args.contains(&format!("--namespace={}", watched_a.name)),
        "{args}"
    );

    // NOTES.txt tells the user what to run next.
    let notes = helm::helm(&[
        "install".to_owned(),
        "baton".to_owned(),
        helm::chart().display().to_string(),
        // Without the CRDs: those in the cluster were not installed by a Helm release.
        "--set".to_owned(),
        "crds.enabled=false".to_owned(),
        "--dry-run=client".to_owned(),
        "--namespace".to_owned(),
        operator_ns.name.clone(),
        "--kubeconfig".to_owned(),
        cluster.kubeconfig.display().to_string(),
    ])
    .await?;
    assert!(
        notes.stdout.contains(&format!(
            "kubectl -n {} rollout status deployment/baton",
            operator_ns.name
        )),
        "{}{}",
        notes.stdout,
        notes.stderr
    );

    for ns in [operator_ns, watched_a, watched_b] {
        ns.delete().await?;
    }
    Ok(())
}
