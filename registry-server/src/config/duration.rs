//! Durations as written in flags, environment variables and the TOML file.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Parses `250ms`, `20s`, `2m`, `1h` or a bare number of seconds (`20`, `0.5`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 20s, 500ms, 2m or 20"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1000.0,
        "m" | "min" | "mins" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text:?}: {error}"))
}

/// Parses a timeout that may be switched off: `off`, `never` or `0` give [`Duration::ZERO`].
pub(crate) fn parse_optional_duration(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "off" | "never" | "none" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
}

/// Writes a duration the way [`parse_duration`] reads it.
pub(crate) fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// Reads a duration from TOML: a string with a unit, or a number of seconds.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(u64),
        Float(f64),
    }
    let parsed = match Option::<Raw>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Raw::Text(text)) => parse_optional_duration(&text),
        Some(Raw::Int(seconds)) => Ok(Duration::from_secs(seconds)),
        Some(Raw::Float(seconds)) => {
            Duration::try_from_secs_f64(seconds).map_err(|error| error.to_string())
        }
    };
    parsed.map(Some).map_err(de::Error::custom)
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
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert_eq!(parse_optional_duration("off"), Ok(Duration::ZERO));
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["20s", "250ms", "0s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
