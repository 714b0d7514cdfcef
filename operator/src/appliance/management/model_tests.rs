#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

#[test]
fn package_with_unknown_fields_and_without_reboots() {
    let p: Package = parse(json!({
        "id": "product-24.3.2", "name": "BeyondTrust 24.3.2", "kind": "product",
        "version": "24.3.2", "requires": ["base-5.2.0"], "state": "staged",
        "installable": false, "size_bytes": 123, "future": {"x": 1}
    }));
    assert_eq!(p.kind, PackageKind::Product);
    assert_eq!(p.version, "24.3.2".parse().unwrap());
    assert_eq!(p.requires, ["base-5.2.0"]);
    assert_eq!(p.state, PackageState::Staged);
    assert!(!p.installable);
    assert!(!p.reboots);
}

#[test]
fn install_with_nulls() {
    let i: Install = parse(json!({
        "id": "i-1", "package_id": "base-5.2.0", "state": "rebooting", "progress_percent": 60,
        "message": null, "started_at": "2024-11-24T00:00:00+00:00", "finished_at": null
    }));
    assert_eq!(i.state, InstallState::Rebooting);
    assert!(!i.state.is_terminal());
    assert_eq!(i.finished_at, None);
    assert_eq!(i.started_at.timestamp(), 1_732_406_400);
}

#[test]
fn failover_and_sync() {
    let f: Failover = parse(json!({
        "relationship": "established", "role": "primary", "peer_address": "https://rs-b:443",
        "backup_operations_enabled": true,
        "shared_ips": [{"ip": "10.0.0.10", "enabled": true}],
        "sync": {"state": "succeeded", "started_at": "2024-11-24T00:00:00Z",
                 "finished_at": "2024-11-24T00:01:00+00:00"}
    }));
    assert_eq!(f.relationship, Relationship::Established);
    assert_eq!(f.role, FailoverRole::Primary);
    assert!(f.sync.state.is_terminal());
    assert_eq!(f.shared_ips[0].ip, "10.0.0.10");
}

#[test]
fn cluster_and_distribution() {
    let c: Cluster = parse(json!({
        "role": "primary_master",
        "nodes": [{"appliance_id": "a", "name": "t1", "role": "traffic", "region": null,
                   "accepting_connections": false, "connected_clients": 3,
                   "product_version": "24.1.0"}]
    }));
    assert_eq!(c.role, ClusterMembership::PrimaryMaster);
    assert_eq!(c.nodes[0].role, NodeRole::Traffic);
    assert_eq!(c.nodes[0].connected_clients, 3);
    let d: Distribution = parse(json!({
        "package_id": "product-24.3.2", "state": "running",
        "nodes": [{"appliance_id": "a", "state": "pending"}]
    }));
    assert_eq!(d.nodes[0].state, NodeStageState::Pending);
}

#[test]
fn software_clock_info() {
    let s: Software = parse(json!({
        "product_version": "24.1.0", "build": "abc", "base_version": "5.2.0", "state": "idle",
        "current_install_id": null
    }));
    assert_eq!(s.state, SoftwareState::Idle);
    let c: Clock = parse(json!({"now": "2024-11-24T00:00:00+00:00", "ntp_synchronized": true}));
    assert!(c.ntp_synchronized);
    let i: ExtensionInfo =
        parse(json!({"extension_version": "1.0.0", "appliance_id": "x", "product": "pra"}));
    assert_eq!(i.product, Product::Pra);
}

#[test]
fn missing_required_fields_fail() {
    let r = serde_json::from_value::<Install>(json!({"id": "i-1", "state": "running"}));
    assert!(r.is_err());
}

#[test]
fn establish_request_serializes_the_key_but_never_debugs_it() {
    let req = EstablishRequest {
        peer_address: "https://rs-b.internal:443".into(),
        inter_appliance_key: Some("k3y-material".into()),
    };
    let body = serde_json::to_value(&req).unwrap();
    assert_eq!(
        body,
        json!({"peer_address": "https://rs-b.internal:443", "inter_appliance_key": "k3y-material"})
    );
    assert!(!format!("{req:?}").contains("k3y-material"));
    let no_key = EstablishRequest {
        peer_address: "b".into(),
        inter_appliance_key: None,
    };
    assert_eq!(
        serde_json::to_value(&no_key).unwrap(),
        json!({"peer_address": "b"})
    );
}
