//! The kinds of setting that are text: addresses, URLs, paths, secrets, names.

use std::net::SocketAddr;
use std::path::PathBuf;

use registry_diesel::{WallClockZone, redact_url};

use super::kind::Kind;
use super::toml_out::TomlValue;

/// An address and port: `0.0.0.0:8000`.
pub(crate) struct Address;

impl Kind for Address {
    type Value = SocketAddr;
    fn parse(text: &str) -> Result<SocketAddr, String> {
        text.parse()
            .map_err(|error| format!("{error}; write an address and port such as 0.0.0.0:8000"))
    }
    fn show(value: &SocketAddr) -> String {
        value.to_string()
    }
    fn to_toml(value: &SocketAddr) -> TomlValue {
        TomlValue::String(value.to_string())
    }
}
/// Text that is matched without regard to case, held in lower case (a log level).
pub(crate) struct LowerCase;

impl Kind for LowerCase {
    type Value = String;
    fn parse(text: &str) -> Result<String, String> {
        Ok(text.to_ascii_lowercase())
    }
    fn show(value: &String) -> String {
        value.clone()
    }
    fn to_toml(value: &String) -> TomlValue {
        TomlValue::String(value.clone())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

impl LogFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// `text` or `json`, in any case.
pub(crate) struct LogFormatKind;

impl Kind for LogFormatKind {
    type Value = LogFormat;
    fn parse(text: &str) -> Result<LogFormat, String> {
        match text.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{text:?} is not a log format: use text or json")),
        }
    }
    fn show(value: &LogFormat) -> String {
        value.name().to_owned()
    }
    fn to_toml(value: &LogFormat) -> TomlValue {
        TomlValue::String(value.name().to_owned())
    }
}

/// A time zone: `local`, `UTC` or an IANA name.
pub(crate) struct Zone;

impl Kind for Zone {
    type Value = WallClockZone;
    fn parse(text: &str) -> Result<WallClockZone, String> {
        text.parse()
            .map_err(|error: registry_diesel::UnknownZone| error.to_string())
    }
    fn show(value: &WallClockZone) -> String {
        value.to_string()
    }
    fn to_toml(value: &WallClockZone) -> TomlValue {
        TomlValue::String(value.to_string())
    }
}

/// A storage URL, shown with any password masked.
pub(crate) struct StorageUrl;

impl Kind for StorageUrl {
    type Value = String;
    fn parse(text: &str) -> Result<String, String> {
        Ok(text.to_owned())
    }
    fn show(value: &String) -> String {
        redact_url(value)
    }
    fn to_toml(value: &String) -> TomlValue {
        TomlValue::String(redact_url(value))
    }
}

/// A file path; `off`, `none` or nothing switch the file off: `None`.
pub(crate) struct PathOrOff;

impl Kind for PathOrOff {
    type Value = Option<PathBuf>;
    fn parse(text: &str) -> Result<Option<PathBuf>, String> {
        Ok(match text.trim() {
            "" | "off" | "none" => None,
            _ => Some(PathBuf::from(text)),
        })
    }
    fn show(value: &Option<PathBuf>) -> String {
        value
            .as_ref()
            .map_or_else(|| "off".to_owned(), |path| path.display().to_string())
    }
    fn to_toml(value: &Option<PathBuf>) -> TomlValue {
        TomlValue::String(Self::show(value))
    }
}

/// A secret, or none; never shown.
pub(crate) struct Secret;

impl Kind for Secret {
    type Value = Option<String>;
    fn parse(text: &str) -> Result<Option<String>, String> {
        Ok(Some(text.to_owned()))
    }
    fn show(value: &Option<String>) -> String {
        value
            .as_ref()
            .map_or_else(|| "none".to_owned(), |_| "***".to_owned())
    }
    fn to_toml(value: &Option<String>) -> TomlValue {
        match value {
            // An unset secret must not read back as the secret "none".
            None => TomlValue::Unset,
            Some(_) => TomlValue::String("***".to_owned()),
        }
    }
}

/// Host names, comma-separated on the command line and a TOML array in the file; held trimmed,
/// in lower case, without empty names.
pub(crate) struct HostNames;

impl HostNames {
    fn normalize<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        names
            .into_iter()
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect()
    }
}

impl Kind for HostNames {
    type Value = Vec<String>;
    fn parse(text: &str) -> Result<Vec<String>, String> {
        Ok(Self::normalize(text.split(',')))
    }
    fn from_toml(value: toml::Value) -> Result<Vec<String>, String> {
        match value {
            toml::Value::Array(items) => {
                let names = items
                    .iter()
                    .map(|item| {
                        item.as_str().ok_or_else(|| {
                            format!("expected host names, found {}", item.type_str())
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Self::normalize(names))
            }
            toml::Value::String(text) => Self::parse(&text),
            other => Err(format!("expected host names, found {}", other.type_str())),
        }
    }
    fn show(value: &Vec<String>) -> String {
        if value.is_empty() {
            "none".to_owned()
        } else {
            value.join(",")
        }
    }
    fn to_toml(value: &Vec<String>) -> TomlValue {
        TomlValue::Strings(value.clone())
    }
}
