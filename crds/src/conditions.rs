//! The condition vocabulary: types and reasons, as small constant sets.
//!
//! `Ready`, `Reconciling` and `Stalled` follow kstatus, so Flux, Argo CD and `kubectl wait`
//! understand a resource without knowing baton: `Ready=True` only when every member runs the
//! target version with failover re-established and synced; `Reconciling=True` while work runs;
//! `Stalled=True` only when a person must act. The others are domain detail.

/// Condition types.
pub mod types {
    /// Every member on the target version, failover re-established and in sync.
    pub const READY: &str = "Ready";
    /// The operator is working toward the spec (kstatus "in progress").
    pub const RECONCILING: &str = "Reconciling";
    /// Progress needs a person: the reason and message say what to do.
    pub const STALLED: &str = "Stalled";
    /// `spec.paused` holds every new step.
    pub const PAUSED: &str = "Paused";
    /// Failover is broken for the upgrade: the site has no standby until it is re-established.
    pub const FAILOVER_EXPOSED: &str = "FailoverExposed";
    /// A gate waits for an approval named in the message.
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    /// The next disruptive step waits for a maintenance window.
    pub const AWAITING_WINDOW: &str = "AwaitingMaintenanceWindow";
    /// Every member answered the last observation.
    pub const MEMBERS_REACHABLE: &str = "MembersReachable";
}

/// Condition reasons (CamelCase, stable: dashboards and alerts key on them).
pub mod reasons {
    /// Up to date and healthy.
    pub const UP_TO_DATE: &str = "UpToDate";
    /// An upgrade step is running.
    pub const UPGRADING: &str = "Upgrading";
    /// Waiting between product hops so clients can fetch the intermediate version (R3).
    pub const SOAKING: &str = "Soaking";
    /// Members are being observed for the first time.
    pub const OBSERVING: &str = "Observing";
    /// A Secret the spec names does not exist or lacks a key.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// The appliance's certificate is not signed by the configured CA.
    pub const UNTRUSTED_CERTIFICATE: &str = "UntrustedCertificate";
    /// The API account's credentials were refused.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// The API account lacks a permission the upgrade needs.
    pub const MISSING_PERMISSION: &str = "MissingPermission";
    /// An appliance does not answer.
    pub const UNREACHABLE: &str = "Unreachable";
    /// No sequence of packages reaches the target version.
    pub const NO_UPGRADE_PATH: &str = "NoUpgradePath";
    /// The target is older than the running version.
    pub const DOWNGRADE: &str = "DowngradeRefused";
    /// A preflight check failed (versions differ, clock skew, failover out of sync, ...).
    pub const PREFLIGHT_FAILED: &str = "PreflightFailed";
    /// A base software install failed: never reboot, retry or continue (R6).
    pub const BASE_INSTALL_FAILED: &str = "BaseInstallFailed";
    /// A product install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// An upgraded appliance did not pass verification.
    pub const VERIFICATION_FAILED: &str = "VerificationFailed";
    /// A drain did not finish in time and the policy says fail.
    pub const DRAIN_TIMEOUT: &str = "DrainTimeout";
    /// The spec is valid for the schema but not for the appliances found.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// `spec.paused` is set.
    pub const PAUSED: &str = "Paused";
    /// A gate waits for an approval.
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    /// Outside every maintenance window.
    pub const OUTSIDE_WINDOW: &str = "OutsideMaintenanceWindow";
    /// Failover was broken for the upgrade.
    pub const FAILOVER_BROKEN: &str = "FailoverBroken";
    /// Failover is established and synced.
    pub const FAILOVER_ESTABLISHED: &str = "FailoverEstablished";
    /// Every member answered.
    pub const REACHABLE: &str = "Reachable";

    /// Every reason, to map a stored one back to its constant.
    pub const ALL: &[&str] = &[
        UP_TO_DATE,
        UPGRADING,
        SOAKING,
        OBSERVING,
        SECRET_NOT_FOUND,
        UNTRUSTED_CERTIFICATE,
        UNAUTHORIZED,
        MISSING_PERMISSION,
        UNREACHABLE,
        NO_UPGRADE_PATH,
        DOWNGRADE,
        PREFLIGHT_FAILED,
        BASE_INSTALL_FAILED,
        INSTALL_FAILED,
        VERIFICATION_FAILED,
        DRAIN_TIMEOUT,
        INVALID_SPEC,
        PAUSED,
        AWAITING_APPROVAL,
        OUTSIDE_WINDOW,
        FAILOVER_BROKEN,
        FAILOVER_ESTABLISHED,
        REACHABLE,
    ];

    /// The constant for a stored reason.
    pub fn lookup(reason: &str) -> Option<&'static str> {
        ALL.iter().copied().find(|r| *r == reason)
    }
}
