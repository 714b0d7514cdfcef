//! What the benchmark reads from `/proc`: the machine it ran on, and an operator process's
//! memory (VmRSS) and CPU time (utime + stime), the figures `top` and the kubelet show.

use std::net::SocketAddr;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Cores, memory and CPU model of this machine, from `/proc`.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = field_kib(&meminfo, "MemTotal:").unwrap_or(0);
    json!({
        "cores": cores,
        "memory_gib": round1(memory_kib as f64 / 1024.0 / 1024.0),
        "cpu": model,
        "arch": std::env::consts::ARCH,
    })
}

/// The commit the benchmark ran at, `-dirty` when the tree had changes.
pub fn git() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(crate::repo_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = run(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    match run(&["status", "--porcelain"]) {
        Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
        _ => commit,
    }
}

/// The pid of the operator whose admin server listens on `admin`: [`crate::operator::Operator`]
/// does not expose its child's pid, but it passes `--admin-addr=<addr>`, unique per process.
pub fn operator_pid(admin: SocketAddr) -> Result<u32> {
    let wanted = format!("--admin-addr={admin}");
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go while we look: an unreadable one is not ours.
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == wanted.as_bytes())
        {
            return Ok(pid);
        }
    }
    bail!("no process with {wanted}")
}

/// Resident memory of `pid`, MiB.
pub fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    let kib = field_kib(&status, "VmRSS:").context("no VmRSS")?;
    Ok(kib as f64 / 1024.0)
}

/// CPU time of `pid` so far (user + system), seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    // The command name (field 2) may hold spaces; fields are counted after its ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

/// `sysconf(_SC_CLK_TCK)`, asked of `getconf` (this crate forbids unsafe code, so no libc).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn field_kib(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One decimal, for figures people read.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() -> Result<()> {
        let pid = std::process::id();
        assert!(rss_mib(pid)? > 0.0);
        assert!(cpu_seconds(pid)? >= 0.0);
        Ok(())
    }
}
