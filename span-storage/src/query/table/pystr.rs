//! Python's `str()` and `repr()` of the values `json.loads` makes, and `str.expandtabs()`:
//! how prettytable turns a cell into text.

use super::unicode_tables::PY_NON_PRINTABLE;
use super::width::in_ranges;
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Python's `str()` of `value` as `json.loads` would have produced it, which is the text
/// prettytable puts in a cell.
///
/// - a string is itself;
/// - `null`, `true`, `false` are `None`, `True`, `False`;
/// - an integer is its digits; a float is Python's `repr`: the shortest text that reads back
///   as the same float, with `.0` on whole numbers and an exponent below 1e-4 or from 1e16
///   on (`1.0`, `0.1`, `1e-05`, `1e+16`);
/// - an array or object is Python's `repr` of a list or dict: `['a', 1, None]`,
///   `{'k': 'v'}`; strings inside are quoted and escaped as Python does (see below), object
///   keys keep their order in the JSON text (span-storage builds `serde_json` with
///   `preserve_order`), as a Python dict keeps its insertion order.
///
/// A string inside a list or dict is in single quotes, or double quotes if it holds a single
/// quote and no double quote; a backslash, the quote, `\n`, `\r` and `\t` are escaped, and
/// so is every character Python 3.11 does not count as printable (control and format
/// characters, separators other than the space, unassigned code points as of Unicode 14.0):
/// `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
///
/// A float parsed from the same JSON text is the same float as Python's (span-storage builds
/// `serde_json` with `float_roundtrip`; without it a last digit can be off by one).
/// Integers beyond the 64-bit range are the one place this differs from DB-GPT:
/// `serde_json` (without `arbitrary_precision`) reads them as floats, where Python keeps an
/// exact integer.
///
/// ```
/// use serde_json::json;
/// use span_storage::query::python_str;
///
/// assert_eq!(python_str(&json!("plain")), "plain");
/// assert_eq!(python_str(&json!(null)), "None");
/// assert_eq!(python_str(&json!(1e-5)), "1e-05");
/// assert_eq!(python_str(&json!(["a", 1, null, {"it's": true}])), r#"['a', 1, None, {"it's": True}]"#);
/// ```
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            write_repr(&mut out, other);
            out
        }
    }
}

/// Appends Python's `repr()` of `value` (which is its `str()` for everything but strings).
fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// Appends a JSON number as Python prints the `int` or `float` `json.loads` makes of it.
pub(super) fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        write_float(out, f);
    }
}

/// Appends Python's `repr()` of a float.
///
/// Both languages find the same shortest digits that read back as `f`; they differ only in
/// layout, which is Python's here: positional notation for exponents -5 < e < 16, with `.0`
/// when there is no fraction, otherwise `d.ddde±XX` with at least two exponent digits.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-inf" } else { "inf" });
        return;
    }
    let sci = shortest_digits(f);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    // The position of the decimal point after the first digit: 1 for "1.5" (e0).
    let point = exponent + 1;
    if (-4 < point) && (point <= 16) {
        let point = usize::try_from(point.max(0)).unwrap_or(0);
        if exponent < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point_zeros(exponent)));
            out.push_str(&digits);
        } else if point >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
            out.push_str(".0");
        } else {
            let (whole, fraction) = digits.split_at(point);
            out.push_str(whole);
            out.push('.');
            out.push_str(fraction);
        }
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
}

/// `f` in scientific notation with the fewest significant digits that read back as `f`,
/// picked as Python picks them: the digits nearest to `f`'s exact value, and on a tie the
/// even one.
///
/// Rust's `{:e}` finds how many digits are needed but breaks ties upwards
/// (139007522050491.625 shows as `...491.63`, Python's `...491.62`); formatting that many
/// digits with `{:.N$e}`, which rounds exactly and ties to even, gives Python's digits. If
/// those do not read back as `f` (the rounding interval is lopsided at a power of two), the
/// shortest ones are kept.
fn shortest_digits(f: f64) -> String {
    // "-1.2345e-7", "1e16", "-0e0".
    let shortest = format!("{f:e}");
    let mantissa = shortest
        .split_once('e')
        .map_or(shortest.as_str(), |(m, _)| m);
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    let nearest = format!("{:.*e}", digits.saturating_sub(1), f);
    match nearest.parse::<f64>() {
        Ok(back) if back.to_bits() == f.to_bits() => nearest,
        _ => shortest,
    }
}

/// How many zeros follow `0.` for a number whose first digit has the (negative) `exponent`.
fn point_zeros(exponent: i32) -> usize {
    usize::try_from(-exponent - 1).unwrap_or(0)
}

/// Whether Python 3.11's `repr()` leaves `c` as it is.
fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    if (0x20..0x7F).contains(&cp) {
        return true;
    }
    !in_ranges(PY_NON_PRINTABLE, cp)
}

