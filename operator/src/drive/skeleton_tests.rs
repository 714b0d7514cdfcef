//! The skeleton's order of effects, with a fake kind: what is written before a command goes
//! out, and that a stale read sends nothing.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::runtime::events::EventType;

use baton_crds::status::{StepAction, StepState, UpgradeStatus};
use baton_crds::{AppliancePair, AppliancePairStatus};

use super::{Kind, reconcile};
use crate::upgrade::Timings;
use crate::upgrade::command::{Command, Report};
use crate::upgrade::decide::{Approvals, Common, Decision};
use crate::upgrade::observed::Observed;

/// A kind whose decision is always "break failover on rs-a", recording what happens.
struct Fake {
    pair: AppliancePair,
    status: AppliancePairStatus,
    timings: Timings,
    read_is_current: bool,
    stale: bool,
    log: Mutex<Vec<&'static str>>,
}

impl Fake {
    fn new(read_is_current: bool, stale: bool) -> Self {
        let spec = serde_json::json!({"version": "24.3.2", "members": [], "trafficSwing": {"provider": "SharedIp"},
            "backup": {"destination": {"secret": {}}}});
        let spec = serde_json::from_value(spec).unwrap_or_else(|e| panic!("{e}"));
        let step = baton_crds::status::PlanStep {
            id: "1/break-failover/rs-a".into(),
            action: StepAction::BreakFailover,
            member: Some("rs-a".into()),
            state: StepState::Running,
            ..Default::default()
        };
        let status = AppliancePairStatus {
            upgrade: Some(UpgradeStatus {
                id: "u-1".into(),
                plan: vec![step],
                ..Default::default()
            }),
            ..Default::default()
        };
        Self {
            pair: AppliancePair::new("site", spec),
            status,
            timings: Timings::default(),
            read_is_current,
            stale,
            log: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, what: &'static str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }

    fn log(&self) -> Vec<&'static str> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl Kind for Fake {
    type Status = AppliancePairStatus;
    type Resource = AppliancePair;

    fn resource(&self) -> &AppliancePair {
        &self.pair
    }
    fn status(&mut self) -> &mut AppliancePairStatus {
        &mut self.status
    }
    fn status_ref(&self) -> &AppliancePairStatus {
        &self.status
    }
    fn common(&self, now: DateTime<Utc>) -> Common<'_> {
        Common {
            short_name: "apair",
            name: "site",
            paused: false,
            windows: &[],
            approvals: Approvals::default(),
            soak: "24h",
            timings: &self.timings,
            now,
        }
    }
    async fn observe(&mut self) -> Observed {
        Observed::default()
    }
    fn decide(&self, _: &Observed, _: DateTime<Utc>) -> Decision {
        Decision::Act {
            index: 0,
            phase: baton_crds::status::Phase::Upgrading,
            commands: vec![Command::BreakFailover {
                member: "rs-a".into(),
            }],
        }
    }
    async fn act(&mut self, _: &[Command]) -> Vec<Report> {
        self.note("command");
        vec![Report::Done]
    }
    async fn write(&mut self, force: bool) -> Result<bool, kube::Error> {
        if self.stale {
            self.note("write refused (409)");
            let status = kube::core::Status::failure("stale", "Conflict").with_code(409);
            return Err(kube::Error::Api(status.boxed()));
        }
        self.note(if force { "confirming write" } else { "write" });
        Ok(true)
    }
    fn read_is_current(&self) -> bool {
        self.read_is_current
    }
    async fn event(&self, _: EventType, _: &str, _: String) {}
}

#[tokio::test]
async fn i8_a_read_showing_our_last_write_acts_at_once() {
    let mut fake = Fake::new(true, false);
    assert!(reconcile(&mut fake).await.is_ok());
    assert_eq!(fake.log(), vec!["command", "write"]);
}

#[tokio::test]
async fn i8_an_unconfirmed_read_is_confirmed_by_a_write_before_any_command() {
    let mut fake = Fake::new(false, false);
    assert!(reconcile(&mut fake).await.is_ok());
    assert_eq!(fake.log(), vec!["confirming write", "command", "write"]);
}

#[tokio::test]
async fn i8_a_stale_read_sends_no_command() {
    let mut fake = Fake::new(false, true);
    assert!(
        reconcile(&mut fake).await.is_err(),
        "the 409 ends the reconcile"
    );
    assert_eq!(fake.log(), vec!["write refused (409)"]);
}
