//! A loosely typed JSON value: what a field holds before its type is checked.
//!
//! Deserializing every field into [`Loose`] lets a body with a wrong type still parse, so the
//! error can name the field instead of quoting serde. Nested arrays and objects are skipped,
//! never built, so a hostile body costs no memory beyond its own size.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use serde_json::Value;

use crate::error::{Place, Problem, WireError};
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
    /// The value itself, for an error's `input`; `None` for a container, whose items were
    /// skipped (a server fills those from the body).
    fn input(&self) -> Option<Value> {
        Some(match self {
            Self::Null => Value::Null,
            Self::Bool(value) => Value::Bool(*value),
            Self::Int(value) => Value::from(*value),
            Self::BigInt(value) => Value::from(*value),
            Self::Float(value) => Value::from(*value),
            Self::Str(text) => Value::String(text.clone()),
            Self::Array | Self::Object => return None,
        })
    }

    /// A body field's problem of pydantic's type `kind`, with this value as its input.
    fn problem(&self, kind: &'static str, field: &'static str, message: &str) -> WireError {
        let mut problem = Problem::new(kind, Place::Body, Some(field), message);
        problem.input = self.input();
        problem.into()
    }

    /// A required string; pydantic takes nothing else for a string.
    pub fn into_string(self, field: &'static str) -> Result<String, WireError> {
        match self {
            Self::Str(text) => Ok(text),
            other => Err(other.problem("string_type", field, STRING_TYPE)),
        }
    }

    /// An optional string: `null` is `None`.
    pub fn into_opt_string(self, field: &'static str) -> Result<Option<String>, WireError> {
        match self {
            Self::Null => Ok(None),
            other => other.into_string(field).map(Some),
        }
    }

    /// An integer as pydantic's lax mode reads one: a JSON integer, a float without a
    /// fraction, a boolean, or a decimal string.
    pub fn into_int(self, field: &'static str) -> Result<i64, WireError> {
        match self {
            Self::Int(value) => Ok(value),
            // Out of every range the caller accepts; saturate and let the range check reject it.
            Self::BigInt(_) => Ok(i64::MAX),
            Self::Bool(value) => Ok(i64::from(value)),
            Self::Float(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => Ok(value as i64),
            Self::Float(value) if value.is_finite() => {
                Err(self.problem("int_from_float", field, INT_FROM_FLOAT))
            }
            Self::Str(ref text) => {
                parse_int(text).ok_or_else(|| self.problem("int_parsing", field, INT_PARSING))
            }
            other => Err(other.problem("int_type", field, INT_TYPE)),
        }
    }

    /// A number as pydantic's lax mode reads one: a JSON number, a boolean or a numeric
    /// string.
    pub fn into_float(self, field: &'static str) -> Result<f64, WireError> {
        match self {
            Self::Int(value) => Ok(value as f64),
            Self::BigInt(value) => Ok(value as f64),
            Self::Float(value) => Ok(value),
            Self::Bool(value) => Ok(f64::from(u8::from(value))),
            Self::Str(ref text) => text
                .trim()
                .parse::<f64>()
                .map_err(|_| self.problem("float_parsing", field, FLOAT_PARSING)),
            other => Err(other.problem("float_type", field, FLOAT_TYPE)),
        }
    }

    /// A boolean as pydantic's lax mode reads one: JSON `true`/`false`, 0 or 1, or one of
    /// pydantic's boolean words.
    pub fn into_bool(self, field: &'static str) -> Result<bool, WireError> {
        match self {
            Self::Bool(value) => Ok(value),
            Self::Int(0) => Ok(false),
            Self::Int(1) => Ok(true),
            Self::Str(ref text) => {
                bool_word(text).ok_or_else(|| self.problem("bool_parsing", field, BOOL_PARSING))
            }
            Self::Int(_) | Self::BigInt(_) | Self::Float(_) => {
                Err(self.problem("bool_parsing", field, BOOL_PARSING))
            }
            other => Err(other.problem("bool_type", field, BOOL_TYPE)),
        }
    }

    /// A timestamp the client may send and the registry ignores: checked, then dropped.
    pub fn check_timestamp(&self, field: &'static str) -> Result<(), WireError> {
        match self {
            Self::Null | Self::Int(_) | Self::BigInt(_) | Self::Float(_) => Ok(()),
            Self::Str(text) if parse_timestamp(text).is_some() => Ok(()),
            Self::Str(_) => Err(self.problem("datetime_parsing", field, DATETIME_PARSING)),
            other => Err(other.problem("datetime_type", field, DATETIME_TYPE)),
        }
    }

    /// A time: `null`, an ISO-8601 string (without an offset: UTC) or a Unix timestamp.
    pub fn into_timestamp(
        self,
        field: &'static str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, WireError> {
        let out_of_range = || self.problem("datetime_parsing", field, DATETIME_PARSING);
        match &self {
            Self::Null => Ok(None),
            Self::Int(seconds) => chrono::DateTime::from_timestamp(*seconds, 0)
                .map(Some)
                .ok_or_else(out_of_range),
            Self::BigInt(_) => Err(out_of_range()),
            Self::Float(seconds) => crate::timestamp::from_unix_seconds(*seconds)
                .map(Some)
                .ok_or_else(out_of_range),
            Self::Str(text) => parse_timestamp(text).map(Some).ok_or_else(out_of_range),
            _ => Err(self.problem("datetime_type", field, DATETIME_TYPE)),
        }
    }
}

// Pydantic's messages, word for word, so that answers match DB-GPT's.
const STRING_TYPE: &str = "Input should be a valid string";
const INT_TYPE: &str = "Input should be a valid integer";
const INT_PARSING: &str = "Input should be a valid integer, unable to parse string as an integer";
const INT_FROM_FLOAT: &str = "Input should be a valid integer, got a number with a fractional part";
const FLOAT_TYPE: &str = "Input should be a valid number";
const FLOAT_PARSING: &str = "Input should be a valid number, unable to parse string as a number";
const BOOL_TYPE: &str = "Input should be a valid boolean";
const BOOL_PARSING: &str = "Input should be a valid boolean, unable to interpret input";
const DATETIME_TYPE: &str = "Input should be a valid datetime";
const DATETIME_PARSING: &str = "Input should be a valid datetime";

/// Parses a decimal integer with optional sign and surrounding white space.
pub fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok()
}

/// Pydantic's boolean words.
fn bool_word(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Parses a boolean query parameter the way DB-GPT's FastAPI does.
pub fn parse_bool(field: &'static str, text: &str) -> Result<bool, WireError> {
    bool_word(text).ok_or_else(|| {
        Problem::new("bool_parsing", Place::Query, Some(field), BOOL_PARSING)
            .with_input(Value::String(text.to_owned()))
            .into()
    })
}

/// Parses an integer query parameter the way DB-GPT's FastAPI does.
pub fn parse_query_int(field: &'static str, text: &str) -> Result<i64, WireError> {
    parse_int(text).ok_or_else(|| {
        Problem::new("int_parsing", Place::Query, Some(field), INT_PARSING)
            .with_input(Value::String(text.to_owned()))
            .into()
    })
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
