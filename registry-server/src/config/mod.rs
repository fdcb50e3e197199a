//! Configuration: command-line flags, then `REGISTRY_*` environment variables, then an
//! optional TOML file (`--config`), then defaults; the first that sets a value wins.
//!
//! See [`args`] for the list of environment variables.

pub mod args;
mod duration;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use thiserror::Error;

pub use args::SettingsArgs;
pub(crate) use duration::format_duration;
pub(crate) use duration::parse_duration as parse_duration_setting;
pub use registry_diesel::redact_url;

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
    Trace(crate::ops::cli::TraceCommand),
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

/// The effective configuration, every setting resolved.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// How often the heartbeat checker sweeps.
    pub heartbeat_interval: Duration,
    /// Time without a heartbeat before an instance is marked unhealthy.
    pub heartbeat_timeout: Duration,
    /// Heartbeat coalescing window; `None` writes every heartbeat.
    pub heartbeat_coalesce: Option<Duration>,
    /// Time without a heartbeat before an instance is deleted; `None` never deletes.
    pub removal_timeout: Option<Duration>,
    /// `memory` or a database URL.
    pub storage_url: String,
    /// Connections in the database pool; 0 is auto (see [`Settings::effective_pool_size`]).
    pub pool_size: u32,
    /// How long a request waits for a database connection.
    pub pool_timeout: Duration,
    /// How long `serve` retries at start while the database cannot be reached; zero fails at
    /// once.
    pub storage_wait: Duration,
    /// Where spans are written; `None` disables tracing.
    pub span_file: Option<PathBuf>,
    /// Spans written together.
    pub span_batch_size: usize,
    /// Longest wait before queued spans are written.
    pub span_flush_interval: Duration,
    /// Spans the queue holds before new ones are dropped.
    pub span_queue_capacity: usize,
    /// Bearer token for writes.
    pub token: Option<String>,
    /// Whether reads need the token too.
    pub auth_reads: bool,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest time to receive a request's headers.
    pub header_read_timeout: Duration,
    /// Longest idle time of a keep-alive connection between requests.
    pub idle_timeout: Duration,
    /// Longest time to receive a request's body.
    pub body_read_timeout: Duration,
    /// Longest time a write to a client may stall.
    pub write_timeout: Duration,
    /// Most client connections at once; 0 is auto (see [`Settings::effective_max_connections`]).
    pub max_connections: u32,
    /// How long requests in flight may take to finish at shutdown.
    pub drain_timeout: Duration,
    /// Longest time one database statement may run.
    pub statement_timeout: Duration,
    /// Host names, besides IP addresses and `localhost`, that browsers may write through.
    pub allowed_hosts: Vec<String>,
    /// Log level.
    pub log_level: String,
    /// Milliseconds added to this server's clock (testing clock skew).
    pub clock_offset_ms: i64,
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

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8000)),
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_timeout: Duration::from_secs(60),
            heartbeat_coalesce: None,
            removal_timeout: None,
            storage_url: "sqlite://./data/registry.db".to_owned(),
            pool_size: 0,
            pool_timeout: Duration::from_secs(3),
            storage_wait: Duration::from_secs(30),
            span_file: Some(PathBuf::from("./data/registry_tracer.jsonl")),
            span_batch_size: 10,
            span_flush_interval: Duration::from_secs(10),
            span_queue_capacity: 10_000,
            token: None,
            auth_reads: false,
            max_body_bytes: crate::DEFAULT_BODY_LIMIT,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections: 0,
            drain_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(2),
            allowed_hosts: Vec::new(),
            log_level: "info".to_owned(),
            clock_offset_ms: 0,
        }
    }
}

const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

