//! Traffic swings other than the shared IP, end to end: the `Service` provider (baton points
//! an EndpointSlice at the new primary) and the `Manual` one (a person moves DNS and says so).
//! The fleet's pair swings `external`: the referee sees the site move only when the test,
//! playing the Service's data plane or the person, reports it with `set_site_target`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;
use baton_crds::AppliancePair;
use baton_crds::conditions::{reasons, types};
use baton_crds::status::StepState;
use baton_e2e::referee::{assert_clean, assert_every_install_once};
use baton_e2e::world::{PairWorld, condition, condition_text};
use baton_sim::{Fleet, FleetSpec, Report, Swing};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

const UPGRADE: Duration = Duration::from_secs(240);
/// The fleet's pair (the referee's group).
const SITE: &str = "site";
/// The Service a `Service` swing points at the primary.
const SERVICE: &str = "rs-site";
/// How a person approves without touching the spec.
const APPROVE_ANNOTATION: &str = "baton.dev/approve";

/// The pair swings outside the appliances (DNS, NAT, a Service): no shared IP moves.
fn external_swing(fleet: &mut FleetSpec) {
    fleet.pairs[0].swing = Some(Swing::External);
}

/// The port the test Service sends clients to on the primary (its `targetPort`).
const TARGET_PORT: i32 = 8443;

/// Where a slice sends clients: its single endpoint's address and port, `address:port`.
fn slice_target(slice: &EndpointSlice) -> Option<String> {
    let address = slice.endpoints.as_ref()?.first()?.addresses.first()?;
    let port = slice.ports.as_ref()?.first()?.port?;
    Some(format!("{address}:{port}"))
}

/// The members' traffic addresses (`address:port`, as a slice routes) with their names.
fn member_routes(pair: &AppliancePair) -> BTreeMap<String, String> {
    pair.spec
        .members
        .iter()
        .filter_map(|m| {
            Some((
                format!("{}:{TARGET_PORT}", m.traffic_address.as_ref()?),
                m.name.clone(),
            ))
        })
        .collect()
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

/// Ready on the upgrade's version.
fn upgraded(p: &AppliancePair) -> bool {
    condition(p, types::READY, "True")
        && p.status
            .as_ref()
            .is_some_and(|s| s.current_version.as_deref() == Some("24.1.0"))
}

/// When (simulated seconds) an install first started on `appliance`.
fn first_install_on(report: &Report, appliance: &str) -> Option<f64> {
    report
        .installs
        .iter()
        .filter(|i| i.appliance == appliance)
        .filter_map(|i| i.started_at_s)
        .reduce(f64::min)
}

/// The referee saw the site move to `to` by the external swing before anything was installed
/// on `from` (the old primary).
fn assert_swung_before_installing(report: &Report, to: &str, from: &str) {
    let swung = report
        .swaps
        .iter()
        .filter(|s| s.group == SITE && s.kind == "external" && s.appliance == to)
        .map(|s| s.finished_at_s)
        .reduce(f64::min);
    let installed = first_install_on(report, from);
    assert!(
        matches!((swung, installed), (Some(s), Some(i)) if s <= i),
        "the site moved to {to} at {swung:?}, {from} first installed at {installed:?}: {:#?}",
        report.swaps
    );
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

#[tokio::test]
async fn pair_manual_swing_waits_for_the_person_and_then_finishes() -> Result<()> {
    let world = PairWorld::start("swing-manual", external_swing, "24.1.0", |s| {
        s["trafficSwing"] = json!({ "provider": "Manual" });
    })
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::AWAITING_APPROVAL, "True"))
        .await?;
    let upgrade = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.clone())
        .unwrap_or_default();
    let approval = format!("{}/TrafficSwing", upgrade.id);
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    let rs_b = member_routes(&pair)
        .into_iter()
        .find(|(_, name)| name == "rs-b")
        .map(|(endpoint, _)| endpoint)
        .unwrap_or_default();
    assert!(message.contains(&approval), "{message}");
    assert!(
        message.contains("rs-b") && message.contains(&rs_b),
        "{message}"
    );
    let waiting: Vec<_> = upgrade
        .plan
        .iter()
        .filter(|s| s.state == StepState::Running)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(waiting, ["1/swing-traffic/rs-b"]);

    // It keeps waiting: a few gated requeues later nothing has moved on.
    let moved_on = world
        .until(Duration::from_secs(3), |p| {
            !condition(p, types::AWAITING_APPROVAL, "True")
        })
        .await;
    assert!(
        moved_on.is_err(),
        "went on without the person: {moved_on:?}"
    );
    // The backup is upgraded; the old primary, still serving, was not touched.
    let report = world.fleet.report();
    assert_eq!(
        first_install_on(&report, "rs-a"),
        None,
        "{:#?}",
        report.installs
    );
    let on_b: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.appliance == "rs-b")
        .map(|i| (i.package_id.as_str(), i.starts))
        .collect();
    assert_eq!(
        on_b,
        [("base-5.1.0", 1), ("product-24.1.0", 1)],
        "{:#?}",
        report.installs
    );

    // The person moves DNS, then says so.
    world.fleet.set_site_target(SITE, "rs-b")?;
    world.annotate(APPROVE_ANNOTATION, &approval).await?;
    let pair = world.until(UPGRADE, upgraded).await?;
    assert_eq!(
        pair.status.as_ref().and_then(|s| s.primary.as_deref()),
        Some("rs-b")
    );

    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 4);
    assert_swung_before_installing(&report, "rs-b", "rs-a");
    println!(
        "pair Manual swing: downtime_s={:.1} floor_s={:.1} (time scale {})",
        report.downtime_s, report.swap_floor_s, report.time_scale
    );
    Ok(())
}

