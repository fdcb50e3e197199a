//! Carrying the parent span id across an HTTP hop, as DB-GPT does.

/// The HTTP request header in which DB-GPT passes the caller's span id to the callee.
pub const TRACE_HEADER: &str = "DB-GPT-Trace-Span-Id";

/// The parent span id a [`TRACE_HEADER`] value names, by DB-GPT's rule (its `_parse_span_id`):
/// the value must be `<trace>:<span>` with exactly one `:`, both parts must read as Python's
/// `int(part, 16)` reads them (surrounding white space, a sign, a `0x` prefix and single
/// underscores between digits allowed; so short ids such as `abc:def` attach, and hyphenated
/// UUIDs do not), and the trace part must not be zero. The value is returned as it came, white
/// space included, as DB-GPT keeps it; anything else gives `None` and the callee starts a new
/// trace.
///
/// Python also reads non-ASCII decimal digits; no HTTP header carries them, and here they make
/// the value invalid.
pub fn parse_trace_header(value: &str) -> Option<&str> {
    let (trace, span) = value.split_once(':')?;
    if span.contains(':') {
        return None;
    }
    let trace_is_zero = python_hex_is_zero(trace)?;
    python_hex_is_zero(span)?;
    (!trace_is_zero).then_some(value)
}

/// Python's white space as `int()` skips it around a number: Unicode's, and the four ASCII
/// separators (0x1C to 0x1F) Python also counts.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Reads `text` as Python's `int(text, 16)` does; `None` where Python raises `ValueError`,
/// else whether the number is zero.
fn python_hex_is_zero(text: &str) -> Option<bool> {
    let text = text.trim_matches(is_python_space);
    let text = text
        .strip_prefix('+')
        .or_else(|| text.strip_prefix('-'))
        .unwrap_or(text);
    let digits = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        // One underscore may follow the prefix.
        Some(rest) => rest.strip_prefix('_').unwrap_or(rest),
        None => text,
    };
    let mut zero = true;
    let mut previous_was_digit = false;
    for c in digits.chars() {
        match c {
            '_' if previous_was_digit => previous_was_digit = false,
            c if c.is_ascii_hexdigit() => {
                zero &= c == '0';
                previous_was_digit = true;
            }
            _ => return None,
        }
    }
    // At least one digit, and no underscore first or last.
    previous_was_digit.then_some(zero)
}

#[cfg(test)]
mod tests {
    use super::{parse_trace_header, python_hex_is_zero};

    #[test]
    fn hex_parts_read_as_python_int_base_16_reads_them() {
        for (text, zero) in [
            ("abc", false),
            ("0", true),
            ("-0", true),
            ("+1f", false),
            ("0x_1", false),
            ("0XfF", false),
            ("a_b", false),
            (" \t0\u{a0}", true),
            ("\u{1c}1", false),
        ] {
            assert_eq!(python_hex_is_zero(text), Some(zero), "{text:?}");
        }
        for text in [
            "", " ", "0x", "_1", "1_", "1__2", "g", "1 2", "0x__1", "--1", "1\0",
        ] {
            assert_eq!(python_hex_is_zero(text), None, "{text:?}");
        }
    }

    #[test]
    fn short_ids_attach_and_uuids_a_zero_trace_or_extra_colons_do_not() {
        assert_eq!(parse_trace_header("abc:def"), Some("abc:def"));
        assert_eq!(parse_trace_header(" abc : 0 "), Some(" abc : 0 "));
        let uuid = "1c4c2b36-7bb5-4a3a-9a3d-6a1f2f0b8e11:2b8f6e0a-3c1d-4e5f-8a9b-0c1d2e3f4a5b";
        for bad in [uuid, "0:abc", "a:b:c", "abc", "", ":", "abc:", "abc:xyz"] {
            assert_eq!(parse_trace_header(bad), None, "{bad:?}");
        }
    }
}
