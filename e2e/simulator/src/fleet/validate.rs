//! Validation of a parsed fleet file: references, uniqueness and ranges, checked before
//! anything binds a port, so a mistake in the file is reported once, by name.

use std::collections::{BTreeSet, HashMap};

use super::{ApplianceSpec, FleetSpec, Swing};
use crate::error::SimError;

impl FleetSpec {
    /// Parse and validate a fleet file.
    pub fn from_yaml(yaml: &str) -> Result<Self, SimError> {
        let spec: Self =
            serde_saphyr::from_str(yaml).map_err(|e| SimError::Parse(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Check references, uniqueness and ranges.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidFleet(m));
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return bad(format!("time_scale must be > 0, got {}", self.time_scale));
        }
        if self.oauth.max_tokens == 0 || self.oauth.token_ttl_s <= 0.0 {
            return bad("oauth.max_tokens and oauth.token_ttl_s must be > 0".into());
        }
        if self.rate_limit.per_second == 0 || self.rate_limit.per_hour == 0 {
            return bad("rate_limit values must be > 0".into());
        }
        check_range("timings.sync_s", self.timings.sync_s)?;
        check_range("timings.distribute_s", self.timings.distribute_s)?;
        for (what, v) in [
            ("timings.reboot_s", self.timings.reboot_s),
            ("timings.swap_s", self.timings.swap_s),
            ("timings.shared_ip_s", self.timings.shared_ip_s),
            (
                "timings.first_sync_after_establish_s",
                self.timings.first_sync_after_establish_s,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{what} must be >= 0"));
            }
        }
        let mut packages = HashMap::new();
        for p in &self.catalogue {
            if packages.insert(p.id.as_str(), p).is_some() {
                return bad(format!("duplicate package id {:?}", p.id));
            }
            check_range(&format!("package {} install_s", p.id), p.install_s)?;
        }
        for p in &self.catalogue {
            for r in &p.requires {
                if !packages.contains_key(r.as_str()) {
                    return bad(format!("package {:?} requires unknown {r:?}", p.id));
                }
            }
        }
        let mut apps = HashMap::new();
        let mut ports = BTreeSet::new();
        for a in &self.appliances {
            if a.name.is_empty() || apps.insert(a.name.as_str(), a).is_some() {
                return bad(format!("duplicate or empty appliance name {:?}", a.name));
            }
            if let Some(p) = a.port
                && !ports.insert(p)
            {
                return bad(format!("port {p} used twice"));
            }
            if let Some(c) = &a.clients {
                if !(c.arrival_per_min.is_finite() && c.arrival_per_min >= 0.0) {
                    return bad(format!("{}: clients.arrival_per_min must be >= 0", a.name));
                }
                check_range(&format!("{} clients.session_min", a.name), c.session_min)?;
            }
        }
        let mut grouped: HashMap<&str, &str> = HashMap::new();
        let mut group_names = BTreeSet::new();
        fn claim<'a>(
            apps: &HashMap<&str, &ApplianceSpec>,
            grouped: &mut HashMap<&'a str, &'a str>,
            app: &'a str,
            group: &'a str,
        ) -> Result<(), SimError> {
            if !apps.contains_key(app) {
                return Err(SimError::InvalidFleet(format!(
                    "{group} names unknown appliance {app:?}"
                )));
            }
            if let Some(other) = grouped.insert(app, group) {
                return Err(SimError::InvalidFleet(format!(
                    "appliance {app:?} is in both {other:?} and {group:?}"
                )));
            }
            Ok(())
        }
        for p in &self.pairs {
            if !group_names.insert(p.name.as_str()) {
                return bad(format!("duplicate group name {:?}", p.name));
            }
            claim(&apps, &mut grouped, &p.primary, &p.name)?;
            claim(&apps, &mut grouped, &p.backup, &p.name)?;
            check_swing(&p.name, p.swing, p.shared_ip.as_deref())?;
        }
        for c in &self.clusters {
            if !group_names.insert(c.name.as_str()) {
                return bad(format!("duplicate group name {:?}", c.name));
            }
            claim(&apps, &mut grouped, &c.primary_master, &c.name)?;
            if let Some(b) = &c.backup_master {
                claim(&apps, &mut grouped, b, &c.name)?;
            }
            for t in &c.traffic_nodes {
                claim(&apps, &mut grouped, &t.appliance, &c.name)?;
            }
            check_swing(&c.name, c.swing, c.shared_ip.as_deref())?;
        }
        // Standalone appliances form a group of one named after themselves.
        for a in &self.appliances {
            if !grouped.contains_key(a.name.as_str()) && !group_names.insert(a.name.as_str()) {
                return bad(format!(
                    "appliance {:?} has the name of a pair or cluster",
                    a.name
                ));
            }
        }
        // Failover partners must run the same product.
        let partners = self
            .pairs
            .iter()
            .map(|p| (p.primary.as_str(), p.backup.as_str()))
            .chain(self.clusters.iter().filter_map(|c| {
                c.backup_master
                    .as_deref()
                    .map(|b| (c.primary_master.as_str(), b))
            }));
        for (a, b) in partners {
            if let (Some(a), Some(b)) = (apps.get(a), apps.get(b))
                && a.product != b.product
            {
                return bad(format!("{} and {} run different products", a.name, b.name));
            }
        }
        Ok(())
    }
}

