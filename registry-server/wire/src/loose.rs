//! A loosely typed JSON value: what a field holds before its type is checked.
//!
//! Deserializing every field into [`Loose`] lets a body with a wrong type still parse, so the
//! error can name the field instead of quoting serde. Nested arrays and objects are skipped,
//! never built, so a hostile body costs no memory beyond its own size.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::WireError;
use crate::timestamp::parse_timestamp;

/// One JSON value, with containers reduced to their kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Loose {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer too large for `i64`.
    BigInt(u64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// An array, its items skipped.
    Array,
    /// An object, its entries skipped.
    Object,
}

impl Loose {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Int(_) | Self::BigInt(_) | Self::Float(_) => "a number",
            Self::Str(_) => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        }
    }

    fn wrong(&self, field: &'static str, expected: &str) -> WireError {
        WireError::field(
            field,
            format!("{field} must be {expected}, not {}", self.kind()),
        )
    }

    /// A required string.
    pub fn into_string(self, field: &'static str) -> Result<String, WireError> {
        match self {
            Self::Str(text) => Ok(text),
            other => Err(other.wrong(field, "a string")),
        }
    }

    /// An optional string: `null` is `None`.
    pub fn into_opt_string(self, field: &'static str) -> Result<Option<String>, WireError> {
        match self {
            Self::Null => Ok(None),
            other => other.into_string(field).map(Some),
        }
    }

    /// An integer: a JSON integer, a float without a fraction or a decimal string, as
    /// DB-GPT's (pydantic's) lax mode accepts.
    pub fn into_int(self, field: &'static str) -> Result<i64, WireError> {
        match self {
            Self::Int(value) => Ok(value),
            // Out of every range the caller accepts; saturate and let the range check reject it.
            Self::BigInt(_) => Ok(i64::MAX),
            Self::Float(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => Ok(value as i64),
            Self::Str(text) => parse_int(&text).ok_or_else(|| {
                WireError::field(field, format!("{field} must be an integer, not {text:?}"))
            }),
            other => Err(other.wrong(field, "an integer")),
        }
    }

    /// A number: JSON number or numeric string.
    pub fn into_float(self, field: &'static str) -> Result<f64, WireError> {
        match self {
            Self::Int(value) => Ok(value as f64),
            Self::BigInt(value) => Ok(value as f64),
            Self::Float(value) => Ok(value),
            Self::Str(text) => text.trim().parse::<f64>().map_err(|_| {
                WireError::field(field, format!("{field} must be a number, not {text:?}"))
            }),
            other => Err(other.wrong(field, "a number")),
        }
    }

    /// A boolean: JSON `true`/`false`, 0 or 1, or one of pydantic's boolean words.
    pub fn into_bool(self, field: &'static str) -> Result<bool, WireError> {
        match self {
            Self::Bool(value) => Ok(value),
            Self::Int(0) => Ok(false),
            Self::Int(1) => Ok(true),
            Self::Str(text) => parse_bool(field, &text),
            other => Err(other.wrong(field, "a boolean")),
        }
    }

    /// A timestamp the client may send and the registry ignores: checked, then dropped.
    pub fn check_timestamp(&self, field: &'static str) -> Result<(), WireError> {
        match self {
            Self::Null | Self::Int(_) | Self::BigInt(_) | Self::Float(_) => Ok(()),
            Self::Str(text) if parse_timestamp(text).is_some() => Ok(()),
            Self::Str(text) => Err(WireError::field(
                field,
                format!("{field} must be an ISO-8601 time, not {text:?}"),
            )),
            other => Err(other.wrong(field, "an ISO-8601 time or null")),
        }
    }

    /// A time: `null`, an ISO-8601 string (without an offset: UTC) or a Unix timestamp.
    pub fn into_timestamp(
        self,
        field: &'static str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, WireError> {
        let out_of_range = || WireError::field(field, format!("{field} is out of range"));
        match self {
            Self::Null => Ok(None),
            Self::Int(seconds) => chrono::DateTime::from_timestamp(seconds, 0)
                .map(Some)
                .ok_or_else(out_of_range),
            Self::BigInt(_) => Err(out_of_range()),
            Self::Float(seconds) => crate::timestamp::from_unix_seconds(seconds)
                .map(Some)
                .ok_or_else(out_of_range),
            Self::Str(text) => parse_timestamp(&text).map(Some).ok_or_else(|| {
                WireError::field(
                    field,
                    format!("{field} must be an ISO-8601 time, not {text:?}"),
                )
            }),
            other => Err(other.wrong(field, "an ISO-8601 time or null")),
        }
    }
}

/// Parses a decimal integer with optional sign and surrounding white space.
pub fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok()
}

/// Parses a boolean the way DB-GPT's FastAPI does for query parameters and lax JSON.
pub fn parse_bool(field: &'static str, text: &str) -> Result<bool, WireError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(WireError::field(
            field,
            format!("{field} must be a boolean, not {text:?}"),
        )),
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Loose, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Loose, E> {
        Ok(Loose::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Loose, E> {
        Ok(i64::try_from(value).map_or(Loose::BigInt(value), Loose::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Loose, E> {
        Ok(Loose::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Loose, E> {
        Ok(Loose::Str(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Loose, E> {
        Ok(Loose::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Object)
    }
}
