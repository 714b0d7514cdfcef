//! The documented vendor API against the simulator over real HTTPS: OAuth, TLS trust,
//! permissions, rate limiting and error mapping.

#[path = "../appliance_support/mod.rs"]
mod appliance_support;
mod auth;
mod commands;
mod faults;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use baton_operator::appliance::token::{IssuedToken, OAuthEndpoint, TokenEndpoint};
use baton_operator::appliance::{HttpsTransport, Session, TokenCache, VendorClient};

use appliance_support::{appliance, ca_pem, endpoint, full_access};

/// Counts the tokens the appliance issues, to tell refresh-before-expiry from 401 recovery.
#[derive(Debug)]
struct Counting {
    inner: OAuthEndpoint,
    issued: AtomicU32,
}

#[async_trait]
impl TokenEndpoint for Counting {
    async fn issue(&self) -> baton_operator::appliance::Result<IssuedToken> {
        let token = self.inner.issue().await?;
        self.issued.fetch_add(1, Ordering::SeqCst);
        Ok(token)
    }
}

/// A bare vendor client (no retry, no rate-limit wrapper) whose token issues are counted.
fn counted_client(
    fleet: &baton_sim::Fleet,
    name: &str,
    cache: &TokenCache,
) -> anyhow::Result<(VendorClient, Arc<Counting>)> {
    let a = appliance(fleet, name)?;
    let transport = HttpsTransport::new(endpoint(a)?, &ca_pem(fleet))?;
    let counting = Arc::new(Counting {
        inner: OAuthEndpoint::new(transport.clone(), full_access(a)),
        issued: AtomicU32::new(0),
    });
    let tokens = cache.source(
        transport.endpoint().as_str(),
        &a.client_id,
        counting.clone(),
    );
    Ok((VendorClient::new(Session::new(transport, tokens)), counting))
}