fn check_range(what: &str, r: [f64; 2]) -> Result<(), SimError> {
    if r.iter().all(|v| v.is_finite() && *v >= 0.0) && r[0] <= r[1] {
        Ok(())
    } else {
        Err(SimError::InvalidFleet(format!(
            "{what} must be [low, high] with 0 <= low <= high"
        )))
    }
}

fn check_swing(group: &str, swing: Option<Swing>, shared_ip: Option<&str>) -> Result<(), SimError> {
    if swing == Some(Swing::SharedIp) && shared_ip.is_none() {
        return Err(SimError::InvalidFleet(format!(
            "{group}: swing sharedIp needs shared_ip"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape() -> Result<(), SimError> {
        let spec = FleetSpec::from_yaml(
            r#"
seed: 7
time_scale: 60
oauth: { token_ttl_s: 2 }
catalogue:
  - { id: base-5.1.0, name: "Base Software 5.1.0", kind: base, version: 5.1.0, requires: [], install_s: [900, 1800] }
  - { id: product-24.1, name: "BeyondTrust 24.1", kind: product, version: 24.1, requires: [base-5.1.0], install_s: [900, 3600] }
appliances:
  - { name: a, product: rs, version: 23.3.1, base_version: 5.0.0, clients: { arrival_per_min: 2.0, session_min: [5, 30] } }
  - { name: b, product: rs, version: 23.3.1, base_version: 5.0.0 }
pairs:
  - { name: site1, primary: a, backup: b, shared_ip: 10.0.0.10, strategy: asynchronous, swing: sharedIp }
timings: { reboot_s: 120, sync_s: [30, 120], swap_s: 5, shared_ip_s: 2 }
"#,
        )?;
        assert_eq!(spec.catalogue[1].version.as_str(), "24.1");
        assert_eq!(spec.pairs[0].swing, Some(Swing::SharedIp));
        assert!((spec.oauth.token_ttl_s - 2.0).abs() < f64::EPSILON);
        Ok(())
    }

    #[test]
    fn rejects_an_appliance_in_two_groups() {
        let r = FleetSpec::from_yaml(
            r#"
appliances:
  - { name: a, product: rs, version: 1.0.0, base_version: 1.0.0 }
  - { name: b, product: rs, version: 1.0.0, base_version: 1.0.0 }
pairs:
  - { name: p1, primary: a, backup: b }
  - { name: p2, primary: a, backup: b }
"#,
        );
        assert!(matches!(r, Err(SimError::InvalidFleet(_))));
    }
}
