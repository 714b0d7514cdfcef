//! Reads a member's Secrets: the API account and the CA. Credentials come only from
//! Secrets and never reach a log; errors name the Secret and key, never their content.

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

/// Reads the credentials Secret.
pub async fn account(
    api: &Api<Secret>,
    namespace: &str,
    r: &SecretRef,
) -> Result<Account, SecretError> {
    let secret = get(api, namespace, &r.name, "clientId, clientSecret").await?;
    let client_id = string_key(&secret, namespace, &r.name, CLIENT_ID_KEY)?;
    let client_secret = string_key(&secret, namespace, &r.name, CLIENT_SECRET_KEY)?;
    Ok(Account {
        client_id,
        client_secret: SecretString::from(client_secret),
        version: secret.metadata.resource_version.unwrap_or_default(),
    })
}

/// Reads one key of a Secret as bytes (a CA bundle), with the key's default.
pub async fn key_bytes(
    api: &Api<Secret>,
    namespace: &str,
    r: &SecretKeyRef,
    default_key: &str,
) -> Result<(Vec<u8>, String), SecretError> {
    let key = r.key.as_deref().unwrap_or(default_key);
    let secret = get(api, namespace, &r.name, key).await?;
    let bytes = bytes_key(&secret, namespace, &r.name, key)?;
    Ok((bytes, secret.metadata.resource_version.unwrap_or_default()))
}

/// Reads one key of a Secret as a secret string (a backup password).
pub async fn key_secret(
    api: &Api<Secret>,
    namespace: &str,
    r: &SecretKeyRef,
    default_key: &str,
) -> Result<SecretString, SecretError> {
    let key = r.key.as_deref().unwrap_or(default_key);
    let secret = get(api, namespace, &r.name, key).await?;
    Ok(SecretString::from(string_key(
        &secret, namespace, &r.name, key,
    )?))
}

async fn get(
    api: &Api<Secret>,
    namespace: &str,
    name: &str,
    keys: &str,
) -> Result<Secret, SecretError> {
    api.get_opt(name)
        .await
        .map_err(|source| SecretError::Api {
            namespace: namespace.into(),
            name: name.into(),
            source,
        })?
        .ok_or_else(|| SecretError::NotFound {
            namespace: namespace.into(),
            name: name.into(),
            keys: keys.into(),
        })
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
