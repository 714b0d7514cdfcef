//! Status writes: the one way status is written ([`write_status`]), and what the operator
//! reads before it ([`fresh`]), without hot loops. Appliances send no events, so every
//! resource is observed on every requeue; writing after each observation would cost one API write per resource per
//! idle requeue (12 an hour at the default 5 minutes) for nothing a reader needs. So a status
//! that did not change is not written, and one whose only changes are live readings
//! ([`LIVE_FIELDS`]: connected clients, last sync time) is written at most once per
//! `refresh`. Anything else (a role, a version, health, a condition, the plan) is written at
//! once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Fields that change without anything happening to the resource.
pub const LIVE_FIELDS: &[&str] = &["connectedClients", "lastSyncTime"];

/// How a new status differs from the one in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// Only [`LIVE_FIELDS`] differ.
    Live,
    Real,
}

/// A status reduced to what comparisons need: hashes of it whole and without live readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    whole: u64,
    settled: u64,
}

impl Digest {
    /// The digest of a status's JSON.
    pub fn of(status: &Value) -> Self {
        Self {
            whole: hash(status),
            settled: hash(&without_live(status)),
        }
    }

    /// How `next` differs from this.
    pub fn change_to(&self, next: &Digest) -> Change {
        if self.whole == next.whole {
            Change::None
        } else if self.settled == next.settled {
            Change::Live
        } else {
            Change::Real
        }
    }
}

fn hash(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // serde_json's maps are ordered, so equal values print equally.
    value.to_string().hash(&mut h);
    h.finish()
}

fn without_live(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !LIVE_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), without_live(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_live).collect()),
        other => other.clone(),
    }
}

