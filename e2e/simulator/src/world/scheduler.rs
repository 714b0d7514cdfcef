//! The world's event queue: everything that happens later (install phases, reboots, syncs,
//! swaps, client arrivals and departures, fault expiry) is an [`Ev`] at a simulated time.
//! Events are processed strictly in time order, each stamped with its own time, so the
//! referee's measures do not depend on how promptly the driver task wakes up.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something scheduled to happen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ev {
    /// End of the current phase of an install (run, failure point, or reboot).
    InstallStep { app: usize, install: usize },
    /// A data sync finishes.
    SyncDone {
        group: usize,
        cluster: bool,
        id: u64,
    },
    /// The promotion half of a role swap.
    Promote { group: usize, op: u64, app: usize },
    /// A shared IP comes up.
    SharedIpUp { group: usize, op: u64, app: usize },
    /// A package reaches one cluster node.
    DistributeNode { group: usize, id: u64, node: usize },
    /// The first data sync after establishing failover.
    AutoSync { group: usize, relation: u64 },
    /// A client of `owner`'s traffic arrives.
    ClientArrival { owner: usize },
    /// A client session ends on its own.
    SessionEnd { app: usize, session: u64 },
    /// A timed fault (unreachable until `until`) ends, unless replaced or cleared since.
    FaultExpire { app: usize, until: f64 },
}

impl Ev {
    /// Client churn does not change anything a long poll or the referee's site measures
    /// watch, so it does not wake them.
    pub(crate) fn is_client_churn(&self) -> bool {
        matches!(self, Self::ClientArrival { .. } | Self::SessionEnd { .. })
    }
}

#[derive(Debug)]
struct Entry {
    at: f64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event (then the first
    // scheduled, for equal times) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .total_cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A min-heap of events by time, FIFO among equal times.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Scheduler {
    pub(crate) fn push(&mut self, at: f64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// The earliest event due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: f64) -> Option<(f64, Ev)> {
        if self.heap.peek().is_some_and(|e| e.at <= now) {
            self.heap.pop().map(|e| (e.at, e.ev))
        } else {
            None
        }
    }

    pub(crate) fn next_at(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_fifo_order() {
        let mut s = Scheduler::default();
        s.push(2.0, Ev::ClientArrival { owner: 2 });
        s.push(1.0, Ev::ClientArrival { owner: 1 });
        s.push(1.0, Ev::ClientArrival { owner: 3 });
        assert_eq!(s.pop_due(0.5), None);
        assert_eq!(s.pop_due(5.0), Some((1.0, Ev::ClientArrival { owner: 1 })));
        assert_eq!(s.pop_due(5.0), Some((1.0, Ev::ClientArrival { owner: 3 })));
        assert_eq!(s.pop_due(5.0), Some((2.0, Ev::ClientArrival { owner: 2 })));
        assert_eq!(s.next_at(), None);
    }
}
