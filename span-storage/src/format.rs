//! The byte-level details of DB-GPT's JSON-lines format: its time format, the separators
//! Python's `json.dumps` writes (`", "` between items, `": "` after a key) and the way Python
//! writes a float (`1.0`, `1e-05`, `1e+16`).

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

/// A JSON value as Python's `json.dumps(value, ensure_ascii=False)` writes it: DB-GPT's
/// separators and floats, on one line.
pub(crate) fn python_json_text(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Writing a `Value` into a `Vec` cannot fail.
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A `serde_json` formatter that writes Python's `json.dumps` separators and floats, so that our
/// lines are byte-for-byte what DB-GPT writes for the same span.
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

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        // Python has only doubles; a single-precision value is written as the double it is.
        self.write_f64(w, f64::from(value))
    }
}

/// A finite float as Python's `repr` writes it, which is what `json.dumps` writes: the shortest
/// digits that read back to the same value (as Rust finds them too), in positional notation
/// with at least one digit after the point when the decimal point falls within 16 digits of
/// the first one and not more than 4 places before it, else in scientific notation with a
/// signed exponent of at least two digits (`1e-05`, `1.5e+16`).
///
/// JSON has no infinities or NaN, and `serde_json` values hold none; they are written as
/// Python would (`Infinity`, `-Infinity`, `NaN`) should one come through a custom type.
pub(crate) fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // One implementation of Python's float layout and digit choice, shared with `str()`.
    let mut out = String::with_capacity(24);
    crate::query::table::pystr::write_float(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::{PythonFormatter, python_float_repr};
    use serde::Serialize;

    /// Pairs of a value and what Python's `json.dumps` writes for it.
    const PYTHON_FLOATS: &[(f64, &str)] = &[
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (1e15, "1000000000000000.0"),
        (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
        (0.0001, "0.0001"),
        (0.00012345, "0.00012345"),
        (2.5, "2.5"),
        (-3.75e-7, "-3.75e-07"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (100.0, "100.0"),
        (1e22, "1e+22"),
        (12345.678, "12345.678"),
    ];

    #[test]
    fn floats_are_written_as_python_writes_them() {
        for &(value, python) in PYTHON_FLOATS {
            assert_eq!(python_float_repr(value), python, "{value:e}");
        }
        assert_eq!(python_float_repr(f64::NAN), "NaN");
        assert_eq!(python_float_repr(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn the_formatter_writes_python_separators_and_floats() {
        let value = serde_json::json!({"w": 1.0, "list": [1e-05, 2], "n": 3});
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
        value.serialize(&mut ser).expect("json");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            r#"{"w": 1.0, "list": [1e-05, 2], "n": 3}"#
        );
    }
}
