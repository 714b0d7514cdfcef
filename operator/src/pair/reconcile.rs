//! One reconcile of an AppliancePair: live read -> connect -> the shared skeleton
//! ([`crate::drive::reconcile`]) with the pair's observation and decision.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};

use baton_crds::conditions::reasons;
use baton_crds::{AppliancePair, AppliancePairStatus};

use super::Error;
use crate::context::Context;
use crate::drive::executors::{Executors, Fleet, Site, Target};
use crate::drive::status::UpgradeResource;
use crate::drive::summary::Situation;
use crate::drive::{self, Kind};
use crate::members::Connected;
use crate::secrets::SecretReader;
use crate::upgrade::command::{Command, Report};
use crate::upgrade::decide::pair::{PairInput, decide};
use crate::upgrade::decide::{Approvals, Common, Decision};
use crate::upgrade::observed::Observed;

/// Reconciles one pair.
pub async fn reconcile(object: Arc<AppliancePair>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<AppliancePair> = Api::namespaced(ctx.client.clone(), &namespace);
    // The cached object unless it may be older than our own last status write: acting on an
    // older step state could repeat a step (I8). Then a live read.
    let Some(pair) = drive::fresh(&api, object.clone(), &ctx.status).await? else {
        ctx.members.forget(&namespace, &name);
        ctx.status.forget(&drive::write::key(object.as_ref()));
        return Ok(Action::await_change());
    };
    let mut run = Run::new(&ctx, &api, &pair);
    match connect(&ctx, &namespace, &name, &pair).await {
        Ok(members) => {
            for m in &members {
                run.fleet.add(m.clone());
            }
            run.members = Some(members);
        }
        Err((reason, message)) => {
            let situation = Situation::Stalled {
                reason,
                message: message.clone(),
            };
            drive::finish(&mut run, &situation, Err(message)).await?;
            return Ok(Action::requeue(ctx.timings.gated));
        }
    }
    Ok(drive::reconcile(&mut run).await?)
}

/// The state of one reconcile.
struct Run<'a> {
    ctx: &'a Context,
    api: &'a Api<AppliancePair>,
    pair: &'a AppliancePair,
    status: AppliancePairStatus,
    members: Option<[Connected; 2]>,
    fleet: Fleet,
    executors: Executors,
    recorder: Recorder,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Context, api: &'a Api<AppliancePair>, pair: &'a AppliancePair) -> Self {
        let mut status = pair.status.clone().unwrap_or_default();
        if let Some(upgrade) = status.upgrade.as_mut() {
            crate::upgrade::legacy::carry_over(upgrade);
        }
        Self {
            ctx,
            api,
            pair,
            status,
            members: None,
            fleet: Fleet::default(),
            executors: Executors::default(),
            recorder: Recorder::new(ctx.client.clone(), ctx.reporter.clone()),
        }
    }

    fn site(&self) -> Site {
        let spec = &self.pair.spec;
        Site {
            namespace: self.pair.namespace().unwrap_or_default(),
            name: self.pair.name_any(),
            short_name: "apair",
            upgrade_id: self
                .status
                .upgrade
                .as_ref()
                .map(|u| u.id.clone())
                .unwrap_or_default(),
            swing: spec.traffic_swing.clone(),
            backup: spec.backup.clone(),
        }
    }
}

/// What every decision reads of a resource (shared with the Atlas adapter).
pub fn common_of<'a, R: UpgradeResource>(
    resource: &'a R,
    short_name: &'static str,
    soak: &'a str,
    ctx: &'a Context,
    now: DateTime<Utc>,
) -> Common<'a> {
    let meta = resource.meta();
    let annotation = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(crate::upgrade::gates::APPROVE_ANNOTATION))
        .map(String::as_str);
    Common {
        short_name,
        name: meta.name.as_deref().unwrap_or_default(),
        paused: resource.paused(),
        windows: resource.windows(),
        approvals: Approvals {
            in_spec: resource.approvals(),
            annotation,
        },
        soak,
        timings: &ctx.timings,
        now,
    }
}

#[async_trait]
impl Kind for Run<'_> {
    type Status = AppliancePairStatus;
    type Resource = AppliancePair;

    fn resource(&self) -> &AppliancePair {
        self.pair
    }

    fn status(&mut self) -> &mut AppliancePairStatus {
        &mut self.status
    }

    fn status_ref(&self) -> &AppliancePairStatus {
        &self.status
    }

    fn common(&self, now: DateTime<Utc>) -> Common<'_> {
        common_of(self.pair, "apair", &self.pair.spec.soak, self.ctx, now)
    }

    async fn observe(&mut self) -> Observed {
        let Some(members) = &self.members else {
            return Observed::default();
        };
        super::observe::observe_pair(self.pair, members, &mut self.status, &self.ctx.timings).await
    }

    fn decide(&self, observed: &Observed, now: DateTime<Utc>) -> Decision {
        if self.members.is_none() {
            return Decision::Hold {
                situation: Situation::Stalled {
                    reason: reasons::INVALID_SPEC,
                    message: "members not connected".into(),
                },
                after: self.ctx.timings.gated,
            };
        }
        let meta = self.pair.meta();
        decide(&PairInput {
            common: self.common(now),
            spec: &self.pair.spec,
            uid: meta.uid.as_deref().unwrap_or_default(),
            generation: meta.generation.unwrap_or_default(),
            upgrade: self.status.upgrade.as_ref(),
            observed,
        })
    }

    async fn act(&mut self, commands: &[Command]) -> Vec<Report> {
        let site = self.site();
        let target = Target {
            ctx: self.ctx,
            site: &site,
            fleet: &self.fleet,
        };
        self.executors.act(commands, &target).await
    }

    async fn write(&mut self, force: bool) -> Result<bool, kube::Error> {
        drive::write_status(self.api, self.pair, &self.status, &self.ctx.status, force).await
    }

    fn read_is_current(&self) -> bool {
        drive::write::shows_our_last_write(self.pair, &self.ctx.status)
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        publish(
            &self.recorder,
            &self.pair.object_ref(&()),
            type_,
            reason,
            note,
        )
        .await;
    }
}

/// Publishes an Event; best effort, since losing one must not stop an upgrade.
pub async fn publish(
    recorder: &Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Upgrade".to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, reference).await {
        tracing::warn!(error = %e, "failed to publish an event");
    }
}

async fn connect(
    ctx: &Context,
    namespace: &str,
    name: &str,
    pair: &AppliancePair,
) -> Result<[Connected; 2], (&'static str, String)> {
    let secrets = SecretReader::new(ctx.client.clone(), namespace);
    let [a, b] = pair.spec.members.as_slice() else {
        return Err((
            reasons::INVALID_SPEC,
            "a pair has exactly two members".to_owned(),
        ));
    };
    let a = ctx
        .members
        .connect(&ctx.connector, &secrets, name, a)
        .await
        .map_err(|e| (e.reason(), e.to_string()))?;
    let b = ctx
        .members
        .connect(&ctx.connector, &secrets, name, b)
        .await
        .map_err(|e| (e.reason(), e.to_string()))?;
    Ok([a, b])
}
