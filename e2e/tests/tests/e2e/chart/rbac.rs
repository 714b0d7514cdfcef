//! The operator run with exactly the chart's ServiceAccount permissions and arguments
//! through a full pair upgrade: what the account may and may not do, the Lease, Events and
//! exported traces.

use std::time::Duration;

use anyhow::{Context, Result};
use baton_crds::conditions::types;
use baton_e2e::cluster::Cluster;
use baton_e2e::kubectl::{kubectl, kubectl_with_input};
use baton_e2e::namespace::TestNamespace;
use baton_e2e::operator::{Launch, Operator};
use baton_e2e::referee::{assert_clean, assert_every_install_once};
use baton_e2e::world::{PairWorld, condition};
use baton_e2e::{admin, helm, identity, otlp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};

use super::find;

const UPGRADE: Duration = Duration::from_secs(240);

#[tokio::test]
async fn chart_rbac_is_enough_for_a_full_pair_upgrade_under_the_service_account() -> Result<()> {
    let world = PairWorld::start("chart-rbac", |_| {}, "24.1.0", |_| {}).await?;
    let operator_ns = TestNamespace::create(&world.client, "chart-operator").await?;
    // Traces on, to a collector stand-in: the chart's value reaches the binary's exporter.
    let collector = otlp::Collector::start().await?;
    let values = [
        ("watch.namespaces", format!("{{{}}}", world.namespace.name)),
        ("tracing.otlpEndpoint", collector.url.clone()),
        ("crds.enabled", "false".to_owned()),
        ("replicas", "1".to_owned()),
        ("image.tag", "e2e".to_owned()),
    ];
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rendered = helm::template("baton", &operator_ns.name, &values).await?;
    let docs = helm::documents(&rendered)?;
    // Everything the chart renders is created for real (the Deployment stays unscheduled: the
    // local control plane has no kubelet; the test runs the same binary itself).
    let out = kubectl_with_input(
        &world.cluster,
        &["apply", "--server-side", "--field-manager=helm", "-f", "-"],
        rendered,
    )
    .await?;
    assert!(out.success, "{}", out.stderr);
    let account = find(&docs, "ServiceAccount").context("no ServiceAccount")?["metadata"]["name"]
        .as_str()
        .context("ServiceAccount without a name")?
        .to_owned();

    // The account may do what the operator needs, and no more.
    let dir = tempfile::tempdir()?;
    let kubeconfig =
        identity::kubeconfig_for(&world.cluster, &operator_ns.name, &account, dir.path()).await?;
    let as_operator = Cluster {
        kubeconfig: kubeconfig.clone(),
        local: false,
    };
    let ns = world.namespace.name.as_str();
    let opns = operator_ns.name.as_str();
    for (verb, resource, namespace, allowed) in [
        ("watch", "appliancepairs.baton.dev", ns, true),
        ("patch", "appliancepairs.baton.dev/status", ns, true),
        ("patch", "atlasclusters.baton.dev/status", ns, true),
        ("patch", "appliancepairs.baton.dev", ns, false),
        ("get", "secrets", ns, true),
        ("list", "secrets", ns, false),
        ("create", "secrets", ns, true),
        ("delete", "secrets", ns, false),
        ("create", "events.events.k8s.io", ns, true),
        ("patch", "endpointslices.discovery.k8s.io", ns, false),
        ("get", "services", ns, false),
        ("get", "secrets", opns, false),
        ("create", "leases.coordination.k8s.io", opns, true),
        (
            "update",
            "leases.coordination.k8s.io/baton-operator",
            opns,
            true,
        ),
        ("update", "leases.coordination.k8s.io/other", opns, false),
        ("create", "leases.coordination.k8s.io", ns, false),
        ("get", "appliancepairs.baton.dev", "default", false),
    ] {
        let mut args = vec!["auth", "can-i", verb];
        let (resource, subresource) = match resource.split_once('/') {
            Some((r, _)) if r.contains("leases") => (resource, None),
            Some((r, s)) => (r, Some(s)),
            None => (resource, None),
        };
        args.push(resource);
        let flag;
        if let Some(s) = subresource {
            flag = format!("--subresource={s}");
            args.push(&flag);
        }
        args.extend(["-n", namespace]);
        let out = kubectl(&as_operator, &args).await?;
        assert_eq!(
            out.stdout.trim() == "yes",
            allowed,
            "can-i {args:?}: {}{}",
            out.stdout,
            out.stderr
        );
    }

    // The operator, with the chart's own arguments, under the account's token.
    let container = &find(&docs, "Deployment").context("no Deployment")?["spec"]["template"]["spec"]
        ["containers"][0];
    let mut args: Vec<String> = container["args"]
        .as_array()
        .context("no args")?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert!(args.contains(&"--leader-elect=true".to_owned()), "{args:?}");
    // Several tests run at once: the admin server stays on the harness's loopback port.
    args.retain(|a| !a.starts_with("--admin-addr="));
    let launch = Launch {
        kubeconfig: Some(kubeconfig),
        args,
        env: vec![
            ("POD_NAME".to_owned(), "baton-6d4f9-abcde".to_owned()),
            ("POD_NAMESPACE".to_owned(), operator_ns.name.clone()),
        ],
    };
    let operator = Operator::launch(&world.cluster, ns, "chart-sa", launch)?;
    admin::until(
        operator.admin,
        "/readyz",
        Duration::from_secs(60),
        |code, _| code == 200,
    )
    .await?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    assert_eq!(
        pair.status
            .as_ref()
            .and_then(|s| s.current_version.as_deref()),
        Some("24.1.0")
    );

    // The Lease is in the operator's namespace, held by the pod.
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), opns);
    let lease = leases.get("baton-operator").await?;
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("baton-6d4f9-abcde")
    );
    // Events were published, and nothing was refused along the way.
    let events: Api<Event> = Api::namespaced(world.client.clone(), ns);
    let published = events.list(&ListParams::default()).await?;
    assert!(
        published
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("StepSucceeded")),
        "no StepSucceeded event"
    );
    let log = operator.log_text();
    assert!(
        !log.contains("forbidden") && !log.contains("Forbidden"),
        "refused requests:\n{log}"
    );

    // The reconcile spans (with the upgrade id and step) and the appliance call spans below
    // them were exported (the batch exporter sends every few seconds).
    let exported = async {
        while ![
            "reconcile",
            "upgrade_id",
            "u-",
            "/install/",
            "start_install",
            "break_failover",
            "baton-operator",
        ]
        .iter()
        .all(|n| collector.received(n))
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), exported)
        .await
        .with_context(|| format!("spans missing from {} OTLP exports", collector.exports()))?;

    drop(operator);
    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 4);
    operator_ns.delete().await?;
    Ok(())
}
