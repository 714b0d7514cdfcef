//! The Helm chart: lint, render the main value combinations and have the API server validate
//! every object (server-side dry run), check the restricted Pod Security profile by admission,
//! and run the operator with exactly the chart's ServiceAccount permissions through a full
//! pair upgrade.

mod rbac;
mod render;

use serde_json::Value;

/// The rendered object of `kind`, if any.
fn find<'a>(docs: &'a [Value], kind: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind)
}
