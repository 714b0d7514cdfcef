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
