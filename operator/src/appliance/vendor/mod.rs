//! The documented vendor API: Command API v1 (XML) and the Backup API.

pub mod client;
pub mod model;
pub(crate) mod xml;

pub use client::VendorClient;
