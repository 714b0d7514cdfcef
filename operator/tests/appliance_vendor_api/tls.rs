//! TLS trust: only the CA of the member's `caSecretRef` is trusted, and only the ring
//! crypto provider is compiled in.

use baton_operator::appliance::{Connector, Error, Member, VendorApi};

use crate::appliance_support::{PAIR_FLEET, appliance, ca_pem, endpoint, full_access, start};

#[tokio::test]
async fn a_certificate_from_another_ca_is_untrusted() -> anyhow::Result<()> {
    let fleet = start(PAIR_FLEET).await?;
    let other = start(PAIR_FLEET).await?;
    let a = appliance(&fleet, "solo")?;
    let wrong_ca = ca_pem(&other);
    let client = Connector::new().connect(Member {
        endpoint: endpoint(a)?,
        ca_pem: &wrong_ca,
        credentials: full_access(a),
        extension_base: None,
    })?;
    let err = client
        .health()
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("no error"))?;
    assert!(matches!(err, Error::UntrustedCertificate { .. }), "{err:?}");
    assert!(err.to_string().contains("caSecretRef"));
    other.shutdown().await;
    fleet.shutdown().await;
    Ok(())
}

#[test]
fn only_the_ring_crypto_provider_is_compiled_in() -> anyhow::Result<()> {
    // Two rustls providers in one binary make rustls panic at run time when neither is
    // installed as the default; the appliance client builds its TLS config with ring.
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))?;
    for banned in ["name = \"aws-lc-rs\"", "name = \"aws-lc-sys\""] {
        assert!(!lock.contains(banned), "Cargo.lock contains {banned}");
    }
    assert!(lock.contains("name = \"ring\""));
    Ok(())
}
