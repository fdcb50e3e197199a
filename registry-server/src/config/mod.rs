//! Configuration: command-line flags, then `REGISTRY_*` environment variables, then an
//! optional TOML file (`--config`: ours, or DB-GPT's controller file, see the `dbgpt`
//! module), then defaults; the first that sets a value wins.
//!
//! Each setting is declared once, in `table.rs`; the `declare` module derives from it the
//! [`Settings`] field, the flag and `REGISTRY_*` variable of [`SettingsArgs`], the TOML key,
//! the default and the `check-config` line, and each setting's kind (the `kind` module) says
//! how its value is read, shown and written as TOML.

pub mod args;
mod dbgpt;
mod dbgpt_values;
mod declare;
mod duration;
mod kind;
mod table;
mod text_kind;
mod toml_out;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use thiserror::Error;

pub use args::SettingsArgs;
pub use dbgpt::IgnoredSetting;
pub(crate) use duration::format_duration;
pub(crate) use duration::parse_duration as parse_duration_setting;
pub use registry_diesel::redact_url;
pub use table::Settings;
pub use text_kind::LogFormat;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "registry-server",
    version,
    about = "A model registry server compatible with DB-GPT's model controller."
)]
pub struct Cli {
    /// What to do; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the registry over HTTP (the default).
    Serve,
    /// Apply the storage's database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets masked, and exit.
    CheckConfig,
    /// Read span files: `trace list` and `trace tree`, as DB-GPT's `dbgpt trace`.
    #[command(subcommand)]
    Trace(Box<crate::ops::cli::TraceCommand>),
}

/// Why the configuration could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting has a value it cannot take.
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Settings");
        for (key, value) in self.entries() {
            out.field(key, &value);
        }
        out.finish()
    }
}

const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

impl Settings {
    /// Resolves the layers: `flags` (which clap already merged with the environment) over the
    /// file it names, over the defaults.
    /// A DB-GPT file's keys that are not read are left out; [`Settings::resolve_noting`] names
    /// them.
    pub fn resolve(flags: &SettingsArgs) -> Result<Self, ConfigError> {
        Self::resolve_noting(flags).map(|(settings, _)| settings)
    }

    /// As [`Settings::resolve`], with the keys of a DB-GPT file (`--config`) that this
    /// registry does not read, for the caller to warn about.
    pub fn resolve_noting(
        flags: &SettingsArgs,
    ) -> Result<(Self, Vec<IgnoredSetting>), ConfigError> {
        let (file, ignored) = match &flags.config {
            Some(path) => read_file(path)?,
            None => (SettingsArgs::default(), Vec::new()),
        };
        let settings = Self::layered(flags, &file);
        settings.check()?;
        Ok((settings, ignored))
    }

    /// The pool size in force: the configured one, or for auto the storage crate's rule
    /// ([`registry_diesel::auto_pool_size`]: 1 on SQLite, where writers take turns and more
    /// connections only add lock contention, and 8 on a database server).
    pub fn effective_pool_size(&self) -> u32 {
        match self.pool_size {
            0 => registry_diesel::auto_pool_size(&self.storage_url),
            n => n,
        }
    }

    /// The connection cap in force: the configured one, or for auto the open-file limit
    /// `nofile` less what the process needs besides client connections: the listener, logs,
    /// span files, and each pooled database connection with SQLite's three files (64 plus
    /// 4 per pooled connection). Never below 16.
    pub fn effective_max_connections(&self, nofile: u64) -> u32 {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let reserve = 64 + 4 * u64::from(self.effective_pool_size());
        let cap = nofile.saturating_sub(reserve).max(16);
        u32::try_from(cap).unwrap_or(u32::MAX)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |setting, message: &str| {
            Err(ConfigError::Invalid {
                setting,
                message: message.to_owned(),
            })
        };
        if self.heartbeat_interval.is_zero() {
            return invalid("heartbeat_interval", "must be greater than 0");
        }
        if self.heartbeat_timeout.is_zero() {
            return invalid("heartbeat_timeout", "must be greater than 0");
        }
        if self.span_batch_size == 0 || self.span_queue_capacity == 0 {
            return invalid(
                "span_batch_size",
                "span batch size and queue capacity must be at least 1",
            );
        }
        if self.max_body_bytes == 0 {
            return invalid("max_body_bytes", "must be at least 1");
        }
        for (setting, timeout) in [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("write_timeout", self.write_timeout),
            ("statement_timeout", self.statement_timeout),
        ] {
            if timeout.is_zero() {
                return invalid(setting, "must be greater than 0");
            }
        }
        if let Some(token) = &self.token {
            // Tokens are compared exactly as configured; one that begins or ends with white
            // space is almost always a copying mistake, and an empty one would protect nothing.
            if token.is_empty() || token.trim() != token {
                return invalid(
                    "token",
                    "must not be empty or begin or end with white space",
                );
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return invalid("token", "must be printable ASCII without spaces");
            }
        }
        if self.auth_reads && self.token.is_none() {
            return invalid(
                "auth_reads",
                "needs a token: set token (or REGISTRY_TOKEN) as well",
            );
        }
        if !LOG_LEVELS.contains(&self.log_level.as_str()) {
            return invalid(
                "log_level",
                "must be one of error, warn, info, debug, trace, off",
            );
        }
        Ok(())
    }
}

/// Our own file, or DB-GPT's (one with a `[service]` table) with the keys it does not read.
fn read_file(path: &Path) -> Result<(SettingsArgs, Vec<IgnoredSetting>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |message: String| ConfigError::Parse {
        path: path.to_owned(),
        message,
    };
    let table: toml::Table = toml::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    if dbgpt::is_dbgpt_file(&table) {
        return dbgpt::read(table).map_err(invalid);
    }
    let ours = toml::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    Ok((ours, Vec::new()))
}

#[cfg(test)]
mod dbgpt_tests;
#[cfg(test)]
mod readme_tests;
#[cfg(test)]
mod round_trip_tests;
#[cfg(test)]
mod tests;
