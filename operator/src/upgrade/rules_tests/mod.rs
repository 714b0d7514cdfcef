//! The rules of `procedures.md` as table tests of the decision core, one or more per rule
//! and invariant, named after it. Each builds what the appliances showed and what status
//! recorded, asks `decide` (or `fold`) for the next thing to do, and checks it reads like the
//! runbook. A rule today's behaviour does not yet follow is written as an ignored test naming
//! the rule, so it is listed until it holds.

mod atlas_rules;
mod fixtures;
mod gate_rules;
mod pair_rules;
mod resume_rules;
