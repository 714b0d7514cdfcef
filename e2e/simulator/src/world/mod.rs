//! The simulated world: every appliance and group, the event queue, and the referee that
//! watches them. All state lives here behind one lock (see `crate::runtime`); every method
//! takes the simulated time `t` it happens at. Mutations end with [`World::settle`], which
//! recomputes derived state (cluster acceptance, reachability, who takes clients) and lets
//! the referee observe the sites.

pub(crate) mod appliance;
mod clients;
mod cluster;
mod failover;
pub(crate) mod group;
pub(crate) mod install;
pub(crate) mod scheduler;
mod state;
mod swing;
mod sync;

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::SimError;
use crate::clock::SimClock;
use crate::fleet::{FleetSpec, PackageSpec, Strategy, Swing, Timings, effective_swing};
use crate::referee::Referee;

pub(crate) use appliance::{Activity, Appliance, FailoverRole, NodeKind};
pub(crate) use group::{Group, GroupKind, OpState, SyncStatus};
use scheduler::{Ev, Scheduler};
pub use state::ApplianceState;

/// A stable error code of the APIs, with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    AccessDenied,
    InsufficientPermissions,
    InvalidRequest,
    NotFound,
    RateLimited,
    NotStaged,
    PrerequisiteMissing,
    InstallInProgress,
    AlreadyInstalled,
    InstallBlocked,
    VersionMismatch,
    NotPrimary,
    NotMaster,
    NoRelationship,
    SyncFailed,
    Unavailable,
    ServerError,
}

impl ErrorCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InsufficientPermissions => "insufficient_permissions",
            Self::InvalidRequest => "invalid_request",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::NotStaged => "not_staged",
            Self::PrerequisiteMissing => "prerequisite_missing",
            Self::InstallInProgress => "install_in_progress",
            Self::AlreadyInstalled => "already_installed",
            Self::InstallBlocked => "install_blocked",
            Self::VersionMismatch => "version_mismatch",
            Self::NotPrimary => "not_primary",
            Self::NotMaster => "not_master",
            Self::NoRelationship => "no_relationship",
            Self::SyncFailed => "sync_failed",
            Self::Unavailable => "unavailable",
            Self::ServerError => "server_error",
        }
    }

    pub(crate) fn status(self) -> u16 {
        match self {
            Self::AccessDenied => 401,
            Self::InsufficientPermissions => 403,
            Self::InvalidRequest => 400,
            Self::NotFound => 404,
            Self::RateLimited => 429,
            Self::ServerError => 500,
            _ => 409,
        }
    }
}

/// An operation refused by an appliance, in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl OpError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A request that either finished at once or waits for a scheduled operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Started {
    Done(String),
    Pending(u64),
}

/// The whole simulated world.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) clock: SimClock,
    pub(crate) timings: Timings,
    pub(crate) catalogue: Vec<PackageSpec>,
    pub(crate) apps: Vec<Appliance>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) groups: Vec<Group>,
    pub(crate) sched: Scheduler,
    pub(crate) referee: Referee,
    next_id: u64,
    /// Results of finished role swaps / shared IP moves, for the requests waiting on them.
    pub(crate) finished_ops: HashMap<u64, Result<String, OpError>>,
    /// Bumped by every significant change; long polls wake on it.
    pub(crate) revision: u64,
}

