//! `make demo`: the whole of baton on the embedded default. A control plane (or the cluster
//! `KUBECONFIG` names), the CRDs, the simulated fleet of `docs/examples/demo/`, its Secrets,
//! the example manifests, the operator; a live table while it works; the final `kubectl get`
//! and the referee's verdict.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use baton_crds::{AppliancePair, AtlasCluster};
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

use crate::cluster::{self};
use crate::namespace::TestNamespace;
use crate::operator::Operator;
use crate::{crds, fleet, kubectl::kubectl, repo_root};

/// The demo's deadline: it must finish well inside five minutes once built.
const DEADLINE: Duration = Duration::from_secs(280);

/// Runs the demo; `Ok(true)` when everything finished and the referee saw no violation.
pub async fn run() -> Result<bool> {
    let started = Instant::now();
    let dir = repo_root().join("docs/examples/demo");
    say("starting the control plane (or using KUBECONFIG)");
    let cluster = cluster::shared().await?;
    let client = cluster.client().await?;
    crds::install(&client).await?;
    say("CRDs installed: appliancepairs.baton.dev, atlasclusters.baton.dev");

    let yaml = std::fs::read_to_string(dir.join("fleet.yaml"))?;
    let sim = fleet::start(&yaml)
        .await
        .context("failed to start the simulated fleet (are ports 18441-18466 free?)")?;
    say(&format!(
        "simulated fleet up: {} appliances, time scale {}x",
        sim.connection().appliances.len(),
        sim.connection().time_scale
    ));

    let namespace = TestNamespace::create(&client, "baton-demo").await?;
    fleet::create_secrets(&client, &namespace.name, sim.connection()).await?;
    let manifests = ["appliancepair.yaml", "atlascluster.yaml"];
    for file in manifests {
        apply(
            &client,
            &namespace.name,
            &std::fs::read_to_string(dir.join(file))?,
        )
        .await?;
    }
    say(&format!(
        "applied docs/examples/demo/{{{}}} in namespace {}",
        manifests.join(","),
        namespace.name
    ));

    let _operator = Operator::start(&cluster, &namespace.name, "demo", &[])?;
    say("operator started; waiting until the pair and the Atlas cluster are both Ready");
    let pairs: Api<AppliancePair> = Api::namespaced(client.clone(), &namespace.name);
    let clusters: Api<AtlasCluster> = Api::namespaced(client.clone(), &namespace.name);
    let mut table = LiveTable::new();
    let outcome = loop {
        let rows = rows(&pairs, &clusters).await?;
        table.show(&rows);
        if !rows.is_empty() && rows.iter().all(|r| r.ready) {
            break Ok(());
        }
        if let Some(r) = rows.iter().find(|r| r.stalled) {
            break Err(format!("{} {} is Stalled: {}", r.kind, r.name, r.message));
        }
        if started.elapsed() > DEADLINE {
            break Err(format!("not finished after {}s", DEADLINE.as_secs()));
        }
        // The table's refresh rate: a display tick, not a wait for a condition.
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    table.done();

    let out = kubectl(&cluster, &["get", "apair,atlas", "-n", &namespace.name]).await?;
    println!(
        "\n$ kubectl get apair,atlas -n {}\n{}",
        namespace.name,
        out.stdout.trim_end()
    );
    let report = sim.shutdown().await;
    namespace.delete().await?;
    if !report.violations.is_empty() {
        for v in &report.violations {
            println!("violation {} on {}: {}", v.invariant, v.group, v.message);
        }
    }
    println!(
        "\ndemo finished in {:.0}s (simulated time scale {}x)",
        started.elapsed().as_secs_f64(),
        report.time_scale
    );
    println!("{}", report.summary_line());
    if let Err(problem) = &outcome {
        println!("demo FAILED: {problem}");
    }
    Ok(outcome.is_ok() && report.violations.is_empty())
}

fn say(line: &str) {
    println!("==> {line}");
}

/// Server-side apply of a manifest (what `kubectl apply --server-side` does).
async fn apply(client: &kube::Client, namespace: &str, yaml: &str) -> Result<()> {
    let object: Value = serde_saphyr::from_str(yaml)?;
    let kind = object["kind"].as_str().context("manifest without kind")?;
    let name = object["metadata"]["name"]
        .as_str()
        .context("manifest without name")?
        .to_owned();
    let params = PatchParams::apply("baton-demo").force();
    match kind {
        "AppliancePair" => drop(
            Api::<AppliancePair>::namespaced(client.clone(), namespace)
                .patch(&name, &params, &Patch::Apply(&object))
                .await?,
        ),
        "AtlasCluster" => drop(
            Api::<AtlasCluster>::namespaced(client.clone(), namespace)
                .patch(&name, &params, &Patch::Apply(&object))
                .await?,
        ),
        other => anyhow::bail!("the demo does not apply {other}"),
    }
    Ok(())
}

/// One line of the live table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    kind: &'static str,
    name: String,
    desired: String,
    current: String,
    phase: String,
    primary: String,
    step: String,
    ready: bool,
    stalled: bool,
    message: String,
}

