//! The AppliancePair adapter: connect both members, observe them, the pair's decision.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kube::runtime::controller::Action;

use baton_crds::AppliancePair;
use baton_crds::conditions::reasons;

use super::Error;
use crate::context::Context;
use crate::drive::run::{self, Adapter, Run};
use crate::members::Connected;
use crate::secrets::SecretReader;
use crate::upgrade::decide::Decision;
use crate::upgrade::decide::pair::{PairInput, decide};
use crate::upgrade::observed::Observed;

/// Reconciles one pair.
pub async fn reconcile(object: Arc<AppliancePair>, ctx: Arc<Context>) -> Result<Action, Error> {
    Ok(run::reconcile::<AppliancePair, Pair>(object, ctx).await?)
}

/// A pair's two members, connected.
#[derive(Debug)]
struct Pair {
    members: [Connected; 2],
}

#[async_trait]
impl Adapter<AppliancePair> for Pair {
    async fn connect(ctx: &Context, pair: &AppliancePair) -> Result<Self, (&'static str, String)> {
        let namespace = pair.metadata.namespace.clone().unwrap_or_default();
        let name = pair.metadata.name.clone().unwrap_or_default();
        let secrets = SecretReader::new(ctx.client.clone(), &namespace);
        let [a, b] = pair.spec.members.as_slice() else {
            return Err((
                reasons::INVALID_SPEC,
                "a pair has exactly two members".to_owned(),
            ));
        };
        let connect = |m| ctx.members.connect(&ctx.connector, &secrets, &name, m);
        let a = connect(a).await.map_err(|e| (e.reason(), e.to_string()))?;
        let b = connect(b).await.map_err(|e| (e.reason(), e.to_string()))?;
        Ok(Self { members: [a, b] })
    }

    fn members(&self) -> Vec<Connected> {
        self.members.to_vec()
    }

    async fn observe(&mut self, run: &mut Run<'_, AppliancePair>) -> Observed {
        let timings = &run.ctx.timings;
        super::observe::observe_pair(run.resource, &self.members, &mut run.status, timings).await
    }

    fn decide(
        &self,
        run: &Run<'_, AppliancePair>,
        observed: &Observed,
        now: DateTime<Utc>,
    ) -> Decision {
        let (uid, generation) = run.identity();
        decide(&PairInput {
            common: run.common(now),
            spec: &run.resource.spec,
            uid,
            generation,
            upgrade: run.status.upgrade.as_ref(),
            observed,
        })
    }
}
