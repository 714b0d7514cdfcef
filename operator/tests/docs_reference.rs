//! The hand-written reference pages list everything there is: every flag the binary accepts
//! (`docs/src/reference/flags.md`) and every value the chart takes
//! (`docs/src/reference/helm.md`). A new flag or value without its line fails here.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

fn read(path: &str) -> Result<String> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).with_context(|| format!("failed to read {}", full.display()))
}

#[test]
fn every_flag_is_on_the_flags_page() -> Result<()> {
    let help = Command::new(env!("CARGO_BIN_EXE_baton-operator"))
        .arg("--help")
        .output()?;
    let help = String::from_utf8(help.stdout)?;
    let page = read("docs/src/reference/flags.md")?;
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2 && *w != "--help" && *w != "--version")
        .collect();
    assert!(flags.len() > 15, "{help}");
    for flag in flags {
        assert!(
            page.contains(&format!("`{flag}`")),
            "{flag} is not on the flags page"
        );
    }
    Ok(())
}

/// Dotted paths of every leaf of `value` (maps are walked; lists and scalars are leaves).
fn leaves(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn every_chart_value_is_on_the_values_page() -> Result<()> {
    let values: Value = serde_saphyr::from_str(&read("charts/baton/values.yaml")?)?;
    let page = read("docs/src/reference/helm.md")?;
    let mut paths = Vec::new();
    leaves("", &values, &mut paths);
    for path in paths {
        // A documented parent covers free-form maps (`resources`, security contexts, probes).
        let covered =
            std::iter::successors(Some(path.as_str()), |p| p.rsplit_once('.').map(|(a, _)| a))
                .any(|p| page.contains(&format!("`{p}`")));
        assert!(covered, "{path} is not on the values page");
    }
    Ok(())
}