async fn rows(pairs: &Api<AppliancePair>, clusters: &Api<AtlasCluster>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for p in pairs.list(&Default::default()).await? {
        let s = p.status.clone().unwrap_or_default();
        rows.push(row(
            "AppliancePair",
            &p.metadata,
            &p.spec.version,
            s.current_version,
            format!("{:?}", s.phase),
            s.primary,
            s.upgrade.and_then(|u| u.current_step),
            &s.conditions,
            s.observed_generation,
        ));
    }
    for c in clusters.list(&Default::default()).await? {
        let s = c.status.clone().unwrap_or_default();
        rows.push(row(
            "AtlasCluster",
            &c.metadata,
            &c.spec.version,
            s.current_version,
            format!("{:?}", s.phase),
            s.primary,
            s.upgrade.and_then(|u| u.current_step),
            &s.conditions,
            s.observed_generation,
        ));
    }
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
fn row(
    kind: &'static str,
    meta: &kube::api::ObjectMeta,
    desired: &str,
    current: Option<String>,
    phase: String,
    primary: Option<String>,
    step: Option<String>,
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    observed: Option<i64>,
) -> Row {
    let fresh = observed.is_some() && observed == meta.generation;
    let is = |t: &str| {
        fresh
            && conditions
                .iter()
                .any(|c| c.type_ == t && c.status == "True")
    };
    let message = conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    Row {
        kind,
        name: meta.name.clone().unwrap_or_default(),
        desired: desired.to_owned(),
        current: current.unwrap_or_else(|| "-".into()),
        phase: if observed.is_some() {
            phase
        } else {
            "Pending".into()
        },
        primary: primary.unwrap_or_else(|| "-".into()),
        step: step.unwrap_or_else(|| "-".into()),
        ready: is("Ready"),
        stalled: is("Stalled"),
        message,
    }
}

/// Redraws in place on a terminal; elsewhere prints a line per change, never a wall of logs.
struct LiveTable {
    tty: bool,
    drawn: usize,
    last: BTreeMap<String, Row>,
    started: Instant,
}

impl LiveTable {
    fn new() -> Self {
        Self {
            tty: std::io::stdout().is_terminal(),
            drawn: 0,
            last: BTreeMap::new(),
            started: Instant::now(),
        }
    }

    fn show(&mut self, rows: &[Row]) {
        let elapsed = self.started.elapsed().as_secs();
        let mut out = std::io::stdout().lock();
        if self.tty {
            // Move up over the previous table and clear it.
            let _ = write!(out, "{}", "\x1b[1A\x1b[2K".repeat(self.drawn));
            let mut lines = vec![format!(
                "{:<14} {:<14} {:<8} {:<8} {:<17} {:<9} {}   [{elapsed}s]",
                "KIND", "NAME", "DESIRED", "CURRENT", "PHASE", "PRIMARY", "STEP"
            )];
            lines.extend(rows.iter().map(|r| {
                format!(
                    "{:<14} {:<14} {:<8} {:<8} {:<17} {:<9} {}",
                    r.kind, r.name, r.desired, r.current, r.phase, r.primary, r.step
                )
            }));
            for line in &lines {
                let _ = writeln!(out, "{line}");
            }
            self.drawn = lines.len();
        } else {
            for r in rows {
                let key = format!("{}/{}", r.kind, r.name);
                if self.last.get(&key) != Some(r) {
                    let _ = writeln!(
                        out,
                        "[{elapsed:>3}s] {key:<28} {:<8} -> {:<8} {:<17} primary={:<9} step={}",
                        r.current, r.desired, r.phase, r.primary, r.step
                    );
                    self.last.insert(key, r.clone());
                }
            }
        }
        let _ = out.flush();
    }

    fn done(&mut self) {
        self.drawn = 0;
    }
}
