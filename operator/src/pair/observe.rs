//! Observes a pair for one pass: both members (see [`crate::drive::observe::member`]), then
//! what the current step needs, then the packages to plan from when an upgrade is due.

use futures::future::join;

use baton_crds::{AppliancePair, AppliancePairStatus};

use crate::context::Timings;
use crate::drive::observe::{self, extras};
use crate::members::Connected;
use crate::upgrade::needs::needs;
use crate::upgrade::observed::Observed;
use crate::upgrade::version::Version;

/// Observes both members and updates the members table, primary and versions in `status`.
pub async fn observe_pair(
    pair: &AppliancePair,
    members: &[Connected; 2],
    status: &mut AppliancePairStatus,
    timings: &Timings,
) -> Observed {
    let ((a, row_a), (b, row_b)) =
        join(observe::member(&members[0]), observe::member(&members[1])).await;
    let mut rows = vec![row_a, row_b];
    for m in &mut rows {
        // A member that did not answer keeps its last known version.
        if m.version.is_none()
            && let Some(old) = status.members.iter().find(|o| o.name == m.name)
        {
            m.version.clone_from(&old.version);
            m.base_version.clone_from(&old.base_version);
        }
    }
    status.members = rows;
    let mut observed = Observed {
        members: vec![a, b],
        ..Observed::default()
    };
    if let Some(p) = observed
        .members
        .iter()
        .find(|m| m.seen.as_ref().is_ok_and(|s| s.serves()))
    {
        status.primary = Some(p.name.clone());
    }
    let versions: Vec<Version> = status
        .members
        .iter()
        .filter_map(|m| m.version.as_deref()?.parse().ok())
        .collect();
    status.current_version = versions.iter().min().map(ToString::to_string);
    status.target_version = Some(pair.spec.version.clone());

    extras(
        &needs(status.upgrade.as_ref()),
        members,
        &mut observed,
        timings.long_poll,
    )
    .await;
    if status.upgrade.is_none() && needs_plan(pair, &observed) {
        // The package list with prerequisites comes from the member serving the site.
        let serving = match (&observed.members[0].seen, &observed.members[1].seen) {
            (Ok(a), Ok(b)) => crate::upgrade::decide::pair::serving(a, b),
            _ => 0,
        };
        observed.packages = Some(observe::packages(&members[serving]).await);
    }
    observed
}

/// Both members answered and one is not on the target: an upgrade is to be planned.
fn needs_plan(pair: &AppliancePair, observed: &Observed) -> bool {
    let Ok(target) = pair.spec.version.parse::<Version>() else {
        return false;
    };
    let seen: Vec<_> = observed
        .members
        .iter()
        .filter_map(|m| m.seen.as_ref().ok())
        .collect();
    seen.len() == 2 && seen.iter().any(|s| s.version != target)
}
