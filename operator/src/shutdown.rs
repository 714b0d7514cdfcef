//! Shutdown: SIGTERM or SIGINT asks for a graceful stop, a second signal or the end of the grace
//! period abandons what still runs.
//!
//! Graceful means: the controllers start no new reconcile, the running ones go on until they
//! return, then the process releases its Lease and exits 0. A reconcile still running when the
//! grace period ends is dropped at its next await point. That is safe for the same reason a
//! killed operator is: every step is recorded Running before its first request and every
//! status write is one server-side apply request, applied whole or not at all, so the next
//! leader resumes from status and repeats no step (I8).

use std::time::Duration;

use tokio::sync::watch;

/// How far shutdown has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Running.
    Running,
    /// Stop starting reconciles; let the running ones finish.
    Graceful,
    /// Drop the running reconciles now.
    Abandon,
}

/// A handle every part of the process can wait on.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<Stage>,
}

/// Moves a [`Shutdown`] through its stages (signals in production, the test in tests).
#[derive(Debug)]
pub struct Trigger {
    tx: watch::Sender<Stage>,
}

impl Trigger {
    /// Moves to `stage` (never backwards).
    pub fn set(&self, stage: Stage) {
        self.tx.send_if_modified(|s| {
            let later = stage > *s;
            if later {
                *s = stage;
            }
            later
        });
    }
}

/// A shutdown that only `trigger` moves.
pub fn manual() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(Stage::Running);
    (Trigger { tx }, Shutdown { rx })
}

impl Shutdown {
    /// A shutdown driven by SIGTERM and SIGINT: the first asks for a graceful stop, which
    /// turns into abandoning after `grace`; a second signal abandons at once.
    pub fn on_signals(grace: Duration) -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (trigger, shutdown) = manual();
        tokio::spawn(async move {
            let name = next_signal(&mut term, &mut int).await;
            tracing::info!(
                signal = name,
                grace_seconds = grace.as_secs_f64(),
                "shutting down: no new reconcile starts; running ones may finish within the grace period"
            );
            trigger.set(Stage::Graceful);
            tokio::select! {
                name = next_signal(&mut term, &mut int) => tracing::warn!(signal = name, "second signal: abandoning running reconciles"),
                () = tokio::time::sleep(grace) => tracing::warn!("grace period over: abandoning running reconciles"),
            }
            trigger.set(Stage::Abandon);
            // Keep the trigger (and the signal handlers) alive until the process ends.
            std::future::pending::<()>().await;
        });
        Ok(shutdown)
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        *self.rx.borrow()
    }

    /// Resolves once the stage is `stage` or later (never, if the trigger is gone first).
    pub async fn reached(&self, stage: Stage) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|s| *s >= stage).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// A `'static + Send + Sync` future for [`kube::runtime::Controller::graceful_shutdown_on`].
    pub fn graceful(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let this = self.clone();
        async move { this.reached(Stage::Graceful).await }
    }
}

async fn next_signal(
    term: &mut tokio::signal::unix::Signal,
    int: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stages_only_move_forward() {
        let (trigger, shutdown) = manual();
        assert_eq!(shutdown.stage(), Stage::Running);
        trigger.set(Stage::Abandon);
        trigger.set(Stage::Graceful);
        assert_eq!(shutdown.stage(), Stage::Abandon);
        // Both waits resolve: Abandon is later than Graceful.
        shutdown.reached(Stage::Graceful).await;
        shutdown.reached(Stage::Abandon).await;
    }
}