impl Settings {
    /// Resolves the layers: `flags` (which clap already merged with the environment) over the
    /// file it names, over the defaults.
    pub fn resolve(flags: &SettingsArgs) -> Result<Self, ConfigError> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => SettingsArgs::default(),
        };
        let d = Self::default();
        macro_rules! pick {
            ($field:ident) => {
                flags.$field.clone().or_else(|| file.$field.clone())
            };
        }
        let settings = Self {
            listen: pick!(listen).unwrap_or(d.listen),
            heartbeat_interval: pick!(heartbeat_interval).unwrap_or(d.heartbeat_interval),
            heartbeat_timeout: pick!(heartbeat_timeout).unwrap_or(d.heartbeat_timeout),
            heartbeat_coalesce: pick!(heartbeat_coalesce)
                .map_or(d.heartbeat_coalesce, |t| (!t.is_zero()).then_some(t)),
            removal_timeout: pick!(removal_timeout)
                .map_or(d.removal_timeout, |t| (!t.is_zero()).then_some(t)),
            storage_url: pick!(storage_url).unwrap_or(d.storage_url),
            pool_size: pick!(pool_size).unwrap_or(d.pool_size),
            pool_timeout: pick!(pool_timeout).unwrap_or(d.pool_timeout),
            storage_wait: pick!(storage_wait).unwrap_or(d.storage_wait),
            span_file: match pick!(span_file) {
                Some(path) if matches!(path.trim(), "" | "off" | "none") => None,
                Some(path) => Some(PathBuf::from(path)),
                None => d.span_file,
            },
            span_batch_size: pick!(span_batch_size).unwrap_or(d.span_batch_size),
            span_flush_interval: pick!(span_flush_interval).unwrap_or(d.span_flush_interval),
            span_queue_capacity: pick!(span_queue_capacity).unwrap_or(d.span_queue_capacity),
            token: pick!(token),
            auth_reads: pick!(auth_reads).unwrap_or(d.auth_reads),
            max_body_bytes: pick!(max_body_bytes).unwrap_or(d.max_body_bytes),
            header_read_timeout: pick!(header_read_timeout).unwrap_or(d.header_read_timeout),
            idle_timeout: pick!(idle_timeout).unwrap_or(d.idle_timeout),
            body_read_timeout: pick!(body_read_timeout).unwrap_or(d.body_read_timeout),
            write_timeout: pick!(write_timeout).unwrap_or(d.write_timeout),
            max_connections: pick!(max_connections).unwrap_or(d.max_connections),
            drain_timeout: pick!(drain_timeout).unwrap_or(d.drain_timeout),
            statement_timeout: pick!(statement_timeout).unwrap_or(d.statement_timeout),
            allowed_hosts: pick!(allowed_hosts)
                .map(|hosts| {
                    hosts
                        .iter()
                        .map(|host| host.trim().to_ascii_lowercase())
                        .filter(|host| !host.is_empty())
                        .collect()
                })
                .unwrap_or(d.allowed_hosts),
            log_level: pick!(log_level).unwrap_or(d.log_level).to_ascii_lowercase(),
            clock_offset_ms: pick!(clock_offset_ms).unwrap_or(d.clock_offset_ms),
        };
        settings.check()?;
        Ok(settings)
    }

    /// The pool size in force: the configured one, or for auto 1 on SQLite, where writers
    /// take turns and more connections only add lock contention, and 8 elsewhere.
    pub fn effective_pool_size(&self) -> u32 {
        match self.pool_size {
            0 if matches!(
                registry_diesel::Backend::from_url(&self.storage_url),
                Ok(registry_diesel::Backend::Sqlite)
            ) =>
            {
                1
            }
            0 => 8,
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

    /// Every setting as `(name, value)`, as `check-config` prints them: the token and any
    /// password in the storage URL masked.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("listen", self.listen.to_string()),
            (
                "heartbeat_interval",
                format_duration(self.heartbeat_interval),
            ),
            ("heartbeat_timeout", format_duration(self.heartbeat_timeout)),
            (
                "heartbeat_coalesce",
                self.heartbeat_coalesce
                    .map_or_else(|| "off".to_owned(), format_duration),
            ),
            (
                "removal_timeout",
                self.removal_timeout
                    .map_or_else(|| "off".to_owned(), format_duration),
            ),
            ("storage_url", redact_url(&self.storage_url)),
            (
                "pool_size",
                match self.pool_size {
                    0 => "auto".to_owned(),
                    n => n.to_string(),
                },
            ),
            ("pool_timeout", format_duration(self.pool_timeout)),
            ("storage_wait", format_duration(self.storage_wait)),
            (
                "span_file",
                self.span_file
                    .as_ref()
                    .map_or_else(|| "off".to_owned(), |p| p.display().to_string()),
            ),
            ("span_batch_size", self.span_batch_size.to_string()),
            (
                "span_flush_interval",
                format_duration(self.span_flush_interval),
            ),
            ("span_queue_capacity", self.span_queue_capacity.to_string()),
            (
                "token",
                self.token
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |_| "***".to_owned()),
            ),
            ("auth_reads", self.auth_reads.to_string()),
            ("max_body_bytes", self.max_body_bytes.to_string()),
            (
                "header_read_timeout",
                format_duration(self.header_read_timeout),
            ),
            ("idle_timeout", format_duration(self.idle_timeout)),
            ("body_read_timeout", format_duration(self.body_read_timeout)),
            ("write_timeout", format_duration(self.write_timeout)),
            (
                "max_connections",
                match self.max_connections {
                    0 => "auto".to_owned(),
                    n => n.to_string(),
                },
            ),
            ("drain_timeout", format_duration(self.drain_timeout)),
            ("statement_timeout", format_duration(self.statement_timeout)),
            (
                "allowed_hosts",
                if self.allowed_hosts.is_empty() {
                    "none".to_owned()
                } else {
                    self.allowed_hosts.join(",")
                },
            ),
            ("log_level", self.log_level.clone()),
            ("clock_offset_ms", self.clock_offset_ms.to_string()),
        ]
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_toml(&self) -> String {
        self.entries()
            .into_iter()
            .map(|(key, value)| match key {
                // An unset token must not read back as the token "none".
                "token" if self.token.is_none() => format!("# {key} = (none)\n"),
                "allowed_hosts" => {
                    let hosts: Vec<String> =
                        self.allowed_hosts.iter().map(|h| toml_string(h)).collect();
                    format!("{key} = [{}]\n", hosts.join(", "))
                }
                "auth_reads" => format!("{key} = {value}\n"),
                // Counts are TOML integers, except `auto`; everything else is a string, whatever
                // it looks like (a span file named `2024` stays a path).
                _ if INTEGER_KEYS.contains(&key) && value.parse::<i64>().is_ok() => {
                    format!("{key} = {value}\n")
                }
                _ => format!("{key} = {}\n", toml_string(&value)),
            })
            .collect()
    }
}

/// The settings whose TOML value is an integer.
const INTEGER_KEYS: [&str; 6] = [
    "pool_size",
    "span_batch_size",
    "span_queue_capacity",
    "max_body_bytes",
    "max_connections",
    "clock_offset_ms",
];

fn toml_string(value: &str) -> String {
    // A TOML basic string: backslash, quote and control characters escaped.
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn read_file(path: &Path) -> Result<SettingsArgs, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_owned(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests;
