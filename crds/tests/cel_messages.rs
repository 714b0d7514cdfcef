//! The schema's CEL rules, evaluated client-side with kube's CEL library: a good manifest
//! passes, each bad one fails with the message a person is meant to read. The e2e suite sends
//! the same kind of manifests to a real API server.

use baton_crds::{AppliancePair, AtlasCluster};
use kube::CustomResourceExt;
use kube::core::cel::Validator;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn schema_of(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Result<Value, Box<dyn std::error::Error>> {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .ok_or("CRD without schema")?;
    Ok(serde_json::to_value(schema)?)
}

fn example(file: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let path = format!("{}/../docs/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    Ok(serde_saphyr::from_str(&std::fs::read_to_string(path)?)?)
}

/// The messages of every rule the object breaks.
fn violations(schema: &Value, object: &Value) -> Vec<String> {
    match Validator::new().validate(schema, object, None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().into_iter().map(|e| e.message).collect(),
    }
}

fn pair_with(edit: impl FnOnce(&mut Value)) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut object = example("appliancepair.yaml")?;
    edit(&mut object);
    Ok(violations(&schema_of(&AppliancePair::crd())?, &object))
}

fn atlas_with(edit: impl FnOnce(&mut Value)) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut object = example("atlascluster.yaml")?;
    edit(&mut object);
    Ok(violations(&schema_of(&AtlasCluster::crd())?, &object))
}

fn assert_rejected_with(messages: &[String], expected: &str) {
    assert!(
        messages.iter().any(|m| m.contains(expected)),
        "expected a violation containing {expected:?}, got {messages:?}"
    );
}

#[test]
fn the_examples_are_valid() -> TestResult {
    assert_eq!(pair_with(|_| {})?, Vec::<String>::new());
    assert_eq!(atlas_with(|_| {})?, Vec::<String>::new());
    // They also deserialize into the Rust types the operator uses.
    let _: AppliancePair = serde_json::from_value(example("appliancepair.yaml")?)?;
    let _: AtlasCluster = serde_json::from_value(example("atlascluster.yaml")?)?;
    Ok(())
}

#[test]
fn a_pair_has_exactly_two_members() -> TestResult {
    let messages = pair_with(|o| {
        if let Some(members) = o["spec"]["members"].as_array_mut() {
            members.truncate(1);
        }
    })?;
    assert_rejected_with(&messages, "a pair has exactly two members");
    Ok(())
}

#[test]
fn pair_members_need_distinct_names_and_endpoints() -> TestResult {
    let messages = pair_with(|o| o["spec"]["members"][1]["name"] = json!("rs-a"))?;
    assert_rejected_with(&messages, "the two members need distinct names");
    let messages = pair_with(|o| {
        o["spec"]["members"][1]["endpoint"] = o["spec"]["members"][0]["endpoint"].clone();
    })?;
    assert_rejected_with(&messages, "the two members need distinct endpoints");
    Ok(())
}

#[test]
fn versions_must_be_well_formed() -> TestResult {
    for bad in ["24.3", "v24.3.2", "24.3.2-beta", "latest", ""] {
        let messages = pair_with(|o| o["spec"]["version"] = json!(bad))?;
        assert_rejected_with(
            &messages,
            "version must be a product version of three numbers",
        );
    }
    let messages = atlas_with(|o| o["spec"]["version"] = json!("24.x.1"))?;
    assert_rejected_with(
        &messages,
        "version must be a product version of three numbers",
    );
    Ok(())
}

#[test]
fn endpoints_must_be_https_urls() -> TestResult {
    for bad in [
        "http://rs-a.example.com",
        "rs-a.example.com",
        "https://",
        "ftp://x",
    ] {
        let messages = pair_with(|o| o["spec"]["members"][0]["endpoint"] = json!(bad))?;
        assert_rejected_with(&messages, "endpoint must be an https:// URL");
    }
    let messages = atlas_with(|o| o["spec"]["trafficNodes"][0]["endpoint"] = json!("http://x"))?;
    assert_rejected_with(&messages, "endpoint must be an https:// URL");
    Ok(())
}

