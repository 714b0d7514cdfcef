//! How an appliance refuses an operation: a stable error code (with its HTTP status) and a
//! message in the appliance's own words, shared by every API flavour.

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
