//! `last_heartbeat` on the wire: a listing writes it as DB-GPT's controller does, a naive
//! wall-clock time (see [`format_wall_clock`]); this crate's other JSON writes RFC 3339 in
//! UTC with microseconds. Read from what DB-GPT and its clients send: `null`, an ISO-8601
//! string with or without an offset, or a Unix timestamp.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, SubsecRound, TimeZone, Timelike, Utc};

/// A time as this crate's own JSON writes it: RFC 3339 in UTC, with microseconds.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A naive wall-clock time as DB-GPT's listing writes it: Python's `datetime.isoformat()`,
/// `2026-12-05T19:59:21.123456`, whole microseconds, and no fraction when they are zero.
///
/// ```
/// use registry_wire::format_wall_clock;
///
/// let time = chrono::NaiveDateTime::parse_from_str("2026-12-05 19:59:21.1234567", "%Y-%m-%d %H:%M:%S%.f").unwrap();
/// assert_eq!(format_wall_clock(time), "2026-12-05T19:59:21.123456");
/// assert_eq!(format_wall_clock(time.with_nanosecond(0).unwrap()), "2026-12-05T19:59:21");
/// # use chrono::Timelike;
/// ```
pub fn format_wall_clock(time: NaiveDateTime) -> String {
    let time = time.trunc_subsecs(6);
    if time.nanosecond() == 0 {
        time.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    }
}

/// A Unix timestamp in seconds (fractions kept to the microsecond).
pub(crate) fn from_unix_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() {
        return None;
    }
    // Whole microseconds: the float's own precision at today's magnitudes.
    DateTime::from_timestamp_micros((seconds * 1_000_000.0).round() as i64)
}

/// Parses an ISO-8601 time; a time without an offset is taken as UTC (the reader cannot know
/// the zone of the server that wrote it; see `registry-client`'s README).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}