/// The ledger's key of a resource: `Kind/namespace/name`.
pub fn key<K: kube::Resource<DynamicType = ()>>(resource: &K) -> String {
    let meta = resource.meta();
    format!(
        "{}/{}/{}",
        K::kind(&()),
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// What this process last wrote for a resource.
#[derive(Debug, Clone)]
struct Written {
    /// The resourceVersion the write produced.
    version: String,
    /// The resourceVersion of the read the chain of writes started from (one reconcile
    /// writes several times, each on top of the last).
    since: String,
    digest: Digest,
    at: Instant,
}

/// What this process wrote, per resource (a restart writes once more). The cluster's status
/// is what counts: a record is used only while the resource read still has the
/// resourceVersion our write produced (within one reconcile the resource read is older than
/// our own writes; then the read's status is the base).
#[derive(Debug)]
pub struct StatusLedger {
    refresh: Duration,
    written: Mutex<HashMap<String, Written>>,
}

impl StatusLedger {
    /// A ledger refreshing live readings at most once per `refresh`.
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Whether to write `next` for the resource keyed `key`, read at `version` with
    /// `current` as its status.
    pub fn should_write(
        &self,
        key: &str,
        version: Option<&str>,
        current: impl FnOnce() -> Option<Value>,
        next: &Digest,
    ) -> bool {
        let record = self.lock().get(key).cloned();
        // The read's status is serialized only when our record does not already describe it.
        let base = match &record {
            Some(r) if version == Some(r.version.as_str()) => r.digest,
            _ => match current() {
                Some(current) => Digest::of(&current),
                None => return true,
            },
        };
        match base.change_to(next) {
            Change::None => false,
            Change::Real => true,
            Change::Live => record.is_none_or(|r| r.at.elapsed() >= self.refresh),
        }
    }

    /// The resourceVersion a write must find in the cluster (optimistic concurrency): the
    /// one our previous write produced when it was made on top of this same read, else the
    /// read's own. A read older than the cluster (a stale cache, a lagging server) then makes
    /// the write fail with 409 instead of overwriting newer status with decisions taken on
    /// old data.
    pub fn expected_version(&self, key: &str, read: Option<&str>) -> Option<String> {
        match self.lock().get(key) {
            Some(r) if Some(r.since.as_str()) == read => Some(r.version.clone()),
            _ => read.map(str::to_owned),
        }
    }

    /// Records a write, made on top of the read at `read`, that produced `version`.
    pub fn written(&self, key: &str, read: Option<&str>, version: Option<String>, digest: Digest) {
        let mut map = self.lock();
        let since = match map.get(key) {
            Some(r) if Some(r.since.as_str()) == read => r.since.clone(),
            _ => read.unwrap_or_default().to_owned(),
        };
        match version {
            Some(version) => {
                map.insert(
                    key.to_owned(),
                    Written {
                        version,
                        since,
                        digest,
                        at: Instant::now(),
                    },
                );
            }
            None => {
                map.remove(key);
            }
        }
    }

    /// The resourceVersion our last write of the resource produced. A cached object at that
    /// version shows our own last write, so it can be acted on without a live read.
    pub fn version(&self, key: &str) -> Option<String> {
        self.lock().get(key).map(|r| r.version.clone())
    }

    /// Forgets a deleted resource.
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for StatusLedger {
    fn default() -> Self {
        Self::new(Duration::from_secs(3600))
    }
}

/// The one way status is written: server-side apply of the whole status on `/status`, with
/// the operator's field manager; skipped when nothing a reader needs changed
/// ([`StatusLedger`]) unless `force`. Returns whether it was written: a write that passed its
/// resourceVersion precondition proves the read it was decided on is the cluster's latest.
pub async fn write_status<K>(
    api: &kube::Api<K>,
    resource: &K,
    status: &impl serde::Serialize,
    ledger: &StatusLedger,
    force: bool,
) -> Result<bool, kube::Error>
where
    K: super::status::UpgradeResource
        + kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
{
    let next = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    let current = || {
        serde_json::to_value(resource)
            .ok()
            .and_then(|mut r| r.get_mut("status").map(Value::take))
    };
    let read = kube::Resource::meta(resource).resource_version.as_deref();
    let key = key(resource);
    let digest = Digest::of(&next);
    if !force && !ledger.should_write(&key, read, current, &digest) {
        return Ok(false);
    }
    // Optimistic concurrency: a write decided on a read older than the cluster fails (409)
    // and the reconcile starts over from a fresh read.
    let expected = ledger.expected_version(&key, read);
    let patch = serde_json::json!({
        "apiVersion": "baton.dev/v1alpha1",
        "kind": K::KIND,
        "metadata": { "resourceVersion": expected },
        "status": next,
    });
    let params = kube::api::PatchParams::apply(crate::context::FIELD_MANAGER).force();
    let name = kube::ResourceExt::name_any(resource);
    let written = api
        .patch_status(&name, &params, &kube::api::Patch::Apply(&patch))
        .await?;
    ledger.written(
        &key,
        read,
        kube::Resource::meta(&written).resource_version.clone(),
        digest,
    );
    Ok(true)
}

/// Whether `resource` as read shows our own last status write (then nothing newer from us is
/// missing from it; a stale read cannot show it).
pub fn shows_our_last_write<K: kube::Resource<DynamicType = ()>>(
    resource: &K,
    ledger: &StatusLedger,
) -> bool {
    let ours = ledger.version(&key(resource));
    ours.is_some() && ours == resource.meta().resource_version
}

/// The resource to reconcile: the cached object when it carries the resourceVersion of our
/// own last status write (it shows that write, and the API server has nothing newer from us),
/// else a live read; `None` once it is gone.
pub async fn fresh<K>(
    api: &kube::Api<K>,
    cached: std::sync::Arc<K>,
    ledger: &StatusLedger,
) -> Result<Option<K>, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    if shows_our_last_write(cached.as_ref(), ledger) {
        return Ok(Some(std::sync::Arc::unwrap_or_clone(cached)));
    }
    api.get_opt(&kube::ResourceExt::name_any(cached.as_ref()))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_of_one_reconcile_chain_and_a_new_read_starts_over() {
        let ledger = StatusLedger::default();
        let d = Digest::of(&serde_json::json!({}));
        assert_eq!(
            ledger.expected_version("a", Some("10")).as_deref(),
            Some("10")
        );
        ledger.written("a", Some("10"), Some("11".into()), d);
        // Same reconcile (same read): on top of our own write.
        assert_eq!(
            ledger.expected_version("a", Some("10")).as_deref(),
            Some("11")
        );
        ledger.written("a", Some("10"), Some("12".into()), d);
        assert_eq!(
            ledger.expected_version("a", Some("10")).as_deref(),
            Some("12")
        );
        // A new read: its own version, whatever it is (an older one then conflicts).
        assert_eq!(
            ledger.expected_version("a", Some("12")).as_deref(),
            Some("12")
        );
        assert_eq!(
            ledger.expected_version("a", Some("7")).as_deref(),
            Some("7")
        );
    }

    use super::*;
    use serde_json::json;

    fn status(clients: u32, version: &str) -> Value {
        json!({ "phase": "UpToDate", "members": [
            { "name": "rs-a", "version": version, "connectedClients": clients,
              "lastSyncTime": format!("2026-11-24T05:0{clients}:00Z") } ] })
    }

    fn digest(clients: u32, version: &str) -> Digest {
        Digest::of(&status(clients, version))
    }

    #[test]
    fn only_live_readings_changing_is_a_live_change() {
        let base = digest(1, "24.1.0");
        assert_eq!(base.change_to(&digest(1, "24.1.0")), Change::None);
        assert_eq!(base.change_to(&digest(3, "24.1.0")), Change::Live);
        assert_eq!(base.change_to(&digest(3, "24.3.0")), Change::Real);
    }

    #[test]
    fn live_changes_are_written_once_per_refresh_real_ones_at_once() {
        let ledger = StatusLedger::new(Duration::from_secs(3600));
        let (old, live, real) = (
            status(1, "24.1.0"),
            digest(3, "24.1.0"),
            digest(3, "24.3.0"),
        );
        assert!(!ledger.should_write("a", Some("1"), || Some(old.clone()), &Digest::of(&old)));
        assert!(
            ledger.should_write("a", Some("1"), || None, &live),
            "no status yet"
        );
        assert!(
            ledger.should_write("a", Some("1"), || Some(old.clone()), &live),
            "never written yet"
        );
        ledger.written("a", Some("1"), Some("2".into()), live);
        // Read back at our write's version: compared with what we wrote.
        assert!(!ledger.should_write("a", Some("2"), || Some(old.clone()), &live));
        assert!(!ledger.should_write("a", Some("2"), || Some(old.clone()), &digest(5, "24.1.0")));
        assert!(ledger.should_write("a", Some("2"), || Some(old.clone()), &real));
        // A read older than our write (same reconcile): its status is the base.
        assert!(ledger.should_write("a", Some("1"), || Some(old.clone()), &real));
        let eager = StatusLedger::new(Duration::ZERO);
        eager.written("a", Some("1"), Some("2".into()), live);
        assert!(eager.should_write("a", Some("2"), || Some(old.clone()), &digest(5, "24.1.0")));
    }
}
