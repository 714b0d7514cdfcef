//! The Argo CD health check and actions in `docs/src/gitops/argocd/`, run in a Lua 5.1 (the
//! language of Argo CD's gopher-lua) against statuses in the operator's own vocabulary, and
//! the `argocd-cm` snippet checked to carry exactly those scripts.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mlua::{Lua, LuaSerdeExt};
use serde_json::{Value, json};

use baton_crds::conditions::{reasons, types};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src/gitops/argocd")
}

fn script(name: &str) -> Result<String> {
    let path = dir().join(name);
    std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))
}

/// Runs `script` with `obj` set, as Argo CD does, and returns what it returns.
fn run(script: &str, obj: &Value) -> Result<Value> {
    // Lua errors are not Send: keep their text.
    let lua_err = |e: mlua::Error| anyhow::anyhow!("lua: {e}");
    let lua = Lua::new();
    let value = lua.to_value(obj).map_err(lua_err)?;
    lua.globals().set("obj", value).map_err(lua_err)?;
    let out: mlua::Value = lua.load(script).eval().map_err(lua_err)?;
    lua.from_value(out).map_err(lua_err)
}

fn health(obj: &Value) -> Result<(String, String)> {
    let hs = run(&script("health.lua")?, obj)?;
    Ok((
        hs["status"].as_str().unwrap_or_default().to_owned(),
        hs["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn condition(type_: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({ "type": type_, "status": if status { "True" } else { "False" }, "reason": reason, "message": message,
            "observedGeneration": 2, "lastTransitionTime": "2026-01-01T00:00:00Z" })
}

/// A pair at generation 2 whose status describes generation 2.
fn pair(conditions: Vec<Value>, phase: &str, upgrade: Option<Value>) -> Value {
    let mut status = json!({ "observedGeneration": 2, "phase": phase, "conditions": conditions });
    if let Some(u) = upgrade {
        status["upgrade"] = u;
    }
    json!({
        "apiVersion": "baton.dev/v1alpha1", "kind": "AppliancePair",
        "metadata": { "name": "site", "namespace": "support", "generation": 2 },
        "spec": { "version": "24.3.2", "paused": false, "trafficSwing": { "provider": "SharedIp" } },
        "status": status,
    })
}

fn upgrade(steps: Vec<(&str, &str, Option<&str>)>) -> Value {
    let plan: Vec<Value> = steps
        .into_iter()
        .map(|(action, state, package)| {
            let mut s = json!({ "id": format!("1/{action}"), "description": "", "action": action, "round": 1, "state": state });
            if let Some(p) = package {
                s["package"] = json!(p);
            }
            s
        })
        .collect();
    json!({ "id": "u-7f3a9c", "fromVersion": "24.1.0", "toVersion": "24.3.2", "plan": plan })
}

fn working() -> Vec<Value> {
    vec![
        condition(
            types::READY,
            false,
            reasons::UPGRADING,
            "1/install: installing",
        ),
        condition(
            types::RECONCILING,
            true,
            reasons::UPGRADING,
            "1/install: installing",
        ),
        condition(types::STALLED, false, reasons::UPGRADING, ""),
    ]
}

#[test]
fn health_follows_the_kstatus_conditions() -> Result<()> {
    // Not observed yet, or observed at an older generation: progressing.
    let mut fresh = pair(vec![], "Pending", None);
    fresh.as_object_mut().map(|o| o.remove("status"));
    assert_eq!(health(&fresh)?.0, "Progressing");
    let mut stale = pair(working(), "Upgrading", None);
    stale["metadata"]["generation"] = json!(3);
    let (status, message) = health(&stale)?;
    assert_eq!(status, "Progressing");
    assert!(message.contains("generation 3"), "{message}");

    let done = pair(
        vec![
            condition(
                types::READY,
                true,
                reasons::UP_TO_DATE,
                "both members run 24.3.2 with failover established",
            ),
            condition(types::RECONCILING, false, reasons::UP_TO_DATE, ""),
            condition(types::STALLED, false, reasons::UP_TO_DATE, ""),
        ],
        "UpToDate",
        None,
    );
    assert_eq!(
        health(&done)?,
        (
            "Healthy".to_owned(),
            "both members run 24.3.2 with failover established".to_owned()
        )
    );

    let stalled = pair(
        vec![
            condition(
                types::READY,
                false,
                reasons::BASE_INSTALL_FAILED,
                "base software install failed",
            ),
            condition(types::RECONCILING, false, reasons::BASE_INSTALL_FAILED, ""),
            condition(
                types::STALLED,
                true,
                reasons::BASE_INSTALL_FAILED,
                "base software install base-5.1.0 failed on rs-b: disk error. Do not restart the appliance",
            ),
        ],
        "Stalled",
        None,
    );
    let (status, message) = health(&stalled)?;
    assert_eq!(status, "Degraded");
    assert!(
        message.contains("Do not restart the appliance"),
        "{message}"
    );

    let mut held = working();
    held.push(condition(
        types::AWAITING_APPROVAL,
        true,
        reasons::AWAITING_APPROVAL,
        "waiting for approval u-7f3a9c/BeforePromotion",
    ));
    let (status, message) = health(&pair(held, "AwaitingApproval", None))?;
    assert_eq!(status, "Suspended");
    assert!(message.contains("u-7f3a9c/BeforePromotion"), "{message}");

    let mut paused = working();
    paused.push(condition(
        types::PAUSED,
        true,
        reasons::PAUSED,
        "spec.paused is true: no new step starts",
    ));
    assert_eq!(health(&pair(paused, "Paused", None))?.0, "Suspended");

    let mut window = working();
    window.push(condition(
        types::AWAITING_WINDOW,
        true,
        reasons::OUTSIDE_WINDOW,
        "waits for the next maintenance window",
    ));
    assert_eq!(
        health(&pair(window, "WaitingForWindow", None))?.0,
        "Progressing"
    );

    let (status, message) = health(&pair(working(), "Upgrading", None))?;
    assert_eq!(status, "Progressing");
    assert_eq!(message, "1/install: installing");
    Ok(())
}

fn enabled(actions: &Value, name: &str) -> bool {
    actions[name]["disabled"] == json!(false)
}

#[test]
fn actions_approve_what_the_upgrade_waits_for_and_pause_or_resume() -> Result<()> {
    let discovery = script("actions/discovery.lua")?;
    let approve = script("actions/approve/action.lua")?;

    // Waiting at a gate: approve names it; pause is offered, resume is not.
    let gate = pair(
        working(),
        "AwaitingApproval",
        Some(upgrade(vec![
            ("Backup", "Succeeded", None),
            ("Approval", "Pending", Some("BeforePromotion")),
            ("SwingTraffic", "Pending", None),
        ])),
    );
    let actions = run(&discovery, &gate)?;
    assert!(
        enabled(&actions, "approve") && enabled(&actions, "pause") && !enabled(&actions, "resume"),
        "{actions}"
    );
    let approved = run(&approve, &gate)?;
    assert_eq!(
        approved["metadata"]["annotations"]["baton.dev/approve"],
        "u-7f3a9c/BeforePromotion"
    );
    // Approving twice adds nothing; other approvals are kept.
    let again = run(&approve, &approved)?;
    assert_eq!(
        again["metadata"]["annotations"]["baton.dev/approve"],
        "u-7f3a9c/BeforePromotion"
    );
    let mut older = gate.clone();
    older["metadata"]["annotations"] = json!({ "baton.dev/approve": "u-000001-r1/Retry" });
    assert_eq!(
        run(&approve, &older)?["metadata"]["annotations"]["baton.dev/approve"],
        "u-000001-r1/Retry,u-7f3a9c/BeforePromotion"
    );

    // A failed step: approve is the one Retry the operator accepts (R6's way back).
    let failed = pair(
        working(),
        "Stalled",
        Some(upgrade(vec![
            ("Backup", "Succeeded", None),
            ("Install", "Failed", Some("base-5.1.0")),
        ])),
    );
    assert_eq!(
        run(&approve, &failed)?["metadata"]["annotations"]["baton.dev/approve"],
        "u-7f3a9c-r1/Retry"
    );
    // After one retry, approving asks for the second: the first never opens it (R6).
    let mut again = failed.clone();
    again["status"]["upgrade"]["retries"] = json!(1);
    assert_eq!(
        run(&approve, &again)?["metadata"]["annotations"]["baton.dev/approve"],
        "u-7f3a9c-r2/Retry"
    );

    // A manual traffic swing waits for a person to confirm it.
    let mut manual = pair(
        working(),
        "AwaitingApproval",
        Some(upgrade(vec![
            ("Install", "Succeeded", None),
            ("SwingTraffic", "Running", None),
        ])),
    );
    manual["spec"]["trafficSwing"]["provider"] = json!("Manual");
    assert_eq!(
        run(&approve, &manual)?["metadata"]["annotations"]["baton.dev/approve"],
        "u-7f3a9c/TrafficSwing"
    );
    // In a later round the swing goes the other way: its confirmation is its own.
    let mut round2 = manual.clone();
    round2["status"]["upgrade"]["plan"][1]["round"] = json!(2);
    assert_eq!(
        run(&approve, &round2)?["metadata"]["annotations"]["baton.dev/approve"],
        "u-7f3a9c-round2/TrafficSwing"
    );

    // An install running, or no upgrade at all: nothing to approve, and approve changes nothing.
    for obj in [
        pair(
            working(),
            "Upgrading",
            Some(upgrade(vec![(
                "Install",
                "Running",
                Some("product-24.3.2"),
            )])),
        ),
        pair(working(), "UpToDate", None),
    ] {
        assert!(!enabled(&run(&discovery, &obj)?, "approve"));
        assert_eq!(run(&approve, &obj)?, obj);
    }

    // Pause and resume flip spec.paused; discovery offers the one that applies.
    let paused = run(&script("actions/pause/action.lua")?, &gate)?;
    assert_eq!(paused["spec"]["paused"], true);
    let actions = run(&discovery, &paused)?;
    assert!(
        !enabled(&actions, "pause") && enabled(&actions, "resume"),
        "{actions}"
    );
    assert_eq!(
        run(&script("actions/resume/action.lua")?, &paused)?["spec"]["paused"],
        false
    );
    Ok(())
}

#[test]
fn the_argocd_cm_snippet_carries_the_tested_scripts() -> Result<()> {
    let text = script("argocd-cm.yaml")?;
    let cm: Value = serde_saphyr::from_str(&text)?;
    let health_lua = script("health.lua")?;
    let discovery = script("actions/discovery.lua")?;
    for kind in ["AppliancePair", "AtlasCluster"] {
        let data = &cm["data"];
        assert_eq!(
            data[format!("resource.customizations.health.baton.dev_{kind}")].as_str(),
            Some(health_lua.as_str()),
            "{kind} health"
        );
        let actions: Value = serde_saphyr::from_str(
            data[format!("resource.customizations.actions.baton.dev_{kind}")]
                .as_str()
                .context("no actions")?,
        )?;
        assert_eq!(
            actions["discovery.lua"].as_str(),
            Some(discovery.as_str()),
            "{kind} discovery"
        );
        for name in ["pause", "resume", "approve"] {
            let definition = actions["definitions"]
                .as_array()
                .and_then(|d| d.iter().find(|a| a["name"] == name))
                .with_context(|| format!("{kind}: no {name} action"))?;
            assert_eq!(
                definition["action.lua"].as_str(),
                Some(script(&format!("actions/{name}/action.lua"))?.as_str()),
                "{kind} {name}"
            );
        }
    }
    Ok(())
}
