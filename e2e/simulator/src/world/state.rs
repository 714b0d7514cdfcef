//! A read-only snapshot of one appliance, for tests (`Fleet::appliance_state`) and the admin
//! endpoint (`GET /admin/appliances`).

use serde::{Deserialize, Serialize};

use super::World;
use super::appliance::{FailoverRole, SoftwareState};
use crate::fleet::Product;

/// What the simulator knows about one appliance right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplianceState {
    /// Appliance name.
    pub name: String,
    /// Appliance id (GUID).
    pub id: String,
    /// Its pair, cluster, or its own name when standalone.
    pub group: String,
    /// rs or pra.
    pub product: Product,
    /// Installed product version.
    pub product_version: String,
    /// Installed base software version.
    pub base_version: String,
    /// idle, installing, rebooting or failed.
    pub software: SoftwareState,
    /// Failover role.
    pub failover_role: FailoverRole,
    /// Whether the group's failover relationship is established.
    pub failover_established: bool,
    /// Whether its shared IP is enabled.
    pub shared_ip_enabled: bool,
    /// `single`, `primary_master`, `backup_master` or `traffic`.
    pub cluster_role: String,
    /// Region (traffic nodes).
    pub region: Option<String>,
    /// "Accepting new client connections" in force (traffic nodes; true otherwise).
    pub accepting_connections: bool,
    /// Serving its site (not backup, holds the site address, up).
    pub serving: bool,
    /// Whether new clients reach it now.
    pub takes_new_clients: bool,
    /// Connected client sessions.
    pub connected_clients: u64,
    /// Whether its API answers.
    pub reachable: bool,
    /// Whether its health check passes.
    pub healthy: bool,
    /// Staged (downloaded, not installed) package ids.
    pub staged: Vec<String>,
    /// Number of installs started.
    pub installs: usize,
}

impl World {
    pub(crate) fn appliance_state(&self, app: usize, t: f64) -> ApplianceState {
        let a = &self.apps[app];
        let g = &self.groups[a.group];
        let cluster_role = match self.cluster_role(app) {
            "none" => "single",
            r => r,
        };
        ApplianceState {
            name: a.name.clone(),
            id: a.id.clone(),
            group: g.name.clone(),
            product: a.product,
            product_version: a.version.to_string(),
            base_version: a.base_version.to_string(),
            software: a.software_state(),
            failover_role: a.role,
            failover_established: g.established && g.site.contains(&app),
            shared_ip_enabled: a.shared_ip_enabled,
            cluster_role: cluster_role.to_owned(),
            region: a.region().map(str::to_owned),
            accepting_connections: a.accepting,
            serving: self.is_serving(app),
            takes_new_clients: self.takes_new_clients(app),
            connected_clients: a.sessions.total(),
            reachable: a.reachable(t),
            healthy: a.healthy(),
            staged: a.staged.iter().cloned().collect(),
            installs: a.installs.len(),
        }
    }
}
