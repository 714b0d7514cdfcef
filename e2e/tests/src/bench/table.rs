//! The Markdown of `target/bench/table.md` and of the generated part of
//! `docs/src/operations/bench.md`: the conditions, the targets, then a table per kind of
//! figure. Every figure, these and more, is in `report.json`.

use std::fmt::Write as _;

use serde_json::Value;

use super::report::targets;

/// A figure as people read it: numbers as they are, strings unquoted, absent as "—".
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The tables for `report`.
pub fn markdown(report: &Value) -> String {
    let get = |k: &str| report.get(k).unwrap_or(&Value::Null);
    let machine = get("machine");
    // Writing to a String cannot fail: the `writeln!` results are ignored.
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Measured {} at commit `{}` on {} cores ({}) with {} GiB of memory: release build of \
         the operator, local control plane (kube-apiserver {}).{}\n",
        cell(get("date")),
        cell(get("git")),
        cell(&machine["cores"]),
        cell(&machine["cpu"]),
        cell(&machine["memory_gib"]),
        crate::cluster::LOCAL_KUBERNETES_VERSION,
        if get("quick").as_bool() == Some(true) {
            " **Quick mode: smaller counts and faster clocks, not figures of record.**"
        } else {
            ""
        },
    );
    md.push_str("| target | measured | met |\n|---|---|---|\n");
    for t in targets(report) {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(md, "| {} ({}) | {} | {met} |", t.what, t.target, t.measured);
    }

    md.push_str(
        "\n| upgrade | time scale | makespan (sim s) | floor | ratio | overhead (real s) | \
         downtime (sim s) | floor | overhead (real ms) | dropped sessions | violations | \
         wall clock (s) | operator peak RSS (MiB) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for name in ["pair_async", "atlas_3x10", "atlas_5x100"] {
        let s = get(name);
        if s.is_null() {
            continue;
        }
        let cols = [
            "time_scale",
            "makespan_s",
            "makespan_floor_s",
            "ratio",
            "makespan_overhead_real_s",
            "downtime_s",
            "downtime_floor_s",
            "downtime_overhead_real_ms",
            "dropped_sessions",
            "violations",
            "real_s",
            "rss_max_mib",
        ];
        let row: Vec<String> = cols.iter().map(|c| cell(&s[*c])).collect();
        let _ = writeln!(md, "| `{name}` | {} |", row.join(" | "));
    }

    let mut idle: Vec<(u64, &Value)> = report
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.strip_prefix("idle_")?.parse().ok()?, v)))
        .collect();
    idle.sort_by_key(|(n, _)| *n);
    if !idle.is_empty() {
        md.push_str(
            "\n| idle pairs | RSS (MiB) | CPU (% of a core) | converged in (s) | reconciles in \
             the window | API requests per resource-hour | status writes per resource-hour |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for (n, s) in idle {
            let cols = [
                "rss_max_mib",
                "cpu_percent",
                "converge_s",
                "reconciles",
                "requests_per_resource_hour",
                "status_writes_per_resource_hour",
            ];
            let row: Vec<String> = cols.iter().map(|c| cell(&s[*c])).collect();
            let _ = writeln!(md, "| {n} | {} |", row.join(" | "));
        }
    }

    let r = get("reaction");
    if !r.is_null() {
        let _ = writeln!(
            md,
            "\nReaction, {} samples: p50 {} ms, p99 {} ms, max {} ms from the API server's \
             answer to the patch; p50 {} ms, p99 {} ms from sending it (the patch's round trip: \
             p50 {} ms).",
            cell(&r["samples"]),
            cell(&r["p50_ms"]),
            cell(&r["p99_ms"]),
            cell(&r["max_ms"]),
            cell(&r["from_send_p50_ms"]),
            cell(&r["from_send_p99_ms"]),
            cell(&r["patch_p50_ms"]),
        );
    }
    let a = get("api");
    if let Some(by) = a["by_request"].as_object() {
        let mut by: Vec<(&String, &Value)> = by.iter().collect();
        by.sort_by_key(|(_, n)| std::cmp::Reverse(n.as_u64().unwrap_or(0)));
        let list: Vec<String> = by.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            md,
            "\nAPI requests for the `pair_async` upgrade: {} ({} status writes): {}.",
            cell(&a["requests_per_upgrade"]),
            cell(&a["status_writes_per_upgrade"]),
            list.join(", "),
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_show_what_was_measured() {
        let report = json!({
            "date": "2026-11-24T06:00:00Z",
            "pair_async": { "makespan_s": 105.0, "makespan_floor_s": 100.0, "ratio": 1.05 },
            "idle_1000": { "rss_max_mib": 70.0 },
            "idle_0": { "rss_max_mib": 14.0 },
            "api": { "requests_per_upgrade": 3, "by_request": { "get secrets": 2, "list x": 1 } },
        });
        let md = markdown(&report);
        assert!(
            md.contains("| `pair_async` | — | 105.0 | 100.0 | 1.05 |"),
            "{md}"
        );
        assert!(
            md.find("| 0 | 14.0").unwrap_or(usize::MAX) < md.find("| 1000 | 70.0").unwrap_or(0)
        );
        assert!(md.contains("get secrets 2, list x 1"), "{md}");
    }
}
