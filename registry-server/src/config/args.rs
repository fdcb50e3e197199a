//! The settings as flags, environment variables and TOML keys: every one optional, so that the
//! layers can be merged (flags > environment > file > defaults).
//!
//! Environment variables (each setting's flag, upper-cased, with the prefix `REGISTRY_`):
//! `REGISTRY_CONFIG`, `REGISTRY_LISTEN`, `REGISTRY_HEARTBEAT_INTERVAL`,
//! `REGISTRY_HEARTBEAT_TIMEOUT`, `REGISTRY_HEARTBEAT_COALESCE`, `REGISTRY_REMOVAL_TIMEOUT`, `REGISTRY_STORAGE_URL`,
//! `REGISTRY_POOL_SIZE`, `REGISTRY_POOL_TIMEOUT`, `REGISTRY_STORAGE_WAIT`, `REGISTRY_SPAN_FILE`,
//! `REGISTRY_SPAN_BATCH_SIZE`, `REGISTRY_SPAN_FLUSH_INTERVAL`, `REGISTRY_SPAN_QUEUE_CAPACITY`,
//! `REGISTRY_TOKEN`, `REGISTRY_AUTH_READS`, `REGISTRY_MAX_BODY_BYTES`,
//! `REGISTRY_HEADER_READ_TIMEOUT`, `REGISTRY_IDLE_TIMEOUT`, `REGISTRY_BODY_READ_TIMEOUT`,
//! `REGISTRY_WRITE_TIMEOUT`, `REGISTRY_MAX_CONNECTIONS`, `REGISTRY_DRAIN_TIMEOUT`,
//! `REGISTRY_STATEMENT_TIMEOUT`, `REGISTRY_ALLOWED_HOSTS`, `REGISTRY_LOG_LEVEL`,
//! `REGISTRY_CLOCK_OFFSET_MS`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::duration::{self, parse_duration, parse_optional_duration};

