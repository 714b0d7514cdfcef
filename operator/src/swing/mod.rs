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

use crate::appliance;
use crate::members::Connected;
use crate::pair::observe::Seen;

/// Whether the shared IP already moved.
pub fn shared_ip_moved(from: &Seen, to: &Seen) -> bool {
    to.holds_site_address() && !from.holds_site_address()
}

/// Moves the shared IP: off on `from`, then on on `to`.
pub async fn move_shared_ip(
    from: &Connected,
    from_seen: &Seen,
    to: &Connected,
    to_seen: &Seen,
) -> Result<(), appliance::Error> {
    if from_seen.holds_site_address() {
        from.appliance.set_shared_ips(false).await?;
    }
    if !to_seen.holds_site_address() {
        to.appliance.set_shared_ips(true).await?;
    }
    Ok(())
}

/// The id a `Manual` swing's confirmation names, `<id>/TrafficSwing`: the upgrade's id in
/// round 1, `<upgrade id>-round<n>` in round n > 1. Every round swings to the other member, so
/// one round's confirmation must not stand for the next.
pub fn confirmation_id(upgrade_id: &str, round: i32) -> String {
    if round > 1 {
        format!("{upgrade_id}-round{round}")
    } else {
        upgrade_id.to_owned()
    }
}

/// The confirmation id of a round's swing and whether it was given, in spec or annotation.
pub fn confirmation(
    resource: &impl crate::drive::status::UpgradeResource,
    upgrade_id: &str,
    round: i32,
) -> (String, bool) {
    let id = confirmation_id(upgrade_id, round);
    let given = resource.approved(&id, "TrafficSwing");
    (id, given)
}

/// Moves `resource`'s site (its `spec.trafficSwing`) from `from` to `to` in round `round` of
/// upgrade `upgrade_id`. `short_name` is how `kubectl` names the kind (`apair`, `atlas`), for
/// the message asking a person to confirm a manual swing.
#[allow(clippy::too_many_arguments)]
pub async fn swing_resource<R>(
    ctx: &crate::context::Context,
    resource: &R,
    short_name: &str,
    spec: &baton_crds::common::TrafficSwing,
    upgrade_id: &str,
    round: i32,
    from: (&Connected, &Seen),
    to: (&Connected, &Seen),
) -> crate::drive::Outcome
where
    R: crate::drive::status::UpgradeResource + kube::Resource<DynamicType = ()>,
{
    let meta = resource.meta();
    let namespace = meta.namespace.clone().unwrap_or_default();
    let label = format!("{short_name} {}", meta.name.as_deref().unwrap_or_default());
    // Each round's swing moves the site to the other member: a confirmation holds for its
    // round only, or the first round's would wave the second through with DNS unmoved.
    let (confirmation, confirmed) = confirmation(resource, upgrade_id, round);
    swing(SwingInput {
        client: &ctx.client,
        namespace: &namespace,
        spec,
        from,
        to,
        confirmed,
        resource: &label,
        upgrade_id: &confirmation,
        busy: ctx.timings.busy,
        gated: ctx.timings.gated,
    })
    .await
}

/// What a swing needs to know.
pub struct SwingInput<'a> {
    pub client: &'a kube::Client,
    pub namespace: &'a str,
    pub spec: &'a baton_crds::common::TrafficSwing,
    pub from: (&'a Connected, &'a Seen),
    pub to: (&'a Connected, &'a Seen),
    /// Whether `<upgrade_id>/TrafficSwing` was approved (the Manual provider's confirmation).
    pub confirmed: bool,
    /// How a person annotates the resource: `apair support-site`.
    pub resource: &'a str,
    /// The id the confirmation names ([`confirmation_id`]).
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

/// Moves the site to `to` with the spec's provider; done once it points there.
pub async fn swing(s: SwingInput<'_>) -> crate::drive::Outcome {
    use crate::drive::Outcome;
    use baton_crds::common::SwingProvider;
    use baton_crds::conditions::reasons;
    let ((from, from_seen), (to, to_seen)) = (s.from, s.to);
    let now = |message: String| Outcome::Wait {
        reason: reasons::UPGRADING,
        message,
        after: std::time::Duration::ZERO,
    };
    let retry = |message: String| Outcome::Wait {
        reason: reasons::UNREACHABLE,
        message,
        after: s.busy,
    };
    match s.spec.provider {
        SwingProvider::SharedIp => {
            if shared_ip_moved(from_seen, to_seen) {
                return Outcome::Done(format!("{} holds the site address", to.name));
            }
            match move_shared_ip(from, from_seen, to, to_seen).await {
                Ok(()) => now(format!("moving the shared IP to {}", to.name)),
                Err(e) => retry(e.to_string()),
            }
        }
        SwingProvider::Service => service_swing(&s, to).await,
        SwingProvider::Manual if s.confirmed => {
            Outcome::Done(format!("a person confirmed the site points at {}", to.name))
        }
        SwingProvider::Manual => Outcome::Wait {
            reason: reasons::AWAITING_APPROVAL,
            message: format!(
                "move the site's DNS or NAT to {} ({}), then confirm with `kubectl annotate {} {}={}/TrafficSwing`",
                to.name,
                to.endpoint,
                s.resource,
                crate::upgrade::gates::APPROVE_ANNOTATION,
                s.upgrade_id
            ),
            after: s.gated,
        },
    }
}

/// The `Service` provider: the Service's slice pointed at `to`'s traffic address.
async fn service_swing(s: &SwingInput<'_>, to: &Connected) -> crate::drive::Outcome {
    use crate::drive::Outcome;
    use baton_crds::conditions::reasons;
    let retry = |message: String| Outcome::Wait {
        reason: reasons::UNREACHABLE,
        message,
        after: s.busy,
    };
    // Refused before anything moves: no retry helps until the spec changes, and the old
    // primary must not be touched meanwhile.
    let invalid = |message: String| Outcome::Failed {
        reason: reasons::INVALID_SPEC,
        message,
    };
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
            return Outcome::Wait {
                reason: reasons::INVALID_SPEC,
                message: format!(
                    "Service {name} does not exist in namespace {}: create it without a selector so baton can point it at {}",
                    s.namespace, to.name
                ),
                after: s.gated,
            };
        }
        Err(e) => return retry(format!("failed to read Service {name}: {e}")),
    };
    let port = to.endpoint.port_or_known_default().unwrap_or(443);
    let want = service::slice_for(&found, address, port);
    let slices: kube::Api<k8s_openapi::api::discovery::v1::EndpointSlice> =
        kube::Api::namespaced(s.client.clone(), s.namespace);
    match service::routes_as(&slices, &want).await {
        Ok(true) => Outcome::Done(format!("Service {name} points at {} ({address})", to.name)),
        Ok(false) => match service::apply(&slices, &want).await {
            Ok(()) => Outcome::Wait {
                reason: reasons::UPGRADING,
                message: format!("pointing Service {name} at {} ({address})", to.name),
                after: std::time::Duration::ZERO,
            },
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
