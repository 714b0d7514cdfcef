//! Observes both members of a pair: health (documented API), software and failover state
//! (extension), connected clients. Appliances send no events, so this runs on every reconcile;
//! one member failing to answer never hides what the other said.

use futures::future::join;

use baton_crds::conditions::reasons;
use baton_crds::status::{Health as HealthState, MemberStatus, Role};

use crate::appliance::{
    self, Failover, FailoverRole, Health, Relationship, Software, SoftwareState, Version,
};
use crate::members::Connected;

/// What one member showed this reconcile.
#[derive(Debug, Clone)]
pub struct Seen {
    pub health: Health,
    pub software: Software,
    pub failover: Failover,
    /// Connected clients on this appliance.
    pub clients: u64,
}

impl Seen {
    /// The installed product version.
    pub fn version(&self) -> &Version {
        &self.software.product_version
    }

    /// Holds an enabled shared IP.
    pub fn holds_site_address(&self) -> bool {
        self.failover.shared_ips.iter().any(|ip| ip.enabled)
    }

    /// In an established failover relationship with role primary.
    pub fn is_established_primary(&self) -> bool {
        self.failover.relationship == Relationship::Established
            && self.health.failover_role == FailoverRole::Primary
    }

    /// Installing or rebooting for an install.
    pub fn is_installing(&self) -> bool {
        matches!(
            self.software.state,
            SoftwareState::Installing | SoftwareState::Rebooting
        )
    }
}

/// Why a member could not be observed.
#[derive(Debug, Clone)]
pub struct Unseen {
    /// A condition reason.
    pub reason: &'static str,
    /// The client's message (what failed, what to do).
    pub message: String,
    /// Whether waiting can help (unreachable, rate limited) or a person must act.
    pub transient: bool,
}

/// One member's observation.
#[derive(Debug, Clone)]
pub struct Observation {
    pub name: String,
    pub seen: Result<Seen, Unseen>,
}

/// Observes one member.
pub async fn observe(member: &Connected) -> Observation {
    let a = &member.appliance;
    let seen = async {
        let health = a.health().await?;
        let software = a.software().await?;
        let failover = a.failover().await?;
        let counts = a.client_counts().await?;
        let clients = counts.total_for(&health.appliance_id);
        Ok::<_, appliance::Error>(Seen {
            health,
            software,
            failover,
            clients,
        })
    }
    .await
    .map_err(|e| unseen(&e));
    Observation {
        name: member.name.clone(),
        seen,
    }
}

/// Observes both members at once.
pub async fn observe_pair(a: &Connected, b: &Connected) -> [Observation; 2] {
    let (a, b) = join(observe(a), observe(b)).await;
    [a, b]
}

/// Maps a client error to what status says about it.
pub fn unseen(e: &appliance::Error) -> Unseen {
    use appliance::Error as E;
    let reason = match e {
        E::Unreachable { .. } | E::RateLimited { .. } => reasons::UNREACHABLE,
        E::UntrustedCertificate { .. } | E::Tls { .. } | E::InvalidCa { .. } => {
            reasons::UNTRUSTED_CERTIFICATE
        }
        E::Unauthorized { .. } => reasons::UNAUTHORIZED,
        E::MissingPermission { .. } => reasons::MISSING_PERMISSION,
        _ => reasons::UNREACHABLE,
    };
    Unseen {
        reason,
        message: e.to_string(),
        transient: e.is_transient(),
    }
}

/// The members table row for an observation.
pub fn member_status(o: &Observation) -> MemberStatus {
    match &o.seen {
        Ok(s) => MemberStatus {
            name: o.name.clone(),
            role: match (s.failover.relationship, s.health.failover_role) {
                (_, FailoverRole::Primary) => Role::Primary,
                (_, FailoverRole::Backup) => Role::Backup,
                (_, FailoverRole::None) => Role::Standalone,
            },
            version: Some(s.version().to_string()),
            base_version: Some(s.software.base_version.to_string()),
            health: if s.is_installing() {
                HealthState::Installing
            } else if s.health.healthy {
                HealthState::Healthy
            } else {
                HealthState::Unhealthy
            },
            shared_ips: s
                .failover
                .shared_ips
                .iter()
                .filter(|ip| ip.enabled)
                .map(|ip| ip.ip.clone())
                .collect(),
            accepting_connections: None,
            connected_clients: Some(u32::try_from(s.clients).unwrap_or(u32::MAX)),
            last_sync_time: s
                .health
                .last_sync
                .as_ref()
                .map(|r| crate::time::to_k8s(r.at)),
            last_sync_status: s.health.last_sync.as_ref().and_then(|r| r.status.clone()),
            message: s.health.error_message.clone(),
        },
        Err(u) => MemberStatus {
            name: o.name.clone(),
            health: HealthState::Unreachable,
            message: Some(u.message.clone()),
            ..MemberStatus::default()
        },
    }
}
