//! baton's management extension (`/api/management/v1`): what the vendor exposes only in the
//! web UI, served by a site adapter (or the simulator).

pub mod client;
pub mod model;
mod wire;

pub use client::ManagementClient;
