//! What may hold a step: `spec.paused`, maintenance windows and approvals. Pure functions of
//! the spec, the annotations and the time.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use baton_crds::common::{MaintenanceWindow, Weekday};
use baton_crds::status::StepAction;

pub use super::duration::parse_duration;

/// The annotation that approves like `spec.approval.approved`, for people who would rather
/// not commit an approval: `kubectl annotate apair x baton.dev/approve=<upgrade id>/<gate>`.
/// Several approvals are separated by commas.
pub const APPROVE_ANNOTATION: &str = "baton.dev/approve";

/// Steps that interrupt service, take capacity out of rotation or give up redundancy: they
/// start only inside a maintenance window. Backups, syncs, staging, distribution and
/// verification may run at any time, and so may the steps that restore what the upgrade took
/// away (re-establishing failover, accepting connections again, enabling backup operations).
pub fn is_disruptive(action: StepAction) -> bool {
    matches!(
        action,
        StepAction::BreakFailover
            | StepAction::Drain
            | StepAction::Install
            | StepAction::SwingTraffic
    )
}

/// Whether `now` is inside one of the windows; any time when there are none.
/// A window whose time zone is unknown never opens: [`window_errors`] reports it.
pub fn in_window(windows: &[MaintenanceWindow], now: DateTime<Utc>) -> bool {
    windows.is_empty() || windows.iter().any(|w| window_contains(w, now))
}

/// The next time a window opens after `now`, looking a week ahead.
pub fn next_window_start(
    windows: &[MaintenanceWindow],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    windows.iter().filter_map(|w| opening_after(w, now)).min()
}

/// Problems the schema cannot see (an unknown time zone, an unparsable duration).
pub fn window_errors(windows: &[MaintenanceWindow]) -> Vec<String> {
    let mut errors = Vec::new();
    for w in windows {
        if let Some(tz) = &w.time_zone
            && tz.parse::<Tz>().is_err()
        {
            errors.push(format!(
                "maintenance window time zone {tz:?} is not an IANA time zone such as Europe/Paris"
            ));
        }
        if parse_duration(&w.duration).is_none() {
            errors.push(format!(
                "maintenance window duration {:?} does not parse",
                w.duration
            ));
        }
    }
    errors
}

/// The id a manual traffic swing is confirmed under: the upgrade id for round 1, then
/// `<id>-round<n>`, so a confirmation left in place never confirms a later round's swing.
pub fn confirmation_id(upgrade_id: &str, round: i32) -> String {
    if round > 1 {
        format!("{upgrade_id}-round{round}")
    } else {
        upgrade_id.to_owned()
    }
}

/// Whether the approval `<upgrade id>/<gate>` was given in spec or in the annotation.
pub fn is_approved(
    upgrade_id: &str,
    gate: &str,
    in_spec: &[String],
    annotation: Option<&str>,
) -> bool {
    let wanted = format!("{upgrade_id}/{gate}");
    in_spec.iter().any(|a| a.trim() == wanted)
        || annotation.is_some_and(|a| a.split(',').any(|a| a.trim() == wanted))
}

fn window_contains(w: &MaintenanceWindow, now: DateTime<Utc>) -> bool {
    let Some(length) = parse_duration(&w.duration) else {
        return false;
    };
    // A window that opened up to `length` ago may still be open: look back from today.
    openings(w, now - length - Duration::days(1), 9)
        .any(|start| start <= now && now < start + length)
}

fn opening_after(w: &MaintenanceWindow, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    openings(w, now, 9).find(|start| *start > now)
}

/// The window's openings on consecutive days from `from`, in UTC.
fn openings(
    w: &MaintenanceWindow,
    from: DateTime<Utc>,
    days: i64,
) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    let tz: Option<Tz> = match &w.time_zone {
        Some(name) => name.parse().ok(),
        None => Some(Tz::UTC),
    };
    let start = NaiveTime::parse_from_str(&w.start, "%H:%M").ok();
    (0..days).filter_map(move |offset| {
        let (tz, start) = (tz?, start?);
        let day = (from.with_timezone(&tz) + Duration::days(offset)).date_naive();
        let on_day = w.days.is_empty() || w.days.contains(&weekday(day.weekday()));
        // On a DST gap the opening does not exist that day; on an overlap take the earlier.
        on_day
            .then(|| tz.from_local_datetime(&day.and_time(start)).earliest())
            .flatten()
            .map(|t| t.with_timezone(&Utc))
    })
}

fn weekday(day: chrono::Weekday) -> Weekday {
    match day {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

#[cfg(test)]
#[path = "gates_tests.rs"]
mod tests;
