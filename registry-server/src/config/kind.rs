//! The types of setting: how each reads a flag, an environment variable or a TOML value, how
//! `check-config` shows it, and how it is written back as TOML. The type alone decides the TOML
//! form, so a span file named `2024` stays a string and a count stays an integer. Here are the
//! trait and the kinds of numbers and durations; `text_kind` holds the kinds of text.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::ValueParser;

use super::duration::{format_duration, parse_duration, parse_optional_duration};
use super::toml_out::TomlValue;

/// A type of setting. Its [`Kind::Value`] is the type [`super::Settings`] holds.
pub(crate) trait Kind: 'static {
    /// The resolved value.
    type Value: Clone + Send + Sync + 'static;

    /// Reads a flag's or an environment variable's text, or a TOML string.
    fn parse(text: &str) -> Result<Self::Value, String>;

    /// Reads a TOML value: a string through [`Kind::parse`], whatever the type, so that every
    /// setting can be written in the file as it is on the command line.
    fn from_toml(value: toml::Value) -> Result<Self::Value, String> {
        match value {
            toml::Value::String(text) => Self::parse(&text),
            other => Err(format!("expected a string, found {}", other.type_str())),
        }
    }

    /// The value as `check-config` and `--help` show it, secrets masked.
    fn show(value: &Self::Value) -> String;

    /// The value as TOML that [`Kind::from_toml`] reads back, secrets masked.
    fn to_toml(value: &Self::Value) -> TomlValue;

    /// How clap reads the flag and the environment variable.
    fn value_parser() -> ValueParser {
        ValueParser::new(Self::parse)
    }
}
/// A duration: `20s`, `500ms`, or a number of seconds (a TOML integer or float too).
pub(crate) struct Time;

impl Kind for Time {
    type Value = Duration;
    fn parse(text: &str) -> Result<Duration, String> {
        parse_duration(text)
    }
    fn from_toml(value: toml::Value) -> Result<Duration, String> {
        match value {
            toml::Value::Integer(seconds) => u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| format!("{seconds} is not a duration")),
            toml::Value::Float(seconds) => {
                Duration::try_from_secs_f64(seconds).map_err(|error| error.to_string())
            }
            toml::Value::String(text) => Self::parse(&text),
            other => Err(format!("expected a duration, found {}", other.type_str())),
        }
    }
    fn show(value: &Duration) -> String {
        format_duration(*value)
    }
    fn to_toml(value: &Duration) -> TomlValue {
        TomlValue::String(format_duration(*value))
    }
}

/// A duration that may be switched off (`off`, `never`, `none` or zero): `None`.
pub(crate) struct TimeOrOff;

impl Kind for TimeOrOff {
    type Value = Option<Duration>;
    fn parse(text: &str) -> Result<Option<Duration>, String> {
        parse_optional_duration(text)
    }
    fn from_toml(value: toml::Value) -> Result<Option<Duration>, String> {
        match value {
            toml::Value::String(text) => Self::parse(&text),
            number => Time::from_toml(number).map(|time| (!time.is_zero()).then_some(time)),
        }
    }
    fn show(value: &Option<Duration>) -> String {
        value.map_or_else(|| "off".to_owned(), format_duration)
    }
    fn to_toml(value: &Option<Duration>) -> TomlValue {
        TomlValue::String(Self::show(value))
    }
}

/// A count, or `auto` (held as 0) for a size the server works out.
pub(crate) struct CountOrAuto;

impl Kind for CountOrAuto {
    type Value = u32;
    fn parse(text: &str) -> Result<u32, String> {
        match text.trim() {
            "auto" => Ok(0),
            other => other
                .parse()
                .map_err(|_| format!("{other:?} is not a number of connections or auto")),
        }
    }
    fn from_toml(value: toml::Value) -> Result<u32, String> {
        match value {
            toml::Value::String(text) => Self::parse(&text),
            number => Number::<u32>::from_toml(number),
        }
    }
    fn show(value: &u32) -> String {
        match value {
            0 => "auto".to_owned(),
            n => n.to_string(),
        }
    }
    fn to_toml(value: &u32) -> TomlValue {
        match value {
            0 => TomlValue::String("auto".to_owned()),
            n => TomlValue::Integer(i64::from(*n)),
        }
    }
}

/// A whole number, a TOML integer.
pub(crate) struct Number<T>(PhantomData<T>);

impl<T> Kind for Number<T>
where
    T: FromStr + Display + Copy + TryFrom<i64> + TryInto<i64> + Send + Sync + 'static,
    T::Err: Display,
{
    type Value = T;
    fn parse(text: &str) -> Result<T, String> {
        text.parse()
            .map_err(|error| format!("{text:?} is not a whole number: {error}"))
    }
    fn from_toml(value: toml::Value) -> Result<T, String> {
        match value {
            toml::Value::Integer(n) => T::try_from(n).map_err(|_| format!("{n} is out of range")),
            toml::Value::String(text) => Self::parse(&text),
            other => Err(format!("expected an integer, found {}", other.type_str())),
        }
    }
    fn show(value: &T) -> String {
        value.to_string()
    }
    fn to_toml(value: &T) -> TomlValue {
        // Beyond TOML's 64-bit integers the digits go in a string, which reads back too.
        (*value)
            .try_into()
            .map_or_else(|_| TomlValue::String(value.to_string()), TomlValue::Integer)
    }
}

/// `true` or `false`.
pub(crate) struct Switch;

impl Kind for Switch {
    type Value = bool;
    fn parse(text: &str) -> Result<bool, String> {
        text.parse()
            .map_err(|_| format!("{text:?} is neither true nor false"))
    }
    fn from_toml(value: toml::Value) -> Result<bool, String> {
        match value {
            toml::Value::Boolean(on) => Ok(on),
            toml::Value::String(text) => Self::parse(&text),
            other => Err(format!(
                "expected true or false, found {}",
                other.type_str()
            )),
        }
    }
    fn show(value: &bool) -> String {
        value.to_string()
    }
    fn to_toml(value: &bool) -> TomlValue {
        TomlValue::Boolean(*value)
    }
    fn value_parser() -> ValueParser {
        // clap's own, which lists the possible values in `--help`.
        ValueParser::bool()
    }
}