#[test]
fn durations_must_parse() -> TestResult {
    for bad in ["1 day", "24", "h", "-5m"] {
        let messages = pair_with(|o| o["spec"]["soak"] = json!(bad))?;
        assert_rejected_with(&messages, "soak must be a duration");
    }
    let messages = atlas_with(|o| o["spec"]["drain"]["timeout"] = json!("soon"))?;
    assert_rejected_with(&messages, "drain.timeout must be a duration");
    let messages = pair_with(|o| o["spec"]["maintenanceWindows"][0]["duration"] = json!("200h"))?;
    assert_rejected_with(&messages, "a maintenance window lasts at most a week");
    let messages = pair_with(|o| o["spec"]["maintenanceWindows"][0]["start"] = json!("25:00"))?;
    assert_rejected_with(&messages, "maintenance window start must be HH:MM");
    Ok(())
}

#[test]
fn every_traffic_node_has_a_region() -> TestResult {
    let messages = atlas_with(|o| {
        if let Some(node) = o["spec"]["trafficNodes"][0].as_object_mut() {
            node.remove("region");
        }
    })?;
    assert_rejected_with(&messages, "every traffic node needs a region");
    let messages = atlas_with(|o| o["spec"]["trafficNodes"][0]["region"] = json!(""))?;
    assert_rejected_with(&messages, "every traffic node needs a region");
    Ok(())
}

#[test]
fn atlas_node_names_are_unique_across_masters() -> TestResult {
    let messages = atlas_with(|o| o["spec"]["trafficNodes"][0]["name"] = json!("master-a"))?;
    assert_rejected_with(&messages, "node names must be unique");
    let messages = atlas_with(|o| o["spec"]["backupMaster"]["name"] = json!("master-a"))?;
    assert_rejected_with(&messages, "the backup master needs a name different");
    Ok(())
}

#[test]
fn the_drain_fraction_is_in_zero_to_one_half() -> TestResult {
    for bad in [0.0, -0.1, 0.51, 1.0] {
        let messages = atlas_with(|o| o["spec"]["drain"]["fraction"] = json!(bad))?;
        assert_rejected_with(
            &messages,
            "drain.fraction must be more than 0 and at most 0.5",
        );
    }
    for good in [0.1, 0.25, 0.5] {
        assert_eq!(
            atlas_with(|o| o["spec"]["drain"]["fraction"] = json!(good))?,
            Vec::<String>::new()
        );
    }
    Ok(())
}

#[test]
fn max_concurrent_installs_is_bounded() -> TestResult {
    let messages = atlas_with(|o| o["spec"]["maxConcurrentInstalls"] = json!(0))?;
    assert_rejected_with(
        &messages,
        "maxConcurrentInstalls must be between 1 and 1000",
    );
    let messages = atlas_with(|o| o["spec"]["maxConcurrentInstalls"] = json!(1001))?;
    assert_rejected_with(
        &messages,
        "maxConcurrentInstalls must be between 1 and 1000",
    );
    assert_eq!(
        atlas_with(|o| o["spec"]["maxConcurrentInstalls"] = json!(500))?,
        Vec::<String>::new()
    );
    Ok(())
}

#[test]
fn service_swing_names_its_service() -> TestResult {
    let messages = pair_with(|o| o["spec"]["trafficSwing"] = json!({"provider": "Service"}))?;
    assert_rejected_with(&messages, "trafficSwing.service is required");
    Ok(())
}

#[test]
fn backup_destination_is_exactly_one_place() -> TestResult {
    let messages = pair_with(|o| {
        o["spec"]["backup"]["destination"] = json!({"secret": {}, "volume": {"path": "/b"}});
    })?;
    assert_rejected_with(&messages, "exactly one of volume or secret");
    let messages =
        pair_with(|o| o["spec"]["backup"]["destination"] = json!({"volume": {"path": "b"}}))?;
    assert_rejected_with(&messages, "must be an absolute path");
    Ok(())
}

#[test]
fn approvals_name_an_upgrade_and_a_gate() -> TestResult {
    let messages = pair_with(|o| o["spec"]["approval"]["approved"] = json!(["yes please"]))?;
    assert_rejected_with(&messages, "each approval must be <upgrade id>/<gate>");
    let ok =
        pair_with(|o| o["spec"]["approval"]["approved"] = json!(["u-7f3a9c/BeforePromotion"]))?;
    assert_eq!(ok, Vec::<String>::new());
    Ok(())
}

#[test]
fn member_names_are_dns_labels() -> TestResult {
    let messages = pair_with(|o| o["spec"]["members"][0]["name"] = json!("RS_A"))?;
    assert_rejected_with(&messages, "member name must be a DNS label");
    Ok(())
}
