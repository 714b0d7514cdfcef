//! Leader election end to end: two operator processes on one pair upgrade, the leader killed
//! or stopped in the middle, the standby taking over through the Lease and finishing, and the
//! referee's verdict; a leader whose Lease is taken exits non-zero. Also the admin server of
//! real processes: readiness of leader and standby, and the metrics after an upgrade.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_crds::AppliancePair;
use baton_crds::conditions::types;
use baton_crds::status::{StepProgress, StepState};
use baton_e2e::admin;
use baton_e2e::namespace::TestNamespace;
use baton_e2e::operator::{Launch, Operator};
use baton_e2e::referee::{assert_clean, assert_every_install_once};
use baton_e2e::world::{PairWorld, condition};
use baton_e2e::{cluster, crds, wait};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};

const UPGRADE: Duration = Duration::from_secs(240);
const LEASE: &str = "baton-operator";
/// Short timings so that a takeover takes seconds: a 3 s lease, renewed every 0.5 s, given
/// up after 2 s without a renewal.
const LEASE_SECONDS: u64 = 3;

fn leader_args(namespace: &str, identity: &str, extra: &[&str]) -> Launch {
    let mut args = vec![
        "--leader-elect=true".to_owned(),
        format!("--lease-namespace={namespace}"),
        format!("--lease-duration={LEASE_SECONDS}s"),
        "--lease-renew-deadline=2s".to_owned(),
        "--lease-retry-period=500ms".to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    Launch {
        args,
        env: vec![("POD_NAME".to_owned(), identity.to_owned())],
        ..Launch::default()
    }
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec?.holder_identity)
}

/// Waits until the Lease is held by `identity`.
async fn until_held_by(leases: &Api<Lease>, identity: &str, deadline: Duration) -> Result<()> {
    let want = identity.to_owned();
    wait::until(leases, LEASE, deadline, move |l: Option<&Lease>| {
        l.and_then(|l| l.spec.as_ref()?.holder_identity.as_deref()) == Some(want.as_str())
    })
    .await
    .with_context(|| format!("the lease never went to {identity}"))?;
    Ok(())
}

/// An install the appliance accepted and that has not finished: the middle of the upgrade.
fn mid_install(pair: &AppliancePair) -> bool {
    pair.status
        .as_ref()
        .and_then(|s| s.upgrade.as_ref())
        .is_some_and(|u| {
            u.plan.iter().any(|s| {
                s.state == StepState::Running
                    && s.id.contains("/install/")
                    && matches!(s.progress, Some(StepProgress::InstallStarted { .. }))
            })
        })
}

/// Leader `a` (started first) and standby `b` on the world's namespace, both ready.
async fn pair_of_operators(world: &PairWorld, extra: &[&str]) -> Result<(Operator, Operator)> {
    let ns = world.namespace.name.clone();
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &ns);
    let a = Operator::launch(&world.cluster, &ns, "op-a", leader_args(&ns, "op-a", extra))?;
    until_held_by(&leases, "op-a", Duration::from_secs(30)).await?;
    let b = Operator::launch(&world.cluster, &ns, "op-b", leader_args(&ns, "op-b", extra))?;
    // Both ready: the leader once its watch synced, the standby as a standby.
    admin::until(a.admin, "/readyz", Duration::from_secs(30), |c, _| c == 200).await?;
    let standby =
        admin::until(b.admin, "/readyz", Duration::from_secs(30), |c, _| c == 200).await?;
    assert!(standby.contains("standby; op-a leads"), "{standby}");
    let metrics =
        admin::until(b.admin, "/metrics", Duration::from_secs(5), |c, _| c == 200).await?;
    assert_eq!(
        admin::sample(
            &metrics,
            "leader_election_master_status{name=\"baton-operator\"}"
        ),
        Some(0.0),
        "{metrics}"
    );
    Ok((a, b))
}

