//! The hops from the installed versions to the target (R2, R3).
//!
//! Packages are installed in dependency order (prerequisites first, so base software comes
//! right before the product package that needs it), and the path is cut into **rounds**: one
//! per product version the site passes through. Each round is a whole pair or cluster
//! upgrade, so the site *serves* every intermediate product version, with failover restored,
//! for the soak that R3 asks for; deployed clients can then follow hop by hop.
//!
//! The appliance lists only packages newer than what it runs, so a prerequisite that is not
//! offered is taken as installed; the appliance's own `installable` flag on the first package
//! confirms it before anything is planned on that assumption.

use std::collections::{BTreeMap, BTreeSet};

use super::observed::Offer as Package;
use super::version::Version;

/// One product version the site passes through, and the packages that get it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// The product version at the end of the round.
    pub product: Version,
    /// The packages in install order.
    pub packages: Vec<RoundPackage>,
}

/// A package of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundPackage {
    /// The appliance's package id.
    pub id: String,
    /// Base software: reboots the appliance; a failure stops everything (R6).
    pub base: bool,
}

/// Why no plan reaches the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The target is older than the installed version: appliances cannot go back.
    #[error(
        "refusing to downgrade from {installed} to {target}: set spec.version to {installed} or later"
    )]
    Downgrade { installed: Version, target: Version },
    /// No offered package installs the target version.
    #[error(
        "no package installs product version {target}; the appliance offers {offered}: check spec.version, or upload the package (offline update)"
    )]
    NotOffered { target: Version, offered: String },
    /// A prerequisite is neither installed nor offered, or the appliance refuses the first one.
    #[error("{package} cannot be installed: {reason}")]
    Blocked { package: String, reason: String },
}

/// The rounds from `installed` to `target` through the offered `packages`.
/// An empty list means the target is installed.
pub fn rounds(
    installed: &Version,
    target: &Version,
    packages: &[Package],
) -> Result<Vec<Round>, PathError> {
    if target < installed {
        return Err(PathError::Downgrade {
            installed: installed.clone(),
            target: target.clone(),
        });
    }
    if target == installed {
        return Ok(Vec::new());
    }
    let by_id: BTreeMap<&str, &Package> = packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let goal = packages
        .iter()
        .find(|p| !p.base && p.version == *target)
        .ok_or_else(|| PathError::NotOffered {
            target: target.clone(),
            offered: offered(packages),
        })?;

    let mut order = Vec::new();
    visit(goal, &by_id, &mut BTreeSet::new(), &mut order)?;
    if let Some(first) = order.first().and_then(|id| by_id.get(id.as_str()))
        && !first.installable
    {
        return Err(PathError::Blocked {
            package: first.id.clone(),
            reason: format!(
                "the appliance reports a missing prerequisite among {:?}",
                first.requires
            ),
        });
    }
    Ok(split_into_rounds(order, &by_id))
}

/// Depth-first, prerequisites before the package: a topological order of what `goal` needs.
fn visit<'a>(
    package: &'a Package,
    by_id: &BTreeMap<&str, &'a Package>,
    in_progress: &mut BTreeSet<&'a str>,
    order: &mut Vec<String>,
) -> Result<(), PathError> {
    if order.iter().any(|id| id == &package.id) {
        return Ok(());
    }
    if !in_progress.insert(&package.id) {
        return Err(PathError::Blocked {
            package: package.id.clone(),
            reason: "its prerequisites form a cycle".to_owned(),
        });
    }
    // Not offered means installed already (the appliance offers only newer packages).
    let mut prerequisites: Vec<&Package> = package
        .requires
        .iter()
        .filter_map(|id| by_id.get(id.as_str()).copied())
        .collect();
    // Product prerequisites first: a base package then lands right before the product that
    // needs it, not in an earlier round (R2).
    prerequisites.sort_by_key(|p| (p.base, p.version.clone()));
    for prerequisite in prerequisites {
        visit(prerequisite, by_id, in_progress, order)?;
    }
    in_progress.remove(package.id.as_str());
    order.push(package.id.clone());
    Ok(())
}

/// Cuts the install order after each product package.
fn split_into_rounds(order: Vec<String>, by_id: &BTreeMap<&str, &Package>) -> Vec<Round> {
    let mut rounds = Vec::new();
    let mut current = Vec::new();
    for id in order {
        let package = by_id.get(id.as_str());
        let product = package.filter(|p| !p.base).map(|p| p.version.clone());
        let base = package.is_some_and(|p| p.base);
        current.push(RoundPackage { id, base });
        if let Some(product) = product {
            rounds.push(Round {
                product,
                packages: std::mem::take(&mut current),
            });
        }
    }
    rounds
}

fn offered(packages: &[Package]) -> String {
    let products: Vec<String> = packages
        .iter()
        .filter(|p| !p.base)
        .map(|p| p.version.to_string())
        .collect();
    if products.is_empty() {
        "no product package".to_owned()
    } else {
        products.join(", ")
    }
}

#[cfg(test)]
#[path = "hops_tests.rs"]
mod tests;
