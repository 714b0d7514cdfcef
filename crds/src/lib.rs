//! The `baton.dev/v1alpha1` API: the [`AppliancePair`] and [`AtlasCluster`] custom resources.
//!
//! Spec types carry their validation as CEL rules in the schema, so the API server rejects a
//! bad manifest with a message a person understands before the operator ever sees it. Status
//! types follow the Kubernetes conventions GitOps tools read (kstatus): `observedGeneration`,
//! `Ready`/`Reconciling`/`Stalled` conditions, and a `phase` for people.
//!
//! The operator never writes spec; it writes status with server-side apply on `/status`.

pub mod atlas;
pub mod common;
pub mod conditions;
pub mod generate;
pub mod pair;
pub mod reference;
pub mod status;

pub use atlas::{AtlasCluster, AtlasClusterSpec, AtlasClusterStatus};
pub use pair::{AppliancePair, AppliancePairSpec, AppliancePairStatus};

/// The API group of every baton resource.
pub const GROUP: &str = "baton.dev";
/// The API version this crate defines.
pub const VERSION: &str = "v1alpha1";
