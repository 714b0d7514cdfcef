//! Failures reported on the resource: a failed base install stalls the upgrade until a
//! person approves each retry, and a missing Secret or an untrusted CA are named.

use std::time::Duration;

use anyhow::Result;
use baton_crds::conditions::{reasons, types};
use baton_e2e::world::{PairWorld, condition, condition_text};
use baton_sim::Fault;
use serde_json::json;

use super::{UPGRADE, assert_clean};

#[tokio::test]
async fn pair_base_install_failure_on_the_backup_stalls_and_installs_nothing_more() -> Result<()> {
    let world = PairWorld::start("pair-basefail", |_| {}, "24.3.2", |_| {}).await?;
    world.fleet.inject(Fault::FailNextInstall {
        appliance: "rs-b".into(),
        package_kind: Some(baton_sim::fleet::PackageKind::Base),
        message: Some("disk write error during base update".into()),
    })?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(UPGRADE, |p| condition(p, types::STALLED, "True"))
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::BASE_INSTALL_FAILED);
    assert!(
        message.contains("disk write error during base update"),
        "{message}"
    );
    assert!(
        message.contains("Do not restart the appliance"),
        "{message}"
    );
    assert!(!condition(&pair, types::READY, "True"));

    let report = world.finish().await?;
    assert_clean(&report);
    let started: Vec<_> = report
        .installs
        .iter()
        .filter(|i| i.starts > 0)
        .map(|i| (i.appliance.as_str(), i.package_id.as_str()))
        .collect();
    assert_eq!(
        started,
        [("rs-b", "base-5.1.0")],
        "installs after the failed base install"
    );
    Ok(())
}

#[tokio::test]
async fn pair_retry_after_a_failed_base_install_needs_one_approval_per_attempt() -> Result<()> {
    let world = PairWorld::start("pair-retry", |_| {}, "24.1.0", |_| {}).await?;
    let fail = || Fault::FailNextInstall {
        appliance: "rs-b".into(),
        package_kind: Some(baton_sim::fleet::PackageKind::Base),
        message: Some("disk write error".into()),
    };
    world.fleet.inject(fail())?;
    let _operator = world.operator("operator")?;
    let stalled = |token: &'static str| {
        move |p: &baton_crds::AppliancePair| {
            condition(p, types::STALLED, "True")
                && condition_text(p, types::STALLED).is_some_and(|(_, m)| m.contains(token))
        }
    };
    let pair = world.until(UPGRADE, stalled("-r1/Retry")).await?;
    let id = pair
        .status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .map(|u| u.id.clone())
        .unwrap_or_default();

    // A person fixes the appliance (the simulator's fault cleared), the next attempt will fail
    // again, and the person approves one retry.
    world.fleet.clear_faults("rs-b")?;
    world.fleet.inject(fail())?;
    world
        .patch_spec(json!({ "approval": { "approved": [format!("{id}-r1/Retry")] } }))
        .await?;
    // The retried install ran and failed: stalled again, asking for the second retry. The
    // first approval, still in spec, does not open it (R6: a person decides each time).
    world.until(UPGRADE, stalled("-r2/Retry")).await?;
    assert_eq!(
        world
            .fleet
            .report()
            .install("rs-b", "base-5.1.0")
            .map(|i| i.starts),
        Some(2),
        "the retry did not start a new install"
    );

    world.fleet.clear_faults("rs-b")?;
    world.patch_spec(json!({ "approval": { "approved": [format!("{id}-r1/Retry"), format!("{id}-r2/Retry")] } })).await?;
    world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    let report = world.finish().await?;
    assert_clean(&report);
    assert_eq!(
        report.install("rs-b", "base-5.1.0").map(|i| i.starts),
        Some(3)
    );
    Ok(())
}

#[tokio::test]
async fn pair_missing_secret_is_reported_on_the_resource() -> Result<()> {
    let world = PairWorld::start(
        "pair-nosecret",
        |_| {},
        "24.1.0",
        |s| s["members"][1]["credentialsSecretRef"]["name"] = json!("does-not-exist"),
    )
    .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(Duration::from_secs(60), |p| {
            condition(p, types::STALLED, "True")
        })
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::SECRET_NOT_FOUND);
    assert!(
        message.contains("does-not-exist") && message.contains("not found"),
        "{message}"
    );
    world.finish().await?;
    Ok(())
}

#[tokio::test]
async fn pair_wrong_ca_is_reported_on_the_resource() -> Result<()> {
    let world = PairWorld::start(
        "pair-wrongca",
        |_| {},
        "24.1.0",
        |s| s["members"][0]["caSecretRef"] = json!({ "name": "other-ca" }),
    )
    .await?;
    // A valid CA that did not sign the fleet's certificates.
    let other = baton_sim::start(baton_sim::FleetSpec::from_yaml(
        "appliances: [{ name: x, product: rs, version: 1.0.0, base_version: 1.0.0 }]",
    )?)
    .await?;
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "other-ca" }, "stringData": { "ca.crt": other.connection().ca_pem } });
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(world.client.clone(), &world.namespace.name);
    secrets
        .create(&Default::default(), &serde_json::from_value(secret)?)
        .await?;
    let _operator = world.operator("operator")?;
    let pair = world
        .until(Duration::from_secs(60), |p| {
            condition(p, types::STALLED, "True")
        })
        .await?;
    let (reason, message) = condition_text(&pair, types::STALLED).unwrap_or_default();
    assert_eq!(reason, reasons::UNTRUSTED_CERTIFICATE, "{message}");
    assert!(message.contains("caSecretRef"), "{message}");
    other.shutdown().await;
    world.finish().await?;
    Ok(())
}
