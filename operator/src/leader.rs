//! Leader election through a `coordination.k8s.io/v1` Lease in the operator's namespace: only
//! the holder runs the controllers, so two replicas never drive the same appliances.
//!
//! The algorithm is client-go's (`tools/leaderelection`), which Kubernetes' own controllers
//! use:
//! - every write is a replace guarded by the Lease's `resourceVersion`, so of two candidates
//!   racing for a free or expired Lease exactly one wins and the other gets a conflict;
//! - a candidate takes a Lease held by another identity only once it has seen the Lease
//!   unchanged for `leaseDurationSeconds` by its own monotonic clock, so clock skew between
//!   nodes does not matter;
//! - the holder renews every `retry_period`; when no renewal has succeeded for
//!   `renew_deadline` (counted from the moment the last successful renewal was *sent*) it
//!   gives up, and the process exits. Because `renew_deadline < lease_duration`, the old
//!   holder has stopped before any candidate may take over;
//! - on a clean shutdown the holder releases the Lease (empty holder, 1 s duration) so the
//!   standby takes over at once instead of waiting for expiry.
//!
//! Why not a crate: `kube-lease-manager` (kube 5) renews with unconditioned patches, lets a
//! candidate clear a Lease it judges expired by the wall clock, and keeps reporting leadership
//! while renewals fail; `kube-leader-election` is on kube 4. Both would need this module's
//! deadline logic around them anyway.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::metrics::Metrics;

/// How the election runs.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's name.
    pub name: String,
    /// The namespace it lives in (the operator's own).
    pub namespace: String,
    /// This process's identity (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease stays valid without renewal (whole seconds on the wire).
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// How often candidates try and holders renew.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Checks the timing relations the safety argument needs.
    pub fn validate(&self) -> Result<(), String> {
        if self.lease_duration < Duration::from_secs(1) {
            return Err("the lease duration must be at least 1s".to_owned());
        }
        if self.renew_deadline >= self.lease_duration {
            return Err("the renew deadline must be shorter than the lease duration".to_owned());
        }
        if self.retry_period >= self.renew_deadline {
            return Err("the retry period must be shorter than the renew deadline".to_owned());
        }
        Ok(())
    }

    fn duration_seconds(&self) -> i32 {
        let secs = self.lease_duration.as_secs_f64().ceil();
        i32::try_from(secs as i64).unwrap_or(i32::MAX)
    }
}

/// What a try found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This process holds the Lease now.
    Held,
    /// Another identity holds it and it has not expired.
    HeldBy(String),
}

/// Why leadership ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// Another identity holds the Lease.
    TakenBy(String),
    /// No renewal succeeded within the renew deadline.
    RenewDeadline(Duration),
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TakenBy(other) => write!(f, "the lease is held by {other}"),
            Self::RenewDeadline(d) => write!(f, "failed to renew the lease within {d:?}"),
        }
    }
}

/// The last version of the Lease this process saw, and when it first saw it.
#[derive(Debug)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    duration_seconds: Option<i32>,
    at: Instant,
}

/// One candidate.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    metrics: std::sync::Arc<Metrics>,
    observed: Option<Observed>,
}

