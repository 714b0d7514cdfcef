//! A scripted [`VendorApi`] for unit-testing the wrappers (the simulator is the double for
//! everything else).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::SecretString;
use tokio::time::Instant;

use super::api::VendorApi;
use super::error::{Error, Result};
use super::vendor::model::{
    Access, ApiInfo, ApplianceInfo, ClientCounts, FailoverRole, Health, Permissions,
    SetFailoverRole,
};

/// Fails with the queued errors in order, then succeeds; records when each call happened.
#[derive(Debug, Default)]
pub struct ScriptedVendor {
    failures: Mutex<VecDeque<Error>>,
    calls: Mutex<Vec<(&'static str, Instant)>>,
}

impl ScriptedVendor {
    pub fn failing_with(errors: impl IntoIterator<Item = Error>) -> Self {
        Self {
            failures: Mutex::new(errors.into_iter().collect()),
            ..Self::default()
        }
    }

    pub fn calls(&self) -> Vec<(&'static str, Instant)> {
        self.calls.lock().unwrap().clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn next(&self, op: &'static str) -> Result<()> {
        self.calls.lock().unwrap().push((op, Instant::now()));
        match self.failures.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

pub fn unreachable() -> Error {
    Error::Unreachable {
        endpoint: "https://fake".into(),
        source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
    }
}

pub fn health() -> Health {
    Health {
        appliance_id: "fake".into(),
        hostname: "fake.example.com".into(),
        version: "24.3.2 (build-1)".parse().unwrap(),
        healthy: true,
        error_message: None,
        failover_role: FailoverRole::None,
        shared_ips: vec![],
        last_sync: None,
    }
}

#[async_trait]
impl VendorApi for ScriptedVendor {
    async fn health(&self) -> Result<Health> {
        self.next("check_health").map(|()| health())
    }
    async fn appliances(&self) -> Result<Vec<ApplianceInfo>> {
        self.next("get_appliances").map(|()| vec![])
    }
    async fn client_counts(&self) -> Result<ClientCounts> {
        self.next("get_connected_client_list")
            .map(|()| ClientCounts::default())
    }
    async fn api_info(&self) -> Result<ApiInfo> {
        self.next("get_api_info").map(|()| ApiInfo {
            api_version: "1.24.0".into(),
            timestamp: None,
            permissions: Permissions {
                command: Access::FullAccess,
                backup: true,
                all: Default::default(),
            },
        })
    }
    async fn set_failover_role(&self, _request: SetFailoverRole) -> Result<()> {
        self.next("set_failover_role")
    }
    async fn backup(&self, _password: Option<&SecretString>) -> Result<Bytes> {
        self.next("backup").map(|()| Bytes::from_static(b"nsb"))
    }
}
