//! The settings as flags, environment variables and TOML keys: every one optional, so that the
//! layers can be merged (flags > environment > file > defaults).
//!
//! Each setting's environment variable is its name upper-cased with the prefix `REGISTRY_`
//! (`--heartbeat-interval`, `REGISTRY_HEARTBEAT_INTERVAL`, `heartbeat_interval = "20s"`), and
//! `--config` is `REGISTRY_CONFIG`; `--help` lists them all. [`SettingsArgs`] is generated,
//! with [`Settings`](super::Settings), from the table of settings.

pub use super::table::SettingsArgs;
