//! The baton operator: upgrades BeyondTrust B Series failover pairs and Atlas clusters the
//! way the vendor's procedures say, recording every step in the resource's status.
//!
//! - [`appliance`]: the client for the appliances (documented API + management extension);
//! - [`upgrade`]: the pure planner (hops, plans, gates, conditions);
//! - [`pair`]: the AppliancePair controller, with [`swing`] and [`backup`].

pub mod appliance;
pub mod backup;
pub mod context;
pub mod drive;
pub mod members;
pub mod pair;
pub mod secrets;
pub mod swing;
pub mod time;
pub mod upgrade;
