//! baton-sim: a fleet of simulated BeyondTrust B Series appliances over HTTPS, and the
//! referee that judges whoever drives them.
//!
//! Each appliance listens on its own loopback port with a certificate from a CA generated at
//! start-up, and speaks the documented vendor API (OAuth, command API v1 XML and v2 JSON,
//! backup) and the project's management extension (`/api/management/v1`). A fleet file
//! ([`FleetSpec`]) describes the world; [`start`] serves it. The world appends what happens to
//! an event log (`log`); the referee reads that log and the fleet file, nothing else, and
//! [`Fleet::report`] is its verdict: invariant violations (procedures.md I1-I8), downtime,
//! dropped sessions, and the install / drain / sync / swap logs. See README.md.

mod admin;
mod api;
mod auth;
mod clock;
mod connection;
mod error;
mod faults;
pub mod fleet;
mod log;
mod ops;
mod ratelimit;
pub mod referee;
mod run;
mod runtime;
mod server;
mod tls;
mod version;
mod world;

pub use connection::{ApplianceConnection, Connection};
pub use error::SimError;
pub use faults::Fault;
pub use fleet::{FleetSpec, PackageKind, Product, Strategy, Swing};
pub use log::FailoverRole;
pub use referee::report::{
    DrainOutcome, DrainRecord, Duplicate, Event, InstallOutcome, InstallRecord, Report, SiteReport,
    SwapRecord, SyncRecord, Violation,
};
pub use run::{Fleet, start};
pub use tls::client_config;
pub use version::Version;
pub use world::ApplianceState;
pub use world::appliance::{InstallState, SoftwareState};
