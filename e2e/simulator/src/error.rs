//! Errors of the simulator's library API (start-up, fleet validation, fault injection).

/// Everything that can go wrong when starting or driving a simulated fleet.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The fleet file is not valid YAML or does not match the schema.
    #[error("failed to parse the fleet file: {0}")]
    Parse(String),
    /// The fleet file parses but describes an impossible world.
    #[error("invalid fleet: {0}")]
    InvalidFleet(String),
    /// A listener could not be bound.
    #[error("failed to bind a listener for {what}")]
    Bind {
        /// Which listener (an appliance name or "admin").
        what: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation or TLS configuration failed.
    #[error("failed to set up TLS: {0}")]
    Tls(String),
    /// No appliance has this name.
    #[error("unknown appliance {0:?}")]
    UnknownAppliance(String),
    /// No pair, cluster or standalone appliance has this name.
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    /// The catalogue has no package with this id.
    #[error("unknown package {0:?}")]
    UnknownPackage(String),
    /// A request that cannot apply to the current world (e.g. a site target outside the group).
    #[error("invalid request: {0}")]
    Invalid(String),
}
