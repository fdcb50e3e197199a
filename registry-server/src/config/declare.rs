//! The macro that turns the table of settings (in `table.rs`) into everything each setting
//! needs: the [`Settings`](super::Settings) field, the flag, environment variable and TOML key
//! of [`SettingsArgs`](super::SettingsArgs), the default, the layering, `entries` and
//! `to_toml`. A setting is declared once, as
//!
//! ```text
//! /// Help text (without the default, which is appended from the value)
//! #[arg(env = "REGISTRY_NAME", value_name = "…", …more clap attributes)]
//! name: Type = default_value, Kind;
//! ```
//!
//! where `Kind` implements [`Kind`](super::kind::Kind) with `Value = Type`.

use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error as _};

use super::kind::Kind;

/// `T` itself. The flags' fields are `Option<Whole<T>>` so that clap's derive, which reads
/// `Option<Option<_>>` as a flag with an optional value and `Option<Vec<_>>` as a repeated
/// flag, takes every setting as one value read by its kind.
pub(crate) type Whole<T> = T;

/// A value read from the TOML file by its kind.
pub(crate) struct FromToml<K: Kind>(pub(crate) K::Value, PhantomData<K>);

impl<'de, K: Kind> Deserialize<'de> for FromToml<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        K::from_toml(value)
            .map(|value| Self(value, PhantomData))
            .map_err(D::Error::custom)
    }
}

/// The help line of a setting: its doc comment's lines joined, then its default as shown.
pub(crate) fn help_line(doc: &str, default: &str) -> String {
    let words: Vec<&str> = doc
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    format!("{} [default: {default}]", words.join(" "))
}

/// See the module's documentation.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        #[arg($($arg:tt)*)]
        $name:ident: $type:ty = $default:expr, $kind:ty;
    )+) => {
        /// The effective configuration, every setting resolved.
        #[derive(Clone, PartialEq)]
        #[non_exhaustive]
        pub struct Settings {
            $(
                $(#[doc = $doc])+
                pub $name: $type,
            )+
        }

        impl Default for Settings {
            fn default() -> Self {
                Self { $($name: $default,)+ }
            }
        }

        /// Every setting, each optional, so that the layers can be merged (flags >
        /// environment > file > defaults). Each setting's environment variable is its name,
        /// upper-cased, with the prefix `REGISTRY_`; its TOML key is its name
        /// (`heartbeat_interval = "20s"`).
        #[derive(Debug, Clone, Default, ::clap::Args)]
        pub struct SettingsArgs {
            /// TOML file to read settings from; flags and environment variables override it.
            #[arg(long, env = "REGISTRY_CONFIG", global = true, value_name = "FILE")]
            pub config: Option<::std::path::PathBuf>,
            $(
                $(#[doc = $doc])+
                #[arg(
                    long,
                    global = true,
                    value_parser = <$kind as $crate::config::kind::Kind>::value_parser(),
                    help = $crate::config::declare::help_line(
                        concat!($($doc, "\n"),+),
                        &<$kind as $crate::config::kind::Kind>::show(&$default),
                    ),
                    $($arg)*
                )]
                pub $name: Option<$crate::config::declare::Whole<$type>>,
            )+
        }

        /// The TOML file's keys, each read by its setting's kind.
        #[derive(::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileArgs {
            $(
                #[serde(default)]
                $name: Option<$crate::config::declare::FromToml<$kind>>,
            )+
        }

        impl<'de> ::serde::Deserialize<'de> for SettingsArgs {
            fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                let file = <FileArgs as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self {
                    config: None,
                    $($name: file.$name.map(|value| value.0),)+
                })
            }
        }

        impl Settings {
            /// Each setting from `flags`, else from `file`, else its default.
            pub(super) fn layered(flags: &SettingsArgs, file: &SettingsArgs) -> Self {
                let defaults = Self::default();
                Self {
                    $($name: flags.$name.clone()
                        .or_else(|| file.$name.clone())
                        .unwrap_or(defaults.$name),)+
                }
            }

            /// Every setting as `(name, value)`, as `check-config` prints them: the token and
            /// any password in the storage URL masked.
            pub fn entries(&self) -> Vec<(&'static str, String)> {
                use $crate::config::kind::Kind as _;
                vec![$((stringify!($name), <$kind>::show(&self.$name)),)+]
            }

            /// The effective configuration as TOML, secrets masked. Each value is written in
            /// its setting's TOML type, so it reads back as a `--config` file.
            pub fn to_toml(&self) -> String {
                use $crate::config::kind::Kind;
                let mut toml = String::new();
                $(toml.push_str(&<$kind as Kind>::to_toml(&self.$name).line(stringify!($name)));)+
                toml
            }
        }
    };
}

pub(crate) use settings;
