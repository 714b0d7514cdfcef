//! Reads a member's Secrets: the API account and the CA. Credentials come only from
//! Secrets and never reach a log; errors name the Secret and key, never their content.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

use baton_crds::common::{SecretKeyRef, SecretRef};

/// The keys of a credentials Secret.
pub const CLIENT_ID_KEY: &str = "clientId";
/// See [`CLIENT_ID_KEY`].
pub const CLIENT_SECRET_KEY: &str = "clientSecret";
/// The default key of a CA Secret.
pub const CA_KEY: &str = "ca.crt";
/// The default key of a backup password Secret.
pub const PASSWORD_KEY: &str = "password";

/// Why a Secret could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The Secret does not exist.
    #[error("Secret {namespace}/{name} not found; create it with the keys {keys}")]
    NotFound {
        namespace: String,
        name: String,
        keys: String,
    },
    /// The Secret exists but lacks a key.
    #[error("Secret {namespace}/{name} has no key {key:?}")]
    MissingKey {
        namespace: String,
        name: String,
        key: String,
    },
    /// The Kubernetes API failed.
    #[error("failed to read Secret {namespace}/{name}")]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The API account of a member.
pub struct Account {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// The Secret's resourceVersion: a change means the member must reconnect.
    pub version: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Reads Secrets for one reconcile, each at most once: the members of a pair and the nodes of
/// an Atlas cluster usually share their Secrets, and a 500-node batch must not mean a
/// thousand reads of the same two.
pub struct SecretReader {
    api: Api<Secret>,
    namespace: String,
    seen: tokio::sync::Mutex<HashMap<String, Option<Secret>>>,
}

impl std::fmt::Debug for SecretReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretReader")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl SecretReader {
    /// A reader for the Secrets of `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            seen: Default::default(),
        }
    }

    /// The Secrets API, for writes (backup Secrets).
    pub fn api(&self) -> &Api<Secret> {
        &self.api
    }

    /// The namespace it reads.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    async fn get(&self, name: &str, keys: &str) -> Result<Secret, SecretError> {
        let mut seen = self.seen.lock().await;
        let found = match seen.get(name) {
            Some(found) => found.clone(),
            None => {
                let found = self
                    .api
                    .get_opt(name)
                    .await
                    .map_err(|source| SecretError::Api {
                        namespace: self.namespace.clone(),
                        name: name.into(),
                        source,
                    })?;
                seen.insert(name.to_owned(), found.clone());
                found
            }
        };
        found.ok_or_else(|| SecretError::NotFound {
            namespace: self.namespace.clone(),
            name: name.into(),
            keys: keys.into(),
        })
    }
}

/// Reads the credentials Secret.
pub async fn account(reader: &SecretReader, r: &SecretRef) -> Result<Account, SecretError> {
    let secret = reader.get(&r.name, "clientId, clientSecret").await?;
    let namespace = reader.namespace();
    let client_id = string_key(&secret, namespace, &r.name, CLIENT_ID_KEY)?;
    let client_secret = string_key(&secret, namespace, &r.name, CLIENT_SECRET_KEY)?;
    Ok(Account {
        client_id,
        client_secret: SecretString::from(client_secret),
        version: secret.metadata.resource_version.unwrap_or_default(),
    })
}

/// Reads one key of a Secret as bytes (a CA bundle), with the key's default, and the
/// Secret's resourceVersion.
pub async fn key_bytes(
    reader: &SecretReader,
    r: &SecretKeyRef,
    default_key: &str,
) -> Result<(Vec<u8>, String), SecretError> {
    let key = r.key.as_deref().unwrap_or(default_key);
    let secret = reader.get(&r.name, key).await?;
    let bytes = bytes_key(&secret, reader.namespace(), &r.name, key)?;
    Ok((bytes, secret.metadata.resource_version.unwrap_or_default()))
}

/// Reads one key of a Secret as a secret string (a backup password).
pub async fn key_secret(
    reader: &SecretReader,
    r: &SecretKeyRef,
    default_key: &str,
) -> Result<SecretString, SecretError> {
    let key = r.key.as_deref().unwrap_or(default_key);
    let secret = reader.get(&r.name, key).await?;
    Ok(SecretString::from(string_key(
        &secret,
        reader.namespace(),
        &r.name,
        key,
    )?))
}

fn bytes_key(
    secret: &Secret,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, SecretError> {
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone());
    let string_data = || {
        secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|s| s.clone().into_bytes())
    };
    data.or_else(string_data)
        .ok_or_else(|| SecretError::MissingKey {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        })
}

fn string_key(
    secret: &Secret,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, SecretError> {
    let bytes = bytes_key(secret, namespace, name, key)?;
    String::from_utf8(bytes)
        .map(|s| s.trim().to_owned())
        .map_err(|_| SecretError::MissingKey {
            namespace: namespace.into(),
            name: name.into(),
            key: format!("{key} (as UTF-8 text)"),
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A Kubernetes client whose API answers every GET with one Secret, counting requests.
    fn counting_client(requests: Arc<AtomicUsize>) -> kube::Client {
        let service = tower::service_fn(move |_request: http::Request<kube::client::Body>| {
            requests.fetch_add(1, Ordering::SeqCst);
            let secret = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": "shared", "namespace": "ns", "resourceVersion": "7" },
                "stringData": { "clientId": "baton", "clientSecret": "s3cret", "ca.crt": "pem" },
            });
            let body = secret.to_string().into_bytes();
            async move {
                http::Response::builder()
                    .status(200)
                    .body(kube::client::Body::from(body))
            }
        });
        kube::Client::new(service, "ns")
    }

    #[tokio::test]
    async fn a_secret_shared_by_many_members_is_read_once_per_reader()
    -> Result<(), Box<dyn std::error::Error>> {
        let requests = Arc::new(AtomicUsize::new(0));
        let reader = SecretReader::new(counting_client(requests.clone()), "ns");
        let credentials = SecretRef {
            name: "shared".into(),
        };
        let ca = SecretKeyRef {
            name: "shared".into(),
            key: None,
        };
        for _ in 0..500 {
            let account = account(&reader, &credentials).await?;
            assert_eq!(account.client_id, "baton");
            let (pem, version) = key_bytes(&reader, &ca, CA_KEY).await?;
            assert_eq!((pem.as_slice(), version.as_str()), (b"pem".as_slice(), "7"));
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        // A new reader (the next reconcile) reads again, so a rotated Secret is seen.
        let next = SecretReader::new(counting_client(requests.clone()), "ns");
        account(&next, &credentials).await?;
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        Ok(())
    }
}
