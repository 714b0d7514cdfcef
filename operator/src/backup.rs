//! Stores the pre-upgrade configuration backup (R1) where the spec says: a Secret in the
//! resource's namespace, or a file on a volume mounted into the operator. Storing is
//! idempotent (same name for the same upgrade), so a restarted step simply writes it again.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use sha2::{Digest, Sha256};

use baton_crds::common::BackupDestination;

use crate::context::FIELD_MANAGER;

/// Where a backup went and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// `secret/<name>` or the file path.
    pub location: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Why a backup could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The appliance returned an empty file.
    #[error("the appliance returned an empty backup; check the API account's backup permission")]
    Empty,
    /// Writing the Secret failed.
    #[error("failed to write the backup Secret {name}")]
    Secret {
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Writing the file failed.
    #[error("failed to write the backup to {path}; check that the volume is mounted and writable")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What identifies a backup.
#[derive(Debug, Clone, Copy)]
pub struct BackupName<'a> {
    /// The AppliancePair or AtlasCluster.
    pub resource: &'a str,
    /// The upgrade id.
    pub upgrade_id: &'a str,
    /// The member it came from.
    pub member: &'a str,
    /// The round (each round starts with its own backup).
    pub round: i32,
}

/// Stores `bytes` at `destination`.
pub async fn store(
    secrets: &Api<Secret>,
    destination: &BackupDestination,
    name: BackupName<'_>,
    bytes: Bytes,
) -> Result<Stored, BackupError> {
    if bytes.is_empty() {
        return Err(BackupError::Empty);
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let base = format!(
        "{}-{}-r{}-{}",
        name.resource, name.upgrade_id, name.round, name.member
    );
    let location = match (&destination.volume, &destination.secret) {
        (Some(volume), _) => {
            let path = PathBuf::from(&volume.path).join(format!("{base}.nsb"));
            write_file(&path, &bytes)
                .await
                .map_err(|source| BackupError::File {
                    path: path.display().to_string(),
                    source,
                })?;
            path.display().to_string()
        }
        (None, secret) => {
            let prefix = secret
                .as_ref()
                .and_then(|s| s.name_prefix.clone())
                .unwrap_or_default();
            let secret_name = truncate_name(&format!("{prefix}{base}"));
            let object = Secret {
                metadata: ObjectMeta {
                    name: Some(secret_name.clone()),
                    labels: Some(BTreeMap::from([
                        (
                            "app.kubernetes.io/managed-by".to_owned(),
                            "baton".to_owned(),
                        ),
                        ("baton.dev/resource".to_owned(), name.resource.to_owned()),
                        ("baton.dev/upgrade".to_owned(), name.upgrade_id.to_owned()),
                    ])),
                    annotations: Some(BTreeMap::from([(
                        "baton.dev/sha256".to_owned(),
                        sha256.clone(),
                    )])),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(
                    "backup.nsb".to_owned(),
                    ByteString(bytes.to_vec()),
                )])),
                type_: Some("Opaque".to_owned()),
                ..Secret::default()
            };
            secrets
                .patch(
                    &secret_name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&object),
                )
                .await
                .map_err(|source| BackupError::Secret {
                    name: secret_name.clone(),
                    source,
                })?;
            format!("secret/{secret_name}")
        }
    };
    Ok(Stored {
        location,
        sha256,
        size,
    })
}

/// Writes through a temporary file so a crash never leaves a truncated backup under the
/// final name.
async fn write_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension("nsb.tmp");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

/// Secret names are DNS subdomains of at most 253 characters.
fn truncate_name(name: &str) -> String {
    let mut name: String = name.chars().take(253).collect();
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_crds::common::VolumeDestination;

    #[tokio::test]
    async fn a_volume_backup_records_its_digest_and_size() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let destination = BackupDestination {
            volume: Some(VolumeDestination {
                path: dir.path().display().to_string(),
            }),
            secret: None,
        };
        // The Secret API is not used for a volume destination; any client config will do.
        let config = kube::Config::new("http://127.0.0.1:9".parse()?);
        let secrets: Api<Secret> = Api::namespaced(kube::Client::try_from(config)?, "ns");
        let name = BackupName {
            resource: "site",
            upgrade_id: "u-1",
            member: "rs-a",
            round: 1,
        };
        let stored = store(
            &secrets,
            &destination,
            name,
            Bytes::from_static(b"backup bytes"),
        )
        .await?;
        assert_eq!(stored.size, 12);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(b"backup bytes")));
        assert_eq!(std::fs::read(&stored.location)?, b"backup bytes");
        assert!(stored.location.ends_with("site-u-1-r1-rs-a.nsb"));
        Ok(())
    }
}
