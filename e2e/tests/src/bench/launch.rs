//! Starting the operator for a benchmark: the production timings (its defaults) rather than
//! the tests' short ones, production logging, and its pid for `/proc`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::admin;
use crate::cluster::Cluster;
use crate::operator::{Launch, Operator};

use super::procfs;

/// The operator's default timings (`docs/src/reference/flags.md`), milliseconds.
const BUSY_MS: f64 = 5_000.0;
const GATED_MS: f64 = 60_000.0;
const LONG_POLL_MS: f64 = 20_000.0;
const IDLE_MS: f64 = 300_000.0;

/// The default timings as flags, with the idle requeue given.
pub fn production(idle: Duration) -> Vec<String> {
    flags(BUSY_MS, GATED_MS, LONG_POLL_MS, idle.as_secs_f64() * 1000.0)
}

/// The default timings in simulated time at `time_scale`: a 5 s busy requeue against an
/// appliance on a clock `time_scale` times faster is a `5 s / time_scale` requeue, so the
/// operator waits as many simulated seconds as it would wait real ones in production, and
/// polls as often per install.
pub fn scaled(time_scale: f64) -> Vec<String> {
    let s = time_scale.max(1.0);
    flags(BUSY_MS / s, GATED_MS / s, LONG_POLL_MS / s, IDLE_MS / s)
}

fn flags(busy: f64, gated: f64, long_poll: f64, idle: f64) -> Vec<String> {
    let ms = |x: f64| format!("{}ms", x.round().max(1.0));
    vec![
        format!("--busy-requeue={}", ms(busy)),
        format!("--gated-requeue={}", ms(gated)),
        format!("--long-poll={}", ms(long_poll)),
        format!("--idle-requeue={}", ms(idle)),
    ]
}

/// A running operator and its pid.
#[derive(Debug)]
pub struct Running {
    /// Held only: dropping it kills the process.
    _operator: Operator,
    /// Its pid, for `/proc`.
    pub pid: u32,
    /// Its admin server (`/metrics`).
    pub admin: std::net::SocketAddr,
}

/// Starts the operator on `namespace` with `timings`, through `kubeconfig` (an API proxy's)
/// when given, logging at `info` as in production, and waits until its watches are synced.
pub async fn start(
    cluster: &Cluster,
    namespace: &str,
    tag: &str,
    kubeconfig: Option<PathBuf>,
    timings: Vec<String>,
) -> Result<Running> {
    let launch = Launch {
        kubeconfig,
        args: timings,
        // BENCH_OPERATOR_LOG: another filter, to look into a figure (it costs CPU).
        env: vec![(
            "RUST_LOG".into(),
            std::env::var("BENCH_OPERATOR_LOG").unwrap_or_else(|_| "info".into()),
        )],
    };
    let operator = Operator::launch(cluster, namespace, tag, launch)?;
    admin::until(
        operator.admin,
        "/readyz",
        Duration::from_secs(60),
        |code, _| code == 200,
    )
    .await?;
    let pid = procfs::operator_pid(operator.admin)?;
    Ok(Running {
        admin: operator.admin,
        _operator: operator,
        pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_timings_keep_simulated_durations() {
        assert_eq!(
            scaled(100.0),
            [
                "--busy-requeue=50ms",
                "--gated-requeue=600ms",
                "--long-poll=200ms",
                "--idle-requeue=3000ms"
            ]
        );
        assert_eq!(
            production(Duration::from_secs(300))[3],
            "--idle-requeue=300000ms"
        );
    }
}