/// Where each appliance listens.
#[derive(Debug, Clone)]
pub(crate) struct Listening {
    pub(crate) port: u16,
}

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
        let idx = |name: &str| {
            by_name
                .get(name)
                .copied()
                .ok_or_else(|| SimError::UnknownAppliance(name.to_owned()))
        };
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
                group: usize::MAX,
                kind: NodeKind::Single,
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
                takes_clients: false,
                drain: None,
                download_key,
            });
        }

        let mut groups = Vec::new();
        let new_group = |name: &str, kind, site: Vec<usize>, shared_ip: Option<String>| Group {
            name: name.to_owned(),
            kind,
            members: site.clone(),
            site,
            traffic: Vec::new(),
            regions: BTreeMap::new(),
            swing: effective_swing(None, shared_ip.as_deref()),
            shared_ip,
            strategy: Strategy::Asynchronous,
            established: false,
            relation: 0,
            site_target: None,
            failover_sync: SyncStatus::idle(group::SyncOrigin::SyncNow),
            cluster_sync: SyncStatus::idle(group::SyncOrigin::Cluster),
            distribution: None,
            role_op: None,
            ip_op: None,
            rng: ChaCha8Rng::seed_from_u64(spec.seed ^ seed_of(&format!("group/{name}"))),
        };
        for p in &spec.pairs {
            let (a, b) = (idx(&p.primary)?, idx(&p.backup)?);
            let mut g = new_group(&p.name, GroupKind::Pair, vec![a, b], p.shared_ip.clone());
            g.strategy = p.strategy;
            g.swing = effective_swing(p.swing, p.shared_ip.as_deref());
            g.established = p.established;
            groups.push(g);
            apps[a].kind = NodeKind::PairMember;
            apps[b].kind = NodeKind::PairMember;
        }
        for c in &spec.clusters {
            let pm = idx(&c.primary_master)?;
            let mut site = vec![pm];
            if let Some(b) = &c.backup_master {
                site.push(idx(b)?);
            }
            let mut g = new_group(
                &c.name,
                GroupKind::Cluster,
                site.clone(),
                c.shared_ip.clone(),
            );
            g.strategy = c.strategy;
            g.swing = effective_swing(c.swing, c.shared_ip.as_deref());
            g.established = site.len() == 2;
            for (ti, t) in c.traffic_nodes.iter().enumerate() {
                let n = idx(&t.appliance)?;
                g.traffic.push(n);
                g.members.push(n);
                g.regions.entry(t.region.clone()).or_default().push(ti);
                apps[n].kind = NodeKind::Traffic {
                    region: t.region.clone(),
                };
            }
            let cfg = vec![
                appliance::NodeCfg {
                    accepting: true,
                    by_operator: false,
                };
                c.traffic_nodes.len()
            ];
            for &m in &site {
                apps[m].kind = NodeKind::Master;
                apps[m].cluster_cfg = cfg.clone();
            }
            groups.push(g);
        }
        for (i, a) in apps.iter().enumerate() {
            if a.kind == NodeKind::Single {
                groups.push(new_group(&a.name, GroupKind::Single, vec![i], None));
            }
        }
        for (gi, g) in groups.iter_mut().enumerate() {
            for &m in &g.members {
                apps[m].group = gi;
            }
            let first = g.site[0];
            if g.established {
                apps[first].role = FailoverRole::Primary;
                for &other in &g.site[1..] {
                    apps[other].role = FailoverRole::Backup;
                    apps[other].backup_ops = true;
                }
            }
            // The configured primary holds the site address at start.
            if g.swing == Swing::SharedIp && g.shared_ip.is_some() {
                apps[first].shared_ip_enabled = true;
            }
            g.site_target = Some(first);
        }

        let names: Vec<String> = apps.iter().map(|a| a.name.clone()).collect();
        let referee = Referee::new(clock.scale(), &groups, &names);
        let mut world = Self {
            clock,
            timings: spec.timings.clone(),
            catalogue: spec.catalogue.clone(),
            apps,
            by_name,
            groups,
            sched: Scheduler::default(),
            referee,
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

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn app(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn group_by_name(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    pub(crate) fn package(&self, id: &str) -> Option<&PackageSpec> {
        self.catalogue.iter().find(|p| p.id == id)
    }

    /// Uniform draw in `[lo, hi]` from a group's generator.
    pub(crate) fn group_uniform(&mut self, group: usize, range: [f64; 2]) -> f64 {
        uniform(&mut self.groups[group].rng, range)
    }

    /// Processes every event due at or before `now`, in order; significant ones bump
    /// `revision` through `settle`.
    pub(crate) fn advance(&mut self, now: f64) {
        while let Some((at, ev)) = self.sched.pop_due(now) {
            self.handle(at, ev);
        }
    }

    fn handle(&mut self, t: f64, ev: Ev) {
        let churn = ev.is_client_churn();
        match ev {
            Ev::InstallStep { app, install } => self.install_step(app, install, t),
            Ev::SyncDone { group, cluster, id } => self.sync_done(group, cluster, id, t),
            Ev::Promote { group, op, app } => self.promote_done(group, op, app, t),
            Ev::SharedIpUp { group, op, app } => self.shared_ip_up(group, op, app, t),
            Ev::DistributeNode { group, id, node } => self.distribute_node(group, id, node, t),
            Ev::AutoSync { group, relation } => self.auto_sync(group, relation, t),
            Ev::ClientArrival { owner } => self.client_arrival(owner, t),
            Ev::SessionEnd { app, session } => self.session_end(app, session, t),
            Ev::FaultExpire { app, until } => {
                if self.apps[app].faults.unreachable_until == Some(until) {
                    self.apps[app].faults.unreachable_until = None;
                    let name = self.apps[app].name.clone();
                    self.referee
                        .event(t, Some(&name), None, "fault_expired", "reachable again");
                }
            }
        }
        if !churn {
            self.settle(t);
        }
    }

    /// Recomputes derived state after a change and lets the referee observe it.
    pub(crate) fn settle(&mut self, t: f64) {
        self.revision += 1;
        for g in 0..self.groups.len() {
            if self.groups[g].kind == GroupKind::Cluster {
                self.refresh_cluster(g);
            }
        }
        for a in 0..self.apps.len() {
            let takes = self.takes_new_clients(a);
            if takes != self.apps[a].takes_clients {
                self.apps[a].takes_clients = takes;
                self.track_drain(a, takes, t);
            }
            let reachable = self.apps[a].reachable(t);
            self.apps[a].reach.send_if_modified(|r| {
                let changed = *r != reachable;
                *r = reachable;
                changed
            });
        }
        self.observe_sites(t);
    }

    /// Whether `app` holds its site's address.
    pub(crate) fn holds_site(&self, app: usize) -> bool {
        let g = &self.groups[self.apps[app].group];
        match (g.kind, g.swing) {
            (GroupKind::Single, _) => true,
            (_, Swing::SharedIp) => self.apps[app].shared_ip_enabled,
            (_, Swing::External) => g.site_target == Some(app),
        }
    }

    /// Serving the site: not a backup, holds the site address, and up.
    pub(crate) fn is_serving(&self, app: usize) -> bool {
        let a = &self.apps[app];
        let g = &self.groups[a.group];
        g.site.contains(&app) && a.role != FailoverRole::Backup && self.holds_site(app) && a.up()
    }

    /// The appliance that gets the site's new clients.
    pub(crate) fn serving_member(&self, group: usize) -> Option<usize> {
        self.groups[group]
            .site
            .iter()
            .copied()
            .find(|&m| self.is_serving(m))
    }

    /// The group's primary for backups (R1): the failover primary, else the standalone
    /// member holding the site address.
    pub(crate) fn group_primary(&self, group: usize) -> Option<usize> {
        let g = &self.groups[group];
        g.site
            .iter()
            .copied()
            .find(|&m| self.apps[m].role == FailoverRole::Primary)
            .or_else(|| {
                g.site.iter().copied().find(|&m| {
                    self.apps[m].role == FailoverRole::None
                        && (g.site.len() == 1 || self.holds_site(m))
                })
            })
    }

    /// Whether two partners can talk: both up and on the same product version.
    pub(crate) fn contactable(&self, a: usize, b: usize) -> bool {
        self.apps[a].up() && self.apps[b].up() && self.apps[a].version == self.apps[b].version
    }

    pub(crate) fn finish_op(&mut self, op: u64, result: Result<String, OpError>) {
        self.finished_ops.insert(op, result);
    }
}

/// Uniform draw in `[lo, hi]`.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, [lo, hi]: [f64; 2]) -> f64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
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
