//! Building the world from a fleet file: every appliance with its identity, versions and
//! random streams (seeded from the fleet's seed and the appliance's name, so a run is
//! reproducible), and every group from the fleet's topology.

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use super::appliance::{Activity, Appliance, FailoverRole, NodeCfg};
use super::group::{Group, GroupKind, SyncKind, SyncStatus};
use super::scheduler::Scheduler;
use super::{Listening, World};
use crate::clock::SimClock;
use crate::error::SimError;
use crate::fleet::{FleetSpec, Swing, Topology};

impl World {
    pub(crate) fn new(
        spec: &FleetSpec,
        clock: SimClock,
        listening: &[Listening],
    ) -> Result<Self, SimError> {
        let by_name: HashMap<String, usize> = spec
            .appliances
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i))
            .collect();
        let topology = Topology::of(spec)?;
        let mut apps = Vec::with_capacity(spec.appliances.len());
        for (i, a) in spec.appliances.iter().enumerate() {
            let port = listening
                .get(i)
                .map(|l| l.port)
                .ok_or_else(|| SimError::InvalidFleet("listener missing".into()))?;
            let mut app_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ seed_of(&a.name));
            let client_rng =
                ChaCha8Rng::seed_from_u64(spec.seed ^ seed_of(&format!("clients/{}", a.name)));
            let id = guid(&mut app_rng);
            let download_key = format!("DK-{}", &crate::auth::random_hex(&mut app_rng, 10));
            apps.push(Appliance {
                name: a.name.clone(),
                id,
                hostname: a
                    .hostname
                    .clone()
                    .unwrap_or_else(|| format!("{}.example.com", a.name)),
                product: a.product,
                endpoint: format!("https://127.0.0.1:{port}"),
                port,
                version: a.version.clone(),
                base_version: a.base_version.clone(),
                activity: Activity::Idle,
                staged: Default::default(),
                installs: Vec::new(),
                idempotency: HashMap::new(),
                group: topology.nodes[i].0,
                kind: topology.nodes[i].1.clone(),
                role: FailoverRole::None,
                backup_ops: false,
                shared_ip_enabled: false,
                last_sync: None,
                cluster_cfg: Vec::new(),
                accepting: true,
                sessions: Default::default(),
                clients: a.clients.clone(),
                faults: Default::default(),
                rng: app_rng,
                client_rng,
                reach: watch::Sender::new(true),
                download_key,
            });
        }

        let groups: Vec<Group> = topology
            .groups
            .into_iter()
            .map(|g| Group {
                rng: ChaCha8Rng::seed_from_u64(spec.seed ^ seed_of(&format!("group/{}", g.name))),
                // The configured primary holds the site address at start.
                site_target: g.site.first().copied(),
                name: g.name,
                kind: g.kind,
                site: g.site,
                traffic: g.traffic,
                members: g.members,
                shared_ip: g.shared_ip,
                swing: g.swing,
                established: g.established,
                relation: 0,
                failover_sync: SyncStatus::idle(SyncKind::SyncNow),
                cluster_sync: SyncStatus::idle(SyncKind::Cluster),
                distribution: None,
                role_op: None,
                ip_op: None,
            })
            .collect();
        for g in &groups {
            if g.kind == GroupKind::Cluster {
                // Every master starts with every traffic node accepting.
                let cfg = NodeCfg {
                    accepting: true,
                    by_operator: false,
                };
                for &m in &g.site {
                    apps[m].cluster_cfg = vec![cfg; g.traffic.len()];
                }
            }
            let Some(&first) = g.site.first() else {
                continue;
            };
            if g.established {
                apps[first].role = FailoverRole::Primary;
                for &other in &g.site[1..] {
                    apps[other].role = FailoverRole::Backup;
                    apps[other].backup_ops = true;
                }
            }
            if g.swing == Swing::SharedIp && g.shared_ip.is_some() {
                apps[first].shared_ip_enabled = true;
            }
        }

        let mut world = Self {
            clock,
            timings: spec.timings.clone(),
            catalogue: spec.catalogue.clone(),
            apps,
            by_name,
            groups,
            sched: Scheduler::default(),
            log: Default::default(),
            next_id: 0,
            finished_ops: HashMap::new(),
            revision: 0,
        };
        for a in 0..world.apps.len() {
            world.schedule_next_arrival(a, 0.0);
        }
        world.settle(0.0);
        Ok(world)
    }
}

fn seed_of(name: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(name.as_bytes());
    d.iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn guid(rng: &mut ChaCha8Rng) -> String {
    let h = crate::auth::random_hex(rng, 16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
