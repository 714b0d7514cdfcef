//! The `Service` swing: an EndpointSlice, owned by baton, for a Service without a selector.
//! Clients inside the cluster (or an ingress) reach the site through the Service; moving the
//! slice's single endpoint moves the site.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

use crate::context::FIELD_MANAGER;
use crate::members::Connected;

/// The slice's name for a Service.
pub fn slice_name(service: &str) -> String {
    format!("{service}-baton")
}

/// The IP address a member's clients reach it at: `trafficAddress`, else the endpoint's host
/// when it is an IP address. A DNS name is refused: kube-proxy ignores FQDN slices, so a
/// slice naming a host would route nothing.
pub fn address_of(member: &Connected) -> Result<IpAddr, String> {
    address(
        &member.name,
        &member.endpoint,
        member.traffic_address.as_deref(),
    )
}

fn address(
    name: &str,
    endpoint: &url::Url,
    traffic_address: Option<&str>,
) -> Result<IpAddr, String> {
    let host = endpoint
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']']);
    let (text, from) = match traffic_address {
        Some(address) => (address, "trafficAddress"),
        None => (host, "endpoint host"),
    };
    text.parse().map_err(|_| {
        format!(
            "member {}'s {from} {text:?} is not an IP address; set members[].trafficAddress to the IP the Service should send clients to",
            name
        )
    })
}

/// The port the slice gives for a Service port: its numeric `targetPort` (the API server
/// defaults it to `port`), else the member endpoint's port (a named target port names a
/// container port, and there is no container).
fn backend_port(port: &k8s_openapi::api::core::v1::ServicePort, endpoint_port: u16) -> i32 {
    match &port.target_port {
        Some(IntOrString::Int(p)) => *p,
        None => port.port,
        Some(IntOrString::String(_)) => i32::from(endpoint_port),
    }
}

/// The EndpointSlice sending `service`'s clients to `address`: one endpoint, and a port per
/// Service port with the same name (kube-proxy pairs them by name). Owned by the Service,
/// so deleting the Service deletes it.
pub fn slice_for(service: &Service, address: IpAddr, endpoint_port: u16) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|p| EndpointPort {
            name: Some(p.name.clone().unwrap_or_default()),
            port: Some(backend_port(p, endpoint_port)),
            protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
            app_protocol: p.app_protocol.clone(),
        })
        .collect();
    let owner = service.metadata.uid.clone().map(|uid| OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Service".to_owned(),
        name: name.clone(),
        uid,
        ..OwnerReference::default()
    });
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(slice_name(&name)),
            labels: Some(BTreeMap::from([
                ("kubernetes.io/service-name".to_owned(), name),
                (
                    "endpointslice.kubernetes.io/managed-by".to_owned(),
                    "baton.dev".to_owned(),
                ),
            ])),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        address_type: if address.is_ipv4() { "IPv4" } else { "IPv6" }.to_owned(),
        endpoints: Some(vec![Endpoint {
            addresses: vec![address.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..EndpointConditions::default()
            }),
            ..Endpoint::default()
        }]),
        ports: Some(ports),
    }
}

/// Whether the slice in the cluster already routes as `want` does.
pub async fn routes_as(
    api: &Api<EndpointSlice>,
    want: &EndpointSlice,
) -> Result<bool, kube::Error> {
    let name = want.metadata.name.as_deref().unwrap_or_default();
    Ok(api.get_opt(name).await?.is_some_and(|s| {
        s.address_type == want.address_type
            && s.endpoints == want.endpoints
            && s.ports == want.ports
    }))
}

/// Writes the slice (server-side apply: created the first time, moved after).
pub async fn apply(api: &Api<EndpointSlice>, slice: &EndpointSlice) -> Result<(), kube::Error> {
    let name = slice.metadata.name.as_deref().unwrap_or_default();
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(slice),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(ports: serde_json::Value) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "rs-site", "uid": "u-1" },
            "spec": { "ports": ports },
        }))
        .unwrap_or_default()
    }

    fn member(endpoint: &str, traffic_address: Option<&str>) -> Result<IpAddr, String> {
        let endpoint = url::Url::parse(endpoint).map_err(|e| e.to_string())?;
        address("rs-b", &endpoint, traffic_address)
    }

    #[test]
    fn the_slice_mirrors_the_service_ports_by_name_and_target_port() {
        let svc = service(serde_json::json!([
            { "name": "web", "port": 443, "targetPort": 8443, "protocol": "TCP" },
            { "name": "alt", "port": 80, "targetPort": "http" },
            { "name": "plain", "port": 8080 },
        ]));
        let slice = slice_for(
            &svc,
            "10.0.0.7".parse().unwrap_or(IpAddr::from([0; 4])),
            9443,
        );
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(
            slice.endpoints.unwrap_or_default()[0].addresses,
            ["10.0.0.7"]
        );
        let ports: Vec<_> = slice
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.name.unwrap_or_default(), p.port.unwrap_or_default()))
            .collect();
        assert_eq!(
            ports,
            [
                ("web".into(), 8443),
                ("alt".into(), 9443),
                ("plain".into(), 8080)
            ]
        );
        let labels = slice.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels.get("kubernetes.io/service-name").map(String::as_str),
            Some("rs-site")
        );
        let owner = slice.metadata.owner_references.unwrap_or_default();
        assert_eq!(owner.first().map(|o| o.uid.as_str()), Some("u-1"));
        let v6 = slice_for(
            &svc,
            "2001:db8::7".parse().unwrap_or(IpAddr::from([0; 4])),
            443,
        );
        assert_eq!(v6.address_type, "IPv6");
    }

    #[test]
    fn the_address_is_the_traffic_address_else_an_ip_endpoint_never_a_name() {
        let ip = |s: &str| s.parse::<IpAddr>().map_err(|e| e.to_string());
        assert_eq!(member("https://10.0.0.7:8443", None), ip("10.0.0.7"));
        assert_eq!(member("https://[2001:db8::9]", None), ip("2001:db8::9"));
        assert_eq!(
            member("https://rs-b.example.com", Some("192.0.2.11")),
            ip("192.0.2.11")
        );
        let refused = member("https://rs-b.example.com", None)
            .err()
            .unwrap_or_default();
        assert!(
            refused.contains("rs-b")
                && refused.contains("rs-b.example.com")
                && refused.contains("trafficAddress"),
            "{refused}"
        );
    }
}
