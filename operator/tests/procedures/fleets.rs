//! The simulated fleets the procedures run on: an RS failover pair and a PRA Atlas cluster,
//! both on 23.3.1 / base 5.0.0, with the hops to 24.2.0 in their catalogue.

/// Every hop from 23.3.1 / base 5.0.0 to 24.2.0, in dependency order (base first, R2).
pub(crate) const HOPS: [&str; 3] = ["base-5.1.0", "product-24.1.0", "product-24.2.0"];
pub(crate) const TARGET_PRODUCT: &str = "24.2.0";
pub(crate) const TARGET_BASE: &str = "5.1.0";

/// Shared by every fleet here. Installs take 10 to 20 simulated minutes (a fifth of a real
/// second at the fleets' scale); base software reboots afterwards.
const CATALOGUE: &str = r#"
catalogue:
  - { id: base-5.1.0, name: "Base Software 5.1.0", kind: base, version: 5.1.0, requires: [], install_s: [600, 900] }
  - { id: product-24.1.0, name: "BeyondTrust 24.1.0", kind: product, version: 24.1.0, requires: [base-5.1.0], install_s: [900, 1200] }
  - { id: product-24.2.0, name: "BeyondTrust 24.2.0", kind: product, version: 24.2.0, requires: [product-24.1.0], install_s: [900, 1200] }
"#;

/// Site clients: a few per simulated minute, sessions of 2 to 10 simulated minutes, so a
/// drain ends within a fraction of a real second.
pub(crate) const CLIENTS: &str = ", clients: { arrival_per_min: 6.0, session_min: [2, 10] }";

/// An RS failover pair under the asynchronous strategy with a shared IP; `clients` is
/// appended to rs-a's entry (the pair's site traffic goes to whoever serves it).
pub(crate) fn pair_fleet(clients: &str) -> String {
    format!(
        r#"
seed: 11
time_scale: 3600
rate_limit: {{ per_second: 100 }}
{CATALOGUE}
appliances:
  - {{ name: rs-a, product: rs, version: 23.3.1, base_version: 5.0.0{clients} }}
  - {{ name: rs-b, product: rs, version: 23.3.1, base_version: 5.0.0 }}
pairs:
  - {{ name: site1, primary: rs-a, backup: rs-b, shared_ip: 10.0.0.10, strategy: asynchronous, swing: sharedIp }}
timings: {{ reboot_s: 120, sync_s: [30, 60], swap_s: 5, shared_ip_s: 2, first_sync_after_establish_s: 60 }}
"#
    )
}

/// A PRA Atlas cluster: primary master m-a, backup master m-b (established), traffic nodes
/// in regions of 2 (eu), 3 (us) and 1 (ap), each with its own clients. The masters carry no
/// client traffic of their own: in an Atlas cluster sessions run on the traffic nodes.
pub(crate) fn atlas_fleet() -> String {
    format!(
        r#"
seed: 21
time_scale: 3600
rate_limit: {{ per_second: 100 }}
{CATALOGUE}
appliances:
  - {{ name: m-a, product: pra, version: 23.3.1, base_version: 5.0.0 }}
  - {{ name: m-b, product: pra, version: 23.3.1, base_version: 5.0.0 }}
  - {{ name: t-eu1, product: pra, version: 23.3.1, base_version: 5.0.0{CLIENTS} }}
  - {{ name: t-eu2, product: pra, version: 23.3.1, base_version: 5.0.0{CLIENTS} }}
  - {{ name: t-us1, product: pra, version: 23.3.1, base_version: 5.0.0{CLIENTS} }}
  - {{ name: t-us2, product: pra, version: 23.3.1, base_version: 5.0.0{CLIENTS} }}
  - {{ name: t-us3, product: pra, version: 23.3.1, base_version: 5.0.0{CLIENTS} }}
  - {{ name: t-ap1, product: pra, version: 23.3.1, base_version: 5.0.0{CLIENTS} }}
clusters:
  - name: atlas1
    primary_master: m-a
    backup_master: m-b
    shared_ip: 10.0.1.10
    strategy: asynchronous
    swing: sharedIp
    traffic_nodes:
      - {{ appliance: t-eu1, region: eu }}
      - {{ appliance: t-eu2, region: eu }}
      - {{ appliance: t-us1, region: us }}
      - {{ appliance: t-us2, region: us }}
      - {{ appliance: t-us3, region: us }}
      - {{ appliance: t-ap1, region: ap }}
timings: {{ reboot_s: 120, sync_s: [30, 60], swap_s: 5, shared_ip_s: 2, distribute_s: [10, 20] }}
"#
    )
}
