//! The byte-level details of DB-GPT's JSON-lines format: its time format and the separators
//! Python's `json.dumps` writes (`", "` between items, `": "` after a key).

use chrono::{Datelike, NaiveDateTime, Timelike};
use serde_json::ser::Formatter;
use std::io;

/// The time format of DB-GPT's span files (local wall-clock, milliseconds).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// Length of a formatted time: `2024-01-01 12:00:00.123`.
pub(crate) const TIME_LEN: usize = 23;

/// Formats `t` as `YYYY-MM-DD HH:MM:SS.mmm` into a stack buffer.
///
/// This runs once or twice per span on the flush thread, so it avoids chrono's general
/// formatting machinery (which parses the format string on every call). Years outside
/// 0..=9999 cannot be written in four digits; `None` sends those to the slow path.
pub(crate) fn format_time(t: &NaiveDateTime, out: &mut [u8; TIME_LEN]) -> Option<()> {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let millis = t.nanosecond() / 1_000_000;
    // A leap second is carried in nanoseconds >= 1e9; keep the digit count fixed.
    let millis = millis.min(999);
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    put(20, millis, 3);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b' ';
    out[13] = b':';
    out[16] = b':';
    out[19] = b'.';
    Some(())
}

/// Formats a time as DB-GPT writes it.
pub fn format_span_time(t: &NaiveDateTime) -> String {
    let mut buf = [0u8; TIME_LEN];
    match format_time(t, &mut buf) {
        // The buffer holds only ASCII digits and separators.
        Some(()) => String::from_utf8_lossy(&buf).into_owned(),
        None => t.format(TIME_FORMAT).to_string(),
    }
}

/// Parses a span time: DB-GPT's format, with any number of fractional digits or none, and
/// also tolerating a `T` between date and time.
pub fn parse_span_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// A `serde_json` formatter that writes Python's `json.dumps` separators, so that our lines are
/// byte-for-byte what DB-GPT writes for the same span.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}
