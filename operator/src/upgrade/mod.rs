//! The pure upgrade planner: from what the appliances offer and what the status records,
//! which steps an upgrade has and which one comes next. No IO, no clock (time is an input),
//! no Kubernetes client: every rule is a table test.

pub mod atlas_plan;
pub mod batches;
pub mod conditions;
pub mod gates;
pub mod hops;
pub mod plan;
