//! Every documented reply shape, with the default namespace, with a prefix, and without one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::appliance::version::Version;

const NS: &str = r#" xmlns="http://www.bomgar.com/namespaces/API/command""#;

/// The same document three ways: default namespace, prefixed namespace, no namespace.
fn variants(root: &str, inner: &str) -> Vec<String> {
    let prefixed_inner = inner
        .replace("</", "\u{0}")
        .replace('<', "<ns:")
        .replace('\u{0}', "</ns:");
    vec![
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}{NS}>{inner}</{root}>"),
        format!(
            "<ns:{root} xmlns:ns=\"http://www.bomgar.com/namespaces/API/command\">{prefixed_inner}</ns:{root}>"
        ),
        format!("<{root}>{inner}</{root}>"),
    ]
}

const HEALTH: &str = r#"
  <appliance id="3f2a">rs-a.example.com</appliance>
  <version>24.3.2 (build-8f3c2a)</version>
  <success>1</success>
  <failover_role>primary</failover_role>
  <enabled_shared_ips><ip>10.0.0.10</ip><ip>10.0.0.11</ip></enabled_shared_ips>
  <last_data_sync_time ts="1732406400">2024-11-24T00:00:00+00:00</last_data_sync_time>
  <last_data_sync_status>Success</last_data_sync_status>
"#;

#[test]
fn health_in_every_namespace_form() {
    for doc in variants("health_check", HEALTH) {
        let h = health(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        assert_eq!(h.appliance_id, "3f2a");
        assert_eq!(h.hostname, "rs-a.example.com");
        assert_eq!(h.version.version, "24.3.2".parse::<Version>().unwrap());
        assert_eq!(h.version.build.as_deref(), Some("8f3c2a"));
        assert!(h.healthy);
        assert_eq!(h.error_message, None);
        assert_eq!(h.failover_role, FailoverRole::Primary);
        assert_eq!(h.shared_ips, ["10.0.0.10", "10.0.0.11"]);
        let sync = h.last_sync.expect("sync");
        assert_eq!(sync.at.timestamp(), 1_732_406_400);
        assert!(sync.succeeded());
    }
}

#[test]
fn health_without_failover_or_shared_ips() {
    let doc = format!(
        "<health_check{NS}><appliance id=\"x\">h</appliance><version>19.1.8</version>\
         <success>0</success><error_message>disk full</error_message>\
         <failover_role>none</failover_role></health_check>"
    );
    let h = health(doc.as_bytes()).unwrap();
    assert!(!h.healthy);
    assert_eq!(h.error_message.as_deref(), Some("disk full"));
    assert_eq!(h.failover_role, FailoverRole::None);
    assert!(h.shared_ips.is_empty());
    assert_eq!(h.last_sync, None);
    assert_eq!(h.version.build, None);
}

#[test]
fn health_sync_time_without_ts_uses_iso_text() {
    let doc = "<health_check><appliance id=\"x\">h</appliance><version>24.1.0</version>\
        <success>1</success><failover_role>backup</failover_role>\
        <last_data_sync_time>2024-11-24T00:00:00+00:00</last_data_sync_time></health_check>";
    let h = health(doc.as_bytes()).unwrap();
    assert_eq!(h.last_sync.unwrap().at.timestamp(), 1_732_406_400);
}

#[test]
fn health_ignores_unknown_elements() {
    let doc = format!(
        "<health_check{NS}><future_field a=\"1\"><nested/></future_field>{HEALTH}</health_check>"
    );
    assert!(health(doc.as_bytes()).is_ok());
}

const APPLIANCES: &str = r#"
  <appliance id="3f2a">
    <name>rs-a</name>
    <public_hostname>rs-a.example.com</public_hostname>
    <cluster_role>single</cluster_role>
    <failover_role>primary</failover_role>
    <accepting_connections>1</accepting_connections>
    <timezone_offset>0</timezone_offset>
  </appliance>
  <appliance id="9b1c">
    <name>rs-t1</name>
    <public_hostname>rs-t1.example.com</public_hostname>
    <cluster_role>traffic</cluster_role>
    <failover_role>none</failover_role>
    <accepting_connections>0</accepting_connections>
    <timezone_offset>-18000</timezone_offset>
  </appliance>
"#;

#[test]
fn appliances_in_every_namespace_form() {
    for doc in variants("appliances", APPLIANCES) {
        let list = appliances(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].id, "3f2a");
        assert_eq!(list[0].name, "rs-a");
        assert_eq!(list[0].public_hostname, "rs-a.example.com");
        assert_eq!(list[0].cluster_role, ClusterRole::Single);
        assert_eq!(list[0].failover_role, FailoverRole::Primary);
        assert!(list[0].accepting_connections);
        assert_eq!(list[1].cluster_role, ClusterRole::Traffic);
        assert!(!list[1].accepting_connections);
        assert_eq!(list[1].timezone_offset, "-18000");
    }
}

#[test]
fn empty_appliance_list() {
    assert!(appliances(b"<appliances/>").unwrap().is_empty());
}

