//! Views of the world shared by the XML v1 and JSON v2 command APIs: health, the appliance
//! list, connected-client counts.

use crate::world::appliance::{Activity, CLIENT_TYPES, NodeKind};
use crate::world::{FailoverRole, World};

/// What `check_health` reports.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    pub(crate) id: String,
    pub(crate) hostname: String,
    pub(crate) version: String,
    pub(crate) build: String,
    pub(crate) success: bool,
    pub(crate) error: Option<String>,
    pub(crate) role: FailoverRole,
    pub(crate) cluster_role: &'static str,
    pub(crate) shared_ips: Vec<String>,
    /// Last data sync (simulated time, success), only with a failover relationship.
    pub(crate) last_sync: Option<(f64, bool)>,
}

pub(crate) fn health(w: &World, app: usize) -> Health {
    let a = &w.apps[app];
    let g = &w.groups[a.group];
    let error = match a.activity {
        Activity::Installing(_) | Activity::Rebooting(_) => {
            Some("A software update is being installed".to_owned())
        }
        Activity::Failed(i) => Some(format!(
            "Base software update failed: {}",
            a.installs
                .get(i)
                .and_then(|x| x.message.clone())
                .unwrap_or_default()
        )),
        Activity::Idle => a.faults.health.clone(),
    };
    let shared_ips = match (&g.shared_ip, a.shared_ip_enabled) {
        (Some(ip), true) => vec![ip.clone()],
        _ => Vec::new(),
    };
    Health {
        id: a.id.clone(),
        hostname: a.hostname.clone(),
        version: a.version.to_string(),
        build: a.build(),
        success: error.is_none(),
        error,
        role: a.role,
        cluster_role: v1_cluster_role(w, app),
        shared_ips,
        last_sync: if g.established && g.site.contains(&app) {
            a.last_sync
        } else {
            None
        },
    }
}

/// `single | primary | traffic` as v1 `get_appliances` says it.
pub(crate) fn v1_cluster_role(w: &World, app: usize) -> &'static str {
    match w.apps[app].kind {
        NodeKind::Master => "primary",
        NodeKind::Traffic { .. } => "traffic",
        NodeKind::Single | NodeKind::PairMember => "single",
    }
}

/// One entry of `get_appliances`.
#[derive(Debug, Clone)]
pub(crate) struct ApplianceEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) public_hostname: String,
    pub(crate) cluster_role: &'static str,
    pub(crate) failover_role: FailoverRole,
    pub(crate) accepting: bool,
}

/// The appliances `app` lists: every cluster node on a master (with acceptance as this
/// master's configuration says), itself otherwise.
pub(crate) fn appliance_list(w: &World, app: usize) -> Vec<ApplianceEntry> {
    let a = &w.apps[app];
    let entry = |n: usize, accepting: bool| {
        let x = &w.apps[n];
        ApplianceEntry {
            id: x.id.clone(),
            name: x.name.clone(),
            public_hostname: x.hostname.clone(),
            cluster_role: v1_cluster_role(w, n),
            failover_role: x.role,
            accepting,
        }
    };
    if a.kind == NodeKind::Master {
        let g = &w.groups[a.group];
        let mut list: Vec<ApplianceEntry> = g.site.iter().map(|&m| entry(m, true)).collect();
        list.extend(
            g.traffic
                .iter()
                .enumerate()
                .map(|(i, &n)| entry(n, a.cluster_cfg.get(i).is_none_or(|c| c.accepting))),
        );
        list
    } else {
        vec![entry(app, a.accepting)]
    }
}

/// Connected client counts per node `app` reports on: all cluster nodes on a master, itself
/// otherwise. Counts are in `CLIENT_TYPES` order.
pub(crate) fn client_counts(w: &World, app: usize) -> Vec<(String, [u64; 5])> {
    let a = &w.apps[app];
    let nodes: Vec<usize> = if a.kind == NodeKind::Master {
        w.groups[a.group].members.clone()
    } else {
        vec![app]
    };
    nodes
        .into_iter()
        .map(|n| (w.apps[n].id.clone(), w.apps[n].sessions.counts()))
        .collect()
}

/// Client type names, for callers that only see this module.
pub(crate) fn client_types() -> &'static [&'static str; 5] {
    &CLIENT_TYPES
}
