//! The decision core: the vendor's runbook as a pure function.
//!
//! `decide(spec, observed, progress, now) -> Decision` ([`decide::pair::decide`],
//! [`decide::atlas::decide`]): from the spec, what the appliances showed ([`observed`]), the
//! plan and progress recorded in status and the time, the one next thing to do: record a
//! plan, hold at a gate, start a step, run [`command`]s, or settle a step's verdict. What the
//! commands report is folded back into the step by [`fold`], also pure.
//!
//! No IO, no clock (time is an input), no Kubernetes client, no appliance client: every rule
//! of the procedures is a table test of these functions (`rules_tests`).

pub mod atlas_plan;
pub mod batches;
pub mod command;
pub mod decide;
pub mod duration;
pub mod fold;
pub mod gates;
pub mod hops;
pub mod legacy;
pub mod needs;
pub mod observed;
pub mod plan;
pub mod time;
pub mod timings;
pub mod verdict;
pub mod version;

pub use timings::Timings;

#[cfg(test)]
mod rules_tests;
