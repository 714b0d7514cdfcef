//! Operations shared by the library API (`Fleet`) and the admin endpoint, so both behave
//! identically.

use crate::api::extension_package_file;
use crate::referee::report::Report;
use crate::runtime::Shared;
use crate::world::ApplianceState;
use crate::{Fault, SimError};

pub(crate) fn report(s: &Shared) -> Report {
    s.report()
}

pub(crate) fn inject(s: &Shared, fault: &Fault) -> Result<(), SimError> {
    s.with(|w, now| w.inject(fault, now))
}

pub(crate) fn clear_faults(s: &Shared, appliance: &str) -> Result<(), SimError> {
    s.with(|w, now| {
        let app = w
            .app(appliance)
            .ok_or_else(|| SimError::UnknownAppliance(appliance.to_owned()))?;
        w.clear_faults(app, now);
        Ok(())
    })
}

pub(crate) fn appliances(s: &Shared) -> Vec<ApplianceState> {
    s.with(|w, now| {
        (0..w.apps.len())
            .map(|a| w.appliance_state(a, now))
            .collect()
    })
}

pub(crate) fn appliance_state(s: &Shared, name: &str) -> Option<ApplianceState> {
    s.with(|w, now| w.app(name).map(|a| w.appliance_state(a, now)))
}

pub(crate) fn set_site_target(s: &Shared, group: &str, appliance: &str) -> Result<(), SimError> {
    s.with(|w, now| {
        let g = w
            .group_by_name(group)
            .ok_or_else(|| SimError::UnknownGroup(group.to_owned()))?;
        let a = w
            .app(appliance)
            .ok_or_else(|| SimError::UnknownAppliance(appliance.to_owned()))?;
        w.set_site_target(g, a, now)
            .map_err(|e| SimError::Invalid(e.message))
    })
}

pub(crate) fn package_file(
    s: &Shared,
    package_id: &str,
    download_key: &str,
) -> Result<Vec<u8>, SimError> {
    let known = s.with(|w, _| w.package(package_id).is_some());
    if !known {
        return Err(SimError::UnknownPackage(package_id.to_owned()));
    }
    Ok(extension_package_file(package_id, download_key))
}
