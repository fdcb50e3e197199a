//! `last_heartbeat` on the wire: written as RFC 3339 in UTC with microseconds; read from what
//! DB-GPT and its clients send: `null`, an ISO-8601 string with or without an offset, or a Unix
//! timestamp.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// A time as listings write it: RFC 3339 in UTC, with microseconds.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A Unix timestamp in seconds (fractions kept to the microsecond).
pub(crate) fn from_unix_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() {
        return None;
    }
    // Whole microseconds: the float's own precision at today's magnitudes.
    DateTime::from_timestamp_micros((seconds * 1_000_000.0).round() as i64)
}

/// Parses an ISO-8601 time; a time without an offset is taken as UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}
