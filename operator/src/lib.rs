//! The baton operator: upgrades BeyondTrust B Series failover pairs and Atlas clusters the
//! way the vendor's procedures say, recording every step in the resource's status.
//!
//! - [`appliance`]: the client for the appliances (documented API + management extension);
//! - [`upgrade`]: the pure planner (hops, plans, gates, conditions);
//! - [`pair`]: the AppliancePair controller, with [`swing`] and [`backup`].

pub mod admin;
pub mod appliance;
pub mod atlas;
pub mod backup;
pub mod context;
pub mod drive;
pub mod leader;
pub mod members;
pub mod metrics;
pub mod pair;
pub mod runtime;
pub mod secrets;
pub mod shutdown;
pub mod swing;
pub mod telemetry;
/// Time conversions (kept here for the modules that use `crate::time`).
pub use upgrade::time;
pub mod upgrade;
