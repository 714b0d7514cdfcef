//! The shared runtime: the world behind one lock, the referee reading the world's event log
//! (behind its own lock, always taken after the world's), the per-appliance auth state, and
//! the driver task that processes scheduled events on time. Every access goes through
//! [`Shared::with`], which first advances the world to "now", so state is always current
//! even if the driver is late; long polls wait on the `changes` revision counter.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use tokio::sync::{Notify, watch};

use crate::auth::ApplianceAuth;
use crate::clock::SimClock;
use crate::referee::Referee;
use crate::referee::report::Report;
use crate::world::{OpError, World};

/// State shared by every listener and task of a fleet.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    /// Reads the world's event log; locked after the world, never before.
    referee: Mutex<Referee>,
    pub(crate) clock: SimClock,
    pub(crate) auth: Vec<Mutex<ApplianceAuth>>,
    pub(crate) token_rng: Mutex<ChaCha8Rng>,
    /// Bumped on every significant change of the world.
    pub(crate) changes: watch::Sender<u64>,
    /// Wakes the driver when something new was scheduled.
    wake: Notify,
    /// Set by `POST /admin/shutdown`.
    pub(crate) shutdown_requested: watch::Sender<bool>,
    /// True while the fleet serves; open admin connections close when it turns false.
    pub(crate) open: watch::Sender<bool>,
    pub(crate) admin_token: String,
    /// Longest a request waits for a role swap or shared IP move, real time.
    pub(crate) op_wait: Duration,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the world's
/// invariants are re-established by every `settle`, so continuing is safe.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(
        world: World,
        referee: Referee,
        auth: Vec<ApplianceAuth>,
        token_rng: ChaCha8Rng,
        admin_token: String,
    ) -> Self {
        let clock = world.clock;
        let t = &world.timings;
        let longest_sim = t.sync_s[1] + t.swap_s + t.shared_ip_s;
        let op_wait = Duration::from_secs_f64((longest_sim / clock.scale() + 5.0).min(300.0));
        Self {
            world: Mutex::new(world),
            referee: Mutex::new(referee),
            clock,
            auth: auth.into_iter().map(Mutex::new).collect(),
            token_rng: Mutex::new(token_rng),
            changes: watch::Sender::new(0),
            wake: Notify::new(),
            shutdown_requested: watch::Sender::new(false),
            open: watch::Sender::new(true),
            admin_token,
            op_wait,
        }
    }

    /// Runs `f` on the world advanced to now, with the current simulated time.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut World, f64) -> R) -> R {
        let mut w = lock(&self.world);
        let now = self.clock.now();
        let before = w.revision;
        w.advance(now);
        let r = f(&mut w, now);
        let changed = w.revision != before;
        let revision = w.revision;
        drop(w);
        if changed {
            self.changes.send_replace(revision);
            self.wake.notify_one();
        }
        r
    }

    /// The referee's verdict now, on everything the world logged up to now.
    pub(crate) fn report(&self) -> Report {
        self.with(|w, now| {
            let mut referee = lock(&self.referee);
            referee.read(&w.log);
            referee.report(now)
        })
    }

    /// Re-evaluates `f` whenever the world changes, until it says it is done or `wait`
    /// (real time) passes; returns its last value.
    pub(crate) async fn long_poll<T>(
        &self,
        wait: Duration,
        mut f: impl FnMut(&mut World, f64) -> (T, bool),
    ) -> T {
        let deadline = tokio::time::Instant::now() + wait;
        let mut rx = self.changes.subscribe();
        loop {
            rx.borrow_and_update();
            let (value, done) = self.with(&mut f);
            if done || tokio::time::Instant::now() >= deadline {
                return value;
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return value; },
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Waits for a scheduled operation started by a request to finish.
    pub(crate) async fn wait_op(&self, op: u64) -> Option<Result<String, OpError>> {
        self.long_poll(self.op_wait, |w, _| {
            let r = w.finished_ops.remove(&op);
            let done = r.is_some();
            (r, done)
        })
        .await
    }

    /// The driver: sleeps until the next scheduled event (or until woken because something
    /// earlier was scheduled or changed) and advances the world. Batches events within 2 ms.
    pub(crate) async fn drive(self: Arc<Self>) {
        loop {
            // The referee reads along, so that what it finds (violations are also traced)
            // shows up as it happens rather than at the next report.
            let next = self.with(|w, _| {
                lock(&self.referee).read(&w.log);
                w.sched.next_at()
            });
            let now = Instant::now();
            let at = next.map_or(now + Duration::from_secs(3600), |s| {
                self.clock.instant_at(s).max(now + Duration::from_millis(2))
            });
            tokio::select! {
                () = tokio::time::sleep_until(at.into()) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}
