//! The makespan floor of one round, per procedure (procedures.md §2-5): the critical path
//! through the procedure's ordering constraints with the durations recorded in the run.

use super::round::{Path, Round, latest, sync_s};

pub(super) fn pair_asynchronous(round: &Round<'_>) -> f64 {
    let mut path = Path::new(round);
    let order = round.by_first_start();
    let (Some(&x), y) = (order.first(), order.get(1).copied()) else {
        return 0.0;
    };
    let x_end = path.chain(x, 0.0);
    path.mark(round.last_end(x), x_end);
    let (swap_start, swap_end, swap) =
        path.swaps_to(x, round.first_start(x).unwrap_or(f64::NEG_INFINITY));
    path.mark(swap_start, x_end);
    let swapped = x_end + swap;
    path.mark(swap_end, swapped);
    let y_end = y.map_or(swapped, |y| path.chain(y, swapped));
    y_end + round.final_sync_s()
}

pub(super) fn pair_synchronous(round: &Round<'_>) -> f64 {
    let mut path = Path::new(round);
    let order = round.by_first_start();
    let (Some(&a), b) = (order.first(), order.get(1).copied()) else {
        return 0.0;
    };
    let a_end = path.chain(a, 0.0);
    path.mark(round.last_end(a), a_end);
    let b_end = b.map_or(a_end, |b| path.chain(b, a_end));
    b_end + round.final_sync_s()
}

pub(super) fn atlas_with_backup_master(round: &Round<'_>, masters: &[String]) -> f64 {
    let mut path = Path::new(round);
    let is_master = |a: &str| masters.iter().any(|m| m == a);
    let order = round.by_first_start();
    // The backup master is the one promoted; without a promotion, the master that installed
    // first.
    let promotion = round
        .swaps
        .iter()
        .filter(|s| is_master(&s.appliance))
        .min_by(|x, y| x.started_at_s.total_cmp(&y.started_at_s));
    let Some(b) = promotion
        .map(|s| s.appliance.as_str())
        .or_else(|| order.iter().copied().find(|a| is_master(a)))
    else {
        return 0.0;
    };
    let a = masters.iter().map(String::as_str).find(|m| *m != b);
    let boundary = promotion.map_or_else(
        || {
            a.and_then(|a| round.first_start(a))
                .unwrap_or(f64::INFINITY)
        },
        |s| s.started_at_s,
    );
    let (batch1, batch2): (Vec<&str>, Vec<&str>) = order
        .iter()
        .copied()
        .filter(|n| !is_master(n))
        .partition(|n| round.first_start(n).is_some_and(|s| s < boundary));

    // The backup master needs nothing from the drains; each batch-1 node needs its own.
    let ready = path.chain(b, 0.0).max(path.parallel(&batch1, 0.0));
    let side_done =
        latest(std::iter::once(round.last_end(b)).chain(batch1.iter().map(|n| round.last_end(n))));
    path.mark(side_done, ready);
    let (swap_start, swap_end, swap) = path.swaps_to(b, boundary);
    path.mark(swap_start, ready);
    let swapped = ready + swap;
    path.mark(swap_end, swapped);

    // Batch 1 back into rotation and a cluster sync, before the remaining nodes.
    let rest_start = batch2
        .iter()
        .copied()
        .chain(a)
        .filter_map(|n| round.first_start(n))
        .reduce(f64::min)
        .unwrap_or(f64::INFINITY);
    let after_swap = swap_end.or(side_done).unwrap_or(round.start);
    let mid = round
        .sync_between(after_swap, rest_start)
        .filter(|s| !round.final_sync.is_some_and(|f| std::ptr::eq(*s, f)));
    let synced = swapped + mid.map_or(0.0, sync_s);
    path.mark(mid.and_then(|s| s.finished_at_s), synced);

    let rest = path.parallel(&batch2, synced);
    let a_end = a.map_or(rest, |a| path.chain(a, rest));
    a_end + round.final_sync_s()
}

pub(super) fn atlas_without_backup_master(round: &Round<'_>, masters: &[String]) -> f64 {
    let mut path = Path::new(round);
    let Some(m) = masters.first().map(String::as_str) else {
        return 0.0;
    };
    let boundary = round.first_start(m).unwrap_or(f64::INFINITY);
    let (batch1, batch2): (Vec<&str>, Vec<&str>) = round
        .by_first_start()
        .into_iter()
        .filter(|n| *n != m)
        .partition(|n| round.first_start(n).is_some_and(|s| s < boundary));

    let b1_end = path.parallel(&batch1, 0.0);
    path.mark(latest(batch1.iter().map(|n| round.last_end(n))), b1_end);
    // The master's install stops every node: the remaining nodes start draining here.
    path.mark(round.first_start(m), b1_end);
    let m_end = path.chain(m, b1_end);
    path.mark(round.last_end(m), m_end);
    if batch2.is_empty() {
        return m_end + round.final_sync_s();
    }
    let rest_start = batch2
        .iter()
        .filter_map(|n| round.first_start(n))
        .reduce(f64::min)
        .unwrap_or(f64::INFINITY);
    let mid = round
        .sync_between(round.last_end(m).unwrap_or(round.start), rest_start)
        .filter(|s| !round.final_sync.is_some_and(|f| std::ptr::eq(*s, f)));
    let synced = m_end + mid.map_or(0.0, sync_s);
    path.mark(mid.and_then(|s| s.finished_at_s), synced);
    path.parallel(&batch2, synced) + round.final_sync_s()
}
