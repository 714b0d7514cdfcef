//! Random walks through the world's operations (installs, role changes, swings, syncs,
//! cluster configuration, faults, client traffic), on a fleet with every kind of group. After
//! every step the referee's picture of the fleet, built from the event log alone, must match
//! the world's own state: where they differ, the log missed a change the referee judges by.
//! At the end, reading the log at once must give the report that reading it bit by bit gave.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::install::InstallRequest;
use super::{FailoverRole, Listening, World};
use crate::clock::SimClock;
use crate::fleet::FleetSpec;
use crate::referee::{ApplianceView, Picture, Referee};
use crate::{Fault, PackageKind};

/// Two pairs (shared IP and asynchronous; external, synchronous and not established), two
/// clusters (with and without a backup master), a standalone appliance; clients on several.
const FLEET: &str = r#"
time_scale: 60
catalogue:
  - { id: base-5.1.0, name: "Base 5.1.0", kind: base, version: 5.1.0, requires: [], install_s: [0, 600] }
  - { id: product-24.1.0, name: "BT 24.1.0", kind: product, version: 24.1.0, requires: [base-5.1.0], install_s: [300, 900] }
  - { id: product-24.2.0, name: "BT 24.2.0", kind: product, version: 24.2.0, requires: [product-24.1.0], install_s: [300, 900] }
  - { id: pra-24.1.0, name: "PRA 24.1.0", kind: product, version: 24.1.0, requires: [], install_s: [300, 900], product: pra }
appliances:
  - { name: a1, product: rs, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 3.0, session_min: [1, 20] } }
  - { name: a2, product: rs, version: 23.3.1, base_version: 5.0.0 }
  - { name: b1, product: rs, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 1.0, session_min: [1, 10] } }
  - { name: b2, product: rs, version: 23.3.1, base_version: 5.0.0 }
  - { name: m1, product: pra, version: 23.3.1, base_version: 5.0.0 }
  - { name: m2, product: pra, version: 23.3.1, base_version: 5.0.0 }
  - { name: t1, product: pra, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 2.0, session_min: [1, 30] } }
  - { name: t2, product: pra, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 2.0, session_min: [1, 30] } }
  - { name: t3, product: pra, version: 23.3.1, base_version: 5.0.0 }
  - { name: n1, product: pra, version: 23.3.1, base_version: 5.0.0 }
  - { name: u1, product: pra, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 2.0, session_min: [1, 30] } }
  - { name: u2, product: pra, version: 23.3.1, base_version: 5.0.0 }
  - { name: s1, product: rs, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 1.0, session_min: [1, 10] } }
pairs:
  - { name: pa, primary: a1, backup: a2, shared_ip: 10.0.0.1, strategy: asynchronous }
  - { name: pb, primary: b1, backup: b2, strategy: synchronous, established: false }
clusters:
  - { name: ca, primary_master: m1, backup_master: m2, shared_ip: 10.0.1.1, traffic_nodes: [{ appliance: t1, region: eu }, { appliance: t2, region: eu }, { appliance: t3, region: us }] }
  - { name: cb, primary_master: n1, traffic_nodes: [{ appliance: u1, region: eu }, { appliance: u2, region: eu }] }
timings: { reboot_s: 60, sync_s: [10, 60], swap_s: 5, shared_ip_s: 2, distribute_s: [5, 20], first_sync_after_establish_s: 30 }
"#;

