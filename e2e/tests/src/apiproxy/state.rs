//! What the proxy shares between its connections and the test: request counts, the faults
//! armed, what fired, and recent read responses (for stale reads).
//!
//! One mutex: every critical section is a few map operations, never held across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::classify::{Call, Matcher};

/// Read responses larger than this are not kept for stale reads (a big list is not worth it).
pub(super) const MAX_RECORDED_BODY: usize = 4 << 20;
/// At most this many distinct read URLs are kept: a long benchmark reads many URLs, and
/// memory must not grow without bound. URLs already kept keep being updated.
const MAX_RECORDED_URLS: usize = 4096;

/// How many faults of each kind actually fired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injected {
    /// Writes answered with an injected `409 Conflict`.
    pub conflicts: u64,
    /// Reads answered with an earlier response.
    pub stale_reads: u64,
    /// Writes held until released.
    pub holds: u64,
    /// Held writes whose connection was dropped instead of forwarded.
    pub drops: u64,
}

/// A read response kept to be served again, stale.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Recorded {
    pub content_type: Option<http::HeaderValue>,
    pub body: Bytes,
}

/// A hold armed by [`super::ApiProxy::hold_next`]: the proxy's ends of the channels to its
/// [`super::Held`].
#[derive(Debug)]
pub(super) struct HoldSlot {
    matcher: Matcher,
    arrived: oneshot::Sender<Call>,
    decision: oneshot::Receiver<Decision>,
}

impl HoldSlot {
    /// A hold for the next write `matcher` matches, with the test's ends of its channels.
    pub fn new(matcher: Matcher) -> (Self, oneshot::Receiver<Call>, oneshot::Sender<Decision>) {
        let (arrived, arrived_rx) = oneshot::channel();
        let (decision_tx, decision) = oneshot::channel();
        let slot = Self {
            matcher,
            arrived,
            decision,
        };
        (slot, arrived_rx, decision_tx)
    }
}

/// What the test decided for a held request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Forward,
    Drop,
}

type Counts = HashMap<(Option<String>, String, String), u64>;

#[derive(Debug, Default)]
struct Inner {
    counts: Counts,
    conflicts: Vec<(Matcher, u64)>,
    stale: Vec<(Matcher, u64)>,
    holds: Vec<HoldSlot>,
    /// Per URL (and Accept header), the last two distinct successful read bodies, oldest first.
    recorded: HashMap<String, VecDeque<Recorded>>,
    injected: Injected,
}

/// The state behind a proxy.
#[derive(Debug, Default)]
pub(super) struct State {
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain counters and queues: still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn count(&self, call: &Call) {
        let key = (
            call.namespace.clone(),
            call.verb.clone(),
            call.resource.clone(),
        );
        *self.lock().counts.entry(key).or_default() += 1;
    }

    pub fn counts(&self, namespace: Option<&str>) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for ((ns, verb, resource), n) in &self.lock().counts {
            if namespace.is_none_or(|wanted| ns.as_deref() == Some(wanted)) {
                *out.entry((verb.clone(), resource.clone())).or_default() += n;
            }
        }
        out
    }

    pub fn reset_counts(&self) {
        self.lock().counts.clear();
    }

    pub fn injected(&self) -> Injected {
        self.lock().injected
    }

    pub fn arm_conflicts(&self, matcher: Matcher, n: u64) {
        if n > 0 {
            self.lock().conflicts.push((matcher, n));
        }
    }

    pub fn arm_stale(&self, matcher: Matcher, n: u64) {
        if n > 0 {
            self.lock().stale.push((matcher, n));
        }
    }

    pub fn arm_hold(&self, slot: HoldSlot) {
        self.lock().holds.push(slot);
    }

    /// Disarms every fault (held requests already waiting stay held until released).
    pub fn clear_faults(&self) {
        let mut inner = self.lock();
        inner.conflicts.clear();
        inner.stale.clear();
        inner.holds.clear();
    }

    /// Whether this write gets an injected conflict (consuming one if so).
    pub fn take_conflict(&self, call: &Call) -> bool {
        if !call.is_write() {
            return false;
        }
        let mut inner = self.lock();
        let fired = take_budget(&mut inner.conflicts, call);
        if fired {
            inner.injected.conflicts += 1;
        }
        fired
    }

    /// The older response to serve for this read, if a stale read is armed for it and the
    /// proxy saw two different answers to it. Without one the fault is not consumed.
    pub fn take_stale(&self, call: &Call, url: &str) -> Option<Recorded> {
        if !call.is_read() {
            return None;
        }
        let mut inner = self.lock();
        let older = inner.recorded.get(url).filter(|r| r.len() == 2)?.front()?;
        let older = older.clone();
        if !take_budget(&mut inner.stale, call) {
            return None;
        }
        inner.injected.stale_reads += 1;
        Some(older)
    }

    /// The hold armed for this write, if any. Holds whose [`super::Held`] was dropped before
    /// a request came are discarded: nobody could release them.
    pub fn take_hold(&self, call: &Call) -> Option<HoldSlot> {
        if !call.is_write() {
            return None;
        }
        let mut inner = self.lock();
        inner.holds.retain(|slot| !slot.arrived.is_closed());
        let index = inner.holds.iter().position(|s| s.matcher.matches(call))?;
        inner.injected.holds += 1;
        Some(inner.holds.remove(index))
    }

    pub fn count_drop(&self) {
        self.lock().injected.drops += 1;
    }

    /// Keeps a successful read response. Only a body different from the last one is kept, so
    /// the older of the two is always an answer the server has since changed.
    pub fn record(&self, url: String, recorded: Recorded) {
        let mut inner = self.lock();
        if !inner.recorded.contains_key(&url) && inner.recorded.len() >= MAX_RECORDED_URLS {
            return;
        }
        let history = inner.recorded.entry(url).or_default();
        if history
            .back()
            .is_some_and(|last| last.body == recorded.body)
        {
            return;
        }
        history.push_back(recorded);
        while history.len() > 2 {
            history.pop_front();
        }
    }
}

/// Consumes one unit of the first armed budget matching `call`.
fn take_budget(budgets: &mut Vec<(Matcher, u64)>, call: &Call) -> bool {
    let Some(index) = budgets.iter().position(|(m, _)| m.matches(call)) else {
        return false;
    };
    budgets[index].1 -= 1;
    if budgets[index].1 == 0 {
        budgets.remove(index);
    }
    true
}

/// Waits for the test's decision on a held request; a [`super::Held`] dropped without one
/// forwards, so a test that forgets it does not wedge the operator.
pub(super) async fn decide(slot: HoldSlot, call: Call) -> Decision {
    // The test may have stopped listening for arrival; its decision still counts.
    let _ = slot.arrived.send(call);
    slot.decision.await.unwrap_or(Decision::Forward)
}
