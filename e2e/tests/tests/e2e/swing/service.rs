//! The `Service` swing provider: baton points an EndpointSlice of the named Service at the
//! new primary; the test plays the Service's data plane and moves the site where it points.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use baton_crds::conditions::{reasons, types};
use baton_crds::status::StepState;
use baton_e2e::referee::{assert_clean, assert_every_install_once};
use baton_e2e::world::{PairWorld, condition, condition_text};
use baton_sim::Fleet;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

use super::{
    SITE, TARGET_PORT, UPGRADE, assert_swung_before_installing, external_swing, first_install_on,
    member_routes, upgraded,
};

/// The Service a `Service` swing points at the primary.
const SERVICE: &str = "rs-site";

/// Where a slice sends clients: its single endpoint's address and port, `address:port`.
fn slice_target(slice: &EndpointSlice) -> Option<String> {
    let address = slice.endpoints.as_ref()?.first()?.addresses.first()?;
    let port = slice.ports.as_ref()?.first()?.port?;
    Some(format!("{address}:{port}"))
}

/// Plays the Service's data plane (kube-proxy, an ingress): watches the EndpointSlices of
/// the Service and sends the site's clients where they point, by moving the referee's site
/// target to that appliance. Runs until the watch gives up; returns why.
async fn route_service(
    client: kube::Client,
    namespace: &str,
    routes: &BTreeMap<String, String>,
    fleet: &Fleet,
) -> anyhow::Error {
    let api: Api<EndpointSlice> = Api::namespaced(client, namespace);
    let config =
        watcher::Config::default().labels(&format!("kubernetes.io/service-name={SERVICE}"));
    let mut slices = std::pin::pin!(watcher(api, config).default_backoff().applied_objects());
    while let Some(event) = slices.next().await {
        let slice = match event {
            Ok(slice) => slice,
            // The backoff retries; say so and keep following.
            Err(e) => {
                println!("EndpointSlice watch: {e}");
                continue;
            }
        };
        let Some(target) = slice_target(&slice) else {
            continue;
        };
        let Some(appliance) = routes.get(&target) else {
            return anyhow::anyhow!(
                "EndpointSlice {:?} points at {target}, no member of the pair ({routes:?})",
                slice.metadata.name
            );
        };
        if let Err(e) = fleet.set_site_target(SITE, appliance) {
            return anyhow::anyhow!("failed to move the site to {appliance}: {e}");
        }
        println!("Service {SERVICE} routes to {appliance} ({target})");
    }
    anyhow::anyhow!("the EndpointSlice watch ended")
}

/// The spec of an upgrade swinging through the Service [`SERVICE`], with the members'
/// client-facing addresses from TEST-NET-1: the simulator listens on loopback only, and the
/// API server refuses loopback addresses in an EndpointSlice.
fn service_swing(spec: &mut Value) {
    spec["trafficSwing"] = json!({ "provider": "Service", "service": { "name": SERVICE } });
    for (i, m) in spec["members"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .enumerate()
    {
        m["trafficAddress"] = json!(format!("192.0.2.{}", 10 + i));
    }
}

/// Creates [`SERVICE`] without a selector: its endpoints are whatever slices name it.
async fn create_service(world: &PairWorld) -> Result<Api<Service>> {
    let services: Api<Service> = Api::namespaced(world.client.clone(), &world.namespace.name);
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": SERVICE },
        "spec": { "ports": [{ "name": "web", "port": 443, "targetPort": TARGET_PORT, "protocol": "TCP" }] },
    }))?;
    services.create(&PostParams::default(), &service).await?;
    Ok(services)
}

#[tokio::test]
async fn pair_service_swing_points_the_endpointslice_at_the_new_primary() -> Result<()> {
    let world = PairWorld::start("swing-service", external_swing, "24.1.0", service_swing).await?;
    let services = create_service(&world).await?;
    let routes = member_routes(&world.api.get(&world.name).await?);

    let _operator = world.operator("operator")?;
    let router = route_service(
        world.client.clone(),
        &world.namespace.name,
        &routes,
        &world.fleet,
    );
    let pair = tokio::select! {
        pair = world.until(UPGRADE, upgraded) => pair?,
        stopped = router => return Err(stopped.context("routing the Service")),
    };
    let status = pair.status.clone().unwrap_or_default();
    // One asynchronous round: the upgraded backup serves.
    assert_eq!(status.primary.as_deref(), Some("rs-b"));

    // The slice baton owns points at the primary, for the Service's port.
    let slices: Api<EndpointSlice> = Api::namespaced(world.client.clone(), &world.namespace.name);
    let slice = slices.get(&format!("{SERVICE}-baton")).await?;
    let target = slice_target(&slice).unwrap_or_default();
    assert_eq!(
        routes.get(&target).map(String::as_str),
        Some("rs-b"),
        "{slice:?}"
    );
    let labels = slice.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("kubernetes.io/service-name").map(String::as_str),
        Some(SERVICE)
    );
    // kube-proxy pairs slice ports with Service ports by name.
    let service_ports: BTreeSet<Option<String>> = services
        .get(SERVICE)
        .await?
        .spec
        .and_then(|s| s.ports)
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let slice_ports: Vec<Option<String>> = slice
        .ports
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(
        slice_ports.iter().all(|p| service_ports.contains(p)),
        "slice ports {slice_ports:?}, Service ports {service_ports:?}"
    );

    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 4);
    assert_swung_before_installing(&report, "rs-b", "rs-a");
    println!(
        "pair Service swing: downtime_s={:.1} floor_s={:.1} (time scale {})",
        report.downtime_s, report.swap_floor_s, report.time_scale
    );
    Ok(())
}

#[tokio::test]
async fn pair_service_swing_the_api_server_refuses_stalls_before_the_old_primary() -> Result<()> {
    // A loopback traffic address is an IP address (the schema takes it), but the API server
    // refuses it in an EndpointSlice.
    let world = PairWorld::start("swing-refused", external_swing, "24.1.0", |s| {
        service_swing(s);
        for m in s["members"].as_array_mut().into_iter().flatten() {
            m["trafficAddress"] = json!("127.0.0.2");
        }
    })
    .await?;
    create_service(&world).await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::STALLED, "True"))
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::INVALID_SPEC, "{message}");
    assert!(
        message.contains(SERVICE) && message.contains("rs-b") && message.contains("127.0.0.2"),
        "{message}"
    );
    let failed: Vec<_> = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .map(|u| {
            u.plan
                .iter()
                .filter(|s| s.state == StepState::Failed)
                .map(|s| s.id.clone())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failed, ["1/swing-traffic/rs-b"]);

    // The site never moved, so the old primary, still serving, was not touched.
    let report = world.finish().await?;
    assert_clean(&report);
    assert_eq!(
        first_install_on(&report, "rs-a"),
        None,
        "{:#?}",
        report.installs
    );
    Ok(())
}
