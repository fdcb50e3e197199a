//! Start-up and shut-down: storage from its URL (waiting for a database that is not up yet),
//! the registry and its checker, span storage, the listener, and the order in which they stop.

mod connections;
mod open;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use registry_core::{OffsetClock, RegistryConfig, StorageModelRegistry, SystemClock};
use thiserror::Error;
use tokio::net::TcpListener;

pub use connections::ConnectionCounters;
pub(crate) use connections::ConnectionLimits;
pub use open::{OpenStorage, STORAGE_RETRY_FIRST, STORAGE_RETRY_MAX, migrate, open_storage};

use crate::config::{Settings, format_duration, redact_url};
use crate::{AppState, Auth, RequestPolicy, Tracer, app, shutdown};

/// Why the server could not start or stopped with an error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The storage URL names a backend this build does not have, or is malformed.
    #[error("unsupported storage URL {url}: {reason}")]
    UnsupportedStorage {
        /// The URL, password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// The storage could not be opened or migrated.
    #[error("cannot open storage {url}: {message}")]
    Storage {
        /// The URL, password masked.
        url: String,
        /// Why.
        message: String,
    },
    /// The database (PostgreSQL or MySQL) could not be reached, or not within `storage_wait`
    /// when serving: retrying later may succeed.
    #[error("cannot open storage {url}: {}{message}", gave_up_after(*.waited))]
    StorageUnavailable {
        /// The URL, password masked.
        url: String,
        /// Why the last attempt failed.
        message: String,
        /// How long `serve` retried; zero for a single attempt.
        waited: Duration,
    },
    /// The span file could not be opened.
    #[error("cannot open the span file {path}: {message}")]
    Spans {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

fn gave_up_after(waited: Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!(
            "still unavailable after waiting {} (storage_wait): ",
            format_duration(waited)
        )
    }
}

/// Opens span storage; tracing is off when no span file is configured.
pub fn open_tracer(settings: &Settings) -> Result<Tracer, ServerError> {
    let Some(path) = &settings.span_file else {
        return Ok(Tracer::disabled());
    };
    Tracer::to_file(
        path,
        settings.span_batch_size,
        settings.span_flush_interval,
        settings.span_queue_capacity,
    )
    .map_err(|error| ServerError::Spans {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}

/// Pending connections the kernel queues before the server accepts them. The default of 128
/// drops connection attempts during a burst (a fleet of workers restarting at once, or a
/// flood), and a dropped SYN costs the client a one-second retransmit.
const LISTEN_BACKLOG: u32 = 1024;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The bounds on client connections, from the settings. Raises this process's soft limit on
/// open files to its hard limit first, as a server that expects many clients should, so that
/// the automatic cap is as high as the system allows.
fn connection_limits(settings: &Settings) -> ConnectionLimits {
    let nofile = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read or raise the open-file limit; assuming 1024");
            1024
        }
    };
    ConnectionLimits {
        header_read_timeout: settings.header_read_timeout,
        idle_timeout: settings.idle_timeout,
        write_timeout: settings.write_timeout,
        max_connections: settings.effective_max_connections(nofile) as usize,
        drain_timeout: settings.drain_timeout,
    }
}

/// The registry's timing, from the settings.
pub fn registry_config(settings: &Settings) -> RegistryConfig {
    RegistryConfig::default()
        .with_heartbeat_interval(settings.heartbeat_interval)
        .with_heartbeat_timeout(settings.heartbeat_timeout)
        .with_removal_timeout(settings.removal_timeout)
        .with_heartbeat_coalesce_window(settings.heartbeat_coalesce)
}

/// Serves until SIGINT or SIGTERM, then stops in order: stop accepting, finish requests in
/// flight (long polls on the change feed answer at once), stop the heartbeat checker, write
/// every queued span. `ready` is called with the bound address once the server accepts
/// connections.
///
/// A PostgreSQL or MySQL database that cannot be reached at start is retried until
/// `storage_wait` has passed (then this fails); a signal meanwhile ends it with `Ok`.
pub async fn serve(settings: &Settings, ready: impl FnOnce(SocketAddr)) -> Result<(), ServerError> {
    let mut signals = shutdown::Signals::install();
    let Some(storage) = open::wait_for_storage(settings, &mut signals).await? else {
        return Ok(());
    };
    tracing::info!(storage = storage.kind, url = %redact_url(&settings.storage_url), "storage open");
    let clock = OffsetClock::new(
        SystemClock,
        chrono::Duration::milliseconds(settings.clock_offset_ms),
    );
    let registry = Arc::new(
        StorageModelRegistry::with_config(storage.storage, registry_config(settings))
            .with_clock(Arc::new(clock)),
    );
    let tracer = open_tracer(settings)?;
    let auth = Auth::new(settings.token.clone(), settings.auth_reads);
    let policy = RequestPolicy {
        body_limit: settings.max_body_bytes,
        body_read_timeout: settings.body_read_timeout,
        allowed_hosts: settings.allowed_hosts.clone(),
        storage_deadline: settings.pool_timeout + settings.statement_timeout,
    };
    let state = AppState::with_policy(Arc::clone(&registry), auth, tracer.clone(), policy)
        .with_time_zone(settings.time_zone)
        .with_history(history_config(settings));
    let listener = listen(settings.listen).map_err(|source| ServerError::Bind {
        addr: settings.listen,
        source,
    })?;
    let addr = listener.local_addr()?;
    let limits = connection_limits(settings);
    let checker = registry.start_checker();
    // The feed records the history from the start, not from the first dashboard.
    state.change_feed();
    ready(addr);
    tracing::info!(%addr, max_connections = limits.max_connections, "listening");
    let router = app(state.clone());
    let counters = std::sync::Arc::clone(state.connection_counters());
    let result = connections::serve(listener, router, limits, counters, async move {
        let name = signals.recv().await;
        tracing::info!("{name} received, shutting down");
        state.begin_shutdown();
    })
    .await;
    checker.shutdown().await;
    let flushed = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
    match flushed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "spans could not all be written"),
        Err(error) => tracing::error!(%error, "the span writer failed"),
    }
    tracing::info!("stopped");
    result.map_err(ServerError::from)
}

/// The history's bounds from the settings.
fn history_config(settings: &Settings) -> registry_core::HistoryConfig {
    registry_core::HistoryConfig {
        capacity: settings.history_capacity,
        flap_threshold: settings.flap_threshold.max(1),
        flap_window: chrono::Duration::from_std(settings.flap_window)
            .unwrap_or(chrono::Duration::minutes(10)),
        ..registry_core::HistoryConfig::default()
    }
}