/// Appends Python's `repr()` of a string.
fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let cp = u32::from(c);
                let _ = if cp < 0x100 {
                    write!(out, "\\x{cp:02x}")
                } else if cp < 0x1_0000 {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// Python's `s.expandtabs()`: each tab becomes the spaces up to the next multiple of 8,
/// counting code points from the last line break (`\n` or `\r`).
pub(super) fn expand_tabs(s: &str) -> Cow<'_, str> {
    if !s.contains('\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut column = 0usize;
    for c in s.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_json(text: &str) -> String {
        serde_json::from_str::<Value>(text).map_or_else(|e| e.to_string(), |v| python_str(&v))
    }

    #[test]
    fn scalars_print_as_python_does() {
        assert_eq!(python_str(&json!("a'b")), "a'b");
        assert_eq!(python_str(&json!(null)), "None");
        assert_eq!(python_str(&json!(true)), "True");
        assert_eq!(python_str(&json!(false)), "False");
        assert_eq!(python_str(&json!(-42)), "-42");
        assert_eq!(from_json("12345678901234567890"), "12345678901234567890");
        assert_eq!(from_json("-9223372036854775808"), "-9223372036854775808");
    }

    #[test]
    fn floats_print_as_python_repr() {
        for (text, want) in [
            ("1.0", "1.0"),
            ("0.1", "0.1"),
            ("1e-05", "1e-05"),
            ("0.0001", "0.0001"),
            ("0.00012", "0.00012"),
            ("1e16", "1e+16"),
            ("1e15", "1000000000000000.0"),
            ("123456789012345.6", "123456789012345.6"),
            ("-0.0", "-0.0"),
            ("0.0", "0.0"),
            ("1.5e300", "1.5e+300"),
            ("2.5e-7", "2.5e-07"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("12345678901234567890.0", "1.2345678901234567e+19"),
            ("100.0", "100.0"),
            ("-1.25", "-1.25"),
            ("3.141592653589793", "3.141592653589793"),
            // Exactly halfway between ...62 and ...63 at 17 digits: Python takes the even.
            ("139007522050491.62", "139007522050491.62"),
        ] {
            assert_eq!(from_json(text), want, "{text}");
        }
        let mut out = String::new();
        write_float(&mut out, f64::NAN);
        write_float(&mut out, f64::NEG_INFINITY);
        assert_eq!(out, "nan-inf");
    }

    #[test]
    fn containers_print_as_python_repr() {
        assert_eq!(python_str(&json!([])), "[]");
        assert_eq!(python_str(&json!({})), "{}");
        assert_eq!(python_str(&json!(["a", 1, null])), "['a', 1, None]");
        assert_eq!(
            from_json(r#"{"b": 1, "a": [2.0, {"c": false}]}"#),
            "{'b': 1, 'a': [2.0, {'c': False}]}"
        );
    }

    #[test]
    fn strings_in_containers_are_quoted_and_escaped() {
        assert_eq!(python_str(&json!(["it's"])), r#"["it's"]"#);
        assert_eq!(python_str(&json!(["say \"hi\""])), r#"['say "hi"']"#);
        assert_eq!(python_str(&json!(["both ' \""])), r#"['both \' "']"#);
        assert_eq!(
            python_str(&json!(["b\\s", "t\t", "n\n", "r\r"])),
            r"['b\\s', 't\t', 'n\n', 'r\r']"
        );
        assert_eq!(
            python_str(&json!(["\u{0}\u{1b}\u{7f}\u{85}\u{a0}\u{ad}"])),
            r"['\x00\x1b\x7f\x85\xa0\xad']"
        );
        assert_eq!(
            python_str(&json!(["\u{200b}\u{200d}\u{2028}\u{3000}\u{e000}"])),
            r"['\u200b\u200d\u2028\u3000\ue000']"
        );
        // Printable in Unicode 14 stays; added later (U+1FAE8, Unicode 15) is unassigned then.
        assert_eq!(
            python_str(&json!(["中文😀é", "\u{1fae8}", "\u{e0001}"])),
            r"['中文😀é', '\U0001fae8', '\U000e0001']"
        );
    }

    #[test]
    fn tabs_expand_to_multiples_of_eight() {
        assert_eq!(expand_tabs("no tabs"), "no tabs");
        assert_eq!(expand_tabs("a\tb"), "a       b");
        assert_eq!(expand_tabs("12345678\tx"), "12345678        x");
        assert_eq!(expand_tabs("ab\ncd\te"), "ab\ncd      e");
        assert_eq!(expand_tabs("ab\rc\t"), "ab\rc       ");
        assert_eq!(expand_tabs("中\t文"), "中       文");
    }
}
