//! The `Service` swing: an EndpointSlice, owned by baton, for a Service without a selector.
//! Clients inside the cluster (or an ingress) reach the site through the Service; moving the
//! slice's single endpoint moves the site.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use url::Url;

use crate::context::FIELD_MANAGER;

/// The slice's name for a Service.
pub fn slice_name(service: &str) -> String {
    format!("{service}-baton")
}

/// The EndpointSlice pointing `service` at `endpoint`'s host and port.
pub fn slice_for(service: &str, endpoint: &Url) -> EndpointSlice {
    let host = endpoint
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let address_type = match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => "IPv4",
        Ok(IpAddr::V6(_)) => "IPv6",
        Err(_) => "FQDN",
    };
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(slice_name(service)),
            labels: Some(BTreeMap::from([
                ("kubernetes.io/service-name".to_owned(), service.to_owned()),
                (
                    "endpointslice.kubernetes.io/managed-by".to_owned(),
                    "baton.dev".to_owned(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        address_type: address_type.to_owned(),
        endpoints: Some(vec![Endpoint {
            addresses: vec![host],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..EndpointConditions::default()
            }),
            ..Endpoint::default()
        }]),
        ports: Some(vec![EndpointPort {
            name: Some("https".to_owned()),
            port: Some(i32::from(endpoint.port_or_known_default().unwrap_or(443))),
            protocol: Some("TCP".to_owned()),
            ..EndpointPort::default()
        }]),
    }
}

/// Whether the slice already points at `endpoint`.
pub async fn points_at(
    api: &Api<EndpointSlice>,
    service: &str,
    endpoint: &Url,
) -> Result<bool, kube::Error> {
    let want = slice_for(service, endpoint);
    Ok(api
        .get_opt(&slice_name(service))
        .await?
        .is_some_and(|s| s.endpoints == want.endpoints && s.ports == want.ports))
}

/// Points the slice at `endpoint`.
pub async fn point_at(
    api: &Api<EndpointSlice>,
    service: &str,
    endpoint: &Url,
) -> Result<(), kube::Error> {
    let slice = slice_for(service, endpoint);
    api.patch(
        &slice_name(service),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&slice),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slice_names_the_service_and_the_address_type_fits_the_host()
    -> Result<(), url::ParseError> {
        let slice = slice_for("rs-site", &Url::parse("https://10.0.0.7:8443")?);
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(
            slice.endpoints.unwrap_or_default()[0].addresses,
            ["10.0.0.7"]
        );
        assert_eq!(slice.ports.as_ref().and_then(|p| p[0].port), Some(8443));
        let labels = slice.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels.get("kubernetes.io/service-name").map(String::as_str),
            Some("rs-site")
        );
        assert_eq!(
            slice_for("s", &Url::parse("https://rs-b.example.com")?).address_type,
            "FQDN"
        );
        assert_eq!(
            slice_for("s", &Url::parse("https://[::1]")?).address_type,
            "IPv6"
        );
        Ok(())
    }
}