/// Every setting, each optional. The same type reads the TOML file, whose keys are the flags'
/// names with `_` for `-` (`heartbeat_interval = "20s"`).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsArgs {
    /// TOML file to read settings from; flags and environment variables override it.
    #[arg(long, env = "REGISTRY_CONFIG", global = true, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 0.0.0.0:8000]
    #[arg(long, env = "REGISTRY_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// How often the heartbeat checker sweeps (e.g. 20s, 500ms) [default: 20s]
    #[arg(long, env = "REGISTRY_HEARTBEAT_INTERVAL", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub heartbeat_interval: Option<Duration>,

    /// Time without a heartbeat before an instance is marked unhealthy [default: 60s]
    #[arg(long, env = "REGISTRY_HEARTBEAT_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub heartbeat_timeout: Option<Duration>,

    /// Answer a heartbeat without a storage write when this registry wrote one for the same
    /// instance less than this long ago (capped at a third of the timeout); off writes every
    /// heartbeat [default: off]
    #[arg(long, env = "REGISTRY_HEARTBEAT_COALESCE", global = true, value_name = "DURATION", value_parser = parse_optional_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub heartbeat_coalesce: Option<Duration>,

    /// Time without a heartbeat before an instance is deleted; off never deletes [default: off]
    #[arg(long, env = "REGISTRY_REMOVAL_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_optional_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub removal_timeout: Option<Duration>,

    /// Storage: memory, sqlite://PATH, postgres://… or mysql://… [default: sqlite://./data/registry.db]
    #[arg(long, env = "REGISTRY_STORAGE_URL", global = true, value_name = "URL")]
    pub storage_url: Option<String>,

    /// Connections in the database pool; auto is 1 for SQLite (one writer is fastest there)
    /// and 8 for other databases [default: auto]
    #[arg(long, env = "REGISTRY_POOL_SIZE", global = true, value_name = "N", value_parser = parse_pool_size)]
    #[serde(default, deserialize_with = "deserialize_pool_size")]
    pub pool_size: Option<u32>,

    /// How long a request waits for a database connection before answering 503 [default: 3s]
    #[arg(long, env = "REGISTRY_POOL_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub pool_timeout: Option<Duration>,

    /// How long `serve` waits at start for a PostgreSQL or MySQL database that cannot be
    /// reached, retrying; 0s fails at once [default: 30s]
    #[arg(long, env = "REGISTRY_STORAGE_WAIT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub storage_wait: Option<Duration>,

    /// JSON-lines file spans are written to; off disables tracing [default: ./data/registry_tracer.jsonl]
    #[arg(long, env = "REGISTRY_SPAN_FILE", global = true, value_name = "PATH")]
    pub span_file: Option<String>,

    /// Spans written together in one batch [default: 10]
    #[arg(
        long,
        env = "REGISTRY_SPAN_BATCH_SIZE",
        global = true,
        value_name = "N"
    )]
    pub span_batch_size: Option<usize>,

    /// Longest time a span waits in the queue before it is written [default: 10s]
    #[arg(long, env = "REGISTRY_SPAN_FLUSH_INTERVAL", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub span_flush_interval: Option<Duration>,

    /// Spans the queue holds before new ones are dropped (and counted) [default: 10000]
    #[arg(
        long,
        env = "REGISTRY_SPAN_QUEUE_CAPACITY",
        global = true,
        value_name = "N"
    )]
    pub span_queue_capacity: Option<usize>,

    /// Bearer token required on write routes; none leaves them open [default: none]
    #[arg(
        long,
        env = "REGISTRY_TOKEN",
        global = true,
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Require the token on read routes too (health stays open) [default: false]
    #[arg(long, env = "REGISTRY_AUTH_READS", global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub auth_reads: Option<bool>,

    /// Largest request body accepted, in bytes; larger ones get 413 [default: 65536]
    #[arg(
        long,
        env = "REGISTRY_MAX_BODY_BYTES",
        global = true,
        value_name = "BYTES"
    )]
    pub max_body_bytes: Option<usize>,

    /// Longest time a connection may take to send a request's headers, counted from the
    /// connection's start or the first byte of a later request; then it is closed [default: 10s]
    #[arg(long, env = "REGISTRY_HEADER_READ_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub header_read_timeout: Option<Duration>,

    /// Longest time a keep-alive connection may sit idle between requests [default: 60s]
    #[arg(long, env = "REGISTRY_IDLE_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub idle_timeout: Option<Duration>,

    /// Longest time a request's body may take to arrive; then the answer is 408 [default: 10s]
    #[arg(long, env = "REGISTRY_BODY_READ_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub body_read_timeout: Option<Duration>,

    /// Longest time a write to a client may wait for the client to read; then the
    /// connection is closed [default: 10s]
    #[arg(long, env = "REGISTRY_WRITE_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub write_timeout: Option<Duration>,

    /// Most client connections open at once; auto leaves room below the open-file limit
    /// (RLIMIT_NOFILE) for the database, span files and the listener [default: auto]
    #[arg(long, env = "REGISTRY_MAX_CONNECTIONS", global = true, value_name = "N", value_parser = parse_pool_size)]
    #[serde(default, deserialize_with = "deserialize_pool_size")]
    pub max_connections: Option<u32>,

    /// On SIGTERM or SIGINT, how long requests in flight may take to finish before their
    /// connections are closed [default: 10s]
    #[arg(long, env = "REGISTRY_DRAIN_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub drain_timeout: Option<Duration>,

    /// Longest time one database statement may run (PostgreSQL and MySQL/MariaDB; SQLite's
    /// busy timeout); a statement past it answers 503 [default: 2s]
    #[arg(long, env = "REGISTRY_STATEMENT_TIMEOUT", global = true, value_name = "DURATION", value_parser = parse_duration)]
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub statement_timeout: Option<Duration>,

    /// Host names (comma-separated) a browser may write through, besides IP addresses and
    /// localhost: a write that carries an Origin header is refused unless the Origin matches
    /// the Host and the Host is one of these, which stops cross-site and DNS-rebinding writes
    /// [default: none]
    #[arg(
        long,
        env = "REGISTRY_ALLOWED_HOSTS",
        global = true,
        value_name = "HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Option<Vec<String>>,

    /// Log level: error, warn, info, debug, trace or off [default: info]
    #[arg(long, env = "REGISTRY_LOG_LEVEL", global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Shifts this server's clock by this many milliseconds, to rehearse hosts whose clocks
    /// disagree. SQL storages take heartbeat and expiry times from the database's clock, so it
    /// changes no expiry decision there [default: 0]
    #[arg(
        long,
        env = "REGISTRY_CLOCK_OFFSET_MS",
        global = true,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub clock_offset_ms: Option<i64>,
}

/// Parses a pool size: a number, or `auto` (stored as 0).
pub(crate) fn parse_pool_size(text: &str) -> Result<u32, String> {
    match text.trim() {
        "auto" => Ok(0),
        other => other
            .parse()
            .map_err(|_| format!("{other:?} is not a number of connections or auto")),
    }
}

fn deserialize_pool_size<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u32),
        Text(String),
    }
    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Text(text)) => parse_pool_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}