/// One random operation at `t`, its result ignored: refusals are part of the walk.
fn step(w: &mut World, rng: &mut ChaCha8Rng, t: f64) {
    let n = w.apps.len();
    let app = rng.random_range(0..n);
    let other = rng.random_range(0..n);
    let pkgs = [
        "base-5.1.0",
        "product-24.1.0",
        "product-24.2.0",
        "pra-24.1.0",
        "nope",
    ];
    let pkg = pkgs[rng.random_range(0..pkgs.len())];
    let name = w.apps[app].name.clone();
    let b: bool = rng.random();
    match rng.random_range(0..20) {
        0..=2 => {
            let _ = w.stage(app, pkg, "downloaded", t);
        }
        3..=6 => {
            let key = rng
                .random_bool(0.3)
                .then(|| format!("k{}", rng.random_range(0..3)));
            let _ = w.start_install(
                app,
                &InstallRequest {
                    package_id: pkg.to_owned(),
                    allow_connected_clients: rng.random_bool(0.4),
                    idempotency_key: key,
                },
                t,
            );
        }
        7 => {
            let role = [
                FailoverRole::Primary,
                FailoverRole::Backup,
                FailoverRole::None,
            ][rng.random_range(0..3)];
            let _ = w.set_failover_role(app, role, b, rng.random(), t);
        }
        8 => {
            let _ = w.break_failover(app, t);
        }
        9 => {
            let g = w.apps[app].group;
            let other = w.groups[g].partner(app).unwrap_or(other);
            let peer = w.apps[other].endpoint.clone();
            let _ = w.establish_failover(app, &peer, t);
        }
        10 => {
            let _ = w.set_shared_ip(app, b, t);
        }
        11 => {
            let g = w.apps[app].group;
            let _ = w.set_site_target(g, other, t);
        }
        12 => {
            let master = [4, 5, 9][rng.random_range(0..3)];
            let node = w.apps[[6, 7, 8, 10, 11][rng.random_range(0..5)]]
                .name
                .clone();
            let _ = w.set_accepting(master, &node, rng.random_bool(0.3), t);
        }
        13 => {
            let _ = w.distribute(app, pkg, t);
        }
        14 => {
            let _ = if b {
                w.failover_sync_now(app, t)
            } else {
                w.cluster_sync_now(app, t)
            };
        }
        15 | 16 => w.record_backup(app, t),
        17 => {
            let fault = match rng.random_range(0..6) {
                0 => Fault::FailNextInstall {
                    appliance: name,
                    package_kind: [None, Some(PackageKind::Base), Some(PackageKind::Product)]
                        [rng.random_range(0..3)],
                    message: None,
                },
                1 => Fault::FailHealth {
                    appliance: name,
                    message: None,
                },
                2 => Fault::FailNextSync { appliance: name },
                3 => Fault::ClockSkew {
                    appliance: name,
                    skew_s: if b { 400.0 } else { 0.0 },
                },
                4 => Fault::Unreachable {
                    appliance: name,
                    for_s: Some(100.0),
                },
                _ => Fault::Slow {
                    appliance: name,
                    latency_ms: 1,
                },
            };
            let _ = w.inject(&fault, t);
        }
        18 => w.clear_faults(app, t),
        _ => {
            let _ = w.set_backup_operations(app, b, t);
        }
    }
}

/// The world's own state, in the referee's terms.
fn picture(w: &World) -> Picture {
    Picture {
        appliances: w
            .apps
            .iter()
            .map(|a| ApplianceView {
                software: a.software_state().as_str(),
                role: a.role,
                shared_ip: a.shared_ip_enabled,
                versions: (a.version.to_string(), a.base_version.to_string()),
                sessions: a.sessions.total(),
                accepting: a.accepting,
                health_fault: a.faults.health.is_some(),
                cluster_cfg: a
                    .cluster_cfg
                    .iter()
                    .map(|c| (c.accepting, c.by_operator))
                    .collect(),
            })
            .collect(),
        groups: w
            .groups
            .iter()
            .map(|g| (g.established, g.site_target))
            .collect(),
    }
}

#[test]
fn the_referees_picture_built_from_the_log_matches_the_world_on_random_walks() {
    for seed in 0..40u64 {
        let mut spec = FleetSpec::from_yaml(FLEET).unwrap();
        spec.seed = seed;
        let listening: Vec<Listening> = (0..spec.appliances.len())
            .map(|i| Listening {
                port: 20_000 + i as u16,
            })
            .collect();
        let mut w = World::new(&spec, SimClock::new(spec.time_scale), &listening).unwrap();
        let mut bit_by_bit = Referee::new(&spec).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut t = 0.0;
        for i in 0..500 {
            if rng.random_bool(0.7) {
                t += rng.random_range(0.0..200.0);
            }
            w.advance(t);
            step(&mut w, &mut rng, t);
            bit_by_bit.read(&w.log);
            assert_eq!(
                bit_by_bit.picture(),
                picture(&w),
                "seed {seed}, step {i}, t {t}"
            );
        }
        t += 5000.0;
        w.advance(t);
        bit_by_bit.read(&w.log);
        let mut at_once = Referee::new(&spec).unwrap();
        at_once.read(&w.log);
        let report = at_once.report(t);
        assert_eq!(bit_by_bit.report(t), report, "seed {seed}");
        assert!(!report.timeline.is_empty() && !report.violations.is_empty());
    }
}
