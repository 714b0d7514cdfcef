//! Traffic swing: moving the site address to the member that becomes primary.
//!
//! - `SharedIp`: through the appliances, the shared IP off on the old primary, then on on the
//!   new one. The order matters: two holders at once would be split brain (I1).
//! - `Service`: a Kubernetes Service without a selector whose EndpointSlice baton points at
//!   the new primary's address.
//! - `Manual`: a person moves DNS or NAT and confirms with the `TrafficSwing` approval.
//!
//! Each provider checks the current state first, so running it again after a restart does
//! nothing twice.

pub mod service;

use crate::members::Connected;
use crate::upgrade::verdict::Verdict;

pub use crate::upgrade::gates::confirmation_id;

/// One side of a swing: the member and whether it holds the site address now.
pub type Side<'a> = (&'a Connected, bool);

/// Moves the shared IP: off the old primary first, then onto the new one (never two holders).
pub async fn move_shared_ip(from: Side<'_>, to: Side<'_>) -> Result<(), crate::appliance::Error> {
    if from.1 {
        from.0.appliance.set_shared_ips(false).await?;
    }
    if !to.1 {
        to.0.appliance.set_shared_ips(true).await?;
    }
    Ok(())
}

/// What a swing needs.
pub struct SwingInput<'a> {
    pub client: &'a kube::Client,
    pub namespace: &'a str,
    pub spec: &'a baton_crds::common::TrafficSwing,
    pub from: Side<'a>,
    pub to: Side<'a>,
    /// A person confirmed a manual swing.
    pub confirmed: bool,
    /// `apair <name>`, for the command a message suggests.
    pub resource: &'a str,
    /// The confirmation's id ([`confirmation_id`]).
    pub upgrade_id: &'a str,
    pub busy: std::time::Duration,
    pub gated: std::time::Duration,
}

impl std::fmt::Debug for SwingInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwingInput")
            .field("from", &self.from.0.name)
            .field("to", &self.to.0.name)
            .finish_non_exhaustive()
    }
}

/// Performs the swing the spec names and says how it stands.
pub async fn swing(s: SwingInput<'_>) -> Verdict {
    use baton_crds::common::SwingProvider;
    use baton_crds::conditions::reasons;
    let (from, to) = (s.from, s.to);
    let now =
        |message: String| Verdict::wait(reasons::UPGRADING, message, std::time::Duration::ZERO);
    let retry = |message: String| Verdict::wait(reasons::UNREACHABLE, message, s.busy);
    match s.spec.provider {
        SwingProvider::SharedIp => {
            if to.1 && !from.1 {
                return Verdict::Done(format!("{} holds the site address", to.0.name));
            }
            match move_shared_ip(from, to).await {
                Ok(()) => now(format!("moving the shared IP to {}", to.0.name)),
                Err(e) => retry(e.to_string()),
            }
        }
        SwingProvider::Service => service_swing(&s, to.0).await,
        SwingProvider::Manual if s.confirmed => Verdict::Done(format!(
            "a person confirmed the site points at {}",
            to.0.name
        )),
        SwingProvider::Manual => Verdict::wait(
            reasons::AWAITING_APPROVAL,
            format!(
                "move the site's DNS or NAT to {} ({}), then confirm with `kubectl annotate {} {}={}/TrafficSwing`",
                to.0.name,
                to.0.endpoint,
                s.resource,
                crate::upgrade::gates::APPROVE_ANNOTATION,
                s.upgrade_id
            ),
            s.gated,
        ),
    }
}

/// The `Service` provider: the Service's slice pointed at `to`'s traffic address.
async fn service_swing(s: &SwingInput<'_>, to: &Connected) -> Verdict {
    use baton_crds::conditions::reasons;
    let retry = |message: String| Verdict::wait(reasons::UNREACHABLE, message, s.busy);
    // Refused before anything moves: no retry helps until the spec changes, and the old
    // primary must not be touched meanwhile.
    let invalid = |message: String| Verdict::failed(reasons::INVALID_SPEC, message);
    let Some(name) = s.spec.service.as_ref().map(|x| x.name.as_str()) else {
        return invalid("trafficSwing.service is required for the Service provider".to_owned());
    };
    let address = match service::address_of(to) {
        Ok(address) => address,
        Err(message) => {
            return invalid(format!(
                "cannot point Service {name} at {}: {message}",
                to.name
            ));
        }
    };
    let services: kube::Api<k8s_openapi::api::core::v1::Service> =
        kube::Api::namespaced(s.client.clone(), s.namespace);
    let found = match services.get_opt(name).await {
        Ok(Some(found)) => found,
        // A person creates it; the swing goes on by itself once it exists.
        Ok(None) => {
            return Verdict::wait(
                reasons::INVALID_SPEC,
                format!(
                    "Service {name} does not exist in namespace {}: create it without a selector so baton can point it at {}",
                    s.namespace, to.name
                ),
                s.gated,
            );
        }
        Err(e) => return retry(format!("failed to read Service {name}: {e}")),
    };
    let port = to.endpoint.port_or_known_default().unwrap_or(443);
    let want = service::slice_for(&found, address, port);
    let slices: kube::Api<k8s_openapi::api::discovery::v1::EndpointSlice> =
        kube::Api::namespaced(s.client.clone(), s.namespace);
    match service::routes_as(&slices, &want).await {
        Ok(true) => Verdict::Done(format!("Service {name} points at {} ({address})", to.name)),
        Ok(false) => match service::apply(&slices, &want).await {
            Ok(()) => Verdict::wait(
                reasons::UPGRADING,
                format!("pointing Service {name} at {} ({address})", to.name),
                std::time::Duration::ZERO,
            ),
            // The API server refuses the address itself (loopback, link-local).
            Err(kube::Error::Api(e)) if e.code == 422 => invalid(format!(
                "the API server refuses to point Service {name} at {} ({address}): {}; set members[].trafficAddress to an address clients can reach",
                to.name, e.message
            )),
            Err(e) => retry(format!("failed to update the EndpointSlice of {name}: {e}")),
        },
        Err(e) => retry(format!("failed to read the EndpointSlice of {name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::confirmation_id;

    #[test]
    fn a_manual_swing_confirmation_holds_for_its_round_only() {
        assert_eq!(confirmation_id("u-7f3a9c", 1), "u-7f3a9c");
        assert_eq!(confirmation_id("u-7f3a9c", 2), "u-7f3a9c-round2");
        assert_ne!(
            confirmation_id("u-7f3a9c", 2),
            confirmation_id("u-7f3a9c", 3)
        );
    }
}