const CLIENTS: &str = r#"
  <connected_client_summary>
    <appliance_summary id="3f2a">
      <count type="representative">2</count>
      <count type="support_customer">5</count>
      <count type="presentation_attendee">0</count>
      <count type="push_agent">0</count>
      <count type="pinned_client">1</count>
    </appliance_summary>
    <appliance_summary id="9b1c">
      <count type="representative">0</count>
    </appliance_summary>
  </connected_client_summary>
"#;

#[test]
fn client_counts_in_every_namespace_form() {
    for doc in variants("connected_client_list", CLIENTS) {
        let c = client_counts(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        let a = &c.per_appliance["3f2a"];
        assert_eq!(a.total, 8);
        assert_eq!(a.by_type["support_customer"], 5);
        assert_eq!(a.by_type.len(), 5);
        assert_eq!(c.total_for("9b1c"), 0);
        assert_eq!(c.total_for("absent"), 0);
    }
}

const API_INFO: &str = r#"
  <api_version>1.24.0</api_version>
  <timestamp>1732406400</timestamp>
  <permissions>
    <permission name="perm_command">full_access</permission>
    <permission name="perm_backup">1</permission>
    <permission name="perm_reporting">0</permission>
  </permissions>
"#;

#[test]
fn api_info_in_every_namespace_form() {
    for doc in variants("api_information", API_INFO) {
        let info = api_info(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        assert_eq!(info.api_version, "1.24.0");
        assert_eq!(info.timestamp.map(|t| t.timestamp()), Some(1_732_406_400));
        assert_eq!(info.permissions.command, Access::FullAccess);
        assert!(info.permissions.backup);
        assert_eq!(info.permissions.all["perm_reporting"], "0");
    }
}

#[test]
fn api_info_read_only_account() {
    let doc = "<api_information><api_version>1.24.0</api_version><permissions>\
        <permission name=\"perm_command\">read_only</permission>\
        <permission name=\"perm_backup\">0</permission></permissions></api_information>";
    let info = api_info(doc.as_bytes()).unwrap();
    assert_eq!(info.permissions.command, Access::ReadOnly);
    assert!(!info.permissions.backup);
    assert_eq!(info.timestamp, None);
}

#[test]
fn success_reply() {
    for doc in variants("success", "Failover role changed") {
        assert_eq!(
            success("set_failover_role", doc.as_bytes()).unwrap(),
            "Failover role changed"
        );
    }
}

#[test]
fn error_root_is_an_appliance_error_with_its_own_message() {
    let doc = format!("<error{NS}>Peer appliance &amp; backup not reachable</error>");
    match health(doc.as_bytes()) {
        Err(Error::Appliance { message, .. }) => {
            assert_eq!(message, "Peer appliance & backup not reachable");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        error_message(doc.as_bytes()).as_deref(),
        Some("Peer appliance & backup not reachable")
    );
    assert_eq!(error_message(b"<success>ok</success>"), None);
}

#[test]
fn malformed_xml_is_a_bad_response() {
    let cases: &[&[u8]] = &[
        b"",
        b"not xml at all",
        b"<health_check><appliance id=\"x\">h</appliance>",
        b"<health_check><version>1</wrong></health_check>",
        b"<health_check></health_check><health_check></health_check>",
        b"<appliances><appliance id=\"x\"><name>&bogus;</name></appliance></appliances>",
        b"\xff\xfe<health_check/>",
        b"{\"json\": true}",
    ];
    for body in cases {
        match health(body) {
            Err(Error::BadResponse { op, .. }) => assert_eq!(op, "check_health"),
            other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn wrong_root_or_missing_fields_is_a_bad_response() {
    let cases = [
        "<appliances/>",
        "<health_check><appliance id=\"x\">h</appliance><success>1</success></health_check>",
        "<health_check><appliance id=\"x\">h</appliance><version>new</version><success>1</success></health_check>",
        "<health_check><appliance id=\"x\">h</appliance><version>24.1</version><success>yes</success></health_check>",
        "<health_check><appliance id=\"x\">h</appliance><version>24.1</version><success>1</success><failover_role>leader</failover_role></health_check>",
    ];
    for doc in cases {
        assert!(
            matches!(health(doc.as_bytes()), Err(Error::BadResponse { .. })),
            "{doc}"
        );
    }
    let no_id = "<appliances><appliance><name>a</name></appliance></appliances>";
    assert!(matches!(
        appliances(no_id.as_bytes()),
        Err(Error::BadResponse { .. })
    ));
    let bad_count = "<connected_client_list><connected_client_summary><appliance_summary id=\"a\">\
        <count type=\"representative\">-1</count></appliance_summary></connected_client_summary>\
        </connected_client_list>";
    assert!(matches!(
        client_counts(bad_count.as_bytes()),
        Err(Error::BadResponse { .. })
    ));
}

#[test]
fn cdata_and_character_references_are_text() {
    let doc = "<success><![CDATA[role <changed>]]> &#x21;</success>";
    assert_eq!(
        success("set_failover_role", doc.as_bytes()).unwrap(),
        "role <changed> !"
    );
}
