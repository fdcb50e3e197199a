//! Durations as written in flags, environment variables and the TOML file.

use std::time::Duration;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses `250ms`, `20s`, `2m`, `1h`, `1500us`, `10ns` or a bare number of seconds (`20`,
/// `0.5`). Whole numbers are read exactly; fractions as the nearest nanosecond.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 20s, 500ms, 2m or 20"))?;
    let nanos_per_unit: u64 = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" => 1,
        "m" | "min" | "mins" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ns, us, ms, s, m or h"
            ));
        }
    };
    match number.parse::<u128>() {
        Ok(whole) => {
            let nanos = whole
                .checked_mul(u128::from(nanos_per_unit))
                .ok_or_else(|| format!("{text:?} is too long"))?;
            let seconds = u64::try_from(nanos / NANOS_PER_SECOND)
                .map_err(|_| format!("{text:?} is too long"))?;
            let below_a_second = u32::try_from(nanos % NANOS_PER_SECOND)
                .expect("the remainder of a division by 10^9 fits a u32");
            Ok(Duration::new(seconds, below_a_second))
        }
        Err(_) => Duration::try_from_secs_f64(value * nanos_per_unit as f64 / 1e9)
            .map_err(|error| format!("{text:?}: {error}")),
    }
}

/// Parses a timeout that may be switched off: `off`, `never`, `none` or zero give `None`.
pub(crate) fn parse_optional_duration(text: &str) -> Result<Option<Duration>, String> {
    match text.trim() {
        "off" | "never" | "none" => Ok(None),
        other => parse_duration(other).map(|duration| (!duration.is_zero()).then_some(duration)),
    }
}

/// Writes a duration the way [`parse_duration`] reads it back exactly, in the largest of
/// `s`, `ms`, `us` and `ns` that holds it as a whole number.
pub(crate) fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos % NANOS_PER_SECOND == 0 {
        format!("{}s", duration.as_secs())
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", duration.as_millis())
    } else if nanos % 1_000 == 0 {
        format!("{}us", duration.as_micros())
    } else {
        format!("{nanos}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1500us"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert_eq!(parse_optional_duration("off"), Ok(None));
        assert_eq!(parse_optional_duration("0s"), Ok(None));
        assert_eq!(
            parse_optional_duration("1500ms"),
            Ok(Some(Duration::from_millis(1500)))
        );
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["20s", "250ms", "0s", "1500ms", "2500us", "7ns"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        for duration in [
            Duration::new(1, 1),
            Duration::new(u64::MAX, 999_999_999),
            Duration::from_secs(u64::MAX),
        ] {
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }
}
