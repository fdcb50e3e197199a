//! Every setting, declared once: its doc (the `--help` text, to which the default is
//! appended), its flag's attributes and environment variable, its type, default and kind.
//! [`settings!`] derives the rest; `registry-server/README.md` is tested against this table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::declare::settings;
use super::kind::{CountOrAuto, Number, Switch, Time, TimeOrOff};
use registry_diesel::WallClockZone;

use super::text_kind::{
    Address, HostNames, LogFormat, LogFormatKind, LowerCase, PathOrOff, Secret, StorageUrl, Zone,
};

settings! {
    /// Address and port to listen on
    #[arg(env = "REGISTRY_LISTEN", value_name = "ADDR")]
    listen: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 8000)), Address;

    /// How often the heartbeat checker sweeps (e.g. 20s, 500ms)
    #[arg(env = "REGISTRY_HEARTBEAT_INTERVAL", value_name = "DURATION")]
    heartbeat_interval: Duration = Duration::from_secs(20), Time;

    /// Time without a heartbeat before an instance is marked unhealthy
    #[arg(env = "REGISTRY_HEARTBEAT_TIMEOUT", value_name = "DURATION")]
    heartbeat_timeout: Duration = Duration::from_secs(60), Time;

    /// Answer a heartbeat without a storage write when this registry wrote one for the same
    /// instance less than this long ago (capped at a third of the timeout); off writes every
    /// heartbeat
    #[arg(env = "REGISTRY_HEARTBEAT_COALESCE", value_name = "DURATION")]
    heartbeat_coalesce: Option<Duration> = None, TimeOrOff;

    /// Time without a heartbeat before an instance is deleted; off never deletes
    #[arg(env = "REGISTRY_REMOVAL_TIMEOUT", value_name = "DURATION")]
    removal_timeout: Option<Duration> = None, TimeOrOff;

    /// Storage: memory, sqlite://PATH, postgres://… or mysql://…
    #[arg(env = "REGISTRY_STORAGE_URL", value_name = "URL")]
    storage_url: String = "sqlite://./data/registry.db".to_owned(), StorageUrl;

    /// Connections in the database pool; auto is 1 for SQLite (one writer is fastest there)
    /// and 8 for other databases
    #[arg(env = "REGISTRY_POOL_SIZE", value_name = "N")]
    pool_size: u32 = 0, CountOrAuto;

    /// How long a request waits for a database connection before answering 503
    #[arg(env = "REGISTRY_POOL_TIMEOUT", value_name = "DURATION")]
    pool_timeout: Duration = Duration::from_secs(3), Time;

    /// How long `serve` waits at start for a PostgreSQL or MySQL database that cannot be
    /// reached, retrying; 0s fails at once
    #[arg(env = "REGISTRY_STORAGE_WAIT", value_name = "DURATION")]
    storage_wait: Duration = Duration::from_secs(30), Time;

    /// JSON-lines file spans are written to (DB-GPT's controller's name, so that `dbgpt trace`
    /// finds it when the server runs in DB-GPT's root); off disables tracing
    #[arg(env = "REGISTRY_SPAN_FILE", value_name = "PATH")]
    span_file: Option<PathBuf> =
        Some(PathBuf::from("./logs/dbgpt_model_controller_tracer.jsonl")), PathOrOff;

    /// Spans written together in one batch
    #[arg(env = "REGISTRY_SPAN_BATCH_SIZE", value_name = "N")]
    span_batch_size: usize = 10, Number<usize>;

    /// Longest time a span waits in the queue before it is written
    #[arg(env = "REGISTRY_SPAN_FLUSH_INTERVAL", value_name = "DURATION")]
    span_flush_interval: Duration = Duration::from_secs(10), Time;

    /// Spans the queue holds before new ones are dropped (and counted)
    #[arg(env = "REGISTRY_SPAN_QUEUE_CAPACITY", value_name = "N")]
    span_queue_capacity: usize = 10_000, Number<usize>;

    /// Bearer token required on write routes; none leaves them open
    #[arg(env = "REGISTRY_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    token: Option<String> = None, Secret;

    /// Require the token on read routes too (health stays open)
    #[arg(
        env = "REGISTRY_AUTH_READS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    auth_reads: bool = false, Switch;

    /// Largest request body accepted, in bytes; larger ones get 413
    #[arg(env = "REGISTRY_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: usize = crate::DEFAULT_BODY_LIMIT, Number<usize>;

    /// Longest time a connection may take to send a request's headers, counted from the
    /// connection's start or the first byte of a later request; then it is closed
    #[arg(env = "REGISTRY_HEADER_READ_TIMEOUT", value_name = "DURATION")]
    header_read_timeout: Duration = Duration::from_secs(10), Time;

    /// Longest time a keep-alive connection may sit idle between requests
    #[arg(env = "REGISTRY_IDLE_TIMEOUT", value_name = "DURATION")]
    idle_timeout: Duration = Duration::from_secs(60), Time;

    /// Longest time a request's body may take to arrive; then the answer is 408
    #[arg(env = "REGISTRY_BODY_READ_TIMEOUT", value_name = "DURATION")]
    body_read_timeout: Duration = Duration::from_secs(10), Time;

    /// Longest time a write to a client may wait for the client to read; then the
    /// connection is closed
    #[arg(env = "REGISTRY_WRITE_TIMEOUT", value_name = "DURATION")]
    write_timeout: Duration = Duration::from_secs(10), Time;

    /// Most client connections open at once; auto leaves room below the open-file limit
    /// (RLIMIT_NOFILE) for the database, span files and the listener
    #[arg(env = "REGISTRY_MAX_CONNECTIONS", value_name = "N")]
    max_connections: u32 = 0, CountOrAuto;

    /// On SIGTERM or SIGINT, how long requests in flight may take to finish before their
    /// connections are closed
    #[arg(env = "REGISTRY_DRAIN_TIMEOUT", value_name = "DURATION")]
    drain_timeout: Duration = Duration::from_secs(10), Time;

    /// Longest time one database statement may run (PostgreSQL and MySQL/MariaDB; SQLite's
    /// busy timeout); a statement past it answers 503
    #[arg(env = "REGISTRY_STATEMENT_TIMEOUT", value_name = "DURATION")]
    statement_timeout: Duration = Duration::from_secs(2), Time;

    /// Host names (comma-separated) a browser may write through, besides IP addresses and
    /// localhost: a write that carries an Origin header is refused unless the Origin matches
    /// the Host and the Host is one of these, which stops cross-site and DNS-rebinding writes
    #[arg(env = "REGISTRY_ALLOWED_HOSTS", value_name = "HOSTS")]
    allowed_hosts: Vec<String> = Vec::new(), HostNames;

    /// Zone of the naive wall-clock times in the table and the listing (as DB-GPT's
    /// controller keeps them): local (this process's zone, as DB-GPT), UTC, or an IANA name
    /// such as Asia/Shanghai
    #[arg(env = "REGISTRY_TIME_ZONE", value_name = "ZONE")]
    time_zone: WallClockZone = WallClockZone::Local, Zone;

    /// Log level: error, warn, info, debug, trace or off
    #[arg(env = "REGISTRY_LOG_LEVEL", value_name = "LEVEL")]
    log_level: String = "info".to_owned(), LowerCase;

    /// Log line format: text, or json (one object per line, for log pipelines)
    #[arg(env = "REGISTRY_LOG_FORMAT", value_name = "FORMAT")]
    log_format: LogFormat = LogFormat::Text, LogFormatKind;

    /// Health transitions kept for the dashboard and `/api/controller/history` (about 200
    /// bytes each; the oldest go first, and none older than an hour is kept)
    #[arg(env = "REGISTRY_HISTORY_CAPACITY", value_name = "N")]
    history_capacity: usize = 10_000, Number<usize>;

    /// An instance with this many health transitions within `flap_window` is marked flapping
    #[arg(env = "REGISTRY_FLAP_THRESHOLD", value_name = "N")]
    flap_threshold: usize = 3, Number<usize>;

    /// See `flap_threshold`
    #[arg(env = "REGISTRY_FLAP_WINDOW", value_name = "DURATION")]
    flap_window: Duration = Duration::from_secs(600), Time;

    /// Shifts this server's clock by this many milliseconds, to rehearse hosts whose clocks
    /// disagree. SQL storages take heartbeat and expiry times from the database's clock, so it
    /// changes no expiry decision there
    #[arg(env = "REGISTRY_CLOCK_OFFSET_MS", value_name = "MS", allow_negative_numbers = true)]
    clock_offset_ms: i64 = 0, Number<i64>;
}