/// The upgrade waits at the swing of `round` for the person, with the site still elsewhere.
fn awaiting_swing(p: &AppliancePair, round: i32) -> bool {
    condition(p, types::AWAITING_APPROVAL, "True")
        && p.status
            .as_ref()
            .and_then(|s| s.upgrade.as_ref())
            .and_then(|u| u.current_step.as_deref())
            .is_some_and(|c| c.starts_with(&format!("{round}/swing-traffic/")))
}

#[tokio::test]
async fn pair_manual_swing_asks_the_person_again_in_every_round() -> Result<()> {
    // Two rounds (24.1.0, then 24.3.2): the site goes to rs-b, then back to rs-a.
    let world = PairWorld::start("swing-manual2", external_swing, "24.3.2", |s| {
        s["trafficSwing"] = json!({ "provider": "Manual" });
    })
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world.until(UPGRADE, |p| awaiting_swing(p, 1)).await?;
    let id = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let first = format!("{id}/TrafficSwing");
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    assert!(message.contains(&first), "{message}");
    world.fleet.set_site_target(SITE, "rs-b")?;
    world.annotate(APPROVE_ANNOTATION, &first).await?;

    // Round 2 swings back to rs-a: the first confirmation does not stand for it.
    let pair = world.until(UPGRADE, |p| awaiting_swing(p, 2)).await?;
    let second = format!("{id}-round2/TrafficSwing");
    let (_, message) = condition_text(&pair, types::AWAITING_APPROVAL).unwrap_or_default();
    assert!(
        message.contains(&second) && message.contains("rs-a"),
        "{message}"
    );
    // rs-b serves the site again and was not touched in round 2.
    let report = world.fleet.report();
    let round_2_on_b: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.appliance == "rs-b" && i.starts > 0)
        .filter(|i| ["base-5.2.0", "product-24.3.2"].contains(&i.package_id.as_str()))
        .map(|i| i.package_id.clone())
        .collect();
    assert!(round_2_on_b.is_empty(), "{round_2_on_b:?}");

    world.fleet.set_site_target(SITE, "rs-a")?;
    world
        .annotate(APPROVE_ANNOTATION, &format!("{first},{second}"))
        .await?;
    let pair = world
        .until(UPGRADE, |p| {
            condition(p, types::READY, "True")
                && p.status
                    .as_ref()
                    .is_some_and(|s| s.current_version.as_deref() == Some("24.3.2"))
        })
        .await?;
    assert_eq!(
        pair.status.as_ref().and_then(|s| s.primary.as_deref()),
        Some("rs-a")
    );
    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 8);
    println!(
        "pair Manual swing, two rounds: downtime_s={:.1} floor_s={:.1} (time scale {})",
        report.downtime_s, report.swap_floor_s, report.time_scale
    );
    Ok(())
}
