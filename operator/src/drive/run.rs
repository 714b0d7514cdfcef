//! One reconcile's state, the same for every kind ([`Run`]), and the entry both controllers
//! share: read the resource as fresh as our own last write, connect its members, then the
//! skeleton. A kind is an [`Adapter`]: how to connect and observe it, which decision applies.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};

use baton_crds::status::UpgradeStatus;

use super::executors::{Executors, Fleet, Site, Target};
use super::status::{CommonStatus, UpgradeResource};
use super::summary::Situation;
use super::{Kind, write};
use crate::context::Context;
use crate::members::Connected;
use crate::upgrade::command::{Command, Report};
use crate::upgrade::decide::{Approvals, Common, Decision, Planned};
use crate::upgrade::observed::Observed;

/// What a kind adds to the skeleton: a thin adapter around the core.
#[async_trait]
pub trait Adapter<R: UpgradeResource>: Send + Sync + Sized {
    /// Connects the members the kind always talks to (pair members, masters).
    async fn connect(ctx: &Context, resource: &R) -> Result<Self, (&'static str, String)>;
    /// Those members, for the executors.
    fn members(&self) -> Vec<Connected>;
    /// Observes the appliances and what the current step needs; updates the observed part
    /// of status (members table, versions). May enlist more members (a batch's nodes).
    async fn observe(&mut self, run: &mut Run<'_, R>) -> Observed;
    /// The core's decision for this kind.
    fn decide(&self, run: &Run<'_, R>, observed: &Observed, now: DateTime<Utc>) -> Decision;
    /// Records what the kind keeps beside a new plan.
    fn planned(&mut self, _run: &mut Run<'_, R>, _planned: &Planned) {}
    /// A plan finished: clear what the kind kept beside it.
    fn finished(&mut self, _run: &mut Run<'_, R>, _upgrade: &UpgradeStatus) {}
}

/// One reconcile of one resource.
pub struct Run<'a, R: UpgradeResource> {
    pub ctx: &'a Context,
    api: &'a Api<R>,
    pub resource: &'a R,
    /// The status being built; written by the skeleton.
    pub status: R::Status,
    /// The members commands may go to.
    pub fleet: Fleet,
    executors: Executors,
    recorder: Recorder,
}

impl<R: UpgradeResource> std::fmt::Debug for Run<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("resource", &self.resource.name_any())
            .finish_non_exhaustive()
    }
}

impl<'a, R: UpgradeResource> Run<'a, R> {
    /// A run on `resource` as read; a status of the previous release is carried over.
    pub fn new(ctx: &'a Context, api: &'a Api<R>, resource: &'a R) -> Self {
        let mut status = resource.status_of().cloned().unwrap_or_default();
        if let Some(upgrade) = status.upgrade_mut().as_mut() {
            crate::upgrade::legacy::carry_over(upgrade);
        }
        Self {
            ctx,
            api,
            resource,
            status,
            fleet: Fleet::default(),
            executors: Executors::default(),
            recorder: Recorder::new(ctx.client.clone(), ctx.reporter.clone()),
        }
    }

    /// What every decision reads of the resource.
    pub fn common(&self, now: DateTime<Utc>) -> Common<'_> {
        let r = self.resource;
        Common {
            short_name: R::SHORT_NAME,
            name: r.meta().name.as_deref().unwrap_or_default(),
            paused: r.paused(),
            windows: r.windows(),
            approvals: Approvals {
                in_spec: r.approvals(),
                annotation: r.approve_annotation(),
            },
            soak: r.soak(),
            timings: &self.ctx.timings,
            now,
        }
    }

    /// The resource's uid and generation (the upgrade id derives from them).
    pub fn identity(&self) -> (&str, i64) {
        let meta = self.resource.meta();
        (
            meta.uid.as_deref().unwrap_or_default(),
            meta.generation.unwrap_or_default(),
        )
    }

    fn site(&self) -> Site {
        Site {
            namespace: self.resource.namespace().unwrap_or_default(),
            name: self.resource.name_any(),
            short_name: R::SHORT_NAME,
            upgrade_id: self
                .status
                .upgrade()
                .map(|u| u.id.clone())
                .unwrap_or_default(),
            swing: self.resource.traffic_swing().clone(),
            backup: self.resource.backup_spec().clone(),
        }
    }
}

/// The skeleton's view of a run and its adapter.
struct Driven<'r, 'a, R: UpgradeResource, A> {
    run: &'r mut Run<'a, R>,
    adapter: &'r mut A,
}

#[async_trait]
impl<R: UpgradeResource, A: Adapter<R>> Kind for Driven<'_, '_, R, A> {
    type Status = R::Status;
    type Resource = R;