impl Elector {
    /// A candidate for `config.name` in `config.namespace`.
    pub fn new(
        client: kube::Client,
        config: LeaseConfig,
        metrics: std::sync::Arc<Metrics>,
    ) -> Self {
        metrics.set_leader(&config.name, false);
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            metrics,
            observed: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Tries until this process holds the Lease. `on_standby` hears who holds it while
    /// waiting (once per holder). API errors are logged and retried.
    pub async fn acquire(&mut self, mut on_standby: impl FnMut(&str)) {
        let mut last_holder = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Held) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became the leader");
                    self.metrics.set_leader(&self.config.name, true);
                    return;
                }
                Ok(Attempt::HeldBy(other)) => {
                    if last_holder.as_deref() != Some(other.as_str()) {
                        tracing::info!(lease = %self.config.name, leader = %other, "standing by: another replica leads");
                        on_standby(&other);
                        last_holder = Some(other);
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "failed to read or take the lease; retrying")
                }
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews until leadership is lost, and says why. Call after [`Elector::acquire`].
    pub async fn hold(&mut self) -> Lost {
        let deadline = self.config.renew_deadline;
        let mut last_ok = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let sent = Instant::now();
            let left = deadline.saturating_sub(last_ok.elapsed());
            match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Held)) => last_ok = sent,
                Ok(Ok(Attempt::HeldBy(other))) => return self.lost(Lost::TakenBy(other)),
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "failed to renew the lease")
                }
                Err(_) => tracing::warn!(lease = %self.config.name, "renewing the lease timed out"),
            }
            if last_ok.elapsed() >= deadline {
                return self.lost(Lost::RenewDeadline(deadline));
            }
        }
    }

    fn lost(&self, why: Lost) -> Lost {
        self.metrics.set_leader(&self.config.name, false);
        tracing::error!(lease = %self.config.name, reason = %why, "lost the lease");
        why
    }

    /// Gives the Lease up if this process holds it, so a standby takes over at once.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        self.metrics.set_leader(&self.config.name, false);
        let Some(lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let released = Lease {
            metadata: lease.metadata,
            spec: Some(LeaseSpec {
                holder_identity: None,
                lease_duration_seconds: Some(1),
                renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
                ..spec
            }),
        };
        self.api
            .replace(&self.config.name, &PostParams::default(), &released)
            .await?;
        tracing::info!(lease = %self.config.name, "released the lease");
        Ok(())
    }

    /// One round of client-go's `tryAcquireOrRenew`.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let me = self.config.identity.clone();
        let Some(lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(self.config.duration_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    Ok(Attempt::HeldBy("another candidate".to_owned()))
                }
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        self.observe(&spec, holder.clone());
        if let Some(other) = holder.as_ref().filter(|h| **h != me)
            && !self.expired(&spec)
        {
            return Ok(Attempt::HeldBy(other.clone()));
        }
        let ours = holder.as_deref() == Some(me.as_str());
        let next = LeaseSpec {
            holder_identity: Some(me),
            lease_duration_seconds: Some(self.config.duration_seconds()),
            acquire_time: if ours {
                spec.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: if ours {
                spec.lease_transitions
            } else {
                Some(spec.lease_transitions.unwrap_or(0) + 1)
            },
            ..spec
        };
        let updated = Lease {
            metadata: lease.metadata,
            spec: Some(next),
        };
        // The resourceVersion in `updated` makes this a compare-and-swap.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::HeldBy(
                holder.unwrap_or_else(|| "another candidate".to_owned()),
            )),
            Err(e) => Err(e),
        }
    }

    /// Notes when the Lease record last changed, by this process's monotonic clock.
    fn observe(&mut self, spec: &LeaseSpec, holder: Option<String>) {
        let changed = self.observed.as_ref().is_none_or(|o| {
            o.holder != holder
                || o.renew_time != spec.renew_time
                || o.duration_seconds != spec.lease_duration_seconds
        });
        if changed {
            self.observed = Some(Observed {
                holder,
                renew_time: spec.renew_time.clone(),
                duration_seconds: spec.lease_duration_seconds,
                at: Instant::now(),
            });
        }
    }

    /// Whether the holder's record has been unchanged for its lease duration.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        self.observed
            .as_ref()
            .is_none_or(|o| o.at.elapsed() >= duration)
    }
}

/// An identity for this process: the pod name when set, otherwise the host name with a
/// random suffix (two local processes must never share one).
pub fn default_identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty()) {
        return pod;
    }
    use std::hash::{BuildHasher, RandomState};
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "baton-operator".to_owned());
    let suffix = RandomState::new().hash_one((std::process::id(), Instant::now())) as u32;
    format!("{host}-{suffix:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lease: u64, renew: u64, retry: u64) -> LeaseConfig {
        LeaseConfig {
            name: "baton".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            lease_duration: Duration::from_millis(lease),
            renew_deadline: Duration::from_millis(renew),
            retry_period: Duration::from_millis(retry),
        }
    }

    #[test]
    fn the_renew_deadline_ends_before_the_lease_expires() {
        assert!(config(15_000, 10_000, 2_000).validate().is_ok());
        assert!(config(3_000, 3_000, 500).validate().is_err());
        assert!(config(3_000, 2_000, 2_000).validate().is_err());
        assert!(config(500, 400, 100).validate().is_err());
    }

    #[test]
    fn lease_durations_round_up_to_whole_seconds() {
        assert_eq!(config(2_500, 2_000, 500).duration_seconds(), 3);
        assert_eq!(config(15_000, 10_000, 2_000).duration_seconds(), 15);
    }
}
