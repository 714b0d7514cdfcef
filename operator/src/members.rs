//! Connected members, built once and reused: each holds an HTTPS client and shares the
//! process-wide token cache, so reconciles do not redo TLS setup or OAuth every time. A
//! member is rebuilt when its endpoint or one of its Secrets changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use url::Url;

use baton_crds::common::Member as MemberSpec;

use crate::appliance::{self, Appliance, Connector, Credentials};
use crate::secrets::{self, CA_KEY, SecretError, SecretReader};

/// One member, ready to talk to.
#[derive(Clone)]
pub struct Connected {
    /// The member's name from spec.
    pub name: String,
    /// Its unique address.
    pub endpoint: Url,
    /// Where clients reach it, when spec says (the `Service` swing's address).
    pub traffic_address: Option<String>,
    /// The client.
    pub appliance: Arc<dyn Appliance>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint.as_str())
            .finish()
    }
}

/// Why a member could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A Secret is missing or incomplete.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The member has no CA configured; verification is never skipped.
    #[error(
        "member {member} has no caSecretRef; baton verifies every appliance against the CA in that Secret"
    )]
    NoCa { member: String },
    /// The endpoint does not parse, or the CA is unusable.
    #[error("member {member}: {source}")]
    Client {
        member: String,
        #[source]
        source: appliance::Error,
    },
}

impl ConnectError {
    /// The condition reason for this error.
    pub fn reason(&self) -> &'static str {
        use baton_crds::conditions::reasons;
        match self {
            Self::Secret(_) | Self::NoCa { .. } => reasons::SECRET_NOT_FOUND,
            Self::Client { .. } => reasons::UNTRUSTED_CERTIFICATE,
        }
    }
}

/// (namespace, resource, member).
type Key = (String, String, String);
/// What a connection was built from (endpoint and Secret versions), and the connection.
type Entry = (String, Connected);

/// Connected members by (namespace, resource, member), with the versions they were built from.
#[derive(Default)]
pub struct MemberCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl std::fmt::Debug for MemberCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberCache").finish_non_exhaustive()
    }
}

impl MemberCache {
    /// The member's client, reusing the cached one while nothing it depends on changed.
    pub async fn connect(
        &self,
        connector: &Connector,
        secrets: &SecretReader,
        resource: &str,
        spec: &MemberSpec,
    ) -> Result<Connected, ConnectError> {
        let namespace = secrets.namespace();
        let account = secrets::account(secrets, &spec.credentials_secret_ref).await?;
        let ca_ref = spec
            .ca_secret_ref
            .as_ref()
            .ok_or_else(|| ConnectError::NoCa {
                member: spec.name.clone(),
            })?;
        let (ca_pem, ca_version) = secrets::key_bytes(secrets, ca_ref, CA_KEY).await?;
        let fingerprint = format!(
            "{}|{}|{}|{}|{:?}",
            spec.endpoint, account.version, ca_version, account.client_id, spec.traffic_address
        );
        let key = (namespace.to_owned(), resource.to_owned(), spec.name.clone());
        if let Some((seen, connected)) = self.lock().get(&key)
            && *seen == fingerprint
        {
            return Ok(connected.clone());
        }
        let client_error = |source| ConnectError::Client {
            member: spec.name.clone(),
            source,
        };
        let endpoint = Url::parse(&spec.endpoint).map_err(|e| {
            client_error(appliance::Error::Config {
                detail: format!("endpoint {:?}: {e}", spec.endpoint),
            })
        })?;
        let credentials = Credentials {
            client_id: account.client_id,
            client_secret: account.client_secret,
        };
        let member = appliance::Member {
            endpoint: endpoint.clone(),
            ca_pem: &ca_pem,
            credentials,
            extension_base: None,
        };
        let built = connector.connect(member).map_err(client_error)?;
        let connected = Connected {
            name: spec.name.clone(),
            endpoint,
            traffic_address: spec.traffic_address.clone(),
            appliance: Arc::new(built),
        };
        self.lock().insert(key, (fingerprint, connected.clone()));
        Ok(connected)
    }

    /// Forgets a resource's members (it was deleted).
    pub fn forget(&self, namespace: &str, resource: &str) {
        self.lock()
            .retain(|(ns, r, _), _| !(ns == namespace && r == resource));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding the lock leaves only a cache behind: keep using it.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
