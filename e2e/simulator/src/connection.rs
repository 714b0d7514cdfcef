//! The connection file: everything a client needs to reach the fleet (CA, endpoints, API
//! credentials, the admin endpoint and its token). `baton-sim --connection-out` writes it
//! as JSON once every listener is up.

use serde::{Deserialize, Serialize};

use crate::SimError;

/// How to reach the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// PEM of the CA that signed every listener's certificate.
    pub ca_pem: String,
    /// `https://127.0.0.1:PORT` of the admin endpoint.
    pub admin_url: String,
    /// Bearer token of the admin endpoint.
    #[serde(default)]
    pub admin_token: String,
    /// Simulated seconds per real second.
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Every appliance.
    pub appliances: Vec<ApplianceConnection>,
}

fn one() -> f64 {
    1.0
}

/// How to reach one appliance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplianceConnection {
    /// Appliance name.
    pub name: String,
    /// Appliance id (GUID) as the API reports it.
    pub id: String,
    /// `https://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Full-access API account.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Read-only API account (`perm_command=read_only`, no backups).
    pub readonly_client_id: String,
    /// Its secret.
    pub readonly_client_secret: String,
}

impl Connection {
    /// One appliance by name.
    pub fn appliance(&self, name: &str) -> Option<&ApplianceConnection> {
        self.appliances.iter().find(|a| a.name == name)
    }

    /// A rustls client config (ring provider) trusting only the fleet CA.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, SimError> {
        crate::tls::client_config(&self.ca_pem)
    }
}