#[tokio::test]
async fn leader_killed_mid_upgrade_the_standby_takes_over_within_the_lease_and_repeats_nothing()
-> Result<()> {
    let world = PairWorld::start("leader-kill", |_| {}, "24.1.0", |_| {}).await?;
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.namespace.name);
    let (a, b) = pair_of_operators(&world, &[]).await?;

    world.until(UPGRADE, mid_install).await?;
    let killed = Instant::now();
    a.kill().await?;
    until_held_by(&leases, "op-b", Duration::from_secs(LEASE_SECONDS + 5)).await?;
    let takeover = killed.elapsed();
    // Expiry (3 s after the last renewal the standby saw) plus at most one retry period.
    assert!(
        takeover <= Duration::from_millis(LEASE_SECONDS * 1000 + 1500),
        "takeover took {takeover:?}"
    );
    println!(
        "leader killed (SIGKILL) mid-install: op-b took over in {takeover:?} (lease {LEASE_SECONDS}s)"
    );

    let pair = world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    assert_eq!(
        pair.status
            .as_ref()
            .and_then(|s| s.current_version.as_deref()),
        Some("24.1.0")
    );

    // The new leader's admin server: ready, leading, and the metrics dashboards know.
    let ready = admin::until(b.admin, "/readyz", Duration::from_secs(10), |c, _| c == 200).await?;
    assert!(ready.contains("leading"), "{ready}");
    let metrics = admin::until(b.admin, "/metrics", Duration::from_secs(30), |_, m| {
        admin::sample(
            m,
            "baton_resources{kind=\"AppliancePair\",phase=\"UpToDate\"}",
        ) == Some(1.0)
    })
    .await?;
    assert_eq!(
        admin::sample(
            &metrics,
            "leader_election_master_status{name=\"baton-operator\"}"
        ),
        Some(1.0)
    );
    for series in [
        "controller_runtime_reconcile_total{controller=\"appliancepair\",result=\"requeue_after\"}",
        "controller_runtime_reconcile_errors_total{controller=\"appliancepair\"}",
        "controller_runtime_reconcile_time_seconds_count{controller=\"appliancepair\"}",
        "baton_stalled_resources{kind=\"AppliancePair\"}",
        "baton_step_duration_seconds_count{kind=\"AppliancePair\",action=\"Install\"}",
        "baton_drain_wait_seconds_count",
    ] {
        assert!(
            admin::sample(&metrics, series).is_some(),
            "{series} missing:\n{metrics}"
        );
    }
    // Steps that finished under op-b are timed; op-a's are not counted again.
    assert!(
        admin::sample(
            &metrics,
            "baton_step_duration_seconds_count{kind=\"AppliancePair\",action=\"Install\"}"
        )
        .is_some_and(|n| (1.0..=4.0).contains(&n)),
        "{metrics}"
    );
    let downtime = format!(
        "baton_last_upgrade_downtime_seconds{{kind=\"AppliancePair\",namespace=\"{}\",name=\"site\"}}",
        world.namespace.name
    );
    if pair
        .status
        .as_ref()
        .and_then(|s| s.last_upgrade.as_ref())
        .and_then(|l| l.downtime_seconds)
        .is_some()
    {
        assert!(
            admin::sample(&metrics, &downtime).is_some(),
            "{downtime} missing:\n{metrics}"
        );
    }

    drop(b);
    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 4);
    Ok(())
}

#[tokio::test]
async fn leader_sigterm_mid_upgrade_exits_zero_and_hands_over_without_waiting_for_expiry()
-> Result<()> {
    let world = PairWorld::start("leader-term", |_| {}, "24.1.0", |_| {}).await?;
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), &world.namespace.name);
    // A long lease: only a release explains a quick handover.
    let (mut a, b) = pair_of_operators(
        &world,
        &[
            "--lease-duration=20s",
            "--lease-renew-deadline=10s",
            "--shutdown-grace=10s",
        ],
    )
    .await?;

    world.until(UPGRADE, mid_install).await?;
    let stopped = Instant::now();
    a.terminate()?;
    let status = a.wait(Duration::from_secs(20)).await?;
    assert!(
        status.success(),
        "SIGTERM must end the process cleanly: {status}\n{}",
        a.log_text()
    );
    assert!(
        a.log_text().contains("released the lease"),
        "{}",
        a.log_text()
    );
    until_held_by(&leases, "op-b", Duration::from_secs(5)).await?;
    let handover = stopped.elapsed();
    assert!(
        handover < Duration::from_secs(20),
        "handover took {handover:?}"
    );
    println!(
        "leader stopped (SIGTERM) mid-install: exited 0, op-b took over {handover:?} after the signal"
    );

    world
        .until(UPGRADE, |p| condition(p, types::READY, "True"))
        .await?;
    drop(b);
    let report = world.finish().await?;
    assert_clean(&report);
    assert_every_install_once(&report, 4);
    Ok(())
}

#[tokio::test]
async fn leader_that_loses_its_lease_exits_non_zero() -> Result<()> {
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    let namespace = TestNamespace::create(&client, "leader-lost").await?;
    let ns = namespace.name.clone();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let mut a = Operator::launch(&cluster, &ns, "op-a", leader_args(&ns, "op-a", &[]))?;
    until_held_by(&leases, "op-a", Duration::from_secs(30)).await?;

    // Someone else takes the Lease (as a partitioned leader would find on its return).
    let mut lease = leases.get(LEASE).await?;
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = Some("intruder".to_owned());
        spec.lease_duration_seconds = Some(60);
        spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            k8s_openapi::jiff::Timestamp::now(),
        ));
    }
    leases
        .replace(LEASE, &PostParams::default(), &lease)
        .await?;
    let taken = Instant::now();
    let status = a.wait(Duration::from_secs(10)).await?;
    assert!(
        !status.success(),
        "losing the lease must end the process non-zero: {status}"
    );
    assert!(a.log_text().contains("lost the lease"), "{}", a.log_text());
    println!(
        "lease taken away: the leader exited ({status}) after {:?}",
        taken.elapsed()
    );
    assert_eq!(holder(&leases).await.as_deref(), Some("intruder"));
    namespace.delete().await?;
    Ok(())
}