    fn resource(&self) -> &R {
        self.run.resource
    }

    fn status(&mut self) -> &mut R::Status {
        &mut self.run.status
    }

    fn status_ref(&self) -> &R::Status {
        &self.run.status
    }

    fn common(&self, now: DateTime<Utc>) -> Common<'_> {
        self.run.common(now)
    }

    async fn observe(&mut self) -> Observed {
        self.adapter.observe(self.run).await
    }

    fn decide(&self, observed: &Observed, now: DateTime<Utc>) -> Decision {
        self.adapter.decide(self.run, observed, now)
    }

    async fn act(&mut self, commands: &[Command]) -> Vec<Report> {
        let site = self.run.site();
        let run = &*self.run;
        let target = Target {
            ctx: run.ctx,
            site: &site,
            fleet: &run.fleet,
        };
        run.executors.act(commands, &target).await
    }

    fn planned(&mut self, planned: &Planned) {
        self.adapter.planned(self.run, planned);
    }

    fn finished(&mut self, upgrade: &UpgradeStatus) {
        self.adapter.finished(self.run, upgrade);
    }

    async fn write(&mut self, force: bool) -> Result<bool, kube::Error> {
        let run = &*self.run;
        write::write_status(run.api, run.resource, &run.status, &run.ctx.status, force).await
    }

    fn read_is_current(&self) -> bool {
        write::shows_our_last_write(self.run.resource, &self.run.ctx.status)
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Upgrade".to_owned(),
            secondary: None,
        };
        let reference = self.run.resource.object_ref(&());
        // Best effort: losing an Event must not stop an upgrade.
        if let Err(e) = self.run.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, "failed to publish an event");
        }
    }
}

/// Reconciles one resource of kind `R` with adapter `A`.
pub async fn reconcile<R: UpgradeResource, A: Adapter<R>>(
    object: Arc<R>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let api: Api<R> = Api::namespaced(ctx.client.clone(), &namespace);
    // The cached object unless it may be older than our own last status write: acting on an
    // older step state could repeat a step (I8). Then a live read.
    let Some(resource) = write::fresh(&api, object.clone(), &ctx.status).await? else {
        ctx.members.forget(&namespace, &name);
        ctx.status.forget(&write::key(object.as_ref()));
        return Ok(Action::await_change());
    };
    let mut run = Run::new(&ctx, &api, &resource);
    match A::connect(&ctx, &resource).await {
        Ok(mut adapter) => {
            for member in adapter.members() {
                run.fleet.add(member);
            }
            let mut driven = Driven {
                run: &mut run,
                adapter: &mut adapter,
            };
            super::reconcile(&mut driven).await
        }
        Err((reason, message)) => {
            let mut driven = Driven {
                run: &mut run,
                adapter: &mut Unconnected,
            };
            let situation = Situation::Stalled {
                reason,
                message: message.clone(),
            };
            super::finish(&mut driven, &situation, Err(message)).await?;
            Ok(Action::requeue(ctx.timings.gated))
        }
    }
}

/// The adapter of a resource whose members could not be connected: it only writes status.
struct Unconnected;

#[async_trait]
impl<R: UpgradeResource> Adapter<R> for Unconnected {
    async fn connect(_: &Context, _: &R) -> Result<Self, (&'static str, String)> {
        Ok(Self)
    }

    fn members(&self) -> Vec<Connected> {
        Vec::new()
    }

    async fn observe(&mut self, _: &mut Run<'_, R>) -> Observed {
        Observed::default()
    }

    fn decide(&self, run: &Run<'_, R>, _: &Observed, _: DateTime<Utc>) -> Decision {
        Decision::Hold {
            situation: Situation::Stalled {
                reason: baton_crds::conditions::reasons::INVALID_SPEC,
                message: "members not connected".into(),
            },
            after: run.ctx.timings.gated,
        }
    }
}
