use super::*;

#[test]
fn caller_times_are_truncated_to_microseconds() {
    let now = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
    let Now::At(stored) = Now::new(TimeSource::Caller, WallClockZone::Utc, now) else {
        panic!("caller time expected");
    };
    assert_eq!(stored.and_utc().timestamp_subsec_nanos(), 123_456_000);
    let Cutoff::At(cutoff) = Cutoff::new(
        TimeSource::Caller,
        WallClockZone::Utc,
        Duration::from_secs(60),
        now,
    ) else {
        panic!("caller cutoff expected");
    };
    assert_eq!((stored - cutoff).num_seconds(), 60);
}

#[test]
fn database_cutoffs_carry_the_timeout_in_every_unit() {
    let Cutoff::Database {
        micros,
        seconds,
        sqlite_modifier,
    } = Cutoff::new(
        TimeSource::Database,
        WallClockZone::Utc,
        Duration::from_millis(60_500),
        Utc::now(),
    )
    else {
        panic!("database cutoff expected");
    };
    assert_eq!(micros, 60_500_000);
    assert!((seconds - 60.5).abs() < 1e-9);
    assert_eq!(sqlite_modifier, "-60.500000 seconds");
}

fn shanghai() -> WallClockZone {
    WallClockZone::Named(chrono_tz::Tz::Asia__Shanghai)
}

#[test]
fn caller_times_are_wall_clock_times_in_the_zone() {
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let Now::At(stored) = Now::new(TimeSource::Caller, shanghai(), now) else {
        panic!("caller time expected");
    };
    assert_eq!(stored, now.naive_utc() + chrono::Duration::hours(8));
    let Cutoff::At(cutoff) =
        Cutoff::new(TimeSource::Caller, shanghai(), Duration::from_secs(60), now)
    else {
        panic!("caller cutoff expected");
    };
    assert_eq!((stored - cutoff).num_seconds(), 60);
}

#[test]
fn database_times_carry_the_zone_offset() {
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let Now::Database {
        offset_micros,
        offset_seconds,
    } = Now::new(TimeSource::Database, shanghai(), now)
    else {
        panic!("database time expected");
    };
    assert_eq!(offset_micros, 8 * 3_600_000_000);
    assert!((offset_seconds - 28_800.0).abs() < 1e-9);
    // UTC minus 60 s plus 8 h: the cutoff lies ahead of the database's UTC clock.
    let Cutoff::Database {
        micros,
        sqlite_modifier,
        ..
    } = Cutoff::new(
        TimeSource::Database,
        shanghai(),
        Duration::from_secs(60),
        now,
    )
    else {
        panic!("database cutoff expected");
    };
    assert_eq!(micros, 60_000_000 - 8 * 3_600_000_000);
    assert_eq!(sqlite_modifier, "+28740.000000 seconds");
}

#[test]
fn the_cutoff_reads_the_instant_before_a_spring_change_on_its_own_offset() {
    // New York, 2026-03-08 07:00 UTC: 02:00 EST became 03:00 EDT. A minute after the
    // change, the cutoff a minute back is 01:59:30 EST, not 02:59:30.
    let zone = WallClockZone::Named(chrono_tz::Tz::America__New_York);
    let now = DateTime::parse_from_rfc3339("2026-03-08T07:00:30Z")
        .unwrap()
        .to_utc();
    let Cutoff::At(cutoff) = Cutoff::new(TimeSource::Caller, zone, Duration::from_secs(60), now)
    else {
        panic!("caller cutoff expected");
    };
    assert_eq!(cutoff.to_string(), "2026-03-08 01:59:30");
    let Cutoff::Database { micros, .. } =
        Cutoff::new(TimeSource::Database, zone, Duration::from_secs(60), now)
    else {
        panic!("database cutoff expected");
    };
    assert_eq!(micros, 60_000_000 + 5 * 3_600_000_000);
}
