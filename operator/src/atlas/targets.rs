//! The targets of a batch step, connected and read: each traffic node of the batch (with the
//! primary master's credentials and CA unless it has its own) and, with a backup master, that
//! master for batch 1. One read each: the install history (install steps) or software and
//! health (verify steps), in parallel up to [`FAN_OUT`].

use futures::StreamExt;

use baton_crds::AtlasCluster;
use baton_crds::common::Member;
use baton_crds::conditions::reasons;

use crate::context::Context;
use crate::drive::observe::install_progress;
use crate::members::Connected;
use crate::secrets::SecretReader;
use crate::upgrade::decide::atlas::AtlasInput;
use crate::upgrade::decide::batch;
use crate::upgrade::needs::TargetQuery;
use crate::upgrade::observed::{InstallProgress, Observed, TargetView, Unseen};

/// Requests in flight at once while reading a batch (each appliance has its own rate limit).
const FAN_OUT: usize = 16;

/// Connects the targets of batch `n` in `round`; masters come from `masters`.
pub async fn connect(
    ctx: &Context,
    cluster: &AtlasCluster,
    input: &AtlasInput<'_>,
    masters: &[Connected],
    (round, n): (i32, i32),
) -> Result<Vec<Connected>, Unseen> {
    let namespace = cluster.metadata.namespace.clone().unwrap_or_default();
    // One reader for the whole batch: nodes share the primary master's Secrets.
    let secrets = SecretReader::new(ctx.client.clone(), &namespace);
    let resource = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for name in batch::targets(input, round, n) {
        if let Some(m) = masters.iter().find(|m| m.name == name) {
            out.push(m.clone());
            continue;
        }
        let Some(spec) = cluster.spec.traffic_nodes.iter().find(|t| t.name == name) else {
            return Err(Unseen {
                reason: reasons::INVALID_SPEC,
                message: format!(
                    "node {name} of batch {n} is no longer in the spec; restore it or delete status.upgrade"
                ),
                transient: false,
            });
        };
        let primary = &cluster.spec.primary_master;
        let member = Member {
            name: spec.name.clone(),
            endpoint: spec.endpoint.clone(),
            credentials_secret_ref: spec
                .credentials_secret_ref
                .clone()
                .unwrap_or_else(|| primary.credentials_secret_ref.clone()),
            ca_secret_ref: spec
                .ca_secret_ref
                .clone()
                .or_else(|| primary.ca_secret_ref.clone()),
            traffic_address: None,
        };
        let connected = ctx
            .members
            .connect(&ctx.connector, &secrets, resource, &member)
            .await
            .map_err(|e| Unseen {
                reason: e.reason(),
                message: e.to_string(),
                transient: false,
            })?;
        out.push(connected);
    }
    Ok(out)
}

/// Reads each target as `query` asks. Unreachable while installing (rebooting after a base
/// install) counts as still running.
pub async fn read(
    targets: &[Connected],
    query: &TargetQuery,
    observed: &Observed,
) -> Vec<TargetView> {
    let clients = |name: &str| match &observed.nodes {
        Some(Ok(nodes)) => nodes.get(name).map_or(0, |v| v.clients),
        _ => 0,
    };
    let reads: Vec<_> = targets
        .iter()
        .map(|t| read_one(t, query, clients(&t.name)))
        .collect();
    futures::stream::iter(reads)
        .buffered(FAN_OUT)
        .collect()
        .await
}

async fn read_one(t: &Connected, query: &TargetQuery, clients: u64) -> TargetView {
    let mut view = TargetView {
        name: t.name.clone(),
        clients,
        install: InstallProgress::NotStarted,
        next: None,
        problem: None,
    };
    match query {
        TargetQuery::Install {
            package,
            retry,
            next,
        } => match t.appliance.installs().await {
            Ok(list) => {
                view.install = install_progress(&list, package, *retry);
                view.next = next.as_ref().map(|(p, r)| install_progress(&list, p, *r));
            }
            Err(e) if e.is_transient() => view.install = InstallProgress::Running(None),
            Err(e) => {
                view.install = InstallProgress::Failed(format!("failed to read its installs: {e}"))
            }
        },
        TargetQuery::Verify { version } => {
            let a = &t.appliance;
            view.problem = match (a.software().await, a.health().await) {
                (Ok(sw), Ok(h))
                    if sw.product_version.to_string() == *version
                        && h.healthy
                        && sw.state == crate::appliance::SoftwareState::Idle =>
                {
                    None
                }
                (Ok(sw), Ok(h)) => Some(format!(
                    "{} runs {} ({:?}, healthy: {})",
                    t.name, sw.product_version, sw.state, h.healthy
                )),
                (Err(e), _) | (_, Err(e)) => Some(format!("{}: {e}", t.name)),
            };
        }
    }
    view
}
