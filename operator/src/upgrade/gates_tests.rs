use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn window(days: &[Weekday], start: &str, duration: &str, tz: Option<&str>) -> MaintenanceWindow {
    MaintenanceWindow {
        days: days.to_vec(),
        start: start.to_owned(),
        duration: duration.to_owned(),
        time_zone: tz.map(str::to_owned),
    }
}

#[test]
fn no_window_means_any_time() {
    assert!(in_window(&[], at("2026-11-24T12:00:00Z")));
}

#[test]
fn a_window_holds_disruptive_steps_until_it_opens() {
    // Saturday 22:00 Paris (UTC+1 in November) for 6 hours.
    let windows = [window(&[Weekday::Sat], "22:00", "6h", Some("Europe/Paris"))];
    assert!(!in_window(&windows, at("2026-11-28T20:59:00Z")));
    assert!(in_window(&windows, at("2026-11-28T21:00:00Z")));
    // Crossing midnight into Sunday: still open until 04:00 Paris.
    assert!(in_window(&windows, at("2026-11-29T02:59:00Z")));
    assert!(!in_window(&windows, at("2026-11-29T03:00:00Z")));
    assert_eq!(
        next_window_start(&windows, at("2026-11-24T12:00:00Z")),
        Some(at("2026-11-28T21:00:00Z"))
    );
}

#[test]
fn daylight_saving_time_moves_the_window_in_utc() {
    let windows = [window(&[], "02:00", "1h", Some("Europe/Paris"))];
    // Summer: UTC+2.
    assert!(in_window(&windows, at("2026-07-01T00:30:00Z")));
    assert!(!in_window(&windows, at("2026-07-01T01:30:00Z")));
}

#[test]
fn an_unknown_time_zone_never_opens_and_is_reported() {
    let windows = [window(&[], "00:00", "24h", Some("Mars/Olympus"))];
    assert!(!in_window(&windows, at("2026-11-24T12:00:00Z")));
    assert_eq!(window_errors(&windows).len(), 1);
}

#[test]
fn only_breaking_draining_installing_and_swinging_are_disruptive() {
    use StepAction::*;
    for action in [BreakFailover, Drain, Install, SwingTraffic] {
        assert!(is_disruptive(action), "{action:?}");
    }
    for action in [
        Preflight,
        Backup,
        SyncFailover,
        Stage,
        Verify,
        EstablishFailover,
        Soak,
        Approval,
        Distribute,
        Accept,
        SyncCluster,
        EnableBackupOperations,
    ] {
        assert!(!is_disruptive(action), "{action:?}");
    }
}

#[test]
fn approvals_name_the_upgrade_so_an_old_one_never_opens_a_new_gate() {
    let spec = vec!["u-old/BeforePromotion".to_owned()];
    assert!(!is_approved("u-new", "BeforePromotion", &spec, None));
    assert!(is_approved("u-old", "BeforePromotion", &spec, None));
    assert!(is_approved(
        "u-new",
        "BeforePromotion",
        &[],
        Some("u-new/TrafficSwing, u-new/BeforePromotion")
    ));
    assert!(!is_approved(
        "u-new",
        "BeforeFormerPrimary",
        &[],
        Some("u-new/BeforePromotion")
    ));
}

#[test]
fn durations_parse_like_go() {
    assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
    assert_eq!(parse_duration("24h"), Some(Duration::hours(24)));
    assert_eq!(parse_duration("soon"), None);
}
